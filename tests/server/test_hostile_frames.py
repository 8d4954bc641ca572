"""Hostile frames at the Socket.IO and Engine.IO layer (issue 6): what the client sees, what the console shows, and
how much memory one connection can take.

Each listed frame goes on a fresh raw websocket. A frame Node's socket.io cannot decode closes its connection; one
it ignores is ignored. Either way the connection's resources are freed at once, the console gets at most one short
line per connection, and never a traceback. Memory is measured on a `serve` process (VmRSS from /proc).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from crmock_support import USER, RawSocket, assert_error_shape, logged_in, run

from mockserver.server import Options, ServerThread
from mockserver.server._engine import ConsoleLines

ROOT = Path(__file__).resolve().parents[2]
LOGIN = {"strategy": "local", "email": USER[0], "password": USER[1]}
DEEP = 10_000
MEMORY_BOUND_MB = 100  # the bound for what one hostile connection may add to the server

CLOSING_FRAMES = {
    "empty": "",
    "not a packet type": "x",
    "unknown packet type": "9zz",
    "event name is an object": "42[{}]",
    "event name is an array": '421[["find"]]',
    "binary event": '451-["find","strategies",{"_placeholder":true,"num":0}]',
    # socket.io-parser refuses reserved event names as an invalid payload, so Node's server closes the connection
    "reserved event disconnect": '42["disconnect",1,2,3]',
    "reserved event connect": '42["connect"]',
}
MORE_CLOSING_FRAMES = {  # checked in-process only: the console test keeps within the console's burst of lines
    "reserved event with ack id": '4219["disconnect"]',
    "reserved event newListener": '42["newListener","find"]',
}


def tracebacks(records: list[logging.LogRecord]) -> list[str]:
    gc.collect()  # so "Task exception was never retrieved" is logged now, not after the test
    return [
        r.getMessage()
        for r in records
        if r.exc_info or "Traceback" in r.getMessage() or "exception" in r.getMessage().lower()
    ]


def closing_lines(records: list[logging.LogRecord]) -> list[str]:
    return [r.getMessage() for r in records if r.name == "mockserver.socket" and r.getMessage().startswith("closing ")]


def open_connections(crmock: ServerThread) -> tuple[int, int, int]:
    """(Engine.IO sessions, Socket.IO handshake environs, Feathers socket sessions) the server holds."""
    server = crmock.server
    return crmock.call(
        lambda: (
            sum(not s.closed for s in server.sio.eio.sockets.values()),
            len(server.sio.environ),
            len(server.sockets.sessions),
        )
    )


async def until_freed(crmock: ServerThread, wait: float = 2.0) -> None:
    deadline = time.monotonic() + wait
    while open_connections(crmock) != (0, 0, 0):
        assert time.monotonic() < deadline, f"still held: {open_connections(crmock)}"
        await asyncio.sleep(0.02)


async def still_serves(url: str) -> None:
    async with logged_in(url) as client:
        assert (await client.call("find", "strategies/templates", {}))["total"] == 2


# -- each listed frame on a fresh connection -----------------------------------------------------------------
@pytest.mark.parametrize(
    "frame",
    [*CLOSING_FRAMES.values(), *MORE_CLOSING_FRAMES.values()],
    ids=[*CLOSING_FRAMES, *MORE_CLOSING_FRAMES],
)
def test_a_frame_node_cannot_decode_closes_its_connection_and_frees_it_at_once(
    crmock: ServerThread, caplog: pytest.LogCaptureFixture, frame: str
) -> None:
    caplog.set_level(logging.INFO)

    async def scenario() -> None:
        async with await RawSocket.open(crmock.url) as sock:
            await sock.ws.send_str(frame)
            await sock.ws.send_str('4277["find","strategies/templates",{}]')
            assert await sock.next_packet(5) is None  # closed, nothing answered
            await until_freed(crmock)  # while the client still holds its end
        await still_serves(crmock.url)

    run(scenario())
    lines = closing_lines(caplog.records)
    assert len(lines) <= 1, lines  # at most one line (a busy console may hold it back)
    assert all(len(line) < 160 and "\n" not in line for line in lines), lines
    assert tracebacks(caplog.records) == []


def test_an_argument_10000_deep_is_answered_with_the_depth_limit_like_node_decodes_it(
    crmock: ServerThread, caplog: pytest.LogCaptureFixture
) -> None:
    """Node's JSON.parse decodes it and Feathers answers; the mock answers the 400 naming the depth limit and the
    connection stays open."""

    async def scenario() -> None:
        async with await RawSocket.open(crmock.url) as sock:
            assert (await sock.call_json("create", "authentication", LOGIN, {}))[0] is None
            await sock.ws.send_str('4220["find","strategies",' + "[" * DEEP + "]" * DEEP + "]")
            answer = json.loads((await sock.ack(20)).removeprefix("320"))
            assert answer[0]["name"] == "BadRequest"
            assert "max_depth" in answer[0]["message"]
            found = await sock.call_json("find", "strategies", {})
            assert found[1]["total"] == 3  # still open and logged in
        await until_freed(crmock)

    run(scenario())
    assert closing_lines(caplog.records) == []
    assert tracebacks(caplog.records) == []


def test_an_ack_for_nothing_and_a_connect_error_from_a_client_are_ignored(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with await RawSocket.open(crmock.url) as sock:
            for frame in ("435[]", '44"nope"', "44{}", "41/elsewhere,"):
                await sock.ws.send_str(frame)
            ack = await sock.call_json("find", "strategies/templates", {})
            assert_error_shape(ack[0])  # anonymous: NotAuthenticated, on a connection still open

    run(scenario())


POLLING_BODIES = {
    "not a packet type": b"x",
    "unknown packet type": b"9zz",
    "not UTF-8": b"4\xff\xfe",
    "JSON 5,000 deep": b"40\x1e4" + b"[" * 5000,
    "base64 binary": b"40\x1ebAAEC",
    "event name is an object": b"40\x1e42[{}]",
    "binary event": b'40\x1e451-["find",{"_placeholder":true,"num":0}]',
}


@pytest.mark.parametrize("body", list(POLLING_BODIES.values()), ids=list(POLLING_BODIES))
def test_long_polling_bodies_are_screened_the_same_way(
    crmock: ServerThread, caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    """socket.io-client starts on long-polling by default; a bad POST ends its session with one line, no traceback."""
    endpoint = crmock.url + "/socket.io/?EIO=4&transport=polling"

    async def scenario() -> None:
        async with aiohttp.ClientSession() as http:
            async with http.get(endpoint) as opened:
                sid = json.loads((await opened.text())[1:])["sid"]
            async with http.post(f"{endpoint}&sid={sid}", data=body) as posted:
                assert posted.status in (200, 400)
            async with http.get(f"{endpoint}&sid={sid}") as polled:
                text = await polled.text()
                assert polled.status == 400 or text == "1", (polled.status, text)  # gone, or told CLOSE
        await until_freed(crmock)
        await still_serves(crmock.url)

    run(scenario())
    assert len(closing_lines(caplog.records)) <= 1
    assert tracebacks(caplog.records) == []


# -- the console ----------------------------------------------------------------------------------------------
def test_console_lines_are_rate_limited_and_count_what_they_held_back(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    console = ConsoleLines(burst=3, per_second=1.0, clock=lambda: now[0])
    logged = [console.closing(f"sid{i}", "127.0.0.1", "malformed Socket.IO packet") for i in range(10)]
    assert logged == [True] * 3 + [False] * 7
    now[0] = 1.0
    assert console.closing("sid10", "127.0.0.1", "empty packet")
    assert not console.closing("sid11", "127.0.0.1", "empty packet")
    lines = closing_lines(caplog.records)
    assert lines[0] == "closing sid0 from 127.0.0.1: malformed Socket.IO packet"
    assert lines[-1] == "closing sid10 from 127.0.0.1: empty packet (7 more not shown)"
    assert len(lines) == 4


# -- a `serve` process: its real stderr and its memory ------------------------------------------------------------
class Served:
    """`cryptorobot-mock serve` in a subprocess, its stderr collected line by line as it comes."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mockserver.cli", "serve", "--port", "0", "--quiet-streams"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        first = self.proc.stdout.readline().strip()
        assert first.startswith("listening on http://127.0.0.1:"), first
        self.url = first.removeprefix("listening on ")
        self.stderr: list[str] = []
        self._drains = [
            threading.Thread(target=self._drain, args=(stream, sink), daemon=True)
            for stream, sink in ((self.proc.stdout, []), (self.proc.stderr, self.stderr))
        ]
        for thread in self._drains:
            thread.start()

    @staticmethod
    def _drain(stream: Any, sink: list[str]) -> None:
        for line in stream:
            sink.append(line.rstrip("\n"))

    def rss_mb(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
        for thread in self._drains:
            thread.join(5)


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    if not Path("/proc/self/status").exists():
        pytest.skip("measures memory through /proc")
    process = Served()
    try:
        yield process
    finally:
        process.stop()
    assert process.proc.returncode == 0
    assert not [line for line in process.stderr if "Traceback" in line or "Error" in line], process.stderr


async def sampling_peak(served: Served, stop: asyncio.Event, peak: list[float]) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], served.rss_mb())
        await asyncio.sleep(0.02)


