"""Faults (issue 7 §2) and call handlers (§5) as a Python client sees them over the socket and REST: matching,
lifetimes, composition, and a journal entry for every application."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
import socketio
from crmock_support import FAST, OTHER, OTHER_ID, SEED, USER, USER_ID, logged_in, login_token, rest, run

from mockserver.client import FeathersSocketClient
from mockserver.errors import FeathersError, NotFound, Unavailable
from mockserver.server import MockServer, ServerThread

QUIET = 0.15


def add_fault(crmock: ServerThread, spec: dict[str, Any]) -> dict[str, Any]:
    return crmock.call(lambda: crmock.server.faults.add(spec).to_json())


def fault_entries(crmock: ServerThread, **filters: Any) -> list[dict[str, Any]]:
    return crmock.call(lambda: crmock.server.journal.entries("fault", **filters))


def strategy_names(crmock: ServerThread) -> set[str]:
    return crmock.call(lambda: {str(s["name"]) for s in crmock.server.store.tables["strategies"].values()})


@asynccontextmanager
async def plain(
    url: str, who: tuple[str, str], *, transports: list[str] | None = None, wait: float = 5.0
) -> AsyncIterator[FeathersSocketClient]:
    """A logged-in client that does not check results against the contract (call handlers answer anything)."""
    client = FeathersSocketClient(url, transports=transports, timeout=wait)
    await client.connect()
    try:
        await client.authenticate(*who)
        yield client
    finally:
        # a polling client's close waits for its pending long poll (up to the ping interval): do not wait for it
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(client.close(), 0.5)


async def outcome(client: FeathersSocketClient, *args: Any) -> str:
    """ "ok" or the error's name, for patterns."""
    try:
        await client.call(*args)
    except FeathersError as error:
        return error.name
    return "ok"


ERROR = {"name": "Unavailable", "code": 503, "message": "Exchange maintenance", "data": {"exchange": "binance"}}


def test_an_error_fault_answers_the_feathers_error_without_applying_the_call(crmock: ServerThread) -> None:
    add_fault(crmock, {"match": {"service": "strategies", "method": "create"}, "action": "error", "error": ERROR})

    async def scenario() -> None:
        async with logged_in(crmock.url, USER) as client:
            with pytest.raises(Unavailable) as failed:
                await client.call("create", "strategies", {"name": "Never"}, {})
            assert (failed.value.message, failed.value.data) == ("Exchange maintenance", {"exchange": "binance"})
            assert await outcome(client, "find", "strategies", {"$limit": 1}) == "ok"  # other methods pass

    run(scenario())
    assert "Never" not in strategy_names(crmock)
    (entry,) = fault_entries(crmock)
    assert (entry["action"], entry["service"], entry["method"], entry["email"]) == (
        "error",
        "strategies",
        "create",
        USER[0],
    )
    assert entry["error"]["name"] == "Unavailable"


@pytest.mark.parametrize(
    ("match", "hit"),
    [
        ({"email": OTHER[0]}, "other"),
        ({"email": OTHER[0].upper()}, "other"),
        ({"user": USER_ID}, "user"),
        ({"transport": "polling"}, "other"),
        ({"transport": "websocket"}, "user"),
        ({"service": "strategies", "method": "find"}, "both"),
        ({"service": "traders"}, "none"),
    ],
)
def test_faults_match_by_user_email_transport_service_and_method(
    crmock: ServerThread, match: dict[str, str], hit: str
) -> None:
    async def scenario() -> dict[str, str]:
        async with plain(crmock.url, USER) as user, plain(crmock.url, OTHER, transports=["polling"]) as other:
            add_fault(crmock, {"match": match, "action": "error", "error": {"name": "NotFound", "message": "gone"}})
            return {
                "user": await outcome(user, "find", "strategies", {"$limit": 1}),
                "other": await outcome(other, "find", "strategies", {"$limit": 1}),
            }

    expected = {
        "user": "NotFound" if hit in ("user", "both") else "ok",
        "other": "NotFound" if hit in ("other", "both") else "ok",
    }
    assert run(scenario()) == expected


