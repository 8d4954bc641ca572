"""`cryptorobot-mock verify` against a real Feathers v5 server (reference-server.mjs, built from the official npm
packages): clean when the server keeps the contract, exit 1 with a JUnit file naming each drift when it does not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from interop_support import INTEROP_DIR, node_or_skip

pytestmark = pytest.mark.interop

ROOT = INTEROP_DIR.parents[1]
REFERENCE = INTEROP_DIR / "reference-server.mjs"
SERVICES = "strategies,traders,strategies/templates,exchanges/ticker"
LOGIN = ["--email", "user@example.com", "--password", "reference-password"]


def start_reference(*, drift: bool) -> Iterator[str]:
    node = node_or_skip()
    env = {**os.environ, "DRIFT": "1" if drift else "0", "NODE_NO_WARNINGS": "1"}
    proc = subprocess.Popen(
        [node, str(REFERENCE)], cwd=INTEROP_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            proc.wait(10)
            pytest.fail(f"reference-server.mjs exited {proc.returncode}: {proc.stderr and proc.stderr.read()}")
        started = json.loads(line)
        assert started["drift"] is drift
        yield started["url"]
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def reference() -> Iterator[str]:
    yield from start_reference(drift=False)


@pytest.fixture
def drifting_reference() -> Iterator[str]:
    yield from start_reference(drift=True)


def verify(url: str, junit: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mockserver.cli", "verify", "--url", url, *LOGIN]
    command += ["--services", SERVICES, "--writes", "--duration", "0.2", "--junit", str(junit)]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def junit_cases(path: Path) -> dict[tuple[str, str], str | None]:
    """{(testsuite, testcase): failure text, or None when it passed}."""
    cases: dict[tuple[str, str], str | None] = {}
    for suite in ET.parse(path).getroot().iter("testsuite"):
        for case in suite.iter("testcase"):
            failure = case.find("failure")
            cases[suite.get("name", ""), case.get("name", "")] = None if failure is None else failure.text or ""
    return cases


def test_a_feathers_server_that_keeps_the_contract_passes(reference: str, tmp_path: Path) -> None:
    junit = tmp_path / "verify.xml"
    done = verify(reference, junit)

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("clean: ")
    cases = junit_cases(junit)
    assert all(text is None for text in cases.values())
    # the same checks that find the drifts below ran and passed
    for case in [
        ("strategies", "socket find"),
        ("strategies", "socket create"),
        ("strategies created", "arrives after create"),
        ("traders", "rest get"),
        ("exchanges/ticker", "socket find"),
        ("exchanges/ticker", "rest find"),
    ]:
        assert case in cases, sorted(cases)


def test_a_drifting_feathers_server_fails_with_each_drift_in_the_junit_file(
    drifting_reference: str, tmp_path: Path
) -> None:
    junit = tmp_path / "verify.xml"
    done = verify(drifting_reference, junit)

    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("drift: ")
    cases = junit_cases(junit)
    failed = {case: text for case, text in cases.items() if text is not None}
    # a renamed field: the new name is unknown, and where the old one was required it is missing
    for check in ("socket find", "rest get", "socket create"):
        assert "unknown field: " in (failed["strategies", check] or "")
        assert "stopLoss: is not a known field" in (failed["strategies", check] or "")
    assert "missing required field: data.*.dry_run: is a required property" in (failed["traders", "socket find"] or "")
    assert "unknown field: data.*.dryRun: is not a known field" in (failed["traders", "socket find"] or "")
    # a wrong type, and a value the contract's enum does not know
    assert "type drift: exit_profit_offset: must be a number" in (failed["strategies", "rest get"] or "")
    assert "enum drift: status: must be one of" in (failed["traders", "socket get"] or "")
    # drift in event payloads too
    assert "unknown field: stopLoss" in (failed["strategies patched", "payloads (1 received)"] or "")
    # a missing event
    assert "missing event: not received within" in (failed["strategies created", "arrives after create"] or "")
    # a plain-array find, on both transports
    for check in ("socket find", "rest find"):
        assert "wrong shape: find answered a plain array" in (failed["exchanges/ticker", check] or "")
    # an error sent with a success status
    assert "wrong status: answered {" in (failed["traders", "rest get of a missing id"] or "")
    assert cases["traders", "socket get of a missing id"] is None
    # what did not drift still passes: templates, error shapes, the removed event's {_id}
    assert cases["strategies/templates", "socket find"] is None
    assert cases["strategies", "rest get of a missing id"] is None
    assert cases["strategies removed", "arrives after remove"] is None
    assert "FAIL exchanges/ticker" in done.stdout
