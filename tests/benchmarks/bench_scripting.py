"""Scripting benchmark: what the journal and the fault matcher cost on the hot paths. Prints figures; asserts nothing.

Run: `.venv/bin/python tests/benchmarks/bench_scripting.py` (or `scripts/dev bench`).

1. Events/s delivered to N real `socket.io-client` receivers (Node, the receivers of bench_server.py), and the
   server's CPU per delivered event: journal off, journal on, and journal on with one fault set that matches no
   event (the per-recipient fault check). Needs Node and `tests/interop/node_modules` (`scripts/dev setup`).
2. Call round trip (find over the socket, a Python client in the same process): journal off vs on, and with a fault
   set that matches no call.
3. Memory of 100,000 journal entries (tracemalloc), half calls, half events sharing one payload.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_server import EMAIL, PASSWORD, Sample, _fan_out

from mockserver import MockServer
from mockserver.client import FeathersSocketClient
from mockserver.scripting import Clock, Journal

PAYLOAD = {
    "_id": "65a4f2c0e1b2c3d4e5f60718",
    "which": "binance",
    "symbol": "BTC/USDT",
    "last": 42400.5,
    "bid": 42400.0,
    "ask": 42401.0,
    "timestamp": 1705312800000,
    "datetime": "2024-01-15T10:00:00.000Z",
}
UNMATCHED_FAULT = {"match": {"service": "no-such-service"}, "action": "delay-ack", "seconds": 1}
UNMATCHED_EVENT_FAULT = {"match": {"event": "no-such-service created"}, "action": "drop-event"}


async def _throughput(
    node: str, n_clients: int, n_events: int, *, journal: bool, fault: dict[str, object] | None
) -> Sample:
    async with MockServer(seed=1, journal=journal) as server:
        if fault is not None:
            server.faults.add(fault)

        async def publish() -> None:
            for i in range(n_events):
                server.emit("exchanges/ticker", "patched", PAYLOAD, validate=False)
                if i % 50 == 49:
                    await asyncio.sleep(0)  # let the socket writers run, as a live server would

        return await _fan_out(node, server.url, n_clients, n_events, True, publish, time.process_time)


async def _round_trips(n_calls: int, *, journal: bool, fault: dict[str, object] | None) -> float:
    """Median microseconds per find round trip."""
    async with MockServer(seed=1, journal=journal) as server:
        if fault is not None:
            server.faults.add(fault)
        async with FeathersSocketClient(server.url) as client:
            await client.authenticate(EMAIL, PASSWORD)
            timings = []
            for _ in range(n_calls):
                start = time.perf_counter()
                await client.call("find", "strategies", {"$limit": 1})
                timings.append(time.perf_counter() - start)
    return statistics.median(timings) * 1e6


def _fill(journal: Journal, n_entries: int) -> None:
    sids = [f"sid{i:017d}" for i in range(20)]
    for i in range(n_entries // 2):
        journal.record(
            "call",
            connection=sids[i % 20],
            service="strategies",
            method="patch",
            id=f"{i:024x}",
            data={"name": f"Strategy {i}"},
            query={},
            transport="websocket",
        )
        journal.record("event", event="exchanges/ticker patched", service="exchanges/ticker", payload=PAYLOAD, to=sids)


def _journal_memory(n_entries: int) -> tuple[float, float]:
    """(MB held by n_entries journal entries, µs per record measured without tracemalloc)."""
    start = time.perf_counter()
    _fill(Journal(Clock("real"), limit=n_entries), n_entries)
    per_record = (time.perf_counter() - start) / n_entries * 1e6
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    journal = Journal(Clock("manual"), limit=n_entries)
    _fill(journal, n_entries)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / 1e6, per_record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=1500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    node = shutil.which("node")
    if node is None:
        print("== publish throughput: skipped (no Node for the socket.io-client receivers)")
    else:
        print(
            f"== publish throughput: {args.events} events to {args.clients} socket.io-client receivers "
            f"(median of {args.repeat})"
        )
        configs = [
            ("journal off", False, None),
            ("journal on", True, None),
            ("journal on + 1 unmatched event fault", True, UNMATCHED_EVENT_FAULT),
        ]
        samples: dict[str, list[Sample]] = {name: [] for name, _, _ in configs}
        for _ in range(args.repeat):  # interleaved, so drift of a busy machine hits every configuration alike
            for name, journal, fault in configs:
                sample = asyncio.run(_throughput(node, args.clients, args.events, journal=journal, fault=fault))
                samples[name].append(sample)
        base_rate = statistics.median(s[0] for s in samples["journal off"])
        base_cpu = statistics.median(s[1] for s in samples["journal off"])
        for name, _, _ in configs:
            rate = statistics.median(s[0] for s in samples[name])
            cpu = statistics.median(s[1] for s in samples[name])
            print(
                f"  {name:38}: {rate:10,.0f} events/s ({(rate / base_rate - 1) * 100:+.1f}%), "
                f"server CPU {cpu:.2f} µs/event ({(cpu / base_cpu - 1) * 100:+.1f}%)"
            )

    print(f"== call round trip: find over the socket, {args.calls} calls (median of medians, {args.repeat} runs)")
    configs = [
        ("journal off", False, None),
        ("journal on", True, None),
        ("journal on + 1 unmatched call fault", True, UNMATCHED_FAULT),
    ]
    trips: dict[str, list[float]] = {name: [] for name, _, _ in configs}
    for _ in range(args.repeat):
        for name, journal, fault in configs:
            trips[name].append(asyncio.run(_round_trips(args.calls, journal=journal, fault=fault)))
    base = statistics.median(trips["journal off"])
    for name, _, _ in configs:
        micros = statistics.median(trips[name])
        print(f"  {name:38}: {micros:8.0f} µs per call  ({(micros / base - 1) * 100:+.1f}% vs journal off)")

    megabytes, per_record = _journal_memory(100_000)
    print("== journal memory: 100,000 entries (50,000 calls + 50,000 events to 20 connections, shared payload)")
    print(f"  {megabytes:.1f} MB ({megabytes * 1e6 / 100_000:.0f} bytes per entry), {per_record:.2f} µs per record")


if __name__ == "__main__":
    main()
