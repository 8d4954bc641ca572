"""Engine.IO-level control of one connection, below Socket.IO: the forced disconnects that send no DISCONNECT
packet (feathers-protocol.md §1.3).

- `drop()` closes the transport abruptly: the client sees `transport close` (websocket) or a failed poll, then
  reconnects by itself.
- `silence()` stops every frame to the client, pings included (in Engine.IO v4 the SERVER pings), so the client's
  own timer fires after pingInterval + pingTimeout with `ping timeout` and it reconnects. The server holds the
  transport open without writing until then, and releases the connection at the latest after twice that time.

python-engineio makes its socket objects itself; `FeathersSocketServer` turns each new one into a
`ControllableSocket` when the connection opens.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from engineio.async_socket import AsyncSocket
from engineio.exceptions import QueueEmpty, SocketIsClosedError

__all__ = ["ControllableSocket"]


class ControllableSocket(AsyncSocket):  # type: ignore[misc]
    """python-engineio's socket, plus an abrupt close and a silent mode."""

    silent_until: float | None = None  # time.monotonic() when a silenced connection is given up server-side

    @staticmethod
    def adopt(socket: object) -> None:
        """Make a socket python-engineio has just created a ControllableSocket (it has no factory to override)."""
        if type(socket) is AsyncSocket:
            socket.__class__ = ControllableSocket

    async def drop(self) -> None:
        """Close the transport without a Socket.IO DISCONNECT or an Engine.IO CLOSE packet: the websocket closes,
        or the pending poll returns and the next one fails."""
        await self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)

    def silence(self) -> None:
        """Write nothing more to this client, not even pings, until it gives up with `ping timeout`."""
        if self.silent_until is None:
            self.silent_until = time.monotonic() + 2 * (self.server.ping_interval + self.server.ping_timeout)

    async def send(self, pkt: Any) -> None:
        if self.silent_until is None:
            await super().send(pkt)

    async def poll(self) -> list[Any]:
        if self.silent_until is None:
            try:
                packets: list[Any] = await super().poll()
            except QueueEmpty:  # nothing for pingInterval + pingTimeout: a dead client, unless we went silent
                if self.silent_until is None:
                    raise
            else:
                if self.silent_until is None:
                    return packets
        return await self._hold()

    async def _hold(self) -> list[Any]:
        """Silent: swallow what is queued (events go straight onto the queue) and keep the transport open, writing
        nothing, until the client is surely gone or the socket is closed."""
        while (
            not self.closed
            and self.silent_until is not None
            and (remaining := self.silent_until - time.monotonic()) > 0
        ):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.queue.get(), remaining)
                self.queue.task_done()
        return []

    async def check_ping_timeout(self) -> bool:
        """A silenced client sends no PONG (it gets no PING); give it until `silent_until` before closing."""
        if self.silent_until is None:
            alive: bool = await super().check_ping_timeout()
            return alive
        if self.closed:
            raise SocketIsClosedError()
        if time.monotonic() < self.silent_until:
            return True
        await self.close(wait=False, abort=True, reason=self.server.reason.PING_TIMEOUT)
        return False

    async def close(self, wait: bool = True, abort: bool = False, reason: Any = None) -> None:
        if self.silent_until is not None:
            wait, abort = False, True  # silent: nothing is flushed, so there is nothing to wait for
        was_open = not (self.closed or self.closing)
        await super().close(wait=wait, abort=abort, reason=reason)
        if abort and was_open:
            # Answer a long-poll GET still held open (the client sent CLOSE in a POST) or a holding silent poll now,
            # rather than after pingInterval + pingTimeout.
            self.queue.put_nowait(None)
