"""Fixtures of the browser tests: Debian's Chromium driven by Playwright, a mock per module, an official Feathers
client under Node, and a folder for screenshots."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from panel_support import CHROMIUM_ARGS, VIEWPORT, LiveClient, Page, chromium_path, missing

from mockserver import MockServer
from mockserver.server import ServerThread

SEED = 42


@pytest.fixture(scope="module")
def panel_browser() -> Iterator[Any]:
    """Chromium for one module. Playwright's sync API keeps an asyncio loop running in the main thread while it is
    started, which would break `asyncio.run` in the tests of other folders: so it stops with the module."""
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


@pytest.fixture
def panel(panel_browser: Any) -> Iterator[Page]:
    context = panel_browser.new_context(viewport=VIEWPORT)
    try:
        yield Page(context.new_page())
    finally:
        context.close()


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
