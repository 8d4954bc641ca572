"""Server benchmark: publish throughput, per-test cost, and `serve` cold start. Prints figures; asserts nothing.

Run: `scripts/dev bench` (all benchmarks) or `.venv/bin/python tests/benchmarks/bench_server.py`.

1. Events/s delivered to 50 websocket clients: the mock's publish path (packet encoded once, put straight on each
   Engine.IO socket's send queue) against python-socketio's own `AsyncServer.emit` broadcast of the same payload.
   The clients live in a second process and only count raw `42[` frames, so client-side parsing does not hide the
   server's cost.
2. Per-test cost: `reset()` + websocket connect + local login on a running server (median of many rounds).
3. Cold start: `cryptorobot-mock serve --port 0` to the first accepted Engine.IO handshake (median of a few runs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from mockserver import MockServer
from mockserver.client import FeathersSocketClient
from mockserver.server._channels import Audience

ROOT = Path(__file__).resolve().parents[2]
EMAIL, PASSWORD = "user@example.com", "your-password"


# -- 1. publish throughput ----------------------------------------------------------------------------------------
async def _raw_client(
    url: str, counts: list[int], index: int, ready: asyncio.Event, done: asyncio.Event, expected: int
) -> None:
    """An Engine.IO websocket client that logs in, then counts event frames and answers pings."""
    ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as session, session.ws_connect(ws_url, max_msg_size=0) as ws:
        await ws.receive()  # engine.io OPEN
        await ws.send_str("40")
        await ws.receive()  # socket.io CONNECT reply
        login = ["create", "authentication", {"strategy": "local", "email": EMAIL, "password": PASSWORD}, {}]
        await ws.send_str("420" + json.dumps(login))
        while True:
            frame = (await ws.receive()).data
            if isinstance(frame, str) and frame.startswith("430"):
                break
        ready.set()
        async for message in ws:
            data = message.data
            if data == "2":
                await ws.send_str("3")
            elif isinstance(data, str) and data.startswith("42["):
                counts[index] += 1
                if counts[index] >= expected:
                    done.set()
                    return


def _client_process(url: str, n_clients: int, expected: int, conn: Any) -> None:
    async def main() -> None:
        counts = [0] * n_clients
        readies = [asyncio.Event() for _ in range(n_clients)]
        dones = [asyncio.Event() for _ in range(n_clients)]
        tasks = [
            asyncio.create_task(_raw_client(url, counts, i, readies[i], dones[i], expected)) for i in range(n_clients)
        ]
        await asyncio.gather(*(r.wait() for r in readies))
        conn.send("ready")
        conn.recv()  # "go"
        await asyncio.gather(*(d.wait() for d in dones))
        conn.send(("done", time.perf_counter()))
        for task in tasks:
            task.cancel()

    asyncio.run(main())


async def _throughput(mode: str, n_clients: int, n_events: int) -> float:
    payload = {
        "_id": "65a4f2c0e1b2c3d4e5f60718",
        "which": "binance",
        "symbol": "BTC/USDT",
        "last": 42400.5,
        "bid": 42400.0,
        "ask": 42401.0,
        "timestamp": 1705312800000,
        "datetime": "2024-01-15T10:00:00.000Z",
    }
    async with MockServer(seed=1) as server:
        parent, child = multiprocessing.Pipe()
        proc = multiprocessing.get_context("spawn").Process(
            target=_client_process, args=(server.url, n_clients, n_events, child)
        )
        proc.start()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, parent.recv)  # all clients logged in
        parent.send("go")
        start = time.perf_counter()
        event = "exchanges/ticker patched"
        for i in range(n_events):
            if mode == "mock":
                server.core.channels.publish(event, payload, Audience.authenticated())
            else:
                await server.sio.emit(event, payload)
            if i % 50 == 49:
                await asyncio.sleep(0)  # let the socket writers run, as a live server would
        _, finished = await loop.run_in_executor(None, parent.recv)
        proc.join(10)
        return n_clients * n_events / (finished - start)


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
def _cold_start() -> float:
    command = [sys.executable, "-m", "mockserver.cli", "serve", "--port", "0", "--quiet-streams"]
    start = time.perf_counter()
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
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
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()

    print(f"== publish throughput: {args.events} events to {args.clients} websocket clients")
    plain = statistics.median(asyncio.run(_throughput("plain", args.clients, args.events)) for _ in range(3))
    mock = statistics.median(asyncio.run(_throughput("mock", args.clients, args.events)) for _ in range(3))
    ratio = mock / plain
    print(f"  python-socketio emit broadcast : {plain:12,.0f} events/s delivered")
    print(f"  mock publish path              : {mock:12,.0f} events/s delivered")
    print(f"  ratio                          : {ratio:12.2f}x   (target >= 1.5x: {'PASS' if ratio >= 1.5 else 'FAIL'})")

    timings = asyncio.run(_per_test_cost(args.rounds))
    median = statistics.median(timings)
    print(f"== per-test cost (reset + connect + authenticate), {args.rounds} rounds")
    print(
        f"  median {median:.1f} ms, p90 {sorted(timings)[int(len(timings) * 0.9)]:.1f} ms"
        f"   (target <= 20 ms: {'PASS' if median <= 20 else 'FAIL'})"
    )

    starts = [_cold_start() for _ in range(5)]
    cold = statistics.median(starts)
    print("== cold start of `serve` to first accepted connection, 5 runs")
    print(
        f"  median {cold * 1000:.0f} ms, min {min(starts) * 1000:.0f} ms"
        f"   (target <= 500 ms: {'PASS' if cold <= 0.5 else 'FAIL'})"
    )


if __name__ == "__main__":
    main()
