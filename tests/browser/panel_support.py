"""What the browser tests share: finding Chromium, a panel page that collects console errors, and the official
Feathers client under Node (`tests/interop/live_client.mjs`) whose JSON lines a test reads.

Playwright's own browser download cannot run here, so the tests use the system's `chromium` (`scripts/dev test`
installs it). Without Chromium, Playwright or Node they skip, except under `CI=true`, where they must run.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

__all__ = ["CHROMIUM_ARGS", "VIEWPORT", "WAIT_S", "LiveClient", "Page", "chromium_path", "missing"]

ROOT = Path(__file__).resolve().parents[2]
INTEROP_DIR = ROOT / "tests" / "interop"
LIVE_CLIENT = INTEROP_DIR / "live_client.mjs"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
WAIT_S = 10.0  # for what a test waits on (a client's line, a row in the panel); each normally takes milliseconds


def missing(reason: str) -> None:
    """Skip, or fail under CI, where the browser tests are part of the proof."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI must run the browser tests, but {reason}")
    pytest.skip(reason)


def chromium_path() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        missing("chromium is not installed (`scripts/dev test` installs Debian's package: apt-get install chromium)")
    assert found is not None
    return found


class Page:
    """A Playwright page on the panel, with every console error and uncaught exception it had."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def assert_no_errors(self) -> None:
        assert self.errors == [], f"the panel logged errors: {self.errors}"


class LiveClient:
    """`live_client.mjs`: the official Feathers client, logged in and listening; its JSON lines in a queue."""

    def __init__(self, url: str, email: str, password: str) -> None:
        node = shutil.which("node")
        if node is None:
            missing("node is not installed: the browser tests watch an official Feathers JS client (Node 20)")
        if not (INTEROP_DIR / "node_modules" / "@feathersjs" / "feathers").is_dir():
            missing(f"{INTEROP_DIR}/node_modules is missing: run `npm ci` there (`scripts/dev test` does)")
        assert node is not None
        self.process = subprocess.Popen(
            [node, str(LIVE_CLIENT), url, email, password],
            cwd=INTEROP_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "NODE_NO_WARNINGS": "1"},
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.strip():
                self.lines.put(json.loads(line))

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        """The next line that satisfies `predicate` (lines before it are kept in `seen`)."""
        while True:
            try:
                line = self.lines.get(timeout=WAIT_S)
            except queue.Empty:
                pytest.fail(f"the Feathers client did not report {what} within {WAIT_S} s; it said {self.seen}")
            self.seen.append(line)
            if line.get("type") in ("error", "timeout"):
                pytest.fail(f"the Feathers client failed while waiting for {what}: {line}")
            if predicate(line):
                return line

    def call(self, service: str, method: str, *args: Any) -> None:
        """Make the client call `service.method(*args)`; its result comes as a `result` or `callError` line."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"service": service, "method": method, "args": list(args)}) + "\n")
        self.process.stdin.flush()

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
