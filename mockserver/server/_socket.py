"""The Socket.IO transport: Feathers' method events, acks, login state and expiry (feathers-protocol.md §2, §5).

One handler per Feathers method name is registered; any other event name has no handler, so python-socketio
sends no ack at all, exactly like Feathers (D11).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import socketio

from mockserver.contract import METHODS
from mockserver.errors import BadRequest, FeathersError, GeneralError, MethodNotAllowed, NotAuthenticated, NotFound
from mockserver.scripting import Timer
from mockserver.server._core import Caller, Core
from mockserver.server._dispatch import call_method, needs_authentication, parse_authorization
from mockserver.server._engine import ControllableSocket

__all__ = ["DISCONNECT_MODES", "FeathersSocketServer", "Session", "SocketTransport"]

log = logging.getLogger("mockserver.socket")

QUERY_POSITION = {"find": 0, "update": 2, "patch": 2}  # everything else: 1 (transport-commons utils.ts)
Ack = tuple[None, Any] | dict[str, Any]
# Forced disconnects (`MockServer.disconnect`) and the reason each leaves on the session (the client's own words).
DISCONNECT_MODES = {"server": "io server disconnect", "transport": "transport close", "ping-timeout": "ping timeout"}


class FeathersSocketServer(socketio.AsyncServer):  # type: ignore[misc]
    """python-socketio's server, except that a malformed packet closes its connection, as Node's socket.io does.

    Stock python-socketio logs a traceback and carries on, which neither matches what a client of the real server
    sees nor keeps the `serve` console readable.
    """

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        try:
            await super()._handle_eio_message(eio_sid, data)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as error:
            log.info("closing %s after a malformed packet: %s", eio_sid, error)
            self._binary_packet.pop(eio_sid, None)
            await self.eio.disconnect(eio_sid)

    async def _handle_eio_connect(self, eio_sid: str, environ: Any) -> None:
        ControllableSocket.adopt(self.eio.sockets.get(eio_sid))
        await super()._handle_eio_connect(eio_sid, environ)

    def engine_socket(self, sid: str) -> ControllableSocket | None:
        """The Engine.IO socket under a Socket.IO connection, while it is open."""
        eio_sid = self.manager.eio_sid_from_sid(sid, "/")
        socket = self.eio.sockets.get(eio_sid) if eio_sid is not None else None
        return socket if isinstance(socket, ControllableSocket) and not socket.closed else None


def _positional(method: str, rest: tuple[Any, ...]) -> tuple[Any, Any]:
    """(id, data) from the arguments after the path, in Feathers' order for each method."""
    if method == "create":
        return None, rest[0] if rest else {}
    record_id = rest[0] if rest and method != "find" else None
    data = rest[1] if method == "patch" and len(rest) > 1 else None
    return record_id, data


@dataclass(slots=True)
class Session:
    """Login state of one socket (Feathers keeps it on the connection object)."""

    address: str | None = None  # the client's address, for rate limits on anonymous calls
    token: str | None = None
    user_id: str | None = None
    expiry: Timer | None = None
    connected_at: str = ""  # ISO on the mock clock
    disconnect_reason: str | None = None  # why the connection ended, once it has (the journal shows it)

    def clear(self) -> None:
        if self.expiry is not None:
            self.expiry.cancel()
        self.token = self.user_id = self.expiry = None


