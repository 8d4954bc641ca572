"""Who receives which event (D8; cryptorobot-api.md §8.5; feathers-protocol.md §8).

"Nothing arrived" is only meaningful after something else did: each negative check first waits for a barrier
event that the silent socket *does* receive later on the same connection (frames on one connection keep their
order), or, for sockets that receive nothing at all, for a short quiet period.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from crmock_support import OTHER, OTHER_ID, USER, USER_ID, assert_events_valid, logged_in, login_token, rest, run

from mockserver.client import FeathersSocketClient
from mockserver.server import ServerThread

QUIET = 0.15


def a_ticker(crmock: ServerThread) -> dict[str, Any]:
    return dict(crmock.call(lambda: next(iter(crmock.server.store.tables["exchanges/ticker"].values()))))


async def barrier(crmock: ServerThread, *clients: FeathersSocketClient) -> None:
    """Publish a ticker to every authenticated socket and wait until each of `clients` has it."""
    ticker = a_ticker(crmock)
    counts = {id(c): len(c.events["exchanges/ticker patched"]) for c in clients}
    crmock.emit("exchanges/ticker", "patched", ticker)
    for client in clients:
        await client.wait_for("exchanges/ticker patched", count=counts[id(client)] + 1)


def names(client: FeathersSocketClient) -> dict[str, int]:
    return {name: len(payloads) for name, payloads in client.events.items() if name != "exchanges/ticker patched"}


def test_owned_events_go_to_every_socket_of_the_owner_and_no_one_else(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with (
            logged_in(crmock.url, USER) as a1,
            logged_in(crmock.url, USER) as a2,
            logged_in(crmock.url, OTHER) as b,
            logged_in(crmock.url, None) as anonymous,
        ):
            created = await a1.call("create", "strategies", {"name": "mine"}, {})
            patched = await a1.call("patch", "strategies", created["_id"], {"name": "still mine"}, {})
            await a1.call("remove", "strategies", created["_id"], {})
            for client in (a1, a2):
                await client.wait_for("strategies removed")
            await barrier(crmock, a1, a2, b)
            await asyncio.sleep(QUIET)
            for client in (a1, a2):
                assert names(client) == {"strategies created": 1, "strategies patched": 1, "strategies removed": 1}
                assert client.events["strategies created"] == [created]
                assert client.events["strategies patched"] == [patched]
                assert client.events["strategies removed"] == [{"_id": created["_id"]}]  # D2
                assert_events_valid(crmock.server.contract, client.events)
            assert names(b) == {}
            assert dict(anonymous.events) == {}

    run(scenario())


def test_market_data_and_system_events_reach_every_authenticated_socket_once(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with (
            logged_in(crmock.url, USER) as a1,
            logged_in(crmock.url, USER) as a2,
            logged_in(crmock.url, OTHER) as b,
            logged_in(crmock.url, None) as anonymous,
        ):
            ticker = a_ticker(crmock)
            reached = crmock.emit("exchanges/ticker", "patched", ticker)
            assert reached == {a1.sio.get_sid(), a2.sio.get_sid(), b.sio.get_sid()}
            system = dict(crmock.call(lambda: next(iter(crmock.server.store.tables["events"].values()))))
            crmock.emit("events", "created", system)
            for client in (a1, a2, b):
                assert await client.wait_for("exchanges/ticker patched") == [ticker]
                assert await client.wait_for("events created") == [system]
            await asyncio.sleep(QUIET)
            for client in (a1, a2, b):
                assert {k: len(v) for k, v in client.events.items()} == {
                    "exchanges/ticker patched": 1,
                    "events created": 1,
                }
                assert_events_valid(crmock.server.contract, client.events)
            assert dict(anonymous.events) == {}

    run(scenario())


def test_emit_with_a_user_id_reaches_only_that_user(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with logged_in(crmock.url, USER) as a, logged_in(crmock.url, OTHER) as b:
            message = dict(crmock.call(lambda: next(iter(crmock.server.store.owned_by("messages", OTHER_ID)))))
            reached = crmock.emit("messages", "created", message)  # owned: goes to its userId
            assert reached == {b.sio.get_sid()}
            assert await b.wait_for("messages created") == [message]
            system = dict(crmock.call(lambda: next(iter(crmock.server.store.tables["events"].values()))))
            reached = crmock.emit("events", "created", system, user_id=USER_ID)
            assert reached == {a.sio.get_sid()}
            assert await a.wait_for("events created") == [system]
            await barrier(crmock, a, b)
            assert names(a) == {"events created": 1}
            assert names(b) == {"messages created": 1}

    run(scenario())


def test_a_logged_out_socket_receives_nothing_until_it_logs_in_again(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with logged_in(crmock.url, USER) as leaving, logged_in(crmock.url, USER) as staying:
            await leaving.call("remove", "authentication", None, {})
            await staying.call("create", "strategies", {"name": "while logged out"}, {})
            reached = crmock.emit("exchanges/ticker", "patched", a_ticker(crmock))
            assert reached == {staying.sio.get_sid()}
            await staying.wait_for("strategies created")
            await staying.wait_for("exchanges/ticker patched")
            await asyncio.sleep(QUIET)
            assert dict(leaving.events) == {}

            await leaving.authenticate(*USER)
            await staying.call("create", "strategies", {"name": "back again"}, {})
            created = await leaving.wait_for("strategies created")
            assert [s["name"] for s in created] == ["back again"]  # nothing replayed from the gap

    run(scenario())


def test_logging_in_as_someone_else_moves_the_socket_to_that_users_channel(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with (
            logged_in(crmock.url, USER) as switching,
            logged_in(crmock.url, USER) as a,
            logged_in(crmock.url, OTHER) as b,
        ):
            await switching.authenticate(*OTHER)
            await a.call("create", "strategies", {"name": "user's"}, {})
            await b.call("create", "strategies", {"name": "trader's"}, {})
            await b.wait_for("strategies created")
            await switching.wait_for("strategies created")
            await barrier(crmock, switching, a, b)
            assert [s["name"] for s in switching.events["strategies created"]] == ["trader's"]
            assert [s["name"] for s in a.events["strategies created"]] == ["user's"]

    run(scenario())


def test_rest_writes_are_published_to_the_owners_sockets(crmock: ServerThread) -> None:
    async def scenario() -> None:
        token = await login_token(crmock.url, USER)
        async with logged_in(crmock.url, USER) as a, logged_in(crmock.url, OTHER) as b:
            status, _, created = await rest("POST", crmock.url, "/strategies", token=token, json_body={"name": "rest"})
            assert status == 201
            assert await a.wait_for("strategies created") == [created]
            status, _, patched = await rest(
                "PATCH", crmock.url, f"/strategies/{created['_id']}", token=token, json_body={"interval": "5m"}
            )
            assert status == 200
            assert await a.wait_for("strategies patched") == [patched]
            status, _, removed = await rest("DELETE", crmock.url, f"/strategies/{created['_id']}", token=token)
            assert status == 200
            assert removed == patched  # the call's own result is the full object (D2)
            assert await a.wait_for("strategies removed") == [{"_id": created["_id"]}]
            await barrier(crmock, a, b)
            assert names(b) == {}
            assert_events_valid(crmock.server.contract, a.events)

    run(scenario())


def test_a_users_own_record_events_go_to_that_user_only(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with logged_in(crmock.url, USER) as a, logged_in(crmock.url, OTHER) as b:
            patched = await a.call("patch", "users", USER_ID, {"name": "Johnny"}, {})
            assert await a.wait_for("users patched") == [patched]
            assert "password" not in patched
            await barrier(crmock, a, b)
            assert names(b) == {}

    run(scenario())


def test_a_disconnected_socket_leaves_every_channel(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with logged_in(crmock.url, USER) as a:
            gone = FeathersSocketClient(crmock.url)
            await gone.connect()
            await gone.authenticate(*USER)
            sid = gone.sio.get_sid()
            await gone.close()
            for _ in range(50):
                if sid not in crmock.call(lambda: set(crmock.server.core.channels.authenticated)):
                    break
                await asyncio.sleep(0.02)
            reached = crmock.emit("exchanges/ticker", "patched", a_ticker(crmock))
            assert reached == {a.sio.get_sid()}
            channels = crmock.server.core.channels
            assert crmock.call(lambda: sid not in channels.user_of and sid not in channels.by_user.get(USER_ID, set()))

    run(scenario())


def test_emit_refuses_payloads_the_real_server_never_sends(crmock: ServerThread) -> None:
    from mockserver.contract import ContractViolation

    with pytest.raises(ContractViolation) as broken:
        crmock.emit("traders", "patched", {"_id": "x", "status": "flying"})
    assert broken.value.event == "traders patched"
    with pytest.raises(KeyError, match="'traders frobbed' is not an event of the API"):
        crmock.emit("traders", "frobbed", {})
    assert crmock.emit("events", "created", {"anything": 1}, validate=False) == frozenset()  # no one logged in
