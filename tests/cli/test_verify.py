"""`cryptorobot-mock verify` as a CI job runs it: the real entry point in a process, its output, exit code and JUnit.

The mock must pass; the mock with faults switched on (a failing patch, a dropped event, an event that breaks its
schema) must fail with a report naming each problem, and the scratch records must be gone either way.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mockserver.errors import Unavailable
from mockserver.server import MockServer, ServerThread
from mockserver.server._core import Core

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "mockserver.cli", "verify"]
USER = ["--email", "user@example.com", "--password", "your-password"]
SCRATCH = "cryptorobot-mock verify scratch"


@pytest.fixture(scope="module")
def mock() -> Iterator[ServerThread]:
    with MockServer(seed=42).running() as handle:
        yield handle


@pytest.fixture
def server(mock: ServerThread) -> ServerThread:
    mock.reset()
    return mock


def verify(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)


def junit_failures(path: Path) -> dict[tuple[str, str], str]:
    """{(testsuite, testcase): failure text} of a JUnit file (which must parse)."""
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    found = {}
    for suite in root.iter("testsuite"):
        for case in suite.iter("testcase"):
            failure = case.find("failure")
            if failure is not None:
                found[suite.get("name", ""), case.get("name", "")] = failure.text or ""
    return found


def scratch_records(server: ServerThread) -> list[dict[str, Any]]:
    tables = server.server.store.tables
    return [r for path in ("strategies", "traders") for r in tables[path].values() if SCRATCH in str(r.get("name"))]


def test_the_mock_passes_every_check_with_writes(server: ServerThread, tmp_path: Path) -> None:
    junit = tmp_path / "verify.xml"
    done = verify("--url", server.url, *USER, "--writes", "--duration", "0.3", "--junit", str(junit))

    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("clean: ")
    assert server.url in last
    assert "FAIL" not in done.stdout
    root = ET.parse(junit).getroot()
    suites = {suite.get("name"): suite for suite in root.iter("testsuite")}
    assert root.get("failures") == "0"
    # every readable service, and the events the writes caused, each with its own suite
    for group in (
        "authentication",
        "strategies",
        "traders",
        "exchanges/ticker",
        "strategies created",
        "traders removed",
    ):
        assert group in suites, sorted(suites)
    cases = {case.get("name") for case in suites["strategies"].iter("testcase")}
    assert {"socket find", "rest find", "socket get of a missing id", "socket create", "socket remove"} <= cases
    assert scratch_records(server) == []


def test_drift_in_the_mock_is_reported_and_scratch_records_are_still_removed(
    server: ServerThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The patch of the scratch strategy fails with a 503; `strategies created` is never published.
    async def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise Unavailable("Down for maintenance")

    monkeypatch.setattr(server.server.core.services["strategies"], "patch", unavailable)
    publish = Core.publish

    def publish_all_but_created(core: Core, path: str, event: str, *args: Any, **kwargs: Any) -> None:
        if (path, event) != ("strategies", "created"):
            publish(core, path, event, *args, **kwargs)

    monkeypatch.setattr(Core, "publish", publish_all_but_created)
    # While verify listens, a trader update arrives that breaks its schema, and an event nobody declared.
    stop = threading.Event()
    user_id = "507f1f77bcf86cd799439011"

    def emit_bad_events() -> None:
        while not stop.wait(0.1):
            trader = next(iter(t for t in server.server.store.tables["traders"].values() if t["userId"] == user_id))
            server.emit("traders", "patched", {**trader, "status": "idle", "stopLoss": 1}, validate=False)
            server.run(server.server.sio.emit("robots exploded", {"count": 3}))  # no such event in the contract

    emitter = threading.Thread(target=emit_bad_events, daemon=True)
    emitter.start()
    junit = tmp_path / "verify.xml"
    try:
        done = verify(
            "--url", server.url, *USER, "--services", "strategies,traders", "--writes", "--duration", "1",
            "--junit", str(junit),
        )  # fmt: skip
    finally:
        stop.set()
        emitter.join(5)

    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("drift: ")
    failures = junit_failures(junit)
    assert "call failed: patch answered 503 Unavailable: Down for maintenance" in failures["strategies", "socket patch"]
    assert "missing event: not received within" in failures["strategies created", "arrives after create"]
    traders_patched = next(text for (suite, _), text in failures.items() if suite == "traders patched")
    assert "enum drift: status: must be one of" in traders_patched
    assert "unknown field: stopLoss: is not a known field" in traders_patched
    assert "unknown event: " in failures["unknown events", "robots exploded"]
    assert "FAIL strategies" in done.stdout
    assert "FAIL traders patched" in done.stdout
    assert scratch_records(server) == []  # the failed patch left the created strategy behind; verify removed it


def test_a_call_that_gets_no_answer_is_drift_and_the_run_goes_on(
    server: ServerThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def hang(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(3)

    monkeypatch.setattr(server.server.core.services["traders"], "find", hang)
    done = verify("--url", server.url, *USER, "--services", "traders,strategies", "--duration", "0", "--timeout", "0.5")

    assert done.returncode == 1, done.stdout + done.stderr
    assert "call failed: no answer to find traders within 0.5 s" in done.stdout
    assert "ok   strategies" in done.stdout


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("not a url", "cannot verify: bad URL 'not a url'"),
        ("http://127.0.0.1:9", "cannot verify: cannot connect to http://127.0.0.1:9"),
    ],
)
def test_a_server_that_cannot_be_reached_exits_2_with_one_line(url: str, reason: str) -> None:
    done = verify("--url", url, *USER, "--duration", "0", "--timeout", "3")

    assert done.returncode == 2
    assert done.stderr.startswith(reason), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_a_refused_login_exits_2(server: ServerThread, tmp_path: Path) -> None:
    junit = tmp_path / "verify.xml"
    done = verify("--url", server.url, "--email", "user@example.com", "--password", "wrong", "--junit", str(junit))

    assert done.returncode == 2
    assert done.stderr.strip() == f"cannot verify: login refused by {server.url}: Invalid login"
    assert not junit.exists()


def test_an_unknown_service_exits_2(server: ServerThread) -> None:
    done = verify("--url", server.url, *USER, "--services", "strategies,robots")

    assert done.returncode == 2
    assert done.stderr.startswith("cannot verify: unknown or unreadable service(s) robots; known: users, keys")
