"""The mock server: store, query engine, auth, services, channels, Socket.IO and REST transports. The tape
recorder and replay load on first use (`serve` starts without them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mockserver._lazy import lazy_names
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


__getattr__ = lazy_names(__name__, _LAZY)


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
