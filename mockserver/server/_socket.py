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
from socketio import packet as sio_packet

from mockserver.contract import METHODS
from mockserver.errors import BadRequest, FeathersError, GeneralError, MethodNotAllowed, NotAuthenticated, NotFound
from mockserver.scripting import Applied, Target, Timer, redact
from mockserver.server._core import Caller, Core
from mockserver.server._dispatch import answer_call, journal_outcome, needs_authentication, parse_authorization
from mockserver.server._engine import DEFAULT_SEND_QUEUE_LIMIT, PROTOCOL_ERROR, UNSUPPORTED_DATA, GuardedEngineServer
from mockserver.server._forced import ControllableSocket

__all__ = ["DISCONNECT_MODES", "FeathersSocketServer", "Session", "SocketTransport"]

log = logging.getLogger("mockserver.socket")

QUERY_POSITION = {"find": 0, "update": 2, "patch": 2}  # everything else: 1 (transport-commons utils.ts)
Ack = tuple[None, Any] | dict[str, Any]
# Forced disconnects (`MockServer.disconnect`) and the reason each leaves on the session (the client's own words).
DISCONNECT_MODES = {"server": "io server disconnect", "transport": "transport close", "ping-timeout": "ping timeout"}


# socket.io-parser's RESERVED_EVENTS: names a client event may not have
RESERVED_EVENTS = frozenset(
    ("connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener")
)


class MalformedPacket(ValueError):
    """A Socket.IO packet that Node's socket.io-parser would not decode; `code` is the websocket close code."""

    def __init__(self, reason: str, *, code: int = PROTOCOL_ERROR) -> None:
        super().__init__(reason)
        self.code = code