class SocketTransport:
    """Binds the core to a python-socketio server."""

    def __init__(self, core: Core, sio: socketio.AsyncServer) -> None:
        self.core = core
        self.sio = sio
        self.sessions: dict[str, Session] = {}
        self.disconnect_listeners: list[Callable[[str, Session], None]] = []  # called once a connection has ended
        for method in METHODS:
            sio.on(method, self._handler(method))
        sio.on("connect", self.on_connect)
        sio.on("disconnect", self.on_disconnect)

    def _handler(self, method: str) -> Callable[..., Awaitable[Ack]]:
        async def handle(sid: str, *args: Any) -> Ack:
            try:
                return (None, await self.dispatch(sid, method, args))
            except FeathersError as error:
                return error.to_json()
            except Exception:  # a bug of ours must not kill the connection or leave the client hanging
                log.exception("unexpected error in %s", method)
                return GeneralError("Internal error in the mock server").to_json()

        return handle

    async def dispatch(self, sid: str, method: str, args: tuple[Any, ...]) -> Any:
        if not args or not isinstance(args[0], str):
            raise NotFound("Invalid service path")
        path = args[0].strip("/")
        service = self.core.services.get(path)
        if service is None:
            raise NotFound(f"Service '{path}' not found")
        if method not in service.spec.methods:
            raise MethodNotAllowed(f"Method '{method}' not allowed on service '{path}'")
        rest = args[1:]
        position = QUERY_POSITION.get(method, 1)
        if len(rest) > position + 1:
            raise BadRequest(f"Too many arguments for '{method}' method")
        query = rest[position] if len(rest) > position and rest[position] is not None else {}
        caller = self.caller(sid)
        session = self.sessions.get(sid)
        self.core.charge(caller, None if session is None else session.address)
        if caller.user is None and needs_authentication(path, method):
            raise NotAuthenticated("Not authenticated")
        record_id, data = _positional(method, rest)
        result = await call_method(service, caller, method, record_id=record_id, data=data, query=query)
        if path == "authentication":
            if method == "create":
                self.login(sid, result)
            else:
                self.logout(sid)
        return result

    def caller(self, sid: str) -> Caller:
        """The connection's user, re-checked on every call as Feathers' authenticate hook does (`jwt expired`
        once the token has run out)."""
        session = self.sessions.get(sid)
        if session is None or session.token is None:
            return Caller(provider="socketio", sid=sid)
        _, user = self.core.authenticate_token(session.token)
        return Caller(provider="socketio", user=user, sid=sid, token=session.token)

    def login(self, sid: str, result: Mapping[str, Any]) -> None:
        """Store the new token on the connection, join its channels, and arm the expiry disconnect (D9)."""
        self.core.check_connection_limit(result["user"], sid)
        session = self.sessions.setdefault(sid, Session())
        session.clear()
        session.token = str(result["accessToken"])
        session.user_id = str(result["user"]["_id"])
        self.core.channels.join(sid, session.user_id)
        expires_at = float(result["authentication"]["payload"]["exp"])
        session.expiry = self.core.clock.call_at(expires_at, lambda: self.expire(sid))

    def logout(self, sid: str) -> None:
        session = self.sessions.get(sid)
        if session is not None:
            session.clear()
        self.core.channels.leave(sid)

    async def expire(self, sid: str) -> None:
        """Token ran out: the server sends DISCONNECT, the client sees `io server disconnect` (§5.5)."""
        self.set_reason(sid, "token expired")
        self.logout(sid)
        await self.sio.disconnect(sid)

    def set_reason(self, sid: str, reason: str) -> None:
        session = self.sessions.get(sid)
        if session is not None and session.disconnect_reason is None:
            session.disconnect_reason = reason

    async def force_disconnect(self, sid: str, mode: str) -> None:
        """End a connection the way `mode` (a key of DISCONNECT_MODES) says; see `MockServer.disconnect`."""
        self.set_reason(sid, DISCONNECT_MODES[mode])
        if mode == "server":
            await self.sio.disconnect(sid)
            return
        socket = self.sio.engine_socket(sid)
        if socket is None:
            return
        if mode == "transport":
            await socket.drop()
        else:
            socket.silence()

    def connections(self) -> list[dict[str, Any]]:
        """The open Socket.IO connections, oldest first, as the control API lists them."""
        found = []
        for sid, session in self.sessions.items():
            if not self.sio.manager.is_connected(sid, "/"):
                continue  # still in its handshake
            user = None if session.user_id is None else self.core.user(session.user_id)
            try:
                transport = self.sio.transport(sid)
            except KeyError:
                continue  # its Engine.IO socket has just gone
            found.append(
                {
                    "id": sid,
                    "userId": session.user_id,
                    "email": None if user is None else user.get("email"),
                    "transport": transport,
                    "connectedAt": session.connected_at,
                }
            )
        return found

    async def on_connect(self, sid: str, environ: Mapping[str, Any], auth: Any = None) -> object:
        """Authenticate from the handshake's Authorization header before accepting, as Feathers does (§5.6)."""
        if self.sio.manager.is_connected(sid, "/"):
            # python-socketio also routes a client EVENT named "connect" here; like any non-method name it gets
            # no ack and no effect (D11). During a real handshake the sid is still pending, so not "connected".
            return self.sio.not_handled
        self.sessions[sid] = Session(address=environ.get("REMOTE_ADDR"), connected_at=self.core.clock.iso())
        credentials = parse_authorization(environ.get("HTTP_AUTHORIZATION"))
        if credentials is None:
            return None
        scheme, token = credentials
        if scheme != "bearer":
            return None  # API keys are not offered over the socket (§5.7)
        auth_service = self.core.services["authentication"]
        try:
            result = await auth_service.create(
                Caller(provider="socketio", sid=sid), {"strategy": "jwt", "accessToken": token}, {}
            )
            self.login(sid, result)
        except FeathersError as error:
            self.sessions.pop(sid, None)
            # Keep jsonwebtoken's data for 401s (as Feathers); otherwise name the error, e.g. TooManyRequests (§7).
            data = error.data if error.code == 401 else {"name": error.name, "code": error.code, **(error.data or {})}
            raise socketio.exceptions.ConnectionRefusedError(error.message, data) from None
        return None

    async def on_disconnect(self, sid: str, reason: Any = None) -> object:
        if self.sio.manager.is_connected(sid, "/"):
            return self.sio.not_handled  # a client EVENT named "disconnect", not a disconnect (see on_connect)
        session = self.sessions.pop(sid, None)
        self.core.channels.leave(sid)
        if session is not None:
            session.clear()
            if session.disconnect_reason is None:
                session.disconnect_reason = str(reason or "transport close")
            for listener in self.disconnect_listeners:
                listener(sid, session)
        return None

    async def disconnect_all(self) -> None:
        for sid in list(self.sessions):
            socket = self.sio.engine_socket(sid)
            if socket is not None and socket.silent_until is not None:
                await socket.drop()  # it would swallow the DISCONNECT and hold its transport open
            else:
                await self.sio.disconnect(sid)
