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
from mockserver.scripting import Applied, Target, Timer, redact
from mockserver.server._core import Caller, Core
from mockserver.server._dispatch import answer_call, journal_outcome, needs_authentication, parse_authorization

__all__ = ["FeathersSocketServer", "SocketTransport"]

log = logging.getLogger("mockserver.socket")

QUERY_POSITION = {"find": 0, "update": 2, "patch": 2}  # everything else: 1 (transport-commons utils.ts)
Ack = tuple[None, Any] | dict[str, Any]


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


def _journal_args(method: str, rest: tuple[Any, ...]) -> tuple[Any, Any, Any]:
    """(id, data, query) of a call as sent, for its journal entry (before any check, so never raising)."""
    record_id, data = _positional(method, rest)
    position = QUERY_POSITION.get(method, 1)
    query = rest[position] if len(rest) > position else None
    return record_id, redact(data), redact(query)


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
        core.faults.transport_of = self.transport_of
        for method in METHODS:
            sio.on(method, self._handler(method))
        sio.on("connect", self.on_connect)
        sio.on("disconnect", self.on_disconnect)

    def _handler(self, method: str) -> Callable[..., Awaitable[object]]:
        async def handle(sid: str, *args: Any) -> object:
            if self.core.scripted:  # the journal is on, or faults or call handlers are set
                return await self.scripted(sid, method, args)
            return await self.answer(sid, method, args)

        return handle

    async def answer(self, sid: str, method: str, args: tuple[Any, ...]) -> Ack:
        try:
            return (None, await self.dispatch(sid, method, args))
        except FeathersError as error:
            return error.to_json()
        except Exception:  # a bug of ours must not kill the connection or leave the client hanging
            log.exception("unexpected error in %s", method)
            return GeneralError("Internal error in the mock server").to_json()

    async def scripted(self, sid: str, method: str, args: tuple[Any, ...]) -> object:
        """A call with its journal entries and faults: maybe fail, delay or drop the ack, or close the transport
        before or after applying the call (then no ack at all: `not_handled` tells python-socketio to send none)."""
        core = self.core
        journal = core.journal
        path = args[0].strip("/") if args and isinstance(args[0], str) else None
        session = self.sessions.get(sid)
        user = None if session is None else session.user_id
        started = core.clock.time()
        if journal.enabled:
            record_id, data, query = _journal_args(method, args[1:])
            transport = self.transport_of(sid)
            journal.record(
                "call",
                connection=sid,
                service=path,
                method=method,
                id=record_id,
                data=data,
                query=query,
                transport=transport,
            )
        fired: list[Applied] = []
        if core.faults:
            fired = core.faults.for_call(Target(sid, user, service=path, method=method))
        actions = {applied.action for applied in fired}
        if "disconnect-before-apply" in actions:
            await self.abort_transport(sid)
            return self.sio.not_handled
        error_fault = next((applied for applied in fired if applied.action == "error"), None)
        if error_fault is not None:
            ack: Ack = error_fault.fault.feathers_error().to_json()
        else:
            ack = await self.answer(sid, method, args)
        unsent = "disconnect-after-apply" in actions or "drop-ack" in actions
        if "disconnect-after-apply" in actions:
            await self.abort_transport(sid)
        delay = sum(applied.seconds for applied in fired)
        if delay > 0 and not unsent:
            await core.clock.sleep(delay)
        if journal.enabled:
            error = ack if isinstance(ack, dict) else None
            result = None if isinstance(ack, dict) else ack[1]
            extra: dict[str, Any] = {"sent": False} if unsent else {}
            journal_outcome(
                journal,
                connection=sid,
                service=path,
                method=method,
                error=error,
                result=result,
                elapsed_ms=round((core.clock.time() - started) * 1000, 3),
                **extra,
            )
        return self.sio.not_handled if unsent else ack

    def transport_of(self, sid: str) -> str | None:
        """The transport the connection uses now, websocket or polling (None once it is gone)."""
        eio_sid = self.sio.manager.eio_sid_from_sid(sid, "/")
        socket = self.sio.eio.sockets.get(eio_sid) if eio_sid is not None else None
        if socket is None:
            return None
        return "websocket" if socket.upgraded else "polling"

    async def abort_transport(self, sid: str) -> None:
        """Close the Engine.IO connection without a DISCONNECT packet, as a dropped network would: the client sees
        "transport close", reconnects and authenticates again."""
        eio_sid = self.sio.manager.eio_sid_from_sid(sid, "/")
        socket = self.sio.eio.sockets.get(eio_sid) if eio_sid is not None else None
        if socket is None or socket.closed:
            return
        await socket.close(wait=False, abort=True, reason=self.sio.eio.reason.TRANSPORT_CLOSE)
        socket.queue.put_nowait(None)  # wakes the websocket writer, which then closes the websocket

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
        result = await answer_call(
            self.core.expectations,
            service,
            caller,
            method,
            record_id=record_id,
            data=data,
            query=query,
            transport=self.transport_of(sid) if self.core.expectations else None,
        )
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
        self.core.journal.identify(sid, session.user_id, result["user"].get("email"))
        expires_at = float(result["authentication"]["payload"]["exp"])
        session.expiry = self.core.clock.call_at(expires_at, lambda: self.expire(sid))

    def logout(self, sid: str) -> None:
        session = self.sessions.get(sid)
        if session is not None:
            session.clear()
        self.core.channels.leave(sid)
        self.core.journal.identify(sid, None, None)

    async def expire(self, sid: str) -> None:
        """Token ran out: the server sends DISCONNECT, the client sees `io server disconnect` (§5.5)."""
        self.logout(sid)
        await self.sio.disconnect(sid)

    async def on_connect(self, sid: str, environ: Mapping[str, Any], auth: Any = None) -> object:
        """Authenticate from the handshake's Authorization header before accepting, as Feathers does (§5.6)."""
        if self.sio.manager.is_connected(sid, "/"):
            # python-socketio also routes a client EVENT named "connect" here; like any non-method name it gets
            # no ack and no effect (D11). During a real handshake the sid is still pending, so not "connected".
            return self.sio.not_handled
        self.sessions[sid] = Session(address=environ.get("REMOTE_ADDR"))
        header = environ.get("HTTP_AUTHORIZATION")
        credentials = parse_authorization(header)
        if self.core.journal.enabled:
            self.core.journal.record(
                "connect",
                connection=sid,
                transport=self.transport_of(sid),
                address=environ.get("REMOTE_ADDR"),
                auth=None if credentials is None else f"{credentials[0]} ***",
                handshake=redact(auth),
            )
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
        if session is not None:
            session.clear()
        self.core.channels.leave(sid)
        self.core.journal.record("disconnect", connection=sid, reason=None if reason is None else str(reason))
        return None

    async def disconnect_all(self) -> None:
        for sid in list(self.sessions):
            await self.sio.disconnect(sid)
