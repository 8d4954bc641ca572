"""The control panel: a page at `GET /_mock/` on the mock's own port, and the live feed it listens to (issue 9).

The page is three static files shipped in the package (`panel/`): no build step, nothing from the network, so it
works offline. Everything it shows comes through `GET /_mock/events`, a server-sent event stream of journal entries
and connection changes; everything it does goes through the control API's JSON endpoints, the ones tools call.

Each open panel has a bounded queue: a panel that reads slower than the mock journals loses its oldest entries and
is told how many, so it can never make the server's memory grow. The streams end when the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections import deque
from collections.abc import Awaitable, Callable
from importlib.resources import files
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from mockserver.server._rest import CORS_HEADERS

if TYPE_CHECKING:
    from mockserver.server._app import MockServer

__all__ = ["ASSETS", "Feed", "Page", "Panel"]

QUEUE_LIMIT: Final = 1000  # messages one panel may have waiting; past it the oldest are dropped
RECENT_ENTRIES: Final = 200  # journal entries a newly opened panel starts with
KEEPALIVE: Final = 5.0  # wall seconds between clock updates when nothing else happens (also finds dead clients)
RETRY_MS: Final = 1000  # how soon a browser reconnects a stream that ended (EventSource's `retry`)
CONNECTION_KINDS: Final = frozenset({"connect", "disconnect"})

ASSETS: Final = {
    "": ("index.html", "text/html"),
    "panel.css": ("panel.css", "text/css"),
    "panel.js": ("panel.js", "text/javascript"),
}
PAGE_HEADERS: Final = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
}

Page = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _plain(value: Any) -> Any:
    """`value` with NaN and infinities as strings: a client may send them (Python's JSON reader accepts them), a
    browser's JSON.parse does not."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def to_json(value: Any) -> str:
    """Strict JSON for a browser, whatever a journal entry holds."""
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False, default=str)
    except ValueError:
        return json.dumps(_plain(value), separators=(",", ":"), allow_nan=False, default=str)


class Stream:
    """One open panel: a bounded queue of (event, data) the stream handler writes out."""

    def __init__(self, limit: int = QUEUE_LIMIT) -> None:
        self.queue: deque[tuple[str, str]] = deque()
        self.limit = limit
        self.dropped = 0
        self.closed = False
        self.wake = asyncio.Event()

    def push(self, event: str, data: str) -> None:
        if len(self.queue) >= self.limit:
            self.queue.popleft()
            self.dropped += 1
        self.queue.append((event, data))
        self.wake.set()

    def close(self) -> None:
        self.closed = True
        self.wake.set()

    def take(self) -> tuple[list[tuple[str, str]], int]:
        """Everything waiting, and how many messages were dropped since the last take."""
        batch, dropped = list(self.queue), self.dropped
        self.queue.clear()
        self.dropped = 0
        self.wake.clear()
        return batch, dropped


