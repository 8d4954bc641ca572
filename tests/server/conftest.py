"""Fixtures of the server tests: one MockServer per module on a background thread, reset before every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from crmock_support import FAST, JWT_SECRET, SEED

from mockserver.server import MockServer, ServerThread


@pytest.fixture(scope="module")
def crmock_thread() -> Iterator[ServerThread]:
    with MockServer(seed=SEED, options=FAST, jwt_secret=JWT_SECRET).running() as handle:
        yield handle


@pytest.fixture
def crmock(crmock_thread: ServerThread) -> ServerThread:
    """The module's server, back to its seeded state and without connections."""
    crmock_thread.reset()
    return crmock_thread
