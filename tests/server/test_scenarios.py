"""Scenarios under the manual clock: the shipped files do what they say, the same seed gives the same events, and a
typo is an error naming file, line and path."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from crmock_support import USER, USER_ID, run

from mockserver.client import FeathersSocketClient
from mockserver.contract import default_contract
from mockserver.scripting import MANUAL_EPOCH, Scenario, ScenarioError, load_scenario
from mockserver.server import MockServer, Options

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "fixtures" / "scenarios"
OPTIONS = Options(start_delay=0.5)


def published(server: MockServer) -> list[str]:
    """Every event the server publishes from now on, as JSON (name and payload), in order."""
    log: list[str] = []
    server.core.channels.observers.append(
        lambda event, payload, sids: log.append(json.dumps([event, payload], sort_keys=True))
    )
    return log


def test_bots_life_creates_configures_starts_fills_profits_and_stops() -> None:
    async def scenario() -> tuple[list[tuple[str, Any]], dict[str, Any]]:
        async with (
            MockServer(seed=42, clock="manual", options=OPTIONS) as server,
            FeathersSocketClient(server.url) as client,
        ):
            await client.authenticate(*USER)
            scenario_run = await server.run_scenario(SCENARIOS / "bots-life.yaml")
            await server.clock.advance(25)
            assert scenario_run.done
            assert scenario_run.errors == []
            await client.wait_for("traders patched", count=5)
            await client.wait_for("traders/pods/events created", count=4)
            bot = scenario_run.saved["bot"]
            stored = server.store.get("traders", bot["_id"])
            assert stored is not None
            events = [(name, p) for name, ps in client.events.items() for p in ps]
            return events, stored

    events, trader = run(scenario())
    contract = default_contract()
    for name, payload in events:
        contract.assert_event(name, payload)
    statuses = [p["status"] for name, p in events if name == "traders patched" and p["_id"] == trader["_id"]]
    assert statuses == ["stopped", "starting", "running", "stopping", "stopped"]  # configure, start, stop
    assert trader["name"] == "Scenario bot"
    assert trader["status"] == "stopped"
    trades = [p for name, p in events if name.startswith("trades ") and p.get("traderId") == trader["_id"]]
    assert [t["is_open"] for t in trades] == [True, True, False]
    assert trades[-1]["profit_abs"] == 10.5
    pod = [p["type"] for name, p in events if name == "traders/pods/events created" and p["traderId"] == trader["_id"]]
    assert pod == ["started", "trade_executed", "trade_executed", "stopped"]
    (message,) = [p for name, p in events if name == "messages created"]
    assert (message["userId"], message["title"]) == (USER_ID, "Profit taken")


def test_flash_crash_ticks_fast_fires_signals_fails_a_bot_and_opens_a_503_window() -> None:
    async def scenario() -> tuple[Counter[str], Any, dict[str, Any]]:
        async with MockServer(seed=42, clock="manual", options=OPTIONS) as server:
            log = published(server)
            scenario_run = await server.run_scenario(SCENARIOS / "flash-crash.yaml")
            await server.clock.advance(3)
            (window,) = server.faults.list()  # the 503 window is open
            await server.clock.advance(11)
            assert scenario_run.errors == []
            assert scenario_run.done
            assert server.faults.list() == []  # and closed again
            failed = server.store.get("traders", scenario_run.saved["running"]["data"][0]["_id"])
            assert failed is not None
            names = Counter(json.loads(line)[0] for line in log)
            return names, window.to_json(), failed

    names, window, failed = run(scenario())
    assert names["exchanges/ticker patched"] > 34 * 100  # every ticker, ten times a second, for ~13 s
    assert names["models/signals created"] == 6
    assert names["events created"] == 1
    assert failed["status"] == "error"
    assert failed["running"] is False
    assert window["error"]["code"] == 503


def test_network_flap_drops_the_transport_twice_and_times_out_pings_while_trades_fill() -> None:
    async def scenario() -> tuple[int, list[tuple[float, str | None]]]:
        async with MockServer(seed=42, clock="manual", options=OPTIONS) as server:
            modes: list[tuple[float, str | None]] = []
            real_disconnect = server.disconnect

            async def disconnect(**selector: Any) -> list[str]:  # what the scenario asks for, and when
                modes.append((server.clock.time() - MANUAL_EPOCH, selector.get("mode")))
                assert selector.get("email") == USER[0]
                return await real_disconnect(**selector)

            server.disconnect = disconnect  # type: ignore[method-assign]
            before = len(server.store.table("trades"))
            scenario_run = await server.run_scenario(SCENARIOS / "network-flap.yaml")
            await server.clock.advance(10)
            assert scenario_run.errors == []
            return len(server.store.table("trades")) - before, modes

    fills, modes = run(scenario())
    assert fills == 9
    assert modes == [(2.5, "transport"), (4.5, "transport"), (6.5, "ping-timeout")]


@pytest.mark.parametrize("name", ["bots-life", "flash-crash"])
def test_two_runs_with_the_same_seed_publish_byte_identical_events(name: str) -> None:
    async def once() -> tuple[list[str], list[Any] | None]:
        async with MockServer(seed=42, clock="manual", options=OPTIONS) as server:
            log = published(server)
            await server.run_scenario(SCENARIOS / f"{name}.yaml")
            await server.clock.advance(25)
            return log, server.journal.entries()

    first, second = run(once()), run(once())
    assert len(first[0]) > 10
    assert first[0] == second[0]
    assert json.dumps(first[1]) == json.dumps(second[1])  # byte-identical journals


def test_the_python_api_builds_what_a_file_holds_and_runs_it() -> None:
    scenario = (
        Scenario("python", seed=3)
        .at(1)
        .emit("messages created", {"title": "Hello"}, user=USER[0])
        .every(0.5, until=2, start=1)
        .emit("events created", {"severity": "info"})
    )
    assert scenario.to_dict()["steps"][0] == {
        "at": 1,
        "emit": {"event": "messages created", "fields": {"title": "Hello"}, "user": USER[0]},
    }
    assert Scenario.from_dict(scenario.to_dict()).steps() == scenario.steps()

    async def go() -> dict[str, list[Any]]:
        async with MockServer(seed=42, clock="manual") as server, FeathersSocketClient(server.url) as client:
            await client.authenticate(*USER)
            await server.run_scenario(scenario)
            await server.clock.advance(0.9)
            assert client.events == {}
            await server.clock.advance(1.2)
            await client.wait_for("events created", count=3)
            return dict(client.events)

    events = run(go())
    (message,) = events["messages created"]
    assert (message["title"], message["userId"]) == ("Hello", USER_ID)
    assert [e["severity"] for e in events["events created"]] == ["info"] * 3


def test_a_payload_that_breaks_the_contract_fails_its_step_unless_validate_is_false() -> None:
    bad = {"severity": "apocalyptic"}
    strict = Scenario().at(0).emit("events created", bad)
    lax = Scenario().at(0).emit("events created", bad, validate=False)

    async def go(scenario: Scenario) -> tuple[list[str], int]:
        async with MockServer(seed=42, clock="manual") as server:
            log = published(server)
            scenario_run = await server.run_scenario(scenario)
            await server.clock.advance(1)
            server.clock.failures.clear()
            return [str(e) for e in scenario_run.errors], len(log)

    errors, sent = run(go(strict))
    assert sent == 0
    assert len(errors) == 1
    assert "steps[0].emit: event 'events created' breaks the contract" in errors[0]
    assert run(go(lax)) == ([], 1)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "typo.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "steps:\n  - at: 1\n    emit:\n      evnt: traders patched\n",
            [
                "typo.yaml:3: steps[0].emit: 'event' is a required property",
                "typo.yaml:4: steps[0].emit.evnt: unknown field 'evnt'; expected one of: event, fields, user, validate",
            ],
        ),
        (
            "steps:\n  - at: 1\n    emit: {event: traders exploded}\n",
            ["typo.yaml:3: steps[0].emit.event: unknown event"],
        ),
        ("steps:\n  - at: -1\n    clock: {speed: 2}\n", ["typo.yaml:2: steps[0].at: -1 is less than the minimum of 0"]),
        ("steps:\n  - every: 1\n    clock: {speed: 2}\n", ["typo.yaml:2: steps[0]: `every` needs `until`"]),
        ("steps:\n  - at: 1\n", ["typo.yaml:2: steps[0]: a step needs exactly one action"]),
        (
            "steps:\n  - at: 1\n    trader: {action: start, as: a@b.c, id: '${bot._id}'}\n",
            ["typo.yaml:3: steps[0].trader.id: ${bot} is not saved by an earlier step"],
        ),
        ("steps:\n  - at: 1\n    at: 2\n    clock: {speed: 2}\n", ["typo.yaml:3: steps[0].at: duplicate key"]),
        ("steps:\n  - at: 1\n    clock: {speed: 2\n", ["typo.yaml:4: (yaml): while parsing a flow mapping"]),
        (
            "steps:\n  - at: 1\n    emit: {event: messages created}\n",
            ["typo.yaml:3: steps[0].emit: this event goes to one user"],
        ),
    ],
    ids=[
        "unknown-field",
        "unknown-event",
        "negative-time",
        "every-without-until",
        "no-action",
        "unsaved",
        "dup",
        "yaml",
        "owner",
    ],
)
def test_a_typo_is_an_error_with_file_line_and_path(tmp_path: Path, text: str, expected: list[str]) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write(tmp_path, text))
    lines = [line.replace(str(tmp_path) + "/", "") for line in str(caught.value).splitlines()]
    assert len(lines) == len(expected), lines
    for line, start in zip(lines, expected, strict=True):
        assert line.startswith(start), (line, start)


def test_a_constructor_scenario_starts_with_the_server_and_a_bad_one_fails_the_constructor(tmp_path: Path) -> None:
    async def go() -> int:
        server = MockServer(seed=42, clock="manual", options=OPTIONS, scenario=[SCENARIOS / "bots-life.yaml"])
        async with server:
            await server.clock.advance(25)
            (scenario_run,) = server.scenario_runs
            await server.reset()  # as a fresh server would: the scenario starts again
            await server.clock.advance(25)
            (again,) = server.scenario_runs
            assert again is not scenario_run
            assert again.saved["bot"] == scenario_run.saved["bot"]  # same seed, same ids
            return again.ran

    assert run(go()) == 12
    with pytest.raises(ScenarioError, match=r"typo\.yaml:2: steps\[0\]"):
        MockServer(scenario=write(tmp_path, "steps:\n  - at: 1\n"))


def test_clock_streams_and_the_other_features_steps_reach_the_server_by_name() -> None:
    """clock and streams steps act on this server's clock and streams; expect and expire_tokens steps add a call
    handler and expire the user's tokens."""
    scenario = (
        Scenario()
        .at(1)
        .clock(speed=5)
        .at(1)
        .streams(ticker=0.5)
        .at(2)
        .expect({"match": {"service": "traders", "method": "find"}, "respond": {"data": []}, "times": 1})
        .at(2)
        .expire_tokens(email=USER[0])
        .at(2)
        .disconnect(mode="ping-timeout")
    )

    async def go() -> tuple[float, bool, list[dict[str, Any]], list[str]]:
        async with MockServer(seed=42, clock="manual") as server:
            scenario_run = await server.run_scenario(scenario)
            await server.clock.advance(1.5)
            speed, streaming = server.clock.speed, server.activity is not None
            server.clock.freeze()
            await server.clock.advance(1)
            assert scenario_run.errors == []
            assert scenario_run.done
            handlers = [e.to_json() for e in server.expectations.list()]
            marked = sorted(server.core.expired_before)
            await server.reset()
            assert server.activity is None  # reset: back to the constructor's streams (none)
            return speed, streaming, handlers, marked

    speed, streaming, handlers, marked = run(go())
    assert speed == 5
    assert streaming
    assert [(h["match"], h.get("times")) for h in handlers] == [({"service": "traders", "method": "find"}, 1)]
    assert marked == [USER_ID]  # the expire_tokens step expired the user's tokens


def test_the_sync_handle_runs_scenarios_and_records_tapes(tmp_path: Path) -> None:
    with MockServer(seed=42, clock="manual").running() as handle:
        recorder = handle.record(tmp_path / "sync.jsonl")
        scenario_run = handle.run_scenario(Scenario().at(1).emit("events created", {"severity": "error"}))
        handle.run(handle.server.clock.advance(2))
        handle.stop_recording()
        assert scenario_run.ran == 1
        assert recorder.frames == 1
