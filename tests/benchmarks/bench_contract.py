"""Benchmark: the fast seeded generator against contract validation and the hypothesis strategies.

    .venv/bin/python tests/benchmarks/bench_contract.py [--seconds 1.0]

A plain script (pytest only collects test_*.py). For the trader, ticker and pod-event schemas it prints, side by
side: objects/s of `Generator.many`, objects/s of `Contract.validate` on those objects, draws/s of the
hypothesis strategy `strategies.record(service)` (realistic: the generator driven by hypothesis), draws/s of
`strategies.record(service, realistic=False)` (the compiled schema), and generator/realistic draws. Then the
dataset build time and the import time of `mockserver.synth`, and a PASS/FAIL line for the targets. Exits 1 on
FAIL.

How hypothesis is measured, and why that is fair: hypothesis strategies are consumed through `@given`, so that
is what we time: a `@given(strategy)` test whose body only counts its calls, run with `max_examples=N`, no
example database, the generate phase only (nothing fails, so there is nothing to shrink) and no deadline. One
warm-up run first builds the strategy, so the figure is the steady draw rate including hypothesis' per-example
engine overhead, which every real test pays too. `strategy.example()` would be slower still and warns;
`hypothesis.find` stops at the first match. For comparison, hypothesis-jsonschema 0.23.1 (before the compiler,
hypothesis 6.170.9, this 2-core machine) drew traders 56, tickers 110, pod events 192 per second.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings

from mockserver import strategies
from mockserver.contract import default_contract
from mockserver.synth import Generator, dataset

SERVICES = ("traders", "exchanges/ticker", "traders/pods/events")
TICKER_TARGET = 50_000
RATIO_TARGET = 10.0


def _rate(run: Callable[[int], int], seconds: float, start: int = 200) -> float:
    """Items per second of `run(n)` (which returns how many it made), sized to take about `seconds`, best of 3."""
    n = start
    while True:
        began = time.perf_counter()
        made = run(n)
        elapsed = time.perf_counter() - began
        if elapsed >= seconds / 4 or n >= 10_000_000:
            break
        n *= 4
    best = made / elapsed
    for _ in range(2):
        began = time.perf_counter()
        made = run(n)
        best = max(best, made / (time.perf_counter() - began))
    return best


def generator_rate(service: str, seconds: float) -> float:
    def run(n: int) -> int:
        count = 0
        for _ in Generator(0).many(service, n):
            count += 1
        return count

    return _rate(run, seconds, start=1000)


def validation_rate(service: str, seconds: float) -> float:
    contract = default_contract()
    objects = list(Generator(1).many(service, 2000))

    def run(n: int) -> int:
        for i in range(n):
            if contract.validate(service, "object", objects[i % len(objects)]):
                raise AssertionError(f"generated {service} object is invalid")
        return n

    return _rate(run, seconds)


def hypothesis_rate(service: str, seconds: float, *, realistic: bool = True) -> float:
    strategy = strategies.record(service, realistic=realistic)

    def run(n: int) -> int:
        calls = [0]

        @settings(
            max_examples=n,
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(strategy)
        def count(value: Any) -> None:
            calls[0] += 1

        count()
        return calls[0]

    run(5)  # warm-up
    return _rate(run, seconds, start=25)


def dataset_ms(repeat: int = 30) -> float:
    dataset(0)  # warm-up (first use of the lazily computed tables)
    times = []
    for seed in range(repeat):
        began = time.perf_counter()
        dataset(seed)
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def import_ms(module: str, repeat: int = 5) -> float:
    """Wall time of a fresh interpreter importing `module`, minus an empty interpreter's."""

    def wall(code: str) -> float:
        began = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - began

    base = min(wall("pass") for _ in range(repeat))
    return (min(wall(f"import {module}") for _ in range(repeat)) - base) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="rough time budget per measurement")
    args = parser.parse_args()

    header = (
        f"{'schema':<22}{'generator obj/s':>17}{'validate obj/s':>16}{'realistic draws/s':>19}"
        f"{'schema draws/s':>16}{'gen/hyp':>10}"
    )
    print(header)
    print("-" * len(header))
    ratios: dict[str, float] = {}
    generated: dict[str, float] = {}
    for service in SERVICES:
        gen = generator_rate(service, args.seconds)
        val = validation_rate(service, args.seconds)
        hyp = hypothesis_rate(service, args.seconds)
        compiled = hypothesis_rate(service, args.seconds, realistic=False)
        generated[service], ratios[service] = gen, gen / hyp
        print(f"{service:<22}{gen:>17,.0f}{val:>16,.0f}{hyp:>19,.0f}{compiled:>16,.0f}{gen / hyp:>9,.0f}x")
    print()
    print(f"dataset(seed) with the 2 default users: {dataset_ms():.2f} ms (median of 30)")
    print(f"cold import of mockserver.synth: {import_ms('mockserver.synth'):.0f} ms (fresh interpreter, best of 5)")
    passed = generated["exchanges/ticker"] >= TICKER_TARGET and all(r >= RATIO_TARGET for r in ratios.values())
    print(
        "target: ticker generator >= 50,000 obj/s; generator >= 10x hypothesis on every schema: "
        + ("PASS" if passed else "FAIL")
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
