"""REST query strings, parsed as qs.parse does with its defaults (koa-qs; Express's extended parser).

Feathers receives a REST query as the object qs 6.17 makes of the query string, and the Feathers REST client
builds that string with qs.stringify; so this ports qs `lib/parse.js` and `lib/utils.js` (feathers-protocol.md
§10) rather than approximating them: bracket nesting, index arrays and their limits, repeated keys, depth,
parameter count, percent decoding and the keys qs drops all come out as Feathers sees them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, cast
from urllib.parse import unquote_to_bytes

from mockserver.server.query._js import Sentinel, canonical_index, js_keys, js_parse_int, js_truthy

__all__ = ["parse_query_string"]

_HOLE: Final = Sentinel("<hole>")  # an empty slot of a sparse array while qs builds it

_ARRAY_LIMIT: Final = 20
_DEPTH: Final = 5
_PARAMETER_LIMIT: Final = 1000
_BRACKET_OPEN: Final = re.compile("%5B", re.IGNORECASE)
_BRACKET_CLOSE: Final = re.compile("%5D", re.IGNORECASE)
_BROKEN_ESCAPE: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")
_OBJECT_PROTOTYPE_KEYS: Final = frozenset(
    {
        "constructor",
        "hasOwnProperty",
        "isPrototypeOf",
        "propertyIsEnumerable",
        "toLocaleString",
        "toString",
        "valueOf",
        "__proto__",
        "__defineGetter__",
        "__defineSetter__",
        "__lookupGetter__",
        "__lookupSetter__",
    }
)


def parse_query_string(raw: str) -> dict[str, Any]:
    """The object Feathers receives for a REST query string; every leaf value stays a string.

    A leading `?` is dropped. Brackets nest (`a[b]=1`), `a[]=x` and `a[0]=x` build arrays (indexes up to 19;
    larger ones, and arrays grown past 20 items, become objects with index keys), repeated keys combine into
    lists, brackets deeper than 5 levels stay one literal key, and malformed percent escapes are kept as text.
    """
    if raw.startswith("?"):
        raw = raw[1:]
    if not raw:
        return {}
    parse = _QsParse()
    flat = parse.values(raw)
    result: Any = {}
    for key in js_keys(flat):
        chain = _split_key(key) if key else None
        if chain is not None:
            result = parse.merge(result, parse.build(chain, flat[key]))
    compacted: dict[str, Any] = _compact(result)
    return compacted


def _decode(text: str) -> str:
    """qs's decoder: `+` is a space, then `decodeURIComponent`, or the text as it was if that would throw."""
    text = text.replace("+", " ")
    if "%" not in text or _BROKEN_ESCAPE.search(text):
        return text
    try:
        return unquote_to_bytes(text).decode("utf-8")
    except (UnicodeDecodeError, UnicodeEncodeError):
        return text


def _split_key(key: str) -> list[str] | None:
    """`splitKeyIntoSegments`: the parent, then up to 5 bracket groups, then the rest as one segment."""
    first = key.find("[")
    parent = key[:first] if first >= 0 else key
    segments: list[str] = []
    if parent:
        if parent in _OBJECT_PROTOTYPE_KEYS:
            return None
        segments.append(parent)
    length = len(key)
    start = first
    collected = 0
    while start >= 0 and collected < _DEPTH:
        level, index, close = 1, start + 1, -1
        while index < length and close < 0:
            char = key[index]
            if char == "[":
                level += 1
            elif char == "]":
                level -= 1
                if level == 0:
                    close = index
            index += 1
        if close < 0:
            segments.append("[" + key[start:] + "]")
            return segments
        segment = key[start : close + 1]
        if segment[1:-1] in _OBJECT_PROTOTYPE_KEYS:
            return None
        segments.append(segment)
        collected += 1
        start = key.find("[", close + 1)
    if start >= 0:
        segments.append("[" + key[start:] + "]")
    return segments


def _array_to_object(items: list[Any]) -> dict[str, Any]:
    return {str(index): item for index, item in enumerate(items) if item is not _HOLE}


def _set_index(items: list[Any], index: int, value: Any) -> None:
    if index >= len(items):
        items.extend([_HOLE] * (index - len(items) + 1))
    items[index] = value


def _compact(value: Any) -> Any:
    """qs's `compact`: sparse arrays lose their holes."""
    if type(value) is list:
        return [_compact(item) for item in value if item is not _HOLE]
    if type(value) is dict:
        return {key: _compact(value[key]) for key in js_keys(value)}
    return value


def _count_elements(items: list[Any]) -> int:
    return sum(1 for item in items if item is not _HOLE)


def _max_numeric_index(obj: Mapping[str, Any], floor: int) -> int:
    numbers = [int(key) for key in obj if _INTEGER_KEY.fullmatch(key)]
    return max([floor, *numbers])


_INTEGER_KEY: Final = re.compile(r"0|-?[1-9][0-9]*")


