"""The control API's side of the endpoints whose operations other parts of issue 7 provide, checked with stand-ins.

Each test gives the running server a small fake of the agreed operation (`server.faults`, `server.journal`,
`server.disconnect`, ...) and checks what the endpoint passes to it and how it turns the result, or the error, into
an HTTP answer. Once the real operation is in the build a test skips itself: test_control.py then drives the real
thing end to end.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from crmock_support import OTHER, USER, USER_ID, assert_error, logged_in, rest, run

from mockserver.server import ServerThread


def ctl(crmock: ServerThread, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    status, _, answer = run(rest(method, crmock.url, "/_mock" + path, json_body=body))
    return status, answer


@pytest.fixture
def stand_in(crmock: ServerThread) -> Iterator[Any]:
    """`stand_in(name, fake)` puts a fake operation on the server for this test only."""
    patches: list[Any] = []

    def install(name: str, fake: Any) -> Any:
        if getattr(crmock.server, name, None) is not None:
            pytest.skip(f"server.{name} is in this build: test_control.py tests the real one")
        patch = mock.patch.object(crmock.server, name, fake, create=True)
        patches.append(patch)
        return patch.start()

    yield install
    for patch in reversed(patches):
        patch.stop()


class FakeFault:
    def __init__(self, spec: dict[str, Any], fault_id: str) -> None:
        self.spec = {**spec, "id": fault_id}

    def to_json(self) -> dict[str, Any]:
        return dict(self.spec)


class FakeFaults:
    def __init__(self) -> None:
        self.faults: list[FakeFault] = []

    def add(self, spec: dict[str, Any]) -> FakeFault:
        if spec["action"].startswith("delay") and "seconds" not in spec:
            raise ValueError(f"action {spec['action']!r} needs seconds")
        fault = FakeFault(spec, f"f{len(self.faults) + 1}")
        self.faults.append(fault)
        return fault

    def list(self) -> list[FakeFault]:
        return list(self.faults)

    def remove(self, fault_id: str) -> None:
        self.faults = [f for f in self.faults if f.spec["id"] != fault_id]

    def clear(self) -> None:
        self.faults.clear()


def test_faults_endpoints_call_add_list_remove_clear(crmock: ServerThread, stand_in: Any) -> None:
    faults = stand_in("faults", FakeFaults())
    spec = {"match": {"service": "traders", "email": USER[0]}, "action": "drop-ack", "times": 2}
    assert ctl(crmock, "POST", "/faults", spec) == (201, {**spec, "id": "f1"})
    assert ctl(crmock, "POST", "/faults", {"action": "delay-event", "seconds": 2})[0] == 201
    status, answer = ctl(crmock, "POST", "/faults", {"action": "delay-ack"})
    assert status == 400
    assert_error(answer, "BadRequest", 400, "action 'delay-ack' needs seconds")  # parse_fault's own words
    assert [f["id"] for f in ctl(crmock, "GET", "/faults")[1]] == ["f1", "f2"]
    assert ctl(crmock, "DELETE", "/faults/f1") == (200, {**spec, "id": "f1"})
    _, answer = ctl(crmock, "DELETE", "/faults/f1")
    assert_error(answer, "NotFound", 404, "No fault with id 'f1'")
    assert ctl(crmock, "DELETE", "/faults") == (200, [{"action": "delay-event", "seconds": 2, "id": "f2"}])
    assert faults.faults == []


class FakeJournal:
    def __init__(self, count: int) -> None:
        self.calls: list[dict[str, Any]] = []
        self.rows = [{"seq": seq, "kind": "call" if seq % 2 else "ack"} for seq in range(1, count + 1)]

    def entries(self, *, since: int | None = None, limit: int | None = None, **filters: Any) -> list[dict[str, Any]]:
        self.calls.append({"since": since, "limit": limit, **filters})
        rows = [row for row in self.rows if since is None or row["seq"] >= since]  # inclusive: the API must cope
        rows = [row for row in rows if all(row.get(key, value) == value for key, value in filters.items())]
        return rows[:limit]


def test_journal_pages_by_since_and_next_whatever_the_journal_counts_from(crmock: ServerThread, stand_in: Any) -> None:
    journal = stand_in("journal", FakeJournal(5))
    status, page = ctl(crmock, "GET", "/journal?limit=2")
    assert (status, page) == (200, {"entries": journal.rows[:2], "next": 2})
    assert ctl(crmock, "GET", f"/journal?since={page['next']}&limit=2")[1] == {"entries": journal.rows[2:4], "next": 4}
    assert ctl(crmock, "GET", "/journal?since=5")[1] == {"entries": [], "next": 5}
    assert ctl(crmock, "GET", "/journal")[1]["next"] == 5
    ctl(crmock, "GET", f"/journal?kind=call&email={USER[0]}&service=traders&method=find&event=x&user=u&connection=c")
    assert journal.calls[-1] == {
        "since": None,
        "limit": 1001,
        "kind": "call",
        "email": USER[0],
        "service": "traders",
        "method": "find",
        "event": "x",
        "user": "u",
        "connection": "c",
    }


def test_disconnect_passes_its_selector_and_mode(crmock: ServerThread, stand_in: Any) -> None:
    calls: list[dict[str, Any]] = []

    async def disconnect(**selector: Any) -> list[str]:
        calls.append(selector)
        return ["a", "b"]

    stand_in("disconnect", disconnect)
    assert ctl(crmock, "POST", "/disconnect", {}) == (200, {"disconnected": ["a", "b"]})
    assert ctl(crmock, "POST", "/disconnect", {"email": OTHER[0], "mode": "ping-timeout"})[0] == 200

    async def with_connection() -> tuple[int, Any]:
        async with logged_in(crmock.url) as client:
            body = {"connection": client.sio.get_sid("/"), "mode": "transport"}
            status, _, answer = await rest("POST", crmock.url, "/_mock/disconnect", json_body=body)
            calls[-1]["expected"] = client.sio.get_sid("/")
            return status, answer

    assert run(with_connection())[0] == 200
    assert calls[0] == {"email": None, "connection": None, "mode": "server"}
    assert calls[1] == {"email": OTHER[0], "connection": None, "mode": "ping-timeout"}
    assert calls[2]["connection"] == calls[2]["expected"]
    assert calls[2]["mode"] == "transport"
    status, answer = ctl(crmock, "POST", "/disconnect", {"connection": "gone-long-ago"})
    assert (status, answer["errors"]) == (400, [{"path": "connection", "message": "is not an open connection"}])
    assert len(calls) == 3  # a selector that names nothing never reaches the operation


def test_token_expiry_passes_the_email_or_none(crmock: ServerThread, stand_in: Any) -> None:
    calls: list[Any] = []

    async def expire_tokens(email: str | None = None) -> list[str]:
        calls.append(email)
        return ["jti-1"]

    stand_in("expire_tokens", expire_tokens)
    assert ctl(crmock, "POST", "/tokens/expire", {"email": USER[0]}) == (200, {"expired": ["jti-1"]})
    assert ctl(crmock, "POST", "/tokens/expire") == (200, {"expired": ["jti-1"]})
    assert ctl(crmock, "POST", "/tokens/expire", {"email": "nobody@example.com"})[0] == 400
    assert calls == [USER[0], None]


def test_recording_conflicts_and_replay_errors_map_to_409_and_400(crmock: ServerThread, stand_in: Any) -> None:
    state: dict[str, Any] = {"recording": None, "replays": []}

    def record(path: str) -> object:
        if state["recording"] is not None:
            raise RuntimeError(f"already recording to {state['recording']}")
        state["recording"] = path
        return object()

    async def stop_recording() -> None:
        state["recording"] = None

    async def replay(path: str, *, speed: float, loop: bool, allow_invalid: bool) -> object:
        if path == "missing.tape":
            raise FileNotFoundError(2, "No such file or directory", path)
        state["replays"].append((path, speed, loop, allow_invalid))
        return object()

    stand_in("record", record)
    stand_in("stop_recording", stop_recording)
    stand_in("replay", replay)
    assert ctl(crmock, "POST", "/record", {"path": "a.tape"}) == (201, {"recording": "a.tape"})
    _, answer = ctl(crmock, "POST", "/record", {"path": "b.tape"})
    assert_error(answer, "Conflict", 409, "already recording to a.tape")
    assert ctl(crmock, "DELETE", "/record") == (200, {"recording": None})
    assert state["recording"] is None
    body = {"path": "a.tape", "speed": 4, "loop": True, "allowInvalid": True}
    assert ctl(crmock, "POST", "/replay", body) == (200, {"replaying": "a.tape", "speed": 4, "loop": True})
    assert ctl(crmock, "POST", "/replay", {"path": "a.tape"})[1] == {"replaying": "a.tape", "speed": 1.0, "loop": False}
    assert state["replays"] == [("a.tape", 4, True, True), ("a.tape", 1.0, False, False)]
    _, answer = ctl(crmock, "POST", "/replay", {"path": "missing.tape"})
    assert_error(answer, "BadRequest", 400, "[Errno 2] No such file or directory: 'missing.tape'")


def test_scenarios_answer_when_done_refused_or_still_running(crmock: ServerThread, stand_in: Any) -> None:
    started: list[Any] = []

    async def run_scenario(spec: Any) -> None:
        started.append(spec)
        if "bad" in spec:
            raise ValueError("steps[0]: unknown action 'explode'")
        if spec.get("long"):
            await asyncio.sleep(5)

    stand_in("run_scenario", run_scenario)
    assert ctl(crmock, "POST", "/scenarios", {"scenario": {"name": "quick"}}) == (200, {"finished": True})
    _, answer = ctl(crmock, "POST", "/scenarios", {"scenario": {"bad": 1}})
    assert_error(answer, "BadRequest", 400, "steps[0]: unknown action 'explode'")
    assert ctl(crmock, "POST", "/scenarios", {"scenario": {"long": True}}) == (202, {"finished": False})
    assert started == [{"name": "quick"}, {"bad": 1}, {"long": True}]
    assert len(crmock.server.control._background) == 1  # goes on after the answer


def test_a_yaml_scenario_is_parsed_before_it_runs(crmock: ServerThread, stand_in: Any) -> None:
    yaml = pytest.importorskip("yaml")
    started: list[Any] = []

    async def run_scenario(spec: Any) -> None:
        started.append(spec)

    stand_in("run_scenario", run_scenario)
    assert ctl(crmock, "POST", "/scenarios", {"yaml": "name: morning\nsteps: []\n"})[0] == 200
    assert started == [yaml.safe_load("name: morning\nsteps: []\n")]
    _, answer = ctl(crmock, "POST", "/scenarios", {"yaml": "- a list\n"})
    assert_error(answer, "BadRequest", 400, "A YAML scenario must be a mapping")
    status, answer = ctl(crmock, "POST", "/scenarios", {"yaml": "a: [unclosed"})
    assert (status, answer["errors"][0]["path"]) == (400, "yaml")


def test_an_email_names_the_user_case_insensitively(crmock: ServerThread, stand_in: Any) -> None:
    calls: list[Any] = []

    async def expire_tokens(email: str | None = None) -> list[str]:
        calls.append(email)
        return []

    stand_in("expire_tokens", expire_tokens)
    assert ctl(crmock, "POST", "/tokens/expire", {"email": USER[0].upper()})[0] == 200
    assert crmock.server.store.user_by_email(calls[0])["_id"] == USER_ID


def test_without_pyyaml_a_yaml_scenario_is_a_501(crmock: ServerThread, stand_in: Any) -> None:
    if importlib.util.find_spec("yaml") is not None:
        pytest.skip("PyYAML is installed")

    async def run_scenario(spec: Any) -> None:
        raise AssertionError("never reached")

    stand_in("run_scenario", run_scenario)
    _, answer = ctl(crmock, "POST", "/scenarios", {"yaml": "name: morning\n"})
    assert_error(answer, "NotImplemented", 501, "YAML scenarios need PyYAML, which is not installed")
