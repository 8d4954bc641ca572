"""Query-limit benchmark: how long the worst queries `QueryLimits` allows hold the event loop. Prints figures.

Run: `.venv/bin/python tests/benchmarks/bench_queries.py [--records 1000] [--operators 200 ...]`.

Each shape is built to make the engine do the most work its limits allow (no branch matches early, every `$ne`
holds, `$nin` lists of numbers, dotted paths that walk down a string) and is run through the dispatcher's checks
and the service's find on `exchanges/ticker` grown to `--records` records, exactly as a socket call runs it. The
defaults of `QueryLimits` were picked so the slowest shape stays near 50 ms at 1,000 records on a 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

from mockserver import MockServer
from mockserver.server import QueryLimits
from mockserver.server._core import Caller
from mockserver.server._dispatch import call_method

Shape = Callable[[QueryLimits], dict[str, Any]]


def or_of_equalities(limits: QueryLimits) -> dict[str, Any]:
    """`$or` of number equalities, none matching: every branch runs on every record."""
    return {"$or": [{"last": -index - 1} for index in range(limits.max_operators - 1)]}


def and_of_ne(limits: QueryLimits) -> dict[str, Any]:
    """`$and` of `$ne`, all holding: every branch runs on every record."""
    return {"$and": [{"last": {"$ne": -index - 1}} for index in range((limits.max_operators - 1) // 2)]}


def fields_with_ne(limits: QueryLimits) -> dict[str, Any]:
    """One object with as many `$ne` conditions as allowed, on dotted paths as long as allowed (down a string)."""
    dots = limits.max_depth - 1
    path = "symbol" + ".0" * (dots - 1)
    return {f"{path}.{index}": {"$ne": "x"} for index in range(max(1, limits.max_operators // (dots + 2)))}


def nin_lists(limits: QueryLimits) -> dict[str, Any]:
    """`$and` of `$nin` lists of numbers as long as allowed, as many as the overall size allows."""
    size = min(limits.max_in, limits.max_values // 2)
    branches = max(1, min((limits.max_values - 2) // (size + 3), (limits.max_operators - 1) // 2))
    return {"$and": [{"last": {"$nin": [-(n + 1) - b for n in range(size)]}} for b in range(branches)]}


def object_operands(limits: QueryLimits) -> dict[str, Any]:
    """A long array as a `$lte` bound and a `$in` of arrays, on a missing field: JavaScript's coercing comparison
    and deep equality, each as large as the overall size allows."""
    size = min(limits.max_in, limits.max_values // 8)
    return {"missing": {"$lte": list(range(limits.max_values // 2))}, "absent": {"$in": [[n] for n in range(size)]}}


def sort_and_select(limits: QueryLimits) -> dict[str, Any]:
    """Every record matched, sorted by as many keys as allowed, cut to as many fields as allowed."""
    keys = ["last", "bid", "ask", "high", "low", "symbol", "exchange", "timestamp", "change", "percentage"]
    sort = {
        f"{keys[index % len(keys)]}{'' if index < len(keys) else f'.x{index}'}": 1
        for index in range(limits.max_sort_keys)
    }
    return {"$sort": sort, "$select": [f"f{index}" for index in range(limits.max_select_keys)], "$limit": 100}


SHAPES: dict[str, Shape] = {
    "or_of_equalities": or_of_equalities,
    "and_of_ne": and_of_ne,
    "fields_with_ne": fields_with_ne,
    "nin_lists": nin_lists,
    "object_operands": object_operands,
    "sort_and_select": sort_and_select,
}


async def measure(records: int, limits: QueryLimits, rounds: int) -> dict[str, float]:
    """Median milliseconds per shape for one call through the dispatcher."""
    async with MockServer(seed=42) as server:
        tickers = list(server.store.records("exchanges/ticker"))
        service = server.core.services["exchanges/ticker"]
        for index in range(records - len(tickers)):
            template = tickers[index % len(tickers)]
            server.store.table("exchanges/ticker")[f"bench{index}"] = {**template, "_id": f"bench{index}"}
        user = server.store.records("users").__iter__().__next__()
        caller = Caller(provider="socketio", user=user)
        figures = {}
        for name, shape in SHAPES.items():
            query = shape(limits)
            times = []
            for _ in range(rounds):
                started = time.perf_counter()
                await call_method(service, caller, "find", record_id=None, data=None, query=query, limits=limits)
                times.append((time.perf_counter() - started) * 1000)
            figures[name] = statistics.median(times)
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--operators", type=int, nargs="+", default=[QueryLimits().max_operators])
    parser.add_argument("--in-length", type=int, default=QueryLimits().max_in)
    parser.add_argument("--values", type=int, default=QueryLimits().max_values)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    print(f"median ms per call; max_in={options.in_length} max_values={options.values}")
    for records in options.records:
        for operators in options.operators:
            limits = QueryLimits(max_operators=operators, max_in=options.in_length, max_values=options.values)
            figures = asyncio.run(measure(records, limits, options.rounds))
            shown = "  ".join(f"{name} {ms:7.1f}" for name, ms in figures.items())
            print(f"records={records:5d} max_operators={operators:5d}  {shown}")


if __name__ == "__main__":
    main()
