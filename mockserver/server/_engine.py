"""Engine.IO guards: what python-engineio lets through or keeps without bound, refused the way Node's engine.io does.

- Incoming websocket frames are screened before python-engineio decodes them: a binary frame (the Feathers protocol
  sends none), an empty frame, an unknown packet type or undecodable packet data closes the connection at once,
  where stock python-engineio prints a traceback and keeps the dead session for a ping timeout.
- Each connection's send queue holds at most `send_queue_limit` characters of encoded packets; a client that stops
  reading is disconnected instead of growing the server without bound.
- Every refused connection gets one short console line, and all of them together at most a few lines a second;
  so does an HTTP request that aiohttp cannot parse (it would print a traceback).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

import engineio
from aiohttp import WebSocketError, WSMsgType, web
from aiohttp.http_exceptions import HttpProcessingError
from engineio import exceptions as eio_exceptions
from engineio import packet as eio_packet
from engineio import payload as eio_payload
from engineio.async_drivers import aiohttp as eio_aiohttp

__all__ = ["DEFAULT_SEND_QUEUE_LIMIT", "ConsoleLines", "GuardedEngineServer", "SendQueue", "ShortHttpErrors"]

log = logging.getLogger("mockserver.socket")
http_log = logging.getLogger("mockserver.http")

DEFAULT_SEND_QUEUE_LIMIT = 16 * 2**20
CLOSE_HANDSHAKE_SECONDS = 1.0  # how long a refused client may take to answer our close frame
PROTOCOL_ERROR = 1002
UNSUPPORTED_DATA = 1003
CLIENT_PACKET_TYPES = frozenset("0123456")  # Engine.IO: open, close, ping, pong, message, upgrade, noop


class ConsoleLines:
    """One warning line per refused connection, at most `burst` lines at once and `per_second` on average.

    A flood of bad clients would otherwise fill the console; what is held back is counted and reported with the
    next line that gets through.
    """

    def __init__(
        self, *, burst: int = 10, per_second: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.burst = burst
        self.per_second = per_second
        self.clock = clock
        self.tokens = float(burst)
        self.updated = clock()
        self.suppressed = 0

    def closing(self, sid: str, address: str | None, reason: str) -> bool:
        """Log `closing <sid> from <address>: <reason>` unless over the rate; True when it was logged."""
        return self.say(log, f"closing {sid} from {address or 'unknown address'}: {reason}")

    def say(self, logger: logging.Logger, line: str) -> bool:
        """Log one warning line unless over the rate; True when it was logged."""
        now = self.clock()
        self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.per_second)
        self.updated = now
        if self.tokens < 1.0:
            self.suppressed += 1
            return False
        self.tokens -= 1.0
        more = f" ({self.suppressed} more not shown)" if self.suppressed else ""
        self.suppressed = 0
        logger.warning("%s%s", line, more)
        return True


class ShortHttpErrors(logging.LoggerAdapter):  # type: ignore[type-arg]
    """The logger a server's aiohttp request handlers get. aiohttp answers a request it cannot parse (a request line
    or header over 8 KB, garbage) with a plain 400 before any handler runs, and logs a traceback for each; this
    logs one short, rate-limited line instead and passes everything else on."""

    def __init__(self, console: ConsoleLines) -> None:
        super().__init__(logging.getLogger("aiohttp.server"), {})
        self.console = console

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        error = exc_info if isinstance(exc_info, BaseException) else None
        if exc_info is True or isinstance(exc_info, tuple):
            error = (exc_info if isinstance(exc_info, tuple) else sys.exc_info())[1]
        if isinstance(error, HttpProcessingError):
            reason = " ".join(str(error.message).split(" when reading")[0].split())[:100]
            address = args[0] if args else "unknown address"
            self.console.say(http_log, f"refused a malformed HTTP request from {address}: {error.code} {reason}")
            return
        super().log(level, msg, *args, **kwargs)


def _encoded_size(item: Any) -> int:
    if not isinstance(item, eio_packet.Packet):
        return 0
    encoded = item.encode()  # cached on the packet, so the writer does not encode it again
    return len(encoded)


class SendQueue(asyncio.Queue[Any]):
    """An Engine.IO socket's outgoing queue that holds at most `limit` characters of encoded packets.

    Past the limit the packet is dropped, `on_overflow` is told once, and everything after is dropped too (the
    connection is being closed). A packet always fits into an empty queue, so one large answer is never refused.
    The writer takes all queued packets at once, so what a connection holds is at most twice the limit.
    """

    def __init__(self, limit: int, on_overflow: Callable[[SendQueue], None]) -> None:
        super().__init__()
        self.limit = limit
        self.queued = 0
        self.overflowed = False
        self._on_overflow = on_overflow

    def put_nowait(self, item: Any) -> None:
        if item is not None:  # None is python-engineio's "stop writing" marker: always let it through
            if self.overflowed:
                return
            size = _encoded_size(item)
            if self.queued and self.queued + size > self.limit:
                self.overflowed = True
                self._on_overflow(self)
                return
            self.queued += size
        super().put_nowait(item)

    def get_nowait(self) -> Any:
        item = super().get_nowait()
        self.queued -= _encoded_size(item)
        return item


def screen_frame(data: str | bytes) -> str | None:
    """Why a websocket frame is refused before python-engineio sees it, or None when it may pass.

    A message (`4...`) must carry a Socket.IO packet, which starts with its type digit; anything else would have
    python-engineio JSON-decode it (without a depth limit). Other packet types carry no data a client needs, so
    they pass only when python-engineio can decode them.
    """
    if isinstance(data, bytes):
        return "binary frame (the Feathers protocol sends none)"
    if not data:
        return "empty packet"
    kind = data[0]
    if kind == "b":
        return "base64 binary packet (the Feathers protocol sends none)"
    if kind not in CLIENT_PACKET_TYPES:
        return "unknown Engine.IO packet type"
    if kind == "4":
        return None if len(data) > 1 and data[1].isdigit() else "malformed Socket.IO packet"
    try:
        eio_packet.Packet(encoded_packet=data)
    except Exception as error:  # anything python-engineio cannot decode is malformed, whatever it raises
        return f"malformed Engine.IO packet ({type(error).__name__})"
    return None


def screen_payload(body: bytes) -> str | None:
    """Why a long-polling POST body is refused before python-engineio decodes it, or None when it may pass."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "malformed Engine.IO payload (not UTF-8)"
    try:
        packets = eio_payload.Payload(encoded_payload=text).packets
    except Exception as error:  # anything python-engineio cannot decode is malformed, whatever it raises
        return f"malformed Engine.IO payload ({type(error).__name__})"
    for pkt in packets:
        if pkt.binary:
            return "base64 binary packet (the Feathers protocol sends none)"
        if str(pkt.packet_type) not in CLIENT_PACKET_TYPES:
            return "unknown Engine.IO packet type"
    return None