def test_the_console_of_serve_shows_one_short_line_per_refused_connection_and_no_traceback(served: Served) -> None:
    start = len(served.stderr)

    async def scenario() -> None:
        for frame in CLOSING_FRAMES.values():
            async with await RawSocket.open(served.url) as sock:
                await sock.ws.send_str(frame)
                assert await sock.next_packet(5) is None
        await still_serves(served.url)

    run(scenario())
    time.sleep(0.2)  # let the drain thread catch up
    lines = served.stderr[start:]
    assert len(lines) == len(CLOSING_FRAMES), lines
    assert all(line.startswith("closing ") and " from 127.0.0.1: " in line and len(line) < 160 for line in lines)
    assert len({line.split()[1] for line in lines}) == len(lines)  # one line per connection


def test_a_binary_attachment_flood_is_refused_before_it_costs_memory(served: Served) -> None:
    """The issue: a binary event announcing a huge attachment count, then 1 MB binary frames, +1 MB per frame."""
    start = len(served.stderr)

    async def scenario() -> None:
        before = served.rss_mb()
        peak = [before]
        stop = asyncio.Event()
        sampler = asyncio.create_task(sampling_peak(served, stop, peak))
        async with await RawSocket.open(served.url) as sock:
            await sock.ws.send_str('459999999999-["find","strategies",{"_placeholder":true,"num":0}]')
            with contextlib.suppress(ConnectionError, aiohttp.ClientError):  # once the server has hung up
                for _ in range(300):
                    await sock.ws.send_bytes(b"\x01" * 900_000)  # just under the 1 MB frame limit
                    await asyncio.sleep(0)
            assert await sock.next_packet(5) is None  # closed: the server hung up at the announcement
        stop.set()
        await sampler
        assert peak[0] - before < MEMORY_BOUND_MB, (before, peak[0])
        await still_serves(served.url)

    run(scenario())
    assert any("binary" in line for line in served.stderr[start:])


