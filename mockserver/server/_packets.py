"""Socket.IO packets whose JSON may nest past Python's recursion limit.

python-socketio decodes an event with `json.loads`, which raises RecursionError a thousand levels down, before any
handler runs: the call got no ack at all. Node's JSON.parse has no such limit, so a Feathers server sees the call.
Here the event's arguments are decoded one by one, and the one that nests too deep arrives as `TOO_DEEP`, which the
dispatcher refuses with the same 400 as any query or body past `QueryLimits.max_depth`.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from engineio import json as engineio_json
from socketio import packet

from mockserver.server.query import TOO_DEEP

__all__ = ["DeepTolerantPacket"]

_SPACE: Final = re.compile(r"[ \t\n\r]*")


def _bounded_int(digits: str) -> int:
    """engine.io's bound on integer literals, kept in the fallback."""
    if len(digits) > 100:
        raise ValueError("Integer is too large")
    return int(digits)


_DECODER: Final = json.JSONDecoder(parse_int=_bounded_int)


class _DeepTolerantJson:
    """The `json` python-socketio uses: engine.io's own (which bounds integer literals), plus the fallback."""

    dumps = staticmethod(engineio_json.dumps)

    @staticmethod
    def loads(text: str, **kwargs: Any) -> Any:
        try:
            return engineio_json.loads(text, **kwargs)
        except RecursionError:
            return _arguments(text)


def _skip(text: str, position: int) -> int:
    """The position after any JSON whitespace at `position`."""
    match = _SPACE.match(text, position)
    return position if match is None else match.end()


def _arguments(text: str) -> list[Any]:
    """The top-level array item by item, the first that nests too deep as `TOO_DEEP` (what follows it is dropped:
    the call is refused for it anyway). Any other shape is a malformed packet."""
    decoder = _DECODER
    position = _skip(text, 0)
    if text[position : position + 1] != "[":
        raise ValueError("JSON nested too deeply")
    items: list[Any] = []
    position = _skip(text, position + 1)
    while True:
        try:
            item, position = decoder.raw_decode(text, position)
        except RecursionError:
            items.append(TOO_DEEP)
            return items
        items.append(item)
        position = _skip(text, position)
        separator = text[position : position + 1]
        position = _skip(text, position + 1)
        if separator == "]" and position == len(text):
            return items
        if separator != ",":
            raise ValueError("Invalid JSON in a packet")


class DeepTolerantPacket(packet.Packet):  # type: ignore[misc]
    """python-socketio's packet with the tolerant decoder; given as `serializer`, so no global state changes."""

    json = _DeepTolerantJson
