"""The mock server: store, query engine, auth, services, channels, Socket.IO and REST transports."""

from mockserver.server._activity import ActivityOptions
from mockserver.server._app import MockServer, ServerThread, parse_user
from mockserver.server._core import Options
from mockserver.server._recorder import Recorder, record_live
from mockserver.server._replay import Replay
from mockserver.server.query import QueryLimits

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
