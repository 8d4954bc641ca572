"""Channel membership and the publish path (D8; feathers-protocol.md §8).

Publishing encodes a Socket.IO packet once and puts it straight on each recipient's Engine.IO send queue.
python-socketio's own `emit` to a room creates one asyncio task per recipient; skipping that is what makes the
mock's broadcast fast enough for busy ticker streams (see tests/benchmarks/bench_server.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from mockserver.scripting import Faults, Target

__all__ = ["Audience", "Channels", "PublishObserver"]

NAMESPACE = "/"

PublishObserver = Callable[[str, Any, frozenset[str]], None]
"""Called with (event name, payload, recipient sids) for every published event."""


@dataclass(frozen=True, slots=True)
class Audience:
    """Who gets an event: the connections of some users, or every authenticated connection."""

    users: frozenset[str] = frozenset()
    everyone_authenticated: bool = False

    @classmethod
    def owner(cls, user_id: str) -> Audience:
        return cls(users=frozenset((user_id,)))

    @classmethod
    def authenticated(cls) -> Audience:
        return cls(everyone_authenticated=True)


@dataclass(slots=True)
class Channels:
    """Which socket belongs to which user; anonymous and logged-out sockets belong to nothing."""

    sio: socketio.AsyncServer
    authenticated: set[str] = field(default_factory=set)
    by_user: dict[str, set[str]] = field(default_factory=dict)
    user_of: dict[str, str] = field(default_factory=dict)
    observers: list[PublishObserver] = field(default_factory=list)
    faults: Faults | None = None  # event faults: drop, duplicate or delay per recipient (checked only when set)

    def join(self, sid: str, user_id: str) -> None:
        """Login: the socket joins its user's channel and the channel of all authenticated connections."""
        self.leave(sid)
        self.authenticated.add(sid)
        self.by_user.setdefault(user_id, set()).add(sid)
        self.user_of[sid] = user_id

    def leave(self, sid: str) -> None:
        """Logout or disconnect: the socket leaves every channel."""
        self.authenticated.discard(sid)
        user_id = self.user_of.pop(sid, None)
        if user_id is not None:
            members = self.by_user.get(user_id)
            if members is not None:
                members.discard(sid)
                if not members:
                    del self.by_user[user_id]

    def recipients(self, audience: Audience) -> frozenset[str]:
        if audience.everyone_authenticated:
            return frozenset(self.authenticated)
        sids: set[str] = set()
        for user_id in audience.users:
            sids.update(self.by_user.get(user_id, ()))
        return frozenset(sids)

    def publish(self, event: str, payload: Any, audience: Audience) -> frozenset[str]:
        """Send `event` once to each recipient connection; returns who it went to."""
        sids = self.recipients(audience)
        for observer in self.observers:
            observer(event, payload, sids)
        if sids:
            if self.faults and self.faults.may_fire_on_event(event):
                self.send_with_faults(event, payload, sids)
            else:
                self.send(event, payload, sids)
        return sids

    def send_with_faults(self, event: str, payload: Any, sids: frozenset[str]) -> None:
        """Send to each recipient what its matching event faults leave: nothing, two copies, or a late one."""
        assert self.faults is not None
        service = event.rpartition(" ")[0]
        plain: list[str] = []
        for sid in sids:
            fired = self.faults.for_event(Target(sid, self.user_of.get(sid), service=service, event=event))
            if not fired:
                plain.append(sid)
                continue
            copies, delay = 1, 0.0
            for applied in fired:
                if applied.action == "drop-event":
                    copies = 0
                elif applied.action == "duplicate-event":
                    copies += 1
                delay += applied.seconds
            if copies == 0:
                continue
            targets = [sid] * copies
            if delay > 0:
                self.faults.clock.call_later(delay, functools.partial(self.send, event, payload, targets))
            else:
                self.send(event, payload, targets)
        if plain:
            self.send(event, payload, plain)

    def send(self, event: str, payload: Any, sids: Iterable[str]) -> None:
        encoded = self.sio.packet_class(sio_packet.EVENT, namespace=NAMESPACE, data=[event, payload]).encode()
        parts = encoded if isinstance(encoded, list) else [encoded]
        packets = [eio_packet.Packet(eio_packet.MESSAGE, part) for part in parts]
        eio = self.sio.eio
        manager = self.sio.manager
        for sid in sids:
            eio_sid = manager.eio_sid_from_sid(sid, NAMESPACE)
            socket = eio.sockets.get(eio_sid) if eio_sid is not None else None
            if socket is None or socket.closed:
                continue
            for pkt in packets:
                socket.queue.put_nowait(pkt)
