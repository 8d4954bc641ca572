"""Record and replay: a tape of what the mock published plays back to a client in order, at the chosen speed,
looking live (timestamps near now, fresh ids on a loop, secrets never on the tape)."""

from __future__ import annotations

import asyncio
import json
import math
import time
from pathlib import Path
from typing import Any

import pytest
from crmock_support import OTHER, USER, USER_ID, run

from mockserver.client import FeathersSocketClient
from mockserver.contract import default_contract
from mockserver.scripting import TapeError, TapeHeader, TapeWriter, read_tape
from mockserver.scripting._tape import redact
from mockserver.server import MockServer
from mockserver.synth import generate_event


class OrderedClient(FeathersSocketClient):
    """Keeps every event in arrival order, with its arrival time."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.arrivals: list[tuple[float, str, Any]] = []

    async def _record(self, event: str, *args: Any) -> None:
        self.arrivals.append((time.monotonic(), event, args[0] if args else None))
        await super()._record(event, *args)


def system_event(number: int) -> dict[str, Any]:
    payload: dict[str, Any] = generate_event("events created", seed=number)
    return payload


def message_for(user_id: str, number: int) -> dict[str, Any]:
    payload: dict[str, Any] = generate_event("messages created", seed=number)
    return {**payload, "userId": user_id}


def test_record_then_replay_at_10x_keeps_order_and_takes_a_tenth_of_the_time(tmp_path: Path) -> None:
    tape_path = tmp_path / "run.tape.jsonl"
    count, gap = 10, 0.1

    async def record() -> list[str]:
        async with MockServer(seed=3) as server, OrderedClient(server.url) as client:
            await client.authenticate(*USER)
            recorder = server.record(tape_path)
            for number in range(count):
                server.emit("events", "created", system_event(number))
                await asyncio.sleep(gap)
            await recorder.stop()
            await client.wait_for("events created", count=count)
            return [payload["_id"] for _, _, payload in client.arrivals]

    async def replay() -> tuple[list[str], float]:
        async with MockServer(seed=3) as server, OrderedClient(server.url) as client:
            await client.authenticate(*USER)
            started = time.monotonic()
            playing = await server.replay(tape_path, speed=10)
            await playing.wait()
            await client.wait_for("events created", count=count)
            elapsed = client.arrivals[-1][0] - started
            return [payload["_id"] for _, _, payload in client.arrivals], elapsed

    recorded_ids = run(record())
    tape = read_tape(tape_path)
    assert [frame.event for frame in tape.frames] == ["events created"] * count
    recorded_span = tape.frames[-1].t - tape.frames[0].t
    replayed_ids, elapsed = run(replay())
    print(f"\nrecorded span {recorded_span:.3f} s, replayed at 10x in {elapsed:.3f} s")
    assert replayed_ids == recorded_ids
    assert recorded_span >= (count - 1) * gap * 0.9
    assert recorded_span / 10 * 0.5 <= elapsed <= recorded_span / 10 * 5  # generous: ~0.09 s expected


def test_replay_reanchors_timestamps_maps_users_and_renews_ids_on_a_loop(tmp_path: Path) -> None:
    """A tape made on another day for a user with another id reaches the logged-in user of this server, dated
    now; the second pass of a loop carries new record ids."""
    tape_path = tmp_path / "elsewhere.jsonl"
    header = TapeHeader(
        clock_start="2023-03-01T12:00:00.000Z", source="https://live.example", users={"a" * 24: USER[0]}
    )
    writer = TapeWriter(tape_path, header)
    old = {**message_for("a" * 24, 1), "createdAt": "2023-03-01T12:00:00.500Z", "updatedAt": "2023-03-01T12:00:00.500Z"}
    writer.write(0.5, "messages created", old)
    writer.write(0.6, "messages patched", {**old, "read": True})
    writer.close()

    async def scenario() -> list[tuple[str, Any]]:
        async with MockServer(seed=3, clock="manual") as server, OrderedClient(server.url) as client:
            await client.authenticate(*USER)
            playing = await server.replay(tape_path, loop=True)
            await server.clock.advance(1.2)
            await client.wait_for("messages patched", count=2)
            playing.stop()
            assert playing.passes >= 2
            return [(event, payload) for _, event, payload in client.arrivals]

    events = run(scenario())
    assert [e for e, _ in events[:4]] == ["messages created", "messages patched"] * 2
    first, second = events[0][1], events[2][1]
    assert first["userId"] == USER_ID == second["userId"]
    assert first["_id"] == old["_id"] == events[1][1]["_id"]
    assert second["_id"] != old["_id"]
    assert second["_id"] == events[3][1]["_id"]
    assert first["createdAt"] == "2024-01-15T10:00:00.500Z"  # the manual clock's start + 0.5 s
    contract = default_contract()
    for event, payload in events:
        contract.assert_event(event, payload)


def test_a_tape_cut_mid_line_replays_up_to_its_last_whole_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tape_path = tmp_path / "killed.jsonl"

    async def record() -> None:
        async with MockServer(seed=4, clock="manual") as server:
            recorder = server.record(tape_path)
            for number in range(3):
                server.emit("events", "created", system_event(number))
                await server.clock.advance(0.1)
            recorder.close()

    run(record())
    text = tape_path.read_text()
    tape_path.write_text(text[: len(text) - 25])  # what a SIGKILL in the middle of the last write leaves
    with caplog.at_level("WARNING"):
        tape = read_tape(tape_path)
    assert len(tape.frames) == 2
    assert tape.warnings
    assert "killed.jsonl:4: the last line is cut short" in tape.warnings[0]
    assert "cut short" in caplog.text

    async def replay() -> int:
        async with MockServer(seed=4, clock="manual", replay=tape_path) as server, OrderedClient(server.url) as c:
            await c.authenticate(*USER)
            await server.clock.advance(1)
            await c.wait_for("events created", count=2)
            return len(c.arrivals)

    assert run(replay()) == 2


def test_a_broken_line_in_the_middle_is_an_error_naming_file_and_line(tmp_path: Path) -> None:
    tape_path = tmp_path / "bad.jsonl"
    writer = TapeWriter(tape_path, TapeHeader(clock_start="2024-01-15T10:00:00.000Z", source="mock"))
    writer.write(0.1, "events created", system_event(1))
    writer.close()
    with tape_path.open("a") as stream:
        stream.write("{not json\n")
        stream.write(json.dumps({"t": 0.3, "event": "events created", "payload": {}}) + "\n")
    with pytest.raises(TapeError, match=r"bad\.jsonl:3: not JSON"):
        read_tape(tape_path)
    tape_path.write_text('{"format": "something else"}\n')
    with pytest.raises(TapeError, match=r"bad\.jsonl:1: not a tape header"):
        read_tape(tape_path)
    with pytest.raises(TapeError, match="cannot read"):
        read_tape(tmp_path / "missing.jsonl")


def test_frames_that_break_the_schemas_are_skipped_unless_allowed(tmp_path: Path) -> None:
    tape_path = tmp_path / "invalid.jsonl"
    writer = TapeWriter(tape_path, TapeHeader(clock_start="2024-01-15T10:00:00.000Z", source="mock"))
    writer.write(0.1, "events created", {**system_event(1), "level": "apocalyptic"})
    writer.write(0.2, "events created", system_event(2))
    writer.write(0.3, "bogus happened", {})
    writer.close()

    async def replay(allow_invalid: bool) -> tuple[int, list[str]]:
        async with MockServer(seed=5, clock="manual") as server, OrderedClient(server.url) as client:
            await client.authenticate(*USER)
            playing = await server.replay(tape_path, allow_invalid=allow_invalid)
            await server.clock.advance(1)
            await asyncio.sleep(0.2)
            return len(client.arrivals), [str(s) for s in playing.skipped]

    sent, skipped = run(replay(False))
    assert sent == 1
    assert len(skipped) == 2
    assert skipped[0].startswith("line 2: events created: ")
    assert "line 4: bogus happened: not an event of the API" in skipped
    sent, _ = run(replay(True))
    assert sent == 3


def test_recorded_tapes_carry_no_secrets(tmp_path: Path) -> None:
    tape_path = tmp_path / "secrets.jsonl"

    async def scenario() -> dict[str, Any]:
        async with MockServer(seed=6, clock="manual") as server, FeathersSocketClient(server.url) as client:
            await client.authenticate(*OTHER)
            recorder = server.record(tape_path)
            key = await client.call("create", "keys", {"name": "ci", "scopes": ["read:traders"]}, {})
            trader = await client.call("create", "traders", {"name": "bot"}, {})
            await recorder.stop()
            return {"key": key["key"], "jwt": trader["api_server"]["jwt_secret_key"]}

    secrets = run(scenario())
    text = tape_path.read_text()
    assert secrets["key"] not in text
    assert secrets["jwt"] not in text
    header, *frames = (json.loads(line) for line in text.splitlines())
    assert header["seed"] == 6
    assert header["source"] == "mock"
    assert "jwt_secret_key" in header["redacted"]
    assert header["schemaVersion"].startswith("sha256:")
    assert frames[0]["payload"]["key"] == "cr_live_REDACTED"
    assert frames[1]["payload"]["api_server"]["jwt_secret_key"] == "REDACTED"
    default_contract().assert_event("keys created", frames[0]["payload"])  # redacted, still schema-valid
    assert redact({"requiredCredentials": {"secret": True}}) == {"requiredCredentials": {"secret": True}}


def test_max_speed_replays_everything_at_once_and_bad_options_are_refused(tmp_path: Path) -> None:
    tape_path = tmp_path / "slow.jsonl"
    writer = TapeWriter(tape_path, TapeHeader(clock_start="2024-01-15T10:00:00.000Z", source="mock"))
    for number in range(5):
        writer.write(number * 60.0, "events created", system_event(number))  # four minutes at speed 1
    writer.close()

    async def replay() -> int:
        async with MockServer(seed=5) as server, OrderedClient(server.url) as client:
            await client.authenticate(*USER)
            playing = await server.replay(tape_path, speed=math.inf)
            await asyncio.wait_for(playing.wait(), 5)
            await client.wait_for("events created", count=5)
            return playing.sent

    assert run(replay()) == 5
    with pytest.raises(ValueError, match="speed must be a number > 0"):
        MockServer(replay_speed=0)
    with pytest.raises(TapeError, match="cannot read"):
        MockServer(replay=tmp_path / "nope.jsonl")


def test_the_shipped_tape_is_valid_and_replays_in_full() -> None:
    """fixtures/tapes/bots-life.tape.jsonl: the bots-life scenario recorded under the manual clock."""
    tape_path = Path(__file__).resolve().parents[2] / "fixtures" / "tapes" / "bots-life.tape.jsonl"
    tape = read_tape(tape_path)
    assert tape.warnings == ()
    assert tape.header.clock_start == "2024-01-15T10:00:00.000Z"

    async def replay() -> tuple[int, list[Any]]:
        async with MockServer(seed=42, clock="manual", replay=tape_path) as server, OrderedClient(server.url) as c:
            await c.authenticate(*USER)
            await server.clock.advance(tape.duration + 1)
            (playing,) = server.replays
            assert playing.done
            await c.wait_for("traders/pods/events created", count=4)
            return playing.sent, [event for _, event, _ in c.arrivals]

    sent, received = run(replay())
    assert sent == len(tape.frames)
    assert received == [frame.event for frame in tape.frames]
