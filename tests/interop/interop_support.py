"""Running `scenarios.mjs` (the official Feathers JS clients) from pytest, and checking what they report."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "INTEROP_DIR",
    "SCENARIOS",
    "TOKEN_HEADER_SEGMENT",
    "assert_feathers_error",
    "decode_segment",
    "node_or_skip",
    "run_node",
]

INTEROP_DIR = Path(__file__).resolve().parent
SCENARIOS = INTEROP_DIR / "scenarios.mjs"
NODE_MODULES = INTEROP_DIR / "node_modules"
SCENARIO_TIMEOUT_S = 15.0  # each scenario's own hard timeout (scenarios.mjs exits with a report when it fires)
PROCESS_TIMEOUT_S = SCENARIO_TIMEOUT_S + 15.0  # the backstop if node itself wedges
TOKEN_HEADER_SEGMENT = "eyJhbGciOiJIUzI1NiIsInR5cCI6ImFjY2VzcyJ9"  # {"alg":"HS256","typ":"access"} (D9)

CLASS_NAMES = {
    "BadRequest": "bad-request",
    "NotAuthenticated": "not-authenticated",
    "Forbidden": "forbidden",
    "NotFound": "not-found",
    "MethodNotAllowed": "method-not-allowed",
    "Conflict": "conflict",
    "Unprocessable": "unprocessable",
    "TooManyRequests": "too-many-requests",
    "GeneralError": "general-error",
    "Unavailable": "unavailable",
}


def node_or_skip() -> str:
    """The node executable, or skip: the interop tests need Node and the pinned npm packages.

    In CI (`CI=true`) a missing Node fails instead: there the interop suite is the proof of wire compatibility.
    """
    node = shutil.which("node")
    missing = None
    if node is None:
        missing = "node is not installed: the interop tests drive the mock with the Feathers JS clients (Node 20)"
    elif not (NODE_MODULES / "@feathersjs" / "feathers").is_dir() or not (NODE_MODULES / "socket.io-client").is_dir():
        missing = f"{NODE_MODULES} is missing: run `npm ci` in tests/interop (`scripts/dev test` does)"
    if missing is not None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI must run the interop tests, but {missing}")
        pytest.skip(missing)
    assert node is not None
    return node


def run_node(scenario: str, url: str, **args: Any) -> dict[str, Any]:
    """Run one scenario of scenarios.mjs against `url` and return its report; fail with the report if not ok."""
    node = node_or_skip()
    command = [node, str(SCENARIOS), scenario, url, json.dumps(args)]
    env = {**os.environ, "SCENARIO_TIMEOUT_MS": str(int(SCENARIO_TIMEOUT_S * 1000)), "NODE_NO_WARNINGS": "1"}
    try:
        done = subprocess.run(
            command, cwd=INTEROP_DIR, env=env, capture_output=True, text=True, timeout=PROCESS_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as timeout:
        pytest.fail(f"scenario {scenario!r} did not exit within {PROCESS_TIMEOUT_S} s; stderr:\n{timeout.stderr!r}")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if not lines:
        pytest.fail(f"scenario {scenario!r} printed nothing (exit {done.returncode}); stderr:\n{done.stderr}")
    try:
        report: dict[str, Any] = json.loads(lines[-1])
    except json.JSONDecodeError:
        pytest.fail(f"scenario {scenario!r} printed no JSON (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    if not report.get("ok") or done.returncode != 0:
        pretty = json.dumps(report, indent=1)[:6000]
        pytest.fail(f"scenario {scenario!r} failed (exit {done.returncode}):\n{pretty}\nstderr:\n{done.stderr[-3000:]}")
    return report


def assert_feathers_error(outcome: dict[str, Any], name: str, code: int, message: str | None = None) -> dict[str, Any]:
    """`outcome` (an `attempt()` result) is a rejection that the client rebuilt as an instance of `errors.<name>`."""
    assert outcome["ok"] is False, f"expected {name}, the call succeeded: {outcome}"
    error: dict[str, Any] = outcome["error"]
    assert error["name"] == name, error
    assert error["code"] == code, error
    assert error["className"] == CLASS_NAMES[name], error
    assert error["classes"] == [name], f"not an instance of errors.{name}: {error}"
    assert error["isFeathersError"] is True, error
    if message is not None:
        assert error["message"] == message, error
    return error


def decode_segment(segment: str) -> dict[str, Any]:
    """One base64url segment of a JWT as JSON."""
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return decoded
