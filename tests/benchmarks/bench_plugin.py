"""pytest plugin benchmark: 200 small tests against the session server. Prints figures; asserts nothing.

Run: `scripts/dev bench` (all benchmarks) or `.venv/bin/python tests/benchmarks/bench_plugin.py`.

Each generated test is what a client author's test typically does: the `cryptorobot_mock_client` fixture (reset
of the session server, websocket connect, local login), one call (`find` on traders), and one pushed event
(`emit` from the mock, awaited by the client). A test's time is its set-up + call + teardown as pytest reports
them (fixture set-up and teardown included); the figures are tests/s over the whole run and the per-test median
(target: at most 5 ms) and 90th percentile.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

TEST_FILE = """
import pytest

@pytest.mark.parametrize("n", range({count}))
def test_small(cryptorobot_mock, cryptorobot_mock_client, n):
    trader = cryptorobot_mock_client.find("traders", {{"$limit": 1}})["data"][0]
    cryptorobot_mock.emit("traders", "patched", {{**trader, "status": "running", "running": True}})
    assert cryptorobot_mock_client.wait_for("traders patched")[0]["status"] == "running"
"""


class Timings:
    """Sums set-up, call and teardown per test, as pytest reports them."""

    def __init__(self) -> None:
        self.per_test: dict[str, float] = {}
        self.failed: list[str] = []

    def pytest_runtest_logreport(self, report: Any) -> None:
        self.per_test[report.nodeid] = self.per_test.get(report.nodeid, 0.0) + report.duration
        if report.failed:
            self.failed.append(report.nodeid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "test_bench_small.py"
        path.write_text(TEST_FILE.format(count=args.tests))
        timings = Timings()
        started = time.perf_counter()
        code = pytest.main(
            [str(path), "-q", "-p", "no:cacheprovider", "-p", "no:asyncio", "--no-header", "-o", "addopts="],
            plugins=[timings],
        )
        wall = time.perf_counter() - started
    if code != 0 or timings.failed:
        raise SystemExit(f"benchmark tests failed: {timings.failed[:3]}")
    ms = sorted(value * 1000 for value in timings.per_test.values())
    print(f"\nbench_plugin: {len(ms)} tests (reset + connect + login + one call + one event)")
    print(f"  whole run incl. server start and pytest start-up: {wall:.2f} s, {len(ms) / wall:.0f} tests/s")
    print(f"  tests alone (sum of their set-up + call + teardown): {len(ms) / (sum(ms) / 1000):.0f} tests/s")
    print(
        f"  per test (set-up + call + teardown): median {statistics.median(ms):.2f} ms, "
        f"p90 {ms[int(len(ms) * 0.9)]:.2f} ms, max {ms[-1]:.2f} ms (target: median <= 5 ms)"
    )


if __name__ == "__main__":
    main()
