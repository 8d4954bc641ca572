"""Fixtures of the browser tests: Debian's Chromium driven by Playwright, a mock per module, an official Feathers
client under Node, and a folder for screenshots.

Playwright's own browser download cannot run here, so the tests use the system's `chromium` (`scripts/dev test`
installs it). Without Chromium, Playwright or Node they skip, except under `CI=true`, where they must run.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mockserver import MockServer
from mockserver.server import ServerThread

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
SEED = 42
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


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright package is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tests leave screenshots for a person to look at (pytest's temporary folder, never committed)."""
    folder = tmp_path_factory.getbasetemp() / "panel-screenshots"
    folder.mkdir(exist_ok=True)
    sys.stderr.write(f"\npanel screenshots: {folder}\n")
    return folder


@pytest.fixture(scope="module")
def panel_thread() -> Iterator[ServerThread]:
    with MockServer(seed=SEED).running() as handle:
        yield handle


@pytest.fixture
def panel_server(panel_thread: ServerThread) -> ServerThread:
    panel_thread.reset()
    return panel_thread


class Page:
    """A Playwright page on the panel, with every console error and uncaught exception it had."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def assert_no_errors(self) -> None:
        assert self.errors == [], f"the panel logged errors: {self.errors}"


@pytest.fixture
def panel(browser: Any) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT)
    try:
        yield Page(context.new_page())
    finally:
        context.close()


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


@pytest.fixture
def feathers_client(panel_server: ServerThread) -> Iterator[LiveClient]:
    """user@example.com logged in over Socket.IO with the official client, listening to `traders patched`."""
    email, password, _keys = panel_server.server.credentials()[0]
    client = LiveClient(panel_server.url, email, password)
    try:
        client.wait_for(lambda line: line["type"] == "login", "its login")
        yield client
    finally:
        client.close()
