"""Fixtures of the interop tests: one MockServer for the module, reset (and emptied of connections) per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from interop_support import node_or_skip

from mockserver import MockServer
from mockserver.server import Options, ServerThread

SEED = 42
OPTIONS = Options(start_delay=0.05)


@pytest.fixture(scope="session")
def node() -> str:
    """The node executable; skips every interop test when Node or tests/interop/node_modules is missing."""
    return node_or_skip()


@pytest.fixture(scope="module")
def interop_thread(node: str) -> Iterator[ServerThread]:
    with MockServer(seed=SEED, options=OPTIONS).running() as handle:
        yield handle


@pytest.fixture
def server(interop_thread: ServerThread) -> ServerThread:
    """The module's server back in its seeded state, with no connection left over from an earlier test."""
    interop_thread.reset()
    return interop_thread


@pytest.fixture
def users(interop_thread: ServerThread) -> list[dict[str, str]]:
    """[{email, password}] of the two seeded users: user@example.com first, trader@example.com second."""
    return [{"email": email, "password": password} for email, password, _keys in interop_thread.server.credentials()]