def test_a_client_that_never_reads_is_disconnected_before_it_costs_memory(served: Served) -> None:
    """The issue: 20,000 `find` calls whose answers are never read held 500 MB; the send queue is bounded."""
    start = len(served.stderr)
    calls = [f"42{i}" + json.dumps(["find", "trades", {"$limit": 50}]) for i in range(1, 20_001)]

    async def scenario() -> None:
        before = served.rss_mb()
        peak = [before]
        stop = asyncio.Event()
        sampler = asyncio.create_task(sampling_peak(served, stop, peak))
        async with await RawSocket.open(served.url) as sock:
            assert (await sock.call_json("create", "authentication", LOGIN, {}))[0] is None
            with contextlib.suppress(ConnectionError, aiohttp.ClientError):  # the server may hang up first
                for frame in calls:
                    await sock.ws.send_str(frame)
            deadline = time.monotonic() + 10
            while not any("does not read" in line for line in served.stderr[start:]):  # not reading meanwhile
                assert time.monotonic() < deadline, "the server kept a client that does not read"
                await asyncio.sleep(0.05)
            while await sock.next_packet(5) is not None:
                pass  # what the kernel still had buffered, then the end
            assert sock.ws.closed
        stop.set()
        await sampler
        assert peak[0] - before < MEMORY_BOUND_MB, (before, peak[0])
        await still_serves(served.url)

    run(scenario(), timeout=60)


def test_send_queue_limit_is_checked_up_front() -> None:
    with pytest.raises(ValueError, match="send_queue_limit"):
        Options(send_queue_limit=10)
    with pytest.raises(ValueError, match="send_queue_limit"):
        Options(send_queue_limit="16MB")  # type: ignore[arg-type]
    assert Options().send_queue_limit == 16 * 2**20


# -- fuzz ---------------------------------------------------------------------------------------------------------
EVENT_NAMES = ["find", "get", "create", "patch", "remove", "update", "connect", "disconnect", "newListener", "", "x"]
PATHS = ["strategies", "traders", "authentication", "nope", ""]


def random_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.4:
        return rng.choice([None, True, 0, -1, 1.5, "x", "", "$limit", {"$limit": -1}, 2**70])
    if roll < 0.7:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(["$in", "a", "_id", "$or", ""]): random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}