class MalformedPayload(eio_exceptions.EngineIOError):  # type: ignore[misc]
    """python-engineio answers a POST that raises an EngineIOError with 400 Bad Request, and logs nothing."""


class ScreenedBody:
    """The body of a long-polling POST (`wsgi.input`), screened as python-engineio reads it."""

    def __init__(self, request: web.Request, server: GuardedEngineServer) -> None:
        self.request = request
        self.server = server

    async def read(self, length: int = -1) -> bytes:
        body = await self.request.read()  # whole (aiohttp caps it at client_max_size), then what was asked for
        body = body if length < 0 else body[:length]
        reason = screen_payload(body)
        if reason is not None:
            await self.server.refuse(self.request.query.get("sid", "?"), reason, address=self.request.remote)
            raise MalformedPayload(reason)
        return body


class GuardedWebSocket(eio_aiohttp.WebSocket):  # type: ignore[misc]
    """python-engineio's aiohttp websocket, screening frames and able to shut a refused connection at once.

    It also leaves permessage-deflate off unless the server's `ws_compression` asks for it, like Node's socket.io:
    aiohttp deflates every frame when the client offers it (the Node and browser clients do), which costs a fan-out
    several times the rest of the publish path; uncompressed, the server answers the offer with no extension.
    """

    def __init__(self, handler: Callable[..., Any], server: GuardedEngineServer) -> None:
        super().__init__(handler, server)
        self.guard = server
        self.socket = getattr(handler, "__self__", None)  # the engine.io socket whose handler this is
        self.request: web.Request | None = None
        self.refused = False
        self.client_closed = False

    @property
    def sid(self) -> str:
        return str(getattr(self.socket, "sid", "?"))

    @property
    def address(self) -> str | None:
        return None if self.request is None else self.request.remote

    async def __call__(self, environ: dict[str, Any]) -> web.WebSocketResponse:
        request: web.Request = environ["aiohttp.request"]
        self.request = request
        self.guard.websockets[self.sid] = self
        try:
            self._sock = web.WebSocketResponse(
                max_msg_size=self.server.max_http_buffer_size, compress=self.guard.ws_compression
            )
            await self._sock.prepare(request)
            self.environ = environ
            await self.handler(self)
            return self._sock
        finally:
            if self.guard.websockets.get(self.sid) is self:
                del self.guard.websockets[self.sid]

    async def send(self, message: str | bytes) -> None:
        """As python-engineio's, without its per-frame `inspect` check (aiohttp's senders are coroutines)."""
        if isinstance(message, bytes):
            await self._sock.send_bytes(message)
        else:
            await self._sock.send_str(message)

    async def wait(self) -> str | bytes | None:
        """The next frame for python-engineio; None (its "closed") once the connection is refused."""
        if self.refused or self.client_closed:
            return None
        msg = await self._sock.receive()
        if msg.type is WSMsgType.ERROR and isinstance(msg.data, WebSocketError):  # e.g. over max_msg_size
            self.refused = True
            self.guard.console.closing(self.sid, self.address, str(msg.data))
        if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
            await self.end_session()
            raise OSError  # closed: what python-engineio's own driver raises
        reason = screen_frame(msg.data)
        if reason is not None:
            code = UNSUPPORTED_DATA if "binary" in reason else PROTOCOL_ERROR
            await self.refuse(reason, code=code)
            return None
        # After an Engine.IO CLOSE python-engineio closes its session but keeps reading the websocket until the
        # ping timeout; Node closes the websocket, and so does the None returned for the next frame.
        self.client_closed = msg.data[0] == "1"
        data: str | bytes = msg.data
        return data

    async def end_session(self, reason: str | None = None) -> None:
        """The websocket is gone: end its Engine.IO session now, before anything else runs on the loop.

        python-engineio would end it only after its writer task has wound down, a few loop turns later; by then a
        client that closed one connection may already be logging in on another one and be refused for it.
        """
        socket = self.socket
        if socket is not None and socket.upgraded and not socket.closed and not socket.closing:
            await socket.close(wait=False, abort=True, reason=reason or self.server.reason.TRANSPORT_CLOSE)

    async def refuse(self, reason: str, *, code: int = PROTOCOL_ERROR) -> None:
        """Log one line, end the session, and close: with a close frame when the client still reads, then drop the
        TCP connection either way."""
        if self.refused:
            return
        self.refused = True
        self.guard.console.closing(self.sid, self.address, reason)
        await self.end_session(self.server.reason.TRANSPORT_ERROR)
        transport = None if self.request is None else self.request.transport
        if transport is not None and transport.get_write_buffer_size() == 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_HANDSHAKE_SECONDS):
                    await self._sock.close(code=code)
        self.abort()

    def abort(self) -> None:
        """Drop the connection now; python-engineio's reader and writer then end and free the session."""
        self.refused = True
        transport = None if self.request is None else self.request.transport
        if transport is not None:
            transport.abort()

    async def close(self) -> None:
        if self.refused:
            self.abort()
            return
        await super().close()