class Feed:
    """Journal entries and connection changes, fanned out to every open panel.

    It listens to the journal only while a panel is open, and serialises each entry once for all of them.
    """

    def __init__(self, server: MockServer) -> None:
        self.server = server
        self.streams: set[Stream] = set()
        self.last_activity: dict[str, str] = {}  # connection id -> mock ISO time of its latest journal entry
        self.transports: dict[str, str] = {}
        self._unsubscribe: Callable[[], None] | None = None
        self._connections_due = False
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- who listens ------------------------------------------------------------------------------------------
    def open(self) -> tuple[Stream, dict[str, Any]]:
        """A new stream and the state it starts from, taken in one step so no entry falls between them."""
        stream = Stream()
        self._loop = asyncio.get_running_loop()
        if self._unsubscribe is None:
            self._catch_up()
            self._unsubscribe = self.server.journal.subscribe(self.on_entry)
        self.streams.add(stream)
        return stream, self.hello()

    def leave(self, stream: Stream) -> None:
        self.streams.discard(stream)
        if not self.streams and self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
            self.last_activity.clear()
            self.transports.clear()

    def close(self) -> None:
        """End every stream (the server is stopping)."""
        for stream in tuple(self.streams):
            stream.close()

    def reset(self) -> None:
        """The server went back to its seeded state: panels start over from the state it is in now."""
        self.last_activity.clear()
        self.transports.clear()
        if self.streams:
            self.broadcast("reset", to_json(self.hello(recent=False)))

    # -- what they get --------------------------------------------------------------------------------------
    def hello(self, *, recent: bool = True) -> dict[str, Any]:
        server = self.server
        journal = server.journal
        return {
            "clock": server.clock.describe(),
            "connections": self.connections(),
            "journal": journal.entries(limit=RECENT_ENTRIES) if recent else [],
            "journalEnabled": journal.enabled,
            "events": list(server.contract.events()),
            "users": [email for email, _password, _keys in server.credentials()],
        }

    def connections(self) -> list[dict[str, Any]]:
        found = self.server.connections()
        for connection in found:
            connection["lastActivity"] = self.last_activity.get(connection["id"], connection["connectedAt"])
        return found

    def broadcast(self, event: str, data: str) -> None:
        for stream in self.streams:
            stream.push(event, data)

    def on_entry(self, entry: dict[str, Any]) -> None:
        """A journal subscriber: runs inside `journal.record`, so it only queues. An entry recorded off the server's
        loop (a test thread calling `journal.record`) is handed to the loop first: the queues are not thread-safe."""
        loop = self._loop
        if loop is not None and _current_loop() is not loop:
            loop.call_soon_threadsafe(self.on_entry, entry)
            return
        kind = entry["kind"]
        connection = entry.get("connection")
        changed = kind in CONNECTION_KINDS or (kind == "ack" and entry.get("service") == "authentication")
        if connection is not None:
            if kind == "disconnect":
                self.last_activity.pop(connection, None)
                self.transports.pop(connection, None)
            else:
                self.last_activity[connection] = entry["time"]
                transport = entry.get("transport")
                if isinstance(transport, str) and self.transports.setdefault(connection, transport) != transport:
                    self.transports[connection] = transport
                    changed = True
        for sid in entry.get("to") or ():
            self.last_activity[sid] = entry["time"]
        self.broadcast("entry", to_json(entry))
        if changed:
            self.connections_changed()

    def connections_changed(self) -> None:
        """Send the connection list once the current step is over (a login journals several entries)."""
        if self._connections_due:
            return
        self._connections_due = True
        asyncio.get_running_loop().call_soon(self._send_connections)  # on_entry runs on the loop

    def _send_connections(self) -> None:
        self._connections_due = False
        if self.streams:
            self.broadcast("connections", to_json(self.connections()))

    def _catch_up(self) -> None:
        """Last activity of the open connections from what the journal already holds."""
        for entry in self.server.journal.entries():
            if entry.get("connection") is not None:
                self.last_activity[entry["connection"]] = entry["time"]
            for sid in entry.get("to") or ():
                self.last_activity[sid] = entry["time"]


def _current_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def wants_html(request: web.BaseRequest) -> bool:
    """A browser asking for a page (its Accept names text/html); tools asking for JSON get the endpoint list."""
    accept = request.headers.get("Accept", "")
    return "text/html" in accept and "application/json" not in accept


class Panel:
    """The panel's routes, answered by the control API's handler before its JSON endpoints."""

    def __init__(self, server: MockServer) -> None:
        self.feed = Feed(server)
        self._assets: dict[str, bytes] = {}

    def page_for(self, request: web.BaseRequest, tail: str) -> Page | None:
        """The handler of a panel path, or None for the control API's own endpoints."""
        if request.method not in ("GET", "HEAD"):
            return None
        key = tail.strip("/")
        if key == "events":
            return self.events
        if key in ASSETS and (key or wants_html(request)):
            return self.asset
        return None

    async def asset(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info.get("tail", "").strip("/")
        name, content_type = ASSETS[key]
        if name not in self._assets:
            self._assets[name] = (files("mockserver.server") / "panel" / name).read_bytes()
        body = self._assets[name]
        return web.Response(
            body=None if request.method == "HEAD" else body,
            content_type=content_type,
            charset="utf-8",
            headers=PAGE_HEADERS,
        )

    async def events(self, request: web.Request) -> web.StreamResponse:
        """The live feed: `hello` (the state to start from), then `entry`, `connections`, `clock`, `dropped` and
        `reset` messages, each a JSON object in an SSE `data:` line."""
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
                **CORS_HEADERS,
            }
        )
        await response.prepare(request)
        if request.method == "HEAD":
            return response
        stream, hello = self.feed.open()
        try:
            await response.write(f"retry: {RETRY_MS}\n\n".encode())
            await response.write(_message("hello", to_json(hello)))
            while not stream.closed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stream.wake.wait(), KEEPALIVE)
                batch, dropped = stream.take()
                if not batch and not stream.closed:  # quiet: the clock moved on anyway, and a write finds the dead
                    batch = [("clock", to_json(self.feed.server.clock.describe()))]
                chunks = [_message("dropped", to_json({"count": dropped}))] if dropped else []
                chunks.extend(_message(event, data) for event, data in batch)
                if chunks:
                    await response.write(b"".join(chunks))
        except (ConnectionResetError, ConnectionError):
            pass  # the panel was closed
        finally:
            self.feed.leave(stream)
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
        return response


def _message(event: str, data: str) -> bytes:
    return f"event: {event}\ndata: {data}\n\n".encode()