class _QsParse:
    """State of one qs.parse call: which objects are "overflowed" arrays or strictMerge "conflict" wrappers,
    with their highest index.

    qs keeps these in WeakMap side channels; here they live on the call, keyed by id() with the object held so
    the id cannot be reused while parsing.
    """

    __slots__ = ("_conflict", "_overflow")

    def __init__(self) -> None:
        self._overflow: dict[int, tuple[dict[str, Any], int]] = {}
        self._conflict: dict[int, tuple[Any, int]] = {}

    def is_overflow(self, value: Any) -> bool:
        return type(value) is dict and id(value) in self._overflow

    def max_index(self, value: dict[str, Any]) -> int:
        return self._overflow[id(value)][1]

    def mark(self, value: dict[str, Any], max_index: int) -> dict[str, Any]:
        self._overflow[id(value)] = (value, max_index)
        return value

    def is_conflict(self, value: Any) -> bool:
        return id(value) in self._conflict and self._conflict[id(value)][0] is value

    def conflict_index(self, value: Any) -> int:
        return self._conflict[id(value)][1]

    def mark_conflict(self, value: Any, max_index: int) -> Any:
        self._conflict[id(value)] = (value, max_index)
        return value

    def values(self, raw: str) -> dict[str, Any]:
        """`parseValues`: split on `&`, decode, combine repeated keys."""
        cleaned = _BRACKET_CLOSE.sub("]", _BRACKET_OPEN.sub("[", raw))
        flat: dict[str, Any] = {}
        for part in cleaned.split("&")[:_PARAMETER_LIMIT]:
            bracket_equals = part.find("]=")
            position = part.find("=") if bracket_equals == -1 else bracket_equals + 1
            if position == -1:
                key, value = _decode(part), ""
            else:
                key, value = _decode(part[:position]), _decode(part[position + 1 :])
            flat[key] = self.combine(flat[key], value) if key in flat else value
        return flat

    def combine(self, first: Any, second: Any) -> Any:
        if self.is_overflow(first):
            index = self.max_index(first)
            for item in second if type(second) is list else [second]:
                index += 1
                first[str(index)] = item
            self.mark(first, index)
            return first
        head = first if type(first) is list else [first]
        combined = [*head, *(second if type(second) is list else [second])]
        if len(combined) > _ARRAY_LIMIT:
            return self.mark(_array_to_object(combined), len(combined) - 1)
        return combined

    def build(self, chain: list[str], leaf: Any) -> Any:
        """`parseObject`: wrap the value in one object or array per key segment, innermost first."""
        for root in reversed(chain):
            built: Any
            if root == "[]":
                built = leaf if self.is_overflow(leaf) else self.combine([], leaf)
            else:
                clean = root[1:-1] if len(root) >= 2 and root[0] == "[" and root[-1] == "]" else root
                index = canonical_index(clean) if clean != root else None
                if index is not None and index < _ARRAY_LIMIT:
                    built = [_HOLE] * index + [leaf]
                elif index is not None:
                    built = self.mark({clean: leaf}, index)
                elif clean != "__proto__":
                    built = {clean: leaf}
                else:
                    built = {}
            leaf = built
        return leaf

    def merge(self, target: Any, source: Any) -> Any:
        """qs `utils.merge` with its defaults (strictMerge, arrayLimit 20)."""
        if not js_truthy(source):
            return target
        if type(source) is not dict and type(source) is not list:
            if type(target) is list:
                if _count_elements(target) >= _ARRAY_LIMIT:
                    return self.mark(_array_to_object([*target, source]), len(target))
                target.append(source)
                return target
            if type(target) is dict:
                if self.is_overflow(target):
                    index = self.max_index(target) + 1
                    target[str(index)] = source
                    self.mark(target, index)
                elif self.is_conflict(target):
                    index = self.conflict_index(target) + 1
                    target[str(index)] = source
                    self.mark_conflict(target, index)
                else:
                    return self.mark_conflict([target, source], 1)
                return target
            return [target, source]
        if type(target) is not dict and type(target) is not list:
            if self.is_overflow(source):
                overflowed = cast(dict[str, Any], source)
                shifted: dict[str, Any] = {"0": target}
                for key in js_keys(overflowed):
                    old = js_parse_int(key)
                    shifted["NaN" if old is None else str(old + 1)] = overflowed[key]
                return self.mark(shifted, self.max_index(overflowed) + 1)
            joined = [target, *source] if type(source) is list else [target, source]
            if len(joined) > _ARRAY_LIMIT:
                return self.mark(_array_to_object(joined), len(joined) - 1)
            return joined
        if type(target) is list and type(source) is list:
            for index, item in enumerate(source):
                if item is _HOLE:
                    continue
                if index < len(target) and target[index] is not _HOLE:
                    current = target[index]
                    if type(current) in (dict, list) and type(item) in (dict, list):
                        target[index] = self.merge(current, item)
                    else:
                        target.append(item)
                else:
                    _set_index(target, index, item)
            if _count_elements(target) > _ARRAY_LIMIT:
                return self.mark(_array_to_object(target), len(target) - 1)
            return target
        merged = _array_to_object(target) if type(target) is list else cast(dict[str, Any], target)
        if type(target) is list and self.is_conflict(target):
            self.mark_conflict(merged, len(target) - 1)
        items = _array_to_object(source) if type(source) is list else cast(dict[str, Any], source)
        for key in js_keys(items):
            value = items[key]
            merged[key] = self.merge(merged[key], value) if key in merged else value
            if self.is_overflow(items) and not self.is_overflow(merged):
                self.mark(merged, _max_numeric_index(merged, self.max_index(items)))
            if self.is_overflow(merged):
                number = canonical_index(key)
                if number is not None and number > self.max_index(merged):
                    self.mark(merged, number)
            if self.is_conflict(merged) and _INTEGER_KEY.fullmatch(key) and int(key) > self.conflict_index(merged):
                self.mark_conflict(merged, int(key))
        return merged
