"""The sync handle (`MockServer(...).running()`) offers the scripting operations too, each run on the loop thread."""

from __future__ import annotations

import pytest
from crmock_support import USER, logged_in, run

from mockserver.errors import FeathersError
from mockserver.scripting import JournalAssertionError
from mockserver.server import MockServer, ServerThread


@pytest.fixture(scope="module")
def handle() -> ServerThread:  # type: ignore[misc]
    with MockServer(seed=3, clock="manual").running() as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh(handle: ServerThread) -> None:
    handle.reset()


def test_faults_added_from_the_test_thread_apply_to_the_next_call(handle: ServerThread) -> None:
    fault = handle.faults.add(
        {
            "match": {"service": "traders", "method": "find"},
            "action": "error",
            "times": 1,
            "error": {"name": "Unavailable", "code": 503, "message": "down for a bit"},
        }
    )
    assert [f.to_json()["id"] for f in handle.faults.list()] == [fault.to_json()["id"]]

    async def scenario() -> tuple[str, int]:
        async with logged_in(handle.url) as client:
            with pytest.raises(FeathersError) as caught:
                await client.call("find", "traders", {})
            page = await client.call("find", "traders", {})  # `times: 1`: the fault has retired
            return caught.value.to_json()["name"], page["total"]

    name, total = run(scenario())
    assert name == "Unavailable"
    assert total > 0
    assert handle.faults.list() == []
    assert [e["action"] for e in handle.journal.entries(kind="fault")] == ["error"]


def test_journal_assertions_and_call_handlers_from_the_test_thread(handle: ServerThread) -> None:
    handle.expect("strategies/templates", "find", times=1).respond({"total": 0, "limit": 25, "skip": 0, "data": []})

    async def scenario() -> int:
        async with logged_in(handle.url) as client:
            page = await client.call("find", "strategies/templates", {})
            return int(page["total"])

    assert run(scenario()) == 0
    handle.journal.assert_called("strategies/templates", "find")
    assert handle.expectations.pending() == []
    with pytest.raises(JournalAssertionError):
        handle.journal.assert_called("traders", "remove")
    seen: list[str] = []
    stop = handle.journal.subscribe(lambda entry: seen.append(entry["kind"]))
    run(scenario())
    stop()
    assert "call" in seen
    handle.journal.clear()
    assert handle.journal.entries() == []


def test_the_clock_handle_advances_mock_time_and_reports_failed_steps(handle: ServerThread) -> None:
    start = handle.clock.time()
    handle.call(handle.server.clock.call_later, 5, lambda: 1 / 0)
    handle.clock.advance(10)
    assert handle.clock.time() == start + 10
    assert [type(error).__name__ for error in handle.clock.failures] == ["ZeroDivisionError"]
    handle.clock.configure("scaled", speed=50)
    assert handle.clock.mode == "scaled"
    handle.clock.configure("manual")
    handle.reset()
    assert handle.clock.mode == "manual"
    assert handle.clock.time() == start
    assert handle.clock.failures == []  # a reset forgets the last test's failed steps


def test_disconnect_and_connections_from_the_test_thread(handle: ServerThread) -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        async with logged_in(handle.url, check_events=False):
            listed = [row["email"] for row in handle.connections()]
            gone = handle.disconnect(email=USER[0], mode="server")
            return listed, gone

    listed, gone = run(scenario())
    assert listed == [USER[0]]
    assert len(gone) == 1