class FeathersSocketServer(socketio.AsyncServer):  # type: ignore[misc]
    """python-socketio's server, except that what Node's socket.io refuses closes the connection here too.

    Stock python-socketio logs a traceback for a packet it cannot decode or dispatch and carries on, keeps binary
    attachments without bound, and queues answers for a client that never reads them without bound. Here a packet
    that socket.io-parser would reject closes its connection with one console line (`_engine` guards the Engine.IO
    layer below), an event with a reserved name (`connect`, `disconnect`, ...) is ignored, and binary packets
    are refused: the Feathers protocol sends none.
    """

    def __init__(self, *, send_queue_limit: int = DEFAULT_SEND_QUEUE_LIMIT, **kwargs: Any) -> None:
        super().__init__(send_queue_limit=send_queue_limit, **kwargs)

    def _engineio_server_class(self) -> type[GuardedEngineServer]:
        return GuardedEngineServer

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        if not self.eio.is_open(eio_sid):
            return  # e.g. the rest of a long-polling payload after a refused packet
        try:
            pkt = self.decode(data)
        except MalformedPacket as error:
            request = self.environ.get(eio_sid, {}).get("aiohttp.request")
            address = None if request is None else request.remote
            await self.eio.refuse(eio_sid, str(error), code=error.code, address=address)
            return
        if pkt is None:
            return
        if pkt.packet_type == sio_packet.CONNECT:
            await self._handle_connect(eio_sid, pkt.namespace, pkt.data)
        elif pkt.packet_type == sio_packet.DISCONNECT:
            await self._handle_disconnect(eio_sid, pkt.namespace, self.reason.CLIENT_DISCONNECT)
        elif pkt.packet_type == sio_packet.EVENT:
            await self._handle_event(eio_sid, pkt.namespace, pkt.id, pkt.data)
        elif pkt.packet_type == sio_packet.ACK:
            await self._handle_ack(eio_sid, pkt.namespace, pkt.id, pkt.data)

    def decode(self, data: Any) -> Any:
        """The packet to dispatch, None for one Node's socket.io ignores; MalformedPacket for one it refuses.

        The checks are socket.io-parser's (`Decoder.decodeString`, `isPayloadValid`): an event with a reserved
        name (`connect`, `disconnect`, ...) is an invalid payload, so Node's server closes the connection.
        """
        if isinstance(data, bytes | bytearray):
            raise MalformedPacket("binary frame (the Feathers protocol sends none)", code=UNSUPPORTED_DATA)
        if not isinstance(data, str):
            raise MalformedPacket("malformed Socket.IO packet")
        try:
            pkt = self.packet_class(encoded_packet=data)
        except RecursionError:
            raise MalformedPacket("malformed Socket.IO packet (nested too deeply)") from None
        except Exception as error:  # whatever python-socketio's decoder raises, the packet cannot be decoded
            raise MalformedPacket(f"malformed Socket.IO packet ({type(error).__name__})") from None
        kind, payload = pkt.packet_type, pkt.data
        if kind in (sio_packet.BINARY_EVENT, sio_packet.BINARY_ACK):
            raise MalformedPacket("binary attachments (the Feathers protocol sends none)", code=UNSUPPORTED_DATA)
        if pkt.attachment_count:
            raise MalformedPacket("malformed Socket.IO packet (attachments on a text packet)")
        if kind == sio_packet.CONNECT:
            valid = payload is None or isinstance(payload, dict)
        elif kind == sio_packet.DISCONNECT:
            valid = payload is None
        elif kind == sio_packet.EVENT:
            name = payload[0] if isinstance(payload, list) and payload else None
            valid = isinstance(name, str) or (isinstance(name, int | float) and not isinstance(name, bool))
            if valid and name in RESERVED_EVENTS:
                raise MalformedPacket(f"malformed Socket.IO packet (reserved event name {name!r})")
        elif kind == sio_packet.ACK:
            valid = isinstance(payload, list)
        elif kind == sio_packet.CONNECT_ERROR:
            return None  # only servers send it; Node's socket.io ignores one from a client
        else:
            valid = False
        if not valid:
            raise MalformedPacket("malformed Socket.IO packet (invalid payload)")
        return pkt

    async def _handle_eio_connect(self, eio_sid: str, environ: Any) -> None:
        ControllableSocket.adopt(self.eio.sockets.get(eio_sid))
        await super()._handle_eio_connect(eio_sid, environ)

    def engine_socket(self, sid: str) -> ControllableSocket | None:
        """The Engine.IO socket under a Socket.IO connection, while it is open."""
        eio_sid = self.manager.eio_sid_from_sid(sid, "/")
        socket = self.eio.sockets.get(eio_sid) if eio_sid is not None else None
        return socket if isinstance(socket, ControllableSocket) and not socket.closed else None


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
    connected_at: str | None = None  # ISO time on the mock clock (the control API's connection list)
    token: str | None = None
    user_id: str | None = None
    expiry: Timer | None = None
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
        core.faults.transport_of = self.transport_of
        self.disconnect_listeners: list[Callable[[str, Session], None]] = []  # called once a connection has ended
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
            limits=self.core.options.query_limits,
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

    async def on_connect(self, sid: str, environ: Mapping[str, Any], auth: Any = None) -> None:
        """Authenticate from the handshake's Authorization header before accepting, as Feathers does (§5.6).

        Only a real handshake gets here: FeathersSocketServer drops client events named `connect`/`disconnect`.
        """
        self.sessions[sid] = Session(address=environ.get("REMOTE_ADDR"), connected_at=self.core.clock.iso())
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
            return
        scheme, token = credentials
        if scheme != "bearer":
            return  # API keys are not offered over the socket (§5.7)
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

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        session = self.sessions.pop(sid, None)
        self.core.channels.leave(sid)
        if session is not None:
            session.clear()
            if session.disconnect_reason is None:
                session.disconnect_reason = str(reason or "transport close")
            for listener in self.disconnect_listeners:
                listener(sid, session)
        self.core.journal.record(
            "disconnect", connection=sid, reason=None if reason is None else str(reason)
        )

    async def disconnect_all(self) -> None:
        for sid in list(self.sessions):
            socket = self.sio.engine_socket(sid)
            if socket is not None and socket.silent_until is not None:
                await socket.drop()  # it would swallow the DISCONNECT and hold its transport open
            else:
                await self.sio.disconnect(sid)
