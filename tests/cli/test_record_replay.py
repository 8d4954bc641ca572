"""`record`, `replay` and `serve --record` as a user runs them: real processes, real output, real tapes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mockserver.client import FeathersSocketClient
from mockserver.contract import default_contract
from mockserver.scripting import TapeHeader, TapeWriter, read_tape
from mockserver.server import ActivityOptions, MockServer
from mockserver.synth import generate_event

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "mockserver.cli"]
USER = ("user@example.com", "your-password")
TICKS = ActivityOptions(
    ticker_interval=0.1, trade_interval=0, signal_interval=0, message_interval=0, system_event_interval=0
)


def cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)


@contextmanager
def serving(command: str, *args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Start `serve` or `replay` on a free port, read its banner up to the URL, stop it afterwards."""
    proc = subprocess.Popen(
        [*CLI, command, "--port", "0", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        url = ""
        for line in proc.stdout:
            if line.startswith("listening on "):
                url = line.strip().removeprefix("listening on ")
            if line.startswith("press Ctrl-C"):
                break
        assert url, proc.stderr and proc.stderr.read()
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)


def test_record_from_a_live_server_logs_in_and_writes_what_the_user_receives(tmp_path: Path) -> None:
    """`record --url` against the mock itself: the tape holds the ticker stream, the header names the source and
    the user, and neither the password nor the token is on it."""
    out = tmp_path / "live.jsonl"
    with MockServer(seed=8, activity=TICKS).running() as handle:
        done = cli(
            "record", "--url", handle.url, "--email", USER[0], "--password", USER[1], "--out", str(out),
            "--duration", "0.6",
        )  # fmt: skip
        user_id = handle.server.dataset.user_id(USER[0])
        url = handle.url
    assert done.returncode == 0, done.stderr
    assert "recorded" in done.stdout
    tape = read_tape(out)
    assert tape.header.source == url
    assert tape.header.users == {user_id: USER[0]}
    assert len(tape.frames) >= 3
    assert {frame.event for frame in tape.frames} == {"exchanges/ticker patched"}
    assert [frame.t for frame in tape.frames] == sorted(frame.t for frame in tape.frames)
    for frame in tape.frames:
        default_contract().assert_event(frame.event, frame.payload)
    assert USER[1] not in out.read_text()


def test_record_with_a_wrong_password_or_no_server_exits_1_with_a_message(tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    with MockServer(seed=8).running() as handle:
        done = cli("record", "--url", handle.url, "--email", USER[0], "--password", "nope", "--out", str(out))
    assert done.returncode == 1
    assert "refused the login: NotAuthenticated" in done.stderr
    assert "Traceback" not in done.stderr
    done = cli("record", "--url", "http://127.0.0.1:9", "--email", USER[0], "--password", "x", "--out", str(out))
    assert done.returncode == 1
    assert "cannot connect to http://127.0.0.1:9" in done.stderr


def test_serve_record_writes_the_published_stream_to_a_tape(tmp_path: Path) -> None:
    out = tmp_path / "serve.jsonl"
    with serving("serve", "--record", str(out), "--ticker-interval", "0.05", "--trade-interval", "0") as (proc, _):
        asyncio.run(asyncio.sleep(0.5))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    tape = read_tape(out)
    assert tape.header.source == "mock"
    assert tape.header.seed == 42
    assert sum(frame.event == "exchanges/ticker patched" for frame in tape.frames) >= 3


def test_replay_serves_the_tape_to_a_logged_in_client(tmp_path: Path) -> None:
    tape_path = tmp_path / "three.jsonl"
    writer = TapeWriter(tape_path, TapeHeader(clock_start="2024-01-15T10:00:00.000Z", source="mock"))
    for number in range(3):
        writer.write(number * 0.5, "events created", generate_event("events created", seed=number))
    writer.close()

    async def receive(url: str) -> list[dict[str, object]]:
        async with FeathersSocketClient(url) as client:
            await client.authenticate(*USER)
            return await client.wait_for("events created", count=3, timeout=10)

    with serving("replay", str(tape_path), "--loop", "--speed", "5") as (_proc, url):
        events = asyncio.run(receive(url))

    def content(payload: dict[str, object]) -> str:  # what stays the same when ids are renewed and times moved
        return json.dumps({k: v for k, v in payload.items() if k not in ("_id", "createdAt")}, sort_keys=True)

    recorded = {content(frame.payload) for frame in read_tape(tape_path).frames}
    assert {content(event) for event in events} <= recorded
    for event in events:
        default_contract().assert_event("events created", event)


def test_replay_reports_bad_files_and_invalid_frames(tmp_path: Path) -> None:
    done = cli("replay", str(tmp_path / "missing.jsonl"), "--port", "0")
    assert done.returncode == 2
    assert "cannot read" in done.stderr
    bad = tmp_path / "bad.jsonl"
    writer = TapeWriter(bad, TapeHeader(clock_start="2024-01-15T10:00:00.000Z", source="mock"))
    writer.write(0.1, "events created", {"nonsense": True})
    writer.close()
    with serving("replay", str(bad)) as (proc, _url):
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert proc.stderr is not None
        assert f"{bad}:2: events created: " in proc.stderr.read()


def test_replay_refuses_two_users_with_one_email_as_serve_does() -> None:
    tape = ROOT / "fixtures" / "tapes" / "bots-life.tape.jsonl"
    done = cli("replay", str(tape), "--port", "0", "--user", "a@b.c:pw", "--user", "A@B.c:other")
    assert done.returncode == 2
    assert "'a@b.c' and 'A@B.c' (case does not matter)" in done.stderr
    assert "Traceback" not in done.stderr
