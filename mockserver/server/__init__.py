"""The mock server: store, query engine, auth, services, channels, Socket.IO and REST transports. The tape
recorder and replay load on first use (`serve` starts without them)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mockserver.server._activity import ActivityOptions
from mockserver.server._app import MockServer, ServerThread, parse_user
from mockserver.server._core import Options
from mockserver.server.query import QueryLimits

if TYPE_CHECKING:
    from mockserver.server._recorder import Recorder, record_live
    from mockserver.server._replay import Replay

_LAZY = {
    "Recorder": "mockserver.server._recorder",
    "record_live": "mockserver.server._recorder",
    "Replay": "mockserver.server._replay",
}


def __getattr__(name: str) -> Any:
    """The tape names, imported from their module the first time one is asked for."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "ActivityOptions",
    "MockServer",
    "Options",
    "QueryLimits",
    "Recorder",
    "Replay",
    "ServerThread",
    "parse_user",
    "record_live",
]