def test_a_fault_matches_one_connection_and_rest_by_transport(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with logged_in(crmock.url, USER) as first, logged_in(crmock.url, USER) as second:
            sid = first.sio.get_sid("/")
            add_fault(crmock, {"match": {"connection": sid}, "action": "error", "error": {"code": 404}})
            assert await outcome(first, "find", "strategies", {}) == "NotFound"
            assert await outcome(second, "find", "strategies", {}) == "ok"
            crmock.call(crmock.server.faults.clear)
            token = await login_token(crmock.url, USER)
            add_fault(crmock, {"match": {"transport": "rest"}, "action": "error", "error": {"code": 404}})
            status, _, body = await rest("GET", crmock.url, "/strategies", token=token)
            assert (status, body["name"]) == (404, "NotFound")
            assert await outcome(second, "find", "strategies", {}) == "ok"

    run(scenario())


def test_times_and_after_shape_when_a_fault_fires(crmock: ServerThread) -> None:
    async def scenario() -> list[str]:
        async with logged_in(crmock.url, USER) as client:
            fault = add_fault(
                crmock,
                {"match": {"service": "strategies"}, "action": "error", "error": {"code": 404}, "times": 2, "after": 1},
            )
            assert fault["id"] == "f1"
            pattern = [await outcome(client, "find", "strategies", {"$limit": 1}) for _ in range(5)]
            assert crmock.call(crmock.server.faults.list) == []  # retired after two applications
            return pattern

    assert run(scenario()) == ["ok", "NotFound", "NotFound", "ok", "ok"]
    assert len(fault_entries(crmock)) == 2


def test_a_seeded_probability_gives_the_same_pattern_after_a_reset(crmock: ServerThread) -> None:
    async def pattern() -> list[str]:
        async with logged_in(crmock.url, USER) as client:
            add_fault(
                crmock,
                {"match": {"service": "strategies"}, "action": "error", "error": {"code": 404}, "probability": 0.5},
            )
            return [await outcome(client, "find", "strategies", {"$limit": 1}) for _ in range(16)]

    first = run(pattern())
    crmock.reset()
    second = run(pattern())
    assert first == second
    assert 0 < first.count("NotFound") < 16
    assert len(fault_entries(crmock)) == second.count("NotFound")


def test_drop_ack_makes_the_clients_timeout_fire_and_delay_ack_answers_late(crmock: ServerThread) -> None:
    async def scenario() -> float:
        async with logged_in(crmock.url, USER, wait=0.4) as client:
            add_fault(crmock, {"match": {"method": "get"}, "action": "drop-ack", "times": 1})
            add_fault(crmock, {"match": {"method": "find"}, "action": "delay-ack", "seconds": 0.25, "times": 1})
            with pytest.raises(socketio.exceptions.TimeoutError):
                await client.call("get", "users", USER_ID, {})
            started = time.monotonic()
            page = await client.call("find", "strategies", {"$limit": 1})
            assert page["limit"] == 1
            return time.monotonic() - started

    assert run(scenario()) >= 0.25
    dropped = crmock.call(lambda: crmock.server.journal.entries("ack", method="get"))
    assert dropped[-1]["sent"] is False
    delayed = [e for e in fault_entries(crmock) if e["action"] == "delay-ack"]
    assert delayed[0]["seconds"] == 0.25


def test_disconnect_before_apply_closes_the_transport_and_applies_nothing(crmock: ServerThread) -> None:
    add_fault(crmock, {"match": {"service": "strategies", "method": "create"}, "action": "disconnect-before-apply"})

    async def scenario() -> None:
        async with logged_in(crmock.url, USER, wait=1.0, check_events=False) as client:
            with pytest.raises((socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError)):
                await client.call("create", "strategies", {"name": "Before"}, {})
            for _ in range(100):
                if not client.sio.connected:
                    break
                await asyncio.sleep(0.01)
            assert not client.sio.connected

    run(scenario())
    assert "Before" not in strategy_names(crmock)
    disconnects = crmock.call(lambda: crmock.server.journal.entries("disconnect"))
    assert disconnects[0]["reason"] == "transport close"


def test_disconnect_after_apply_applies_sends_events_and_closes_before_the_ack(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with logged_in(crmock.url, USER) as watcher, logged_in(crmock.url, USER, wait=1.0) as client:
            add_fault(crmock, {"match": {"connection": client.sio.get_sid("/")}, "action": "disconnect-after-apply"})
            with pytest.raises((socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError)):
                await client.call("create", "strategies", {"name": "After"}, {})
            (created,) = await watcher.wait_for("strategies created")
            assert created["name"] == "After"

    run(scenario())
    assert "After" in strategy_names(crmock)
    ack = crmock.call(lambda: crmock.server.journal.entries("ack", service="strategies", method="create"))[-1]
    assert ack["sent"] is False
    assert ack["result"]["name"] == "After"
    assert fault_entries(crmock)[0]["action"] == "disconnect-after-apply"


def test_event_faults_drop_duplicate_and_delay_per_recipient(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with (
            logged_in(crmock.url, USER) as plain,
            logged_in(crmock.url, USER) as dropped,
            logged_in(crmock.url, USER) as doubled,
            logged_in(crmock.url, USER) as late,
        ):
            sid = {name: c.sio.get_sid("/") for name, c in [("d", dropped), ("x", doubled), ("l", late)]}
            add_fault(crmock, {"match": {"connection": sid["d"], "event": "created"}, "action": "drop-event"})
            add_fault(
                crmock, {"match": {"connection": sid["x"], "event": "strategies created"}, "action": "duplicate-event"}
            )
            add_fault(crmock, {"match": {"connection": sid["l"]}, "action": "delay-event", "seconds": 0.3})
            started = time.monotonic()
            await plain.call("create", "strategies", {"name": "Evented"}, {})
            await plain.wait_for("strategies created")
            await doubled.wait_for("strategies created", count=2)
            await late.wait_for("strategies created")
            assert time.monotonic() - started >= 0.3
            await asyncio.sleep(QUIET)
            assert len(doubled.events["strategies created"]) == 2
            assert dropped.events["strategies created"] == []

    run(scenario())
    actions = sorted(e["action"] for e in fault_entries(crmock, event="strategies created"))
    assert actions == ["delay-event", "drop-event", "duplicate-event"]


def test_latency_and_composed_faults_add_up(crmock: ServerThread) -> None:
    async def scenario() -> float:
        async with logged_in(crmock.url, OTHER) as client:
            add_fault(crmock, {"match": {"user": OTHER_ID}, "action": "latency", "seconds": 0.1, "jitter": 0.05})
            add_fault(crmock, {"match": {"method": "get"}, "action": "error", "error": {"name": "NotFound"}})
            started = time.monotonic()
            with pytest.raises(NotFound):
                await client.call("get", "strategies", "x", {})
            return time.monotonic() - started

    assert run(scenario()) >= 0.05
    assert sorted(e["action"] for e in fault_entries(crmock)) == ["error", "latency"]


def test_rest_error_faults_send_the_status_and_retry_after(crmock: ServerThread) -> None:
    async def scenario() -> None:
        token = await login_token(crmock.url, USER)
        add_fault(crmock, {"match": {"service": "strategies"}, "action": "error", "error": ERROR, "times": 1})
        status, headers, body = await rest("GET", crmock.url, "/strategies", token=token)
        assert (status, body["name"], body["data"]) == (503, "Unavailable", {"exchange": "binance"})
        assert headers["Retry-After"] == "1"
        add_fault(
            crmock,
            {
                "match": {"service": "strategies"},
                "action": "error",
                "seconds": 30,
                "times": 1,
                "error": {"name": "TooManyRequests", "message": "slow down"},
            },
        )
        status, headers, body = await rest("GET", crmock.url, "/strategies", token=token)
        assert (status, headers["Retry-After"], body["message"]) == (429, "30", "slow down")
        add_fault(
            crmock, {"match": {"service": "strategies"}, "action": "error", "times": 1, "error": {"name": "NotFound"}}
        )
        status, headers, _ = await rest("GET", crmock.url, "/strategies", token=token)
        assert status == 404
        assert "Retry-After" not in headers
        status, _, _ = await rest("GET", crmock.url, "/strategies", token=token)
        assert status == 200

    run(scenario())


def test_rest_delay_and_disconnect_faults(crmock: ServerThread) -> None:
    async def scenario() -> None:
        token = await login_token(crmock.url, USER)
        add_fault(crmock, {"match": {"method": "find"}, "action": "delay-ack", "seconds": 0.2, "times": 1})
        started = time.monotonic()
        status, _, _ = await rest("GET", crmock.url, "/strategies", token=token)
        assert status == 200
        assert time.monotonic() - started >= 0.2
        add_fault(crmock, {"match": {"method": "create"}, "action": "disconnect-before-apply", "times": 1})
        with pytest.raises(aiohttp.ClientError):
            await rest("POST", crmock.url, "/strategies", token=token, json_body={"name": "RestBefore"})
        add_fault(crmock, {"match": {"method": "create"}, "action": "disconnect-after-apply", "times": 1})
        with pytest.raises(aiohttp.ClientError):
            await rest("POST", crmock.url, "/strategies", token=token, json_body={"name": "RestAfter"})

    run(scenario())
    names = strategy_names(crmock)
    assert "RestAfter" in names
    assert "RestBefore" not in names


def test_an_invalid_fault_lists_every_problem(crmock: ServerThread) -> None:
    with pytest.raises(ValueError, match="invalid fault") as bad:
        crmock.server.faults.add({"match": {"colour": "red"}, "action": "explode", "times": 0, "probability": 2})
    message = str(bad.value)
    for part in ("match.colour", "action must be one of", "times must be", "probability must be <= 1"):
        assert part in message


# -- call handlers ---------------------------------------------------------------------------------------------
def test_call_handlers_answer_once_always_and_with_errors(crmock: ServerThread) -> None:
    server = crmock.server
    crmock.call(lambda: server.expect("strategies", "get", times=1).respond({"_id": "canned", "name": "Once"}))
    crmock.call(lambda: server.expect("strategies", "find").respond(lambda call: {"echo": call["query"]}))
    crmock.call(
        lambda: server.expect("strategies", "create", matching={"data": {"name": "Bad"}}).fail(
            {"name": "Conflict", "message": "taken", "data": {"field": "name"}}
        )
    )

    async def scenario() -> None:
        async with plain(crmock.url, USER) as client:
            assert await client.call("get", "strategies", "whatever", {}) == {"_id": "canned", "name": "Once"}
            assert await outcome(client, "get", "strategies", "whatever", {}) == "NotFound"  # used up
            for _ in range(2):
                assert await client.call("find", "strategies", {"$limit": 3}) == {"echo": {"$limit": 3}}
            with pytest.raises(FeathersError) as failed:
                await client.call("create", "strategies", {"name": "Bad"}, {})
            assert (failed.value.name, failed.value.data) == ("Conflict", {"field": "name"})
            assert (await client.call("create", "strategies", {"name": "Good"}, {}))["name"] == "Good"
            token = await login_token(crmock.url, USER)
            status, _, body = await rest("GET", crmock.url, "/strategies?x=1", token=token)
            assert (status, body) == (200, {"echo": {"x": "1"}})

    run(scenario())
    crmock.call(lambda: server.journal.assert_called("strategies", "get", times=2))


def test_ordered_call_handlers_answer_in_order_and_report_calls_out_of_order(crmock: ServerThread) -> None:
    expectations = crmock.server.expectations
    crmock.call(
        lambda: expectations.add(
            {"match": {"service": "traders", "method": "get"}, "respond": {"n": 1}, "ordered": True}
        )
    )
    crmock.call(
        lambda: expectations.add(
            {"match": {"service": "traders", "method": "find"}, "respond": {"n": 2}, "ordered": True}
        )
    )
    with pytest.raises(ValueError, match="exactly one of 'respond'"):
        expectations.add({"match": {"service": "traders"}})

    async def scenario() -> None:
        async with plain(crmock.url, USER) as client:
            assert await outcome(client, "find", "traders", {}) == "GeneralError"  # out of order
            assert await client.call("get", "traders", "t", {}) == {"n": 1}
            assert await client.call("find", "traders", {}) == {"n": 2}
            assert (await client.call("find", "traders", {}))["total"] >= 0  # the service answers again

    run(scenario())
    assert len(expectations.failures) == 1
    assert "out of order" in expectations.failures[0]
    assert crmock.call(expectations.pending) == []
    crmock.reset()
    assert crmock.call(expectations.list) == []
    assert expectations.failures == []


def test_fault_delays_wait_on_a_manual_clock() -> None:
    async def scenario() -> None:
        async with MockServer(seed=SEED, options=FAST, clock="manual") as server, plain(server.url, USER) as client:
            listener = FeathersSocketClient(server.url, timeout=5)
            await listener.connect()
            try:
                await listener.authenticate(*USER)
                server.faults.add({"match": {"method": "find"}, "action": "delay-ack", "seconds": 5})
                server.faults.add(
                    {"match": {"connection": listener.sio.get_sid("/")}, "action": "delay-event", "seconds": 60}
                )
                call = asyncio.create_task(client.call("find", "strategies", {"$limit": 1}))
                await asyncio.sleep(QUIET)
                assert not call.done()  # mock time stands still
                await server.clock.advance(5)
                assert (await asyncio.wait_for(call, 2))["limit"] == 1
                await client.call("create", "strategies", {"name": "Later"}, {})
                await asyncio.sleep(QUIET)
                assert listener.events["strategies created"] == []
                await server.clock.advance(60)
                (late,) = await listener.wait_for("strategies created", timeout=2)
                assert late["name"] == "Later"
            finally:
                await listener.close()

    run(scenario())