class GuardedEngineServer(engineio.AsyncServer):  # type: ignore[misc]
    """python-engineio's server with screened websocket frames and byte-bounded send queues."""

    def __init__(
        self, *, send_queue_limit: int = DEFAULT_SEND_QUEUE_LIMIT, ws_compression: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.send_queue_limit = send_queue_limit
        self.ws_compression = ws_compression
        self.console = ConsoleLines()
        self.websockets: dict[str, GuardedWebSocket] = {}
        self._closing: set[asyncio.Task[Any]] = set()
        driver: dict[str, Any] = getattr(self, "_async")  # noqa: B009 (set by python-engineio, untyped)
        self._async = {  # a copy: the driver's own dict is shared
            **driver,
            "websocket": GuardedWebSocket,
            "translate_request": self._translate_request,
        }

    def _translate_request(self, request: web.Request) -> dict[str, Any]:
        environ: dict[str, Any] = eio_aiohttp.translate_request(request)
        if request.method == "POST":
            environ["wsgi.input"] = ScreenedBody(request, self)
        return environ

    def create_queue(self, *args: Any, **kwargs: Any) -> SendQueue:
        return SendQueue(self.send_queue_limit, self._overflowed)

    async def refuse(self, sid: str, reason: str, *, code: int = PROTOCOL_ERROR, address: str | None = None) -> None:
        """Close a connection after a packet it cannot accept (Node: `onclose("parse error")`), with one line."""
        websocket = self.websockets.get(sid)
        if websocket is not None:
            await websocket.refuse(reason, code=code)
            return
        socket = self.sockets.get(sid)
        if socket is not None and not socket.closing and not socket.closed:  # long-polling: CLOSE on the next poll
            self.console.closing(sid, address, reason)
            await socket.close(wait=False, abort=False, reason=self.reason.TRANSPORT_ERROR)

    def is_open(self, sid: str) -> bool:
        socket = self.sockets.get(sid)
        websocket = self.websockets.get(sid)
        return socket is not None and not socket.closed and not socket.closing and not (websocket and websocket.refused)

    def _overflowed(self, queue: SendQueue) -> None:
        sid = next((sid for sid, socket in self.sockets.items() if socket.queue is queue), None)
        if sid is None:
            return
        reason = f"client does not read (over {self.send_queue_limit} bytes waiting to be sent)"
        websocket = self.websockets.get(sid)
        if websocket is not None:
            if not websocket.refused:
                self.console.closing(sid, websocket.address, reason)
            websocket.abort()
            return
        self.console.closing(sid, None, reason)
        task = asyncio.get_running_loop().create_task(
            self.sockets[sid].close(wait=False, abort=True, reason=self.reason.TRANSPORT_ERROR)
        )
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
