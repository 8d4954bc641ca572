"""The journal (issue 7 §4): one entry per connect, call, ack, event, disconnect, violation and REST exchange, with
secrets redacted, filters, a bound, assertions that show the nearest entries, and an off switch."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from crmock_support import FAST, OTHER, USER, USER_ID, logged_in, login_token, rest, run

from mockserver.scripting import Clock, Journal, JournalAssertionError
from mockserver.server import MockServer, ServerThread


def entries(crmock: ServerThread, *kinds: str, **filters: Any) -> list[dict[str, Any]]:
    return crmock.call(lambda: crmock.server.journal.entries(kinds or None, **filters))


async def until_entry(crmock: ServerThread, kind: str, **filters: Any) -> list[dict[str, Any]]:
    for _ in range(200):
        found = entries(crmock, kind, **filters)
        if found:
            return found
        await asyncio.sleep(0.01)
    raise AssertionError(f"no {kind} entry with {filters}")


def test_a_socket_session_is_journaled_with_secrets_redacted(crmock: ServerThread) -> None:
    async def scenario() -> str:
        async with logged_in(crmock.url, USER) as client:
            sid = client.sio.get_sid("/")
            created = await client.call("create", "strategies", {"name": "Journaled"}, {})
            await client.wait_for("strategies created")
        await until_entry(crmock, "disconnect", connection=sid)
        return str(created["_id"])

    created_id = run(scenario())
    everything = entries(crmock)
    json.dumps(everything)  # entries are plain JSON
    assert [e["seq"] for e in everything] == sorted(e["seq"] for e in everything)
    connect = entries(crmock, "connect")[0]
    sid = connect["connection"]
    assert connect["transport"] == "websocket"
    assert connect["address"] == "127.0.0.1"

    login, create = entries(crmock, "call", connection=sid)
    assert (login["service"], login["method"]) == ("authentication", "create")
    assert login["data"] == {"strategy": "local", "email": USER[0], "password": "***"}
    assert login["user"] is None  # not logged in yet when the call arrived
    assert (create["service"], create["method"], create["data"]) == ("strategies", "create", {"name": "Journaled"})
    assert (create["user"], create["email"]) == (USER_ID, USER[0])

    login_ack, create_ack = entries(crmock, "ack", connection=sid)
    assert login_ack["result"]["accessToken"] == "***"
    assert login_ack["result"]["authentication"]["accessToken"] == "***"
    assert create_ack["result"]["_id"] == created_id
    assert create_ack["elapsed_ms"] >= 0

    (event,) = entries(crmock, "event", event="strategies created")
    assert event["to"] == [sid]
    assert event["payload"]["_id"] == created_id
    (disconnect,) = entries(crmock, "disconnect", connection=sid)
    assert disconnect["user"] == USER_ID
    for entry in everything:
        assert {"seq", "time", "t", "kind", "connection", "user", "email"} <= set(entry)
        assert entry["time"].startswith("20")
        assert entry["time"].endswith("Z")


def test_a_body_that_breaks_the_schema_is_a_violation_entry(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with logged_in(crmock.url, USER) as client:
            with pytest.raises(Exception, match="Validation failed"):
                await client.call("create", "strategies", {"name": 5}, {})

    run(scenario())
    (violation,) = entries(crmock, "violation")
    assert (violation["service"], violation["schema"], violation["email"]) == ("strategies", "create", USER[0])
    assert violation["problems"]
    assert all("message" in problem for problem in violation["problems"])


def test_rest_requests_are_journaled_as_rest_call_and_ack_entries(crmock: ServerThread) -> None:
    async def scenario() -> None:
        token = await login_token(crmock.url, USER)
        status, _, _ = await rest("GET", crmock.url, "/strategies?$limit=1", token=token)
        assert status == 200
        status, _, _ = await rest("GET", crmock.url, "/nowhere")
        assert status == 404

    run(scenario())
    calls = entries(crmock, "call", service="strategies")
    assert calls[-1]["transport"] == "rest"
    assert calls[-1]["query"] == {"$limit": "1"}
    assert calls[-1]["email"] == USER[0]
    login = entries(crmock, "call", service="authentication")[0]
    assert login["data"]["password"] == "***"
    exchanges = entries(crmock, "rest")
    assert [(e["http_method"], e["path"], e["status"]) for e in exchanges] == [
        ("POST", "/authentication", 201),
        ("GET", "/strategies", 200),
        ("GET", "/nowhere", 404),
    ]
    assert entries(crmock, "ack", service="authentication")[0]["result"]["accessToken"] == "***"


def test_filters_and_assertions(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with logged_in(crmock.url, USER) as user, logged_in(crmock.url, OTHER) as other:
            await user.call("create", "strategies", {"name": "Mine"}, {})
            await user.wait_for("strategies created")
            await other.call("find", "strategies", {"$limit": 1})

    run(scenario())
    journal = crmock.server.journal
    creates = crmock.call(lambda: journal.entries("call", email=USER[0], service="strategies", method="create"))
    assert len(creates) == 1
    assert crmock.call(lambda: journal.entries("call", user=USER_ID, method="find")) == []
    assert crmock.call(lambda: journal.entries(["call", "ack"], email=OTHER[0], service="strategies"))
    seq = creates[0]["seq"]
    later = crmock.call(lambda: journal.entries(since=seq))
    assert later
    assert all(e["seq"] > seq for e in later)
    assert crmock.call(lambda: journal.entries(since=creates[0]["t"]))[0]["t"] >= creates[0]["t"]
    assert creates[0] in crmock.call(lambda: journal.entries(since=creates[0]["time"]))  # ISO, to the millisecond
    assert len(crmock.call(lambda: journal.entries(limit=2))) == 2
    # an event entry is found by the user it reached
    assert crmock.call(lambda: journal.entries("event", email=USER[0], event="strategies created"))
    assert crmock.call(lambda: journal.entries("event", email=OTHER[0], event="strategies created")) == []

    crmock.call(lambda: journal.assert_called("strategies", "create", matching={"data": {"name": "Mine"}}))
    crmock.call(lambda: journal.assert_called("strategies", "find", times=1))
    crmock.call(lambda: journal.assert_emitted("strategies created", to=USER[0]))
    crmock.call(lambda: journal.assert_not_emitted("strategies created", to=OTHER[0]))
    with pytest.raises(JournalAssertionError) as failed:
        crmock.call(lambda: journal.assert_called("strategies", "create", matching={"data": {"name": "Theirs"}}))
    assert isinstance(failed.value, AssertionError)
    assert "nearest journal entries" in str(failed.value)
    assert '"Mine"' in str(failed.value)  # the nearest call is shown
    with pytest.raises(JournalAssertionError, match=r"expected event 'strategies created' to trader@example\.com"):
        crmock.call(lambda: journal.assert_emitted("strategies created", to=OTHER[0]))
    with pytest.raises(JournalAssertionError, match="expected no event"):
        crmock.call(lambda: journal.assert_not_emitted("strategies created", to=USER[0]))
    with pytest.raises(ValueError, match="unknown kind"):
        journal.entries("calls")


def test_reset_clears_the_journal_and_subscribers_see_new_entries(crmock: ServerThread) -> None:
    seen: list[dict[str, Any]] = []
    stop = crmock.call(lambda: crmock.server.journal.subscribe(seen.append))
    try:
        run(rest("GET", crmock.url, "/strategies"))
    finally:
        crmock.call(stop)
    assert [e["kind"] for e in seen] == ["call", "ack", "rest"]
    crmock.reset()
    assert entries(crmock) == []
    run(rest("GET", crmock.url, "/strategies"))
    assert entries(crmock)[0]["seq"] == 1
    assert len(seen) == 3  # unsubscribed


def test_the_journal_is_bounded_and_can_be_switched_off() -> None:
    journal = Journal(Clock("manual"), limit=3)
    for n in range(5):
        journal.record("call", service="s", method="find", n=n)
    assert [e["n"] for e in journal.entries()] == [2, 3, 4]
    assert [e["seq"] for e in journal.entries()] == [3, 4, 5]
    assert journal.entries()[0]["time"] == "2024-01-15T10:00:00.000Z"
    with pytest.raises(ValueError, match="limit"):
        Journal(Clock("manual"), limit=0)

    async def scenario() -> None:
        async with MockServer(seed=1, options=FAST, journal=False) as server:
            await rest("GET", server.url, "/strategies")
            async with logged_in(server.url, None) as client:
                with pytest.raises(Exception, match="Not authenticated"):
                    await client.call("find", "strategies", {})
            assert server.journal.entries() == []
            assert len(server.journal) == 0

    run(scenario())


def test_a_failing_subscriber_is_dropped_without_breaking_the_journal(caplog: pytest.LogCaptureFixture) -> None:
    journal = Journal(Clock("manual"))
    seen: list[int] = []

    def broken(entry: dict[str, Any]) -> None:
        raise RuntimeError("panel gone")

    journal.subscribe(broken)
    journal.subscribe(lambda entry: seen.append(entry["seq"]))
    journal.record("call")
    journal.record("call")
    assert seen == [1, 2]
    assert "journal subscriber" in caplog.text


def test_journal_assertions_match_data_by_subset_or_predicate() -> None:
    journal = Journal(Clock("manual"))
    journal.record("call", service="traders", method="patch", id="t1", data={"status": "running", "x": 1})
    journal.assert_called("traders", "patch", matching={"id": "t1", "data": {"status": "running"}})
    journal.assert_called("traders", matching=lambda entry: entry["data"]["x"] == 1)
    with pytest.raises(JournalAssertionError, match="expected 2 call"):
        journal.assert_called("traders", "patch", times=2)
    with pytest.raises(JournalAssertionError) as failed:
        journal.assert_called("traders", "patch", matching={"data": {"status": "stopped"}})
    assert failed.value.nearest[0]["id"] == "t1"