def random_frame(rng: random.Random) -> str | bytes:
    """One frame of a seeded mix: valid calls, junk Engine.IO and Socket.IO packets, truncations, depth, binary."""
    call = [rng.choice(EVENT_NAMES), rng.choice(PATHS), *(random_value(rng) for _ in range(rng.randint(0, 3)))]
    text = json.dumps(call)
    ack_id = str(rng.randint(0, 10 ** rng.randint(1, 25))) if rng.random() < 0.7 else ""
    kind = rng.randrange(12)
    if kind == 0:
        return "42" + ack_id + text
    if kind == 1:
        return ("42" + ack_id + text)[: rng.randint(0, len(text) + 2)]  # truncated
    if kind == 2:
        depth = rng.choice([10, 900, 1000, 5000, DEEP])
        return "42" + ack_id + '["find","strategies",' + "[" * depth + "]" * depth + "]"
    if kind == 3:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 64)))
    if kind == 4:
        count = str(rng.choice([0, 1, 10, 9_999_999_999, 10**20]))
        return rng.choice(["45", "46"]) + count + "-" + ack_id + text
    if kind == 5:
        return rng.choice("0123456789bx") + "".join(
            rng.choice('[]{}",:0123456789-/ab') for _ in range(rng.randint(0, 12))
        )
    if kind == 6:
        return "4" + rng.choice("0123456789") + rng.choice(["/", "/admin,", "/x?y=1,", ""]) + ack_id + text
    if kind == 7:
        return rng.choice(["1", "2", "2probe", "3", "3probe", "5", "6", "4", "40", "41", "40{}", "40[]", "40garbage"])
    if kind == 8:
        return "4" + json.dumps(random_value(rng))  # JSON where a Socket.IO packet belongs
    if kind == 9:
        return "43" + ack_id + json.dumps([random_value(rng)])
    if kind == 10:
        return "44" + json.dumps(random_value(rng))
    return "42" + ack_id + json.dumps([random_value(rng), random_value(rng)])


SENTINEL = '["find","strategies/templates",{}]'


async def answers(sock: RawSocket, ack_id: int, burst: list[str | bytes]) -> bool:
    """Whether a call sent after a burst of fuzzed frames is answered; False when the server hung up instead.

    Neither within two seconds is a hang, which fails the test.
    """
    await sock.ws.send_str(f"42{ack_id}{SENTINEL}")
    while True:
        try:
            packet = await sock.next_packet(2.0)
        except TimeoutError:
            raise AssertionError(f"neither an answer nor a close after {[f[:60] for f in burst]}") from None
        if packet is None:
            return False
        if packet.startswith(f"3{ack_id}["):
            assert_error_shape(json.loads(packet[packet.index("[") :])[0])  # anonymous: NotAuthenticated
            return True


async def fuzz_connection(url: str, rng: random.Random, frames: int, deadline: float) -> tuple[int, int]:
    """Send `frames` random frames in small bursts, each followed by a call whose answer shows the connection lives;
    reconnect whenever the server hangs up. Returns (frames sent, connections used)."""
    sent = connections = 0
    while sent < frames and time.monotonic() < deadline:
        connections += 1
        sock = await RawSocket.open(url)
        try:
            alive = True
            while alive and sent < frames and time.monotonic() < deadline:
                burst = [random_frame(rng) for _ in range(rng.randint(1, 6))]
                try:
                    for frame in burst:
                        await (sock.ws.send_bytes(frame) if isinstance(frame, bytes) else sock.ws.send_str(frame))
                    if any(isinstance(f, str) and f.startswith("41") for f in burst):
                        await sock.ws.send_str("40")  # it may have left the namespace: join again
                    sent += len(burst)
                    alive = await answers(sock, 10**6 + sent, burst)
                except (ConnectionError, aiohttp.ClientError):
                    alive = False
        finally:
            await sock.close()
    return sent, connections


def test_thousands_of_random_frames_leave_no_traceback_and_a_healthy_server(
    crmock: ServerThread, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    rng = random.Random(6)
    seeds = [rng.randrange(2**32) for _ in range(6)]

    async def scenario() -> tuple[int, int]:
        deadline = time.monotonic() + 8.0
        counts = await asyncio.gather(
            *(fuzz_connection(crmock.url, random.Random(seed), 500, deadline) for seed in seeds)
        )
        await until_freed(crmock, wait=5.0)
        await still_serves(crmock.url)
        return sum(sent for sent, _ in counts), sum(used for _, used in counts)

    started = time.monotonic()
    sent, connections = run(scenario(), timeout=60)
    elapsed = time.monotonic() - started
    assert sent >= 2000, sent
    assert connections > 100, connections  # the mix refuses often: many connections were closed and replaced
    assert tracebacks(caplog.records) == []
    lines = closing_lines(caplog.records)
    sids = [line.split()[1] for line in lines]
    assert len(sids) == len(set(sids))  # at most one line per connection
    assert len(lines) <= 10 + elapsed + 1, len(lines)  # and few overall: a burst of 10, then about one a second
