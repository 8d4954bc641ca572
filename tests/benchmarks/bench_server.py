"""Server benchmark: fan-out to real socket.io clients beside a Node Feathers server, per-test cost, cold start.

Run: `scripts/dev bench` (all benchmarks) or `.venv/bin/python tests/benchmarks/bench_server.py`. Needs Node and
`tests/interop/node_modules` (`scripts/dev setup`) for part 1; prints figures and asserts nothing.

1. Events/s delivered to 50 `socket.io-client` 4.8 receivers (Node, one process, the client's defaults: websocket,
   permessage-deflate offered, every packet parsed and handed to a listener), logged in with Feathers' local
   strategy. The same 2,000 ticker events come from: a Node Feathers 5 app on @feathersjs/socketio publishing
   through its channels (the peer a user would pick instead); this mock's `server.emit(..., validate=False)` and
   validated `server.emit`; python-socketio's own `AsyncServer.emit` broadcast; and `server.emit` with
   `--ws-compression` (what every frame cost before compression went off by default).
2. Per-test cost: `reset()` + connect + local login on a running server, with the Python socket.io client
   (python-socketio's AsyncClient, websocket) that `mockserver.client.FeathersSocketClient` wraps.
3. Cold start: `cryptorobot-mock serve --port 0 --quiet-streams` from process launch to the first accepted Engine.IO
   handshake (interpreter start, imports, dataset, bind): in this environment as it is, and with bytecode cached
   (what an installed package or a second run sees; under PYTHONDONTWRITEBYTECODE every start compiles the mock).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from mockserver import MockServer, dataset
from mockserver.client import FeathersSocketClient

ROOT = Path(__file__).resolve().parents[2]
INTEROP = ROOT / "tests" / "interop"
Sample = tuple[float, float, float]  # events/s delivered; server and receivers CPU µs per delivered event
EMAIL, PASSWORD = "user@example.com", "your-password"
LOGIN = {"strategy": "local", "email": EMAIL, "password": PASSWORD}
PAYLOAD = dataset(1).records["exchanges/ticker"][0]  # a schema-valid ticker, the same for every server


# -- 1. fan-out to real clients -----------------------------------------------------------------------------------
async def _line(stream: asyncio.StreamReader, expected: str) -> str:
    async with asyncio.timeout(60):
        line = (await stream.readline()).decode().strip()
    if not line.startswith(expected):
        raise RuntimeError(f"expected {expected!r} from node, got {line!r}")
    return line


async def _node(node: str, script: str, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        node, str(INTEROP / script), *args, cwd=INTEROP, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )


async def _close(proc: asyncio.subprocess.Process) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    try:
        await asyncio.wait_for(proc.wait(), 10)
    except TimeoutError:
        proc.kill()
        await proc.wait()


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) another process has used so far; NaN where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _fan_out(
    node: str,
    url: str,
    clients: int,
    events: int,
    login: bool,
    publish: Callable[[], Awaitable[None]],
    server_cpu: Callable[[], float],
) -> Sample:
    """(events/s the receivers got, server and receivers CPU µs per delivered event), from the start of `publish`
    until the last receiver has every event."""
    args = [url, str(clients), str(events)] + ([json.dumps(LOGIN)] if login else [])
    receivers = await _node(node, "bench_receivers.mjs", *args)
    try:
        assert receivers.stdout is not None
        await _line(receivers.stdout, "ready")
        cpu, their_cpu, start = server_cpu(), _proc_cpu(receivers.pid), time.perf_counter()
        await publish()
        await _line(receivers.stdout, "done")
        elapsed, delivered = time.perf_counter() - start, clients * events
        spent, their_spent = server_cpu() - cpu, _proc_cpu(receivers.pid) - their_cpu
        return delivered / elapsed, spent / delivered * 1e6, their_spent / delivered * 1e6
    finally:
        await _close(receivers)


async def _peer(node: str, clients: int, events: int) -> Sample:
    peer = await _node(node, "bench_feathers_peer.mjs", json.dumps(PAYLOAD))
    try:
        assert peer.stdin is not None
        assert peer.stdout is not None
        port = (await _line(peer.stdout, "listening")).split()[1]

        async def publish() -> None:
            assert peer.stdin is not None
            peer.stdin.write(f"publish {events}\n".encode())
            await peer.stdin.drain()

        url = f"http://127.0.0.1:{port}"
        return await _fan_out(node, url, clients, events, False, publish, lambda: _proc_cpu(peer.pid))
    finally:
        await _close(peer)


async def _mock(node: str, mode: str, clients: int, events: int) -> Sample:
    async with MockServer(seed=1, ws_compression=mode == "compressed") as server:

        async def publish() -> None:
            for i in range(events):
                if mode == "sio":
                    await server.sio.emit("exchanges/ticker patched", PAYLOAD)
                else:
                    server.emit("exchanges/ticker", "patched", PAYLOAD, validate=mode != "raw")
                if i % 50 == 49:
                    await asyncio.sleep(0)  # let the socket writers run, as a live server would

        return await _fan_out(node, server.url, clients, events, True, publish, time.process_time)


def _fan_out_figures(clients: int, events: int, runs: int) -> None:
    node = shutil.which("node")
    if node is None or not (INTEROP / "node_modules" / "@feathersjs" / "socketio").is_dir():
        print("== fan-out: skipped (needs Node 20 and tests/interop/node_modules: run `scripts/dev setup`)")
        return
    print(
        f"== fan-out: {events:,} ticker events to {clients} socket.io-client receivers (Node, one process);"
        f" {runs} interleaved runs\n   (x peer: median of each run's ratio to the peer run just before it;"
        " server CPU: the server process's own CPU time per delivered event)"
    )
    names = {
        "peer": "Node Feathers 5.0.50 app, channel publish",
        "raw": "mock server.emit(validate=False)",
        "validated": "mock server.emit (validated)",
        "sio": "python-socketio AsyncServer.emit (1 run)",
        "compressed": "mock server.emit, --ws-compression (1 run)",
    }
    samples: dict[str, list[Sample]] = {name: [] for name in names}
    for _ in range(runs):
        samples["peer"].append(asyncio.run(_peer(node, clients, events)))
        for mode in ("raw", "validated"):
            samples[mode].append(asyncio.run(_mock(node, mode, clients, events)))
    for mode in ("sio", "compressed"):
        samples[mode].append(asyncio.run(_mock(node, mode, clients, events)))
    peer_rates = [rate for rate, _, _ in samples["peer"]]
    peer_cpu = statistics.median(cpu for _, cpu, _ in samples["peer"])
    ratios: dict[str, float] = {}
    print(f"  {'server':<44} {'events/s':>9} {'(range)':>17} {'x peer':>7} {'CPU/event':>10} {'x peer':>7}")
    for mode, name in names.items():
        rates = [rate for rate, _, _ in samples[mode]]
        cpu = statistics.median(c for _, c, _ in samples[mode])
        ratios[mode] = statistics.median(rate / peer_rates[min(i, runs - 1)] for i, rate in enumerate(rates))
        spread = f"({min(rates):,.0f}-{max(rates):,.0f})" if len(rates) > 1 else ""
        print(
            f"  {name:<44} {statistics.median(rates):9,.0f} {spread:>17} {ratios[mode]:6.2f}x"
            f" {cpu:7.1f} µs {peer_cpu / cpu:6.2f}x"
        )
    receivers_cpu = statistics.median(c for runs_of in samples.values() for _, _, c in runs_of)
    print(f"  the receivers' own CPU per event: {receivers_cpu:.1f} µs (a ceiling on events/s on a 2-core machine)")
    print(
        f"  targets: emit(validate=False) >= 1.5x peer: {'PASS' if ratios['raw'] >= 1.5 else 'FAIL'};"
        f" validated emit >= 1.0x peer: {'PASS' if ratios['validated'] >= 1.0 else 'FAIL'}"
    )


# -- 2. per-test cost -----------------------------------------------------------------------------------------------
async def _per_test_cost(rounds: int) -> list[float]:
    timings = []
    async with MockServer(seed=1) as server:
        for _ in range(rounds):
            start = time.perf_counter()
            await server.reset()
            async with FeathersSocketClient(server.url) as client:
                await client.authenticate(EMAIL, PASSWORD)
                timings.append((time.perf_counter() - start) * 1000)
    return timings


# -- 3. cold start ----------------------------------------------------------------------------------------------------
def _cold_start(env: dict[str, str] | None = None) -> float:
    command = [sys.executable, "-m", "mockserver.cli", "serve", "--port", "0", "--quiet-streams"]
    start = time.perf_counter()
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, text=True, cwd=ROOT, env={**(env or os.environ), "PYTHONUNBUFFERED": "1"}
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.strip().removeprefix("listening on ")
        handshake = f"{url}/socket.io/?EIO=4&transport=polling"

        async def first_accept() -> None:
            async with aiohttp.ClientSession() as session, session.get(handshake) as response:
                body = await response.text()
                if response.status != 200 or not body.startswith("0{"):
                    raise RuntimeError(f"unexpected handshake answer {response.status}: {body[:80]}")

        asyncio.run(first_accept())
        return time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3, help="runs of the peer and both emits (others: one)")
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()

    _fan_out_figures(args.clients, args.events, args.runs)

    timings = asyncio.run(_per_test_cost(args.rounds))
    median = statistics.median(timings)
    print(
        f"== per-test reset() + connect + authenticate (python-socketio AsyncClient, websocket), {args.rounds} rounds"
    )
    print(
        f"  median {median:.1f} ms, p90 {sorted(timings)[int(len(timings) * 0.9)]:.1f} ms"
        f"   (target <= 5 ms: {'PASS' if median <= 5 else 'FAIL'})"
    )

    print("== cold start: `serve --port 0 --quiet-streams` launch to first accepted Engine.IO handshake, 5 runs")
    here = "as this environment runs it"
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        here += " (PYTHONDONTWRITEBYTECODE is set: every start compiles the mock's sources)"
    _print_cold([_cold_start() for _ in range(5)], here)
    # What a user sees after `pip install` (which compiles bytecode) or any second run of an editable install; the
    # cache goes to a temporary directory, not into the tree. One warm-up start fills it.
    with tempfile.TemporaryDirectory() as cache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"PYTHONPYCACHEPREFIX": cache}
        _cold_start(env)
        _print_cold([_cold_start(env) for _ in range(5)], "bytecode cached")


def _print_cold(starts: list[float], condition: str) -> None:
    cold = statistics.median(starts)
    print(
        f"  {condition}: median {cold * 1000:.0f} ms, min {min(starts) * 1000:.0f} ms"
        f"   (target <= 300 ms: {'PASS' if cold <= 0.3 else 'FAIL'})"
    )


if __name__ == "__main__":
    main()
