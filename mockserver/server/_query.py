"""The Feathers v5 memory adapter's query engine: qs parsing, coercion, filters, matching, sorting, paging.

Client authors test their paging and filters against this mock and then run the same code against Feathers, so
this is a port, not an approximation (feathers-protocol.md §9-10, cryptorobot-api.md §3-4). Sources followed:
qs 6.17 `lib/parse.js` and `lib/utils.js` (how koa-qs turns a query string into objects),
@feathersjs/adapter-commons 5.0.50 `query.ts`, `sort.ts` and `index.ts` (filters, error texts, sort order,
`$select`), @feathersjs/memory 5.0.50 (the find/get flow) and sift 17.1 (matching, with its array walking).

Deliberate departures, each where Feathers crashes or the spec asks for something else:
- a dotted `$sort` path through a missing or null object sorts as undefined (Feathers throws a TypeError);
- null and a missing field sort as equals, keeping store order (5.0.50's `compare` answers -1 both ways, which
  leaves their order to V8's TimSort internals);
- a single string `$select` selects that one field, an object `$select` its keys (Feathers' `select` breaks);
- a query that is not an object is a BadRequest (Feathers spreads strings and arrays into index keys);
- sift's plain `Error`s (malformed operator use) become GeneralError with sift's message;
- a date-time query value without an offset is read as UTC (JavaScript would read it as local time).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final, cast
from urllib.parse import unquote_to_bytes

from mockserver.errors import BadRequest, FeathersError, GeneralError

__all__ = [
    "FILTERS",
    "OPERATORS",
    "FieldType",
    "FindParams",
    "check_query_for_get",
    "coerce_query",
    "compile_matcher",
    "field_types_from_schema",
    "find",
    "matches",
    "parse_find_params",
    "parse_query_string",
    "record_matches_query",
    "select",
]

FILTERS: Final = ("$skip", "$sort", "$limit", "$select", "$or", "$and")
"""Top-level `$` keys Feathers accepts, in the order adapter-commons applies them (and reports errors)."""

OPERATORS: Final = frozenset({"$in", "$nin", "$lt", "$lte", "$gt", "$gte", "$ne", "$or"})
"""`$` keys adapter-commons lets through below the top level; anything else is "Invalid query parameter"."""

_FIELD_OPERATORS: Final = frozenset({"$in", "$nin", "$lt", "$lte", "$gt", "$gte", "$ne"})
_GROUPS: Final = frozenset({"$or", "$and"})
_PAGING: Final = frozenset({"$skip", "$sort", "$limit", "$select"})


class _Sentinel:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


_MISSING: Final = _Sentinel("<undefined>")  # a property the record does not have (JavaScript's undefined)
_UNSET_INDEX: Final = _Sentinel("<unset index>")  # `a.5` past an array's end: undefined, but $eq skips it
_HOLE: Final = _Sentinel("<hole>")  # an empty slot of a sparse array while qs builds it


# ------------------------------------------------------------------------------------------------------------
# JavaScript semantics the ports below rely on
# ------------------------------------------------------------------------------------------------------------

_MAX_SAFE_INTEGER: Final = 2**53
_INT_PREFIX: Final = re.compile(r"\s*([+-]?\d+)")
_JS_NUMERIC: Final = re.compile(
    r"\s*(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|Infinity)"
    r"|0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+)?\s*"
)
_ASTRAL: Final = re.compile("[\U00010000-\U0010ffff]")


def _canonical_index(text: str) -> int | None:
    """`String(parseInt(s)) === s && n >= 0`: the decimal spelling JavaScript would print back."""
    if not text or not text.isascii() or not text.isdigit() or (text[0] == "0" and len(text) > 1):
        return None
    number = int(text)
    return number if number <= _MAX_SAFE_INTEGER else None


def _is_array_index(key: str) -> bool:
    index = _canonical_index(key) if key[:1].isdigit() else None
    return index is not None and index < 2**32 - 1


def _js_keys(obj: Mapping[str, Any]) -> list[str]:
    """`Object.keys` order: array-index keys ascending first, then the rest in insertion order."""
    keys = list(obj)
    indexes = [key for key in keys if _is_array_index(key)]
    if not indexes:
        return keys
    return sorted(indexes, key=int) + [key for key in keys if not _is_array_index(key)]


def _js_is_nan_key(key: str) -> bool:
    """`isNaN(Number(key))`, which decides whether sift walks into an array or indexes it."""
    return _JS_NUMERIC.fullmatch(key) is None


def _js_number_string(number: float) -> str:
    if number != number:
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number.is_integer() and abs(number) < 1e21:
        return str(int(number))
    text = repr(number)
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    power = int(exponent)
    if -7 < power < 21:
        return format(number, "f").rstrip("0").rstrip(".")
    return f"{mantissa}e{'+' if power > 0 else '-'}{abs(power)}"


def _js_string(value: Any, *, in_array: bool = False) -> str:
    """`String(value)`, as the template literal in `$select` and `parseInt` apply it."""
    if value is None or value is _MISSING:
        return "" if in_array else ("null" if value is None else "undefined")
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) is int:
        return str(value) if abs(value) < 10**21 else _js_number_string(float(value))
    if type(value) is float:
        return _js_number_string(value)
    if type(value) is str:
        return value
    if type(value) is list:
        return ",".join(_js_string(item, in_array=True) for item in value)
    return "[object Object]"


def _js_parse_int(value: Any) -> int | None:
    """`parseInt(value, 10)`, with None for NaN."""
    if type(value) is float and math.isfinite(value) and (value == 0 or 1e-6 <= abs(value) < 1e21):
        return int(value)
    match = _INT_PREFIX.match(_js_string(value))
    return int(match.group(1)) if match else None


def _js_truthy(value: Any) -> bool:
    if value is None or value is _MISSING or value is False or value == "":
        return False
    if type(value) in (int, float):
        return bool(value == value and value != 0)
    return True


def _js_typeof(value: Any) -> str:
    kind = type(value)
    if kind is bool:
        return "boolean"
    if kind is int or kind is float:
        return "number"
    if kind is str:
        return "string"
    return "undefined" if value is _MISSING else "object"


def _utf16(text: str) -> str:
    """A string whose code-point order is the UTF-16 code-unit order JavaScript compares and sorts by."""
    if text.isascii():
        return text

    def pair(match: re.Match[str]) -> str:
        code = ord(match.group()) - 0x10000
        return chr(0xD800 + (code >> 10)) + chr(0xDC00 + (code & 0x3FF))

    return _ASTRAL.sub(pair, text)


def _json_copy(value: Any) -> Any:
    """`JSON.parse(JSON.stringify(value))` for JSON data: callers never get the stored object."""
    if type(value) is dict:
        return {key: _json_copy(item) for key, item in value.items()}
    if type(value) is list:
        return [_json_copy(item) for item in value]
    return value


def _js_ordered(value: Any) -> Any:
    """A copy in the key order `JSON.stringify` would print (error data crosses the wire)."""
    if type(value) is dict:
        return {key: _js_ordered(value[key]) for key in _js_keys(value)}
    if type(value) is list:
        return [_js_ordered(item) for item in value]
    return value


# ------------------------------------------------------------------------------------------------------------
# 1. Query strings, as qs.parse with its defaults (koa-qs; Express's extended parser)
# ------------------------------------------------------------------------------------------------------------

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
    for key in _js_keys(flat):
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
        return {key: _compact(value[key]) for key in _js_keys(value)}
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
                index = _canonical_index(clean) if clean != root else None
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
        if not _js_truthy(source):
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
                for key in _js_keys(overflowed):
                    old = _js_parse_int(key)
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
        for key in _js_keys(items):
            value = items[key]
            merged[key] = self.merge(merged[key], value) if key in merged else value
            if self.is_overflow(items) and not self.is_overflow(merged):
                self.mark(merged, _max_numeric_index(merged, self.max_index(items)))
            if self.is_overflow(merged):
                number = _canonical_index(key)
                if number is not None and number > self.max_index(merged):
                    self.mark(merged, number)
            if self.is_conflict(merged) and _INTEGER_KEY.fullmatch(key) and int(key) > self.conflict_index(merged):
                self.mark_conflict(merged, int(key))
        return merged


# ------------------------------------------------------------------------------------------------------------
# 2. Coercing REST strings by the service's JSON Schema
# ------------------------------------------------------------------------------------------------------------

_NUMBER: Final = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_DATE_TIME: Final = re.compile(
    r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2}))?)?"
    r"(?:[Tt ](?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?)?"
    r"(?P<zone>[Zz]|[+\- ]\d{2}:?\d{2})?"
)


@dataclass(frozen=True, slots=True)
class FieldType:
    """What a REST string may become for one field: the JSON types its schema allows, and date-time or not.

    For an array field the item types are included, since a scalar query value matches array elements.
    """

    types: frozenset[str]
    date_time: bool = False

    def coerce(self, text: str) -> Any:
        """The typed value for a REST string, or the string itself when it fits no allowed type.

        A field that also allows strings keeps "12" and "true" as strings (as ajv's coerceTypes does);
        "null" becomes None wherever null is allowed; date-times become canonical ISO UTC with milliseconds,
        the form stored records use, so they compare correctly as strings.
        """
        types = self.types
        if text == "null" and "null" in types:
            return None
        if "string" not in types:
            if "boolean" in types and text in ("true", "false"):
                return text == "true"
            if ("number" in types or "integer" in types) and (number := _parse_number(text)) is not None:
                return number
        if self.date_time and (instant := _canonical_date_time(text)) is not None:
            return instant
        return text


def _parse_number(text: str) -> int | float | None:
    if _NUMBER.fullmatch(text) is None:
        return None
    if "." not in text and "e" not in text and "E" not in text:
        return int(text)
    number = float(text)
    return number if math.isfinite(number) else None


def _canonical_date_time(text: str) -> str | None:
    """`2024-01-01` -> `2024-01-01T00:00:00.000Z`; offsets are applied, a space before one read as `+`."""
    match = _DATE_TIME.fullmatch(text.strip())
    if match is None:
        return None
    part = match.groupdict()
    zone = part["zone"]
    tzinfo: timezone = UTC
    if zone and zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        tzinfo = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    fraction = (part["fraction"] or "") + "000"
    try:
        moment = datetime(
            int(part["year"]),
            int(part["month"] or 1),
            int(part["day"] or 1),
            int(part["hour"] or 0),
            int(part["minute"] or 0),
            int(part["second"] or 0),
            int(fraction[:3]) * 1000,
            tzinfo=tzinfo,
        ).astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def coerce_query(query: Any, field_types: Mapping[str, FieldType]) -> Any:
    """A copy of the query with string values turned into the types the fields hold; never raises.

    Applies to equality values, to operands of $in $nin $lt $lte $gt $gte $ne, inside `$or`/`$and` items and
    to nested equality objects (by dotted path). Filters ($limit, $skip, $sort, $select) are left to
    `parse_find_params`. A value that fits no type stays a string and then matches nothing. Operator objects
    and `$or` items holding an operator Feathers refuses are left untouched, so the BadRequest shows what the
    client sent. Typed (socket) values pass through unchanged, so this is safe on both transports.
    """
    if type(query) is not dict:
        return query
    return _coerce_conditions(query, field_types)


def _coerce_conditions(query: dict[str, Any], field_types: Mapping[str, FieldType]) -> dict[str, Any]:
    coerced: dict[str, Any] = {}
    for key, value in query.items():
        if key in _GROUPS and type(value) is list:
            coerced[key] = [
                _coerce_conditions(item, field_types)
                if type(item) is dict and not any(k[:1] == "$" and k not in OPERATORS for k in item)
                else item
                for item in value
            ]
        elif key[:1] == "$":
            coerced[key] = value
        else:
            coerced[key] = _coerce_field(key, value, field_types)
    return coerced


def _coerce_field(path: str, value: Any, field_types: Mapping[str, FieldType]) -> Any:
    kind = type(value)
    if kind is dict:
        if any(key[:1] == "$" for key in value):
            field_type = field_types.get(path)
            if field_type is None or any(key not in _FIELD_OPERATORS for key in value):
                return value
            return {key: _coerce_operand(operand, field_type) for key, operand in value.items()}
        return {key: _coerce_field(f"{path}.{key}", item, field_types) for key, item in value.items()}
    field_type = field_types.get(path)
    if field_type is None:
        return value
    return _coerce_operand(value, field_type)


def _coerce_operand(value: Any, field_type: FieldType) -> Any:
    if type(value) is str:
        return field_type.coerce(value)
    if type(value) is list:
        return [field_type.coerce(item) if type(item) is str else item for item in value]
    return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if type(value) is bool:
        return "boolean"
    if type(value) is int:
        return "integer"
    if type(value) is float:
        return "number"
    if type(value) is str:
        return "string"
    return "array" if type(value) is list else "object"


_Found = dict[str, tuple[set[str], list[bool]]]  # path -> (types, [date_time]) while reading a schema


@dataclass(frozen=True, slots=True)
class _SchemaReader:
    """Reads one service schema; `$ref`s are looked up in it, or handed to `resolve` when not local."""

    root: Mapping[str, Any]
    resolve: Callable[[str], Mapping[str, Any] | None] | None

    def deref(self, node: Any) -> Mapping[str, Any] | None:
        for _ in range(16):
            if not isinstance(node, Mapping):
                return None
            reference = node.get("$ref")
            if not isinstance(reference, str):
                return node
            target = self._lookup(reference)
            siblings = {key: value for key, value in node.items() if key != "$ref"}
            if target is None:
                return siblings
            node = {"allOf": [target, siblings]} if siblings else target
        return None

    def _lookup(self, reference: str) -> Mapping[str, Any] | None:
        if reference.startswith("#"):
            node: Any = self.root
            for token in reference[1:].split("/")[1:]:
                token = token.replace("~1", "/").replace("~0", "~")
                if isinstance(node, Mapping):
                    node = node.get(token)
                elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                    node = node[int(token)]
                else:
                    return None
            return node if isinstance(node, Mapping) else None
        return self.resolve(reference) if self.resolve is not None else None

    def types_of(self, node: Any, depth: int = 0) -> tuple[set[str], bool]:
        schema = self.deref(node)
        if schema is None or depth > 16:
            return set(), False
        types: set[str] = set()
        date_time = schema.get("format") == "date-time"
        declared = schema.get("type")
        if isinstance(declared, str):
            types.add(declared)
        elif isinstance(declared, list):
            types.update(item for item in declared if isinstance(item, str))
        if "const" in schema:
            types.add(_json_type(schema["const"]))
        if isinstance(schema.get("enum"), list):
            types.update(_json_type(item) for item in schema["enum"])
        for keyword in ("allOf", "anyOf", "oneOf"):
            for branch in schema.get(keyword) or ():
                branch_types, branch_date_time = self.types_of(branch, depth + 1)
                types |= branch_types
                date_time = date_time or branch_date_time
        if not types:
            types.add("object" if "properties" in schema else "array" if "items" in schema else "")
            types.discard("")
        if "array" in types and isinstance(schema.get("items"), Mapping):
            item_types, item_date_time = self.types_of(schema["items"], depth + 1)
            types |= item_types
            date_time = date_time or item_date_time
        return types, date_time

    def collect(self, node: Any, prefix: str, found: _Found, depth: int) -> None:
        schema = self.deref(node)
        if schema is None or depth > 8:
            return
        properties = schema.get("properties")
        if isinstance(properties, Mapping):
            for name, child in properties.items():
                path = f"{prefix}{name}"
                types, date_time = self.types_of(child)
                known_types, known_date_time = found.setdefault(path, (set(), [False]))
                known_types |= types
                known_date_time[0] = known_date_time[0] or date_time
                self.collect(child, f"{path}.", found, depth + 1)
                resolved = self.deref(child)
                if resolved is not None and isinstance(resolved.get("items"), Mapping):
                    self.collect(resolved["items"], f"{path}.", found, depth + 1)
        for keyword in ("allOf", "anyOf", "oneOf"):
            for branch in schema.get(keyword) or ():
                self.collect(branch, prefix, found, depth + 1)


def field_types_from_schema(
    schema: Mapping[str, Any], *, resolve: Callable[[str], Mapping[str, Any] | None] | None = None
) -> dict[str, FieldType]:
    """Field path -> FieldType for every property of a record schema; nested objects give dotted paths.

    Reads `type` (a string or a list), `const`, `enum`, `format: date-time`, `allOf`/`anyOf`/`oneOf` (types
    united) and array `items` (element types added; object items give dotted paths, as sift walks arrays).
    Local `$ref`s ("#/...") are followed; others go to `resolve(ref)`, or are skipped without it. A property
    whose type cannot be told is left out, so its values stay strings.
    """
    found: _Found = {}
    _SchemaReader(schema, resolve).collect(schema, "", found, 0)
    return {
        path: FieldType(frozenset(types), date_time[0])
        for path, (types, date_time) in found.items()
        if types or date_time[0]
    }


# ------------------------------------------------------------------------------------------------------------
# 3. Matching, as sift does it for the operators Feathers lets through
# ------------------------------------------------------------------------------------------------------------

_Test = Callable[[list[Any]], bool]  # decides on all the values a field path reaches in one record
_Predicate = Callable[[Any], bool]


def _get(item: Any, key: str) -> Any:
    """`item[key]` for JSON values, with _MISSING for undefined."""
    kind = type(item)
    if kind is dict:
        return item.get(key, _MISSING)
    if kind is list or kind is str:
        units = _utf16(item) if kind is str else item  # a JavaScript string is indexed by UTF-16 code unit
        if key == "length":
            return len(units)
        index = _canonical_index(key)
        return units[index] if index is not None and index < len(units) else _MISSING
    return _MISSING


def _walk(
    item: Any,
    path: tuple[str, ...],
    nan: tuple[bool, ...],
    depth: int,
    key: str | int | None,
    owner: Any,
    found: list[Any],
) -> None:
    """sift's `walkKeyPathValues`: every value a dotted path reaches, array elements before the array."""
    end = len(path)
    if type(item) is list and (depth == end or (nan[depth] and path[depth] != "length")):
        for index, element in enumerate(item):
            _walk(element, path, nan, depth, index, item, found)
    if depth == end or item is None or item is _MISSING:
        if type(owner) is list and type(key) is str and key != "length":
            if nan[depth - 1]:
                return  # `a.b` on the array itself: not a value (sift #273)
            position = _canonical_index(key)
            if position is None or position >= len(owner):
                found.append(_UNSET_INDEX)
                return
        found.append(item)
        return
    current = path[depth]
    _walk(_get(item, current), path, nan, depth + 1, current, item, found)


def _reached(item: Any, path: tuple[str, ...], nan: tuple[bool, ...]) -> list[Any]:
    if len(path) == 1 and type(item) is dict:
        value = item.get(path[0], _MISSING)
        if type(value) is not list:
            return [value]
    found: list[Any] = []
    _walk(item, path, nan, 0, None, None, found)
    return found


def _eq(expected: Any, actual: Any) -> bool:
    """sift's `equals`: null matches null and undefined, no type coercion, deep for arrays and objects."""
    if expected is None or expected is _MISSING:
        return actual is None or actual is _MISSING
    if actual is None or actual is _MISSING:
        return False
    kind, other = type(expected), type(actual)
    if kind is str or other is str or kind is bool or other is bool:
        return kind is other and expected == actual
    if kind is int or kind is float:
        return (other is int or other is float) and expected == actual
    if kind is list:
        return (
            other is list
            and len(expected) == len(actual)
            and all(_eq(a, b) for a, b in zip(expected, actual, strict=True))
        )
    if kind is dict:
        return (
            other is dict
            and len(expected) == len(actual)
            and all(_eq(value, actual.get(key, _MISSING)) for key, value in expected.items())
        )
    return bool(expected == actual)


def _compile_equals(expected: Any) -> _Test:
    if type(expected) is str:
        return lambda values: expected in values
    return lambda values: any(_eq(expected, value) for value in values if value is not _UNSET_INDEX)


def _compile_in(name: str, operand: Any) -> _Test:
    options = operand if type(operand) is list else [operand]
    for option in options:
        if type(option) is dict and any(key[:1] == "$" for key in option):
            raise GeneralError(f"cannot nest $ under {name}")
    strings = frozenset(option for option in options if type(option) is str)
    others = [option for option in options if type(option) is not str]

    def contains(values: list[Any]) -> bool:
        for value in values:
            if type(value) is str:
                if value in strings:
                    return True
                continue
            candidate = _MISSING if value is _UNSET_INDEX else value
            if any(_eq(option, candidate) for option in others):
                return True
        return False

    if name == "$nin":
        return lambda values: not contains(values)
    return contains


_COMPARISONS: Final = {"$lt": operator.lt, "$lte": operator.le, "$gt": operator.gt, "$gte": operator.ge}


def _js_to_number(value: Any) -> float:
    """`ToNumber` of a primitive; NaN for text that is not a JavaScript numeric literal."""
    if value is None:
        return 0.0
    if type(value) is not str:
        return float(value)
    text = value.strip()
    if _JS_NUMERIC.fullmatch(text) is None:
        return math.nan
    if not text:
        return 0.0
    if text[:2].lower() in ("0x", "0b", "0o"):
        return float(int(text[2:], {"x": 16, "b": 2, "o": 8}[text[1].lower()]))
    return float(text.replace("Infinity", "inf"))


def _js_relational(left: Any, right: Any, compare: Callable[[Any, Any], bool]) -> bool:
    """`left < right` and friends on JSON values: ToPrimitive, then strings by code unit, else ToNumber."""
    left = _js_string(left) if type(left) in (list, dict) else left
    right = _js_string(right) if type(right) in (list, dict) else right
    if type(left) is str and type(right) is str:
        return compare(_utf16(left), _utf16(right))
    a, b = _js_to_number(left), _js_to_number(right)
    return not (math.isnan(a) or math.isnan(b)) and compare(a, b)


def _compile_comparison(name: str, operand: Any) -> _Test:
    """`$lt` and friends: only values of the operand's JavaScript type compare (undefined counts as null)."""
    kind = _js_typeof(operand)
    compare = _COMPARISONS[name]
    if kind == "string":
        bound = _utf16(operand)
        return lambda values: any(type(v) is str and compare(_utf16(v), bound) for v in values)
    if kind != "object":
        return lambda values: any(
            _js_typeof(v) == kind and compare(v, operand) for v in values if v is not _UNSET_INDEX
        )
    inclusive = name in ("$lte", "$gte")

    def test(values: list[Any]) -> bool:  # null, array and object bounds: JavaScript's coercing comparison
        for value in values:
            candidate = None if value is _MISSING else value
            if value is _UNSET_INDEX or _js_typeof(candidate) != "object":
                continue
            if candidate is None and (not inclusive or operand is None):
                if inclusive:
                    return True  # `b === params` for null
                continue  # `b != null && ...`
            if _js_relational(candidate, operand, compare):
                return True
        return False

    return test


def _compile_operator(name: str, operand: Any) -> _Test:
    if name == "$ne":
        return lambda values: not any(_eq(operand, _MISSING if value is _UNSET_INDEX else value) for value in values)
    if name in ("$in", "$nin"):
        return _compile_in(name, operand)
    return _compile_comparison(name, operand)


def _compile_group(name: str, operand: Any) -> _Test:
    if type(operand) is not list:
        raise GeneralError(f"Malformed query. {name} must be an array.")
    if not operand:
        raise GeneralError("$and/$or/$nor must be a nonempty array")
    branches = [_compile_query(item) for item in operand]
    if name == "$or":
        return lambda values: any(branch(value) for value in values for branch in branches)
    return lambda values: all(any(branch(value) for value in values) for branch in branches)


def _compile_field(key: str, condition: Any) -> _Predicate:
    path = tuple(key.split("."))
    nan = tuple(_js_is_nan_key(segment) for segment in path)
    if type(condition) is dict and any(name[:1] == "$" for name in condition):
        tests: list[_Test] = []
        nested = False
        for name in _js_keys(condition):
            if name in _GROUPS:
                raise GeneralError(f"Malformed query. {name} cannot be matched against property.")
            if name in _FIELD_OPERATORS:
                tests.append(_compile_operator(name, condition[name]))
            elif name[:1] == "$":
                raise GeneralError(f"Unsupported operation: {name}")
            else:
                _compile_field(name, condition[name])
                nested = True
        if nested:
            raise GeneralError("Property queries must contain only operations, or exact objects.")
    else:
        tests = [_compile_equals(condition)]
    if len(tests) == 1:
        test = tests[0]
        return lambda item: test(_reached(item, path, nan))

    def predicate(item: Any) -> bool:
        values = _reached(item, path, nan)
        return all(test(values) for test in tests)

    return predicate


def _compile_query(query: Any) -> _Predicate:
    """A predicate for one query object (sift's createQueryOperation) applied to one item."""
    if type(query) is list:
        query = {str(index): item for index, item in enumerate(query)}
    if type(query) is not dict:
        expected = query
        return lambda item: any(_eq(expected, value) for value in _reached(item, (), ()))
    own: list[_Test] = []
    fields: list[_Predicate] = []
    for key in _js_keys(query):
        if key in _GROUPS:
            own.append(_compile_group(key, query[key]))
        elif key in _FIELD_OPERATORS:
            own.append(_compile_operator(key, query[key]))
        elif key[:1] == "$":
            raise GeneralError(f"Unsupported operation: {key}")
        else:
            fields.append(_compile_field(key, query[key]))
    if not own:
        if len(fields) == 1:
            return fields[0]
        return lambda item: all(check(item) for check in fields)

    def predicate(item: Any) -> bool:
        values = _reached(item, (), ())
        return all(test(values) for test in own) and all(check(item) for check in fields)

    return predicate


def compile_matcher(query: Mapping[str, Any]) -> Callable[[Any], bool]:
    """A reusable record predicate for the conditions of a query (no filters, no validation).

    Raises GeneralError where sift throws (empty `$or`, `$or` under a field, operators mixed with plain keys).
    """
    return _compile_query(dict(query))


def matches(record: Mapping[str, Any], query: Mapping[str, Any]) -> bool:
    """Whether one record satisfies the conditions of a query, with sift's MongoDB-like semantics."""
    return _compile_query(dict(query))(record)


# ------------------------------------------------------------------------------------------------------------
# 4. Filters, validation, sorting, $select and the page envelope
# ------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FindParams:
    """A validated query split the way the memory adapter splits it."""

    query: Mapping[str, Any]
    """The conditions: every field key plus `$or`/`$and`."""
    limit: int
    skip: int
    """`$skip` parsed as an integer, 0 when missing or not a number; negative counts from the end (slice)."""
    sort: tuple[tuple[str, int], ...]
    """(field path, direction) in priority order; criteria that cannot order anything are dropped."""
    select: tuple[str, ...] | None
    matcher: Callable[[Any], bool] = field(repr=False, compare=False)


def _invalid_query_parameter(key: str, holder: dict[str, Any]) -> FeathersError:
    """BadRequest(message, holder) as @feathersjs/errors builds it: `message`/`errors` keys are lifted out."""
    data: dict[str, Any] = _js_ordered(holder)
    message = data.pop("message", None)
    errors = data.pop("errors", None)
    text = _js_string(message) if _js_truthy(message) else f"Invalid query parameter {key}"
    return BadRequest(text, data=data, errors=errors)


def _validate(value: Any) -> None:
    """adapter-commons `validateQueryProperty` (5.0.50: also walks into arrays)."""
    if type(value) is list:
        for item in value:
            _validate(item)
        return
    if type(value) is not dict:
        return
    for key in _js_keys(value):
        if key[:1] == "$" and key not in OPERATORS:
            raise _invalid_query_parameter(key, value)
        _validate(value[key])


def _parse_sort(value: Any) -> tuple[tuple[str, int], ...]:
    """The criteria that order anything: a 0 direction is skipped; a NaN one makes the JavaScript comparator
    return NaN (taken as "equal"), which ends the comparison there, so later criteria never apply."""
    if type(value) is not dict:
        return ()
    criteria: list[tuple[str, int]] = []
    stopped = False
    for key in _js_keys(value):
        direction = value[key]
        if type(direction) in (dict, list):
            _validate(direction)
            stopped = True
            continue
        parsed = _js_parse_int(direction)
        if parsed is None:
            stopped = True
        elif parsed and not stopped:
            criteria.append((key, parsed))
    return tuple(criteria)


def _parse_select(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if type(value) is list:
        return tuple(_js_string(item) for item in value)
    _validate(value)
    if type(value) is dict:
        return tuple(_js_keys(value))
    return (_js_string(value),)


def _limit(value: Any, default_limit: int, max_limit: int) -> int:
    """adapter-commons `getLimit` with `paginate: {default, max}`."""
    parsed = _js_parse_int(value) if value is not _MISSING else None
    lower = parsed if parsed is not None and parsed >= 0 else default_limit
    return min(lower, max_limit)


def parse_find_params(query: Any, *, default_limit: int = 25, max_limit: int = 100) -> FindParams:
    """Validate a query and split it into conditions and paging, raising Feathers' exact BadRequests.

    An unknown top-level `$x` -> "Invalid filter value $x" (no data); an unknown operator anywhere below ->
    "Invalid query parameter $x" with `data` = the object holding it. `None` counts as an empty query;
    anything else that is not an object is refused.
    """
    for name, number in (("default_limit", default_limit), ("max_limit", max_limit)):
        if type(number) is not int or number < 0:
            raise ValueError(f"{name} must be a non-negative int, got {number!r}")
    if query is None:
        query = {}
    if not isinstance(query, Mapping):
        raise BadRequest("Invalid query: expected an object")
    sort = _parse_sort(query.get("$sort"))
    limit = _limit(query.get("$limit", _MISSING), default_limit, max_limit)
    select_fields = _parse_select(query.get("$select"))
    for group in ("$or", "$and"):
        if group in query:
            _validate(query[group])
    for key in _js_keys(query):
        if key[:1] == "$":
            if key not in FILTERS:
                raise BadRequest(f"Invalid filter value {key}")
        else:
            _validate(query[key])
    conditions = {key: query[key] for key in query if key not in _PAGING}
    skip = _js_parse_int(query["$skip"]) if "$skip" in query else None
    return FindParams(
        query=conditions,
        limit=limit,
        skip=skip or 0,
        sort=sort,
        select=select_fields,
        matcher=_compile_query(conditions),
    )


def _sort_key(value: Any) -> tuple[Any, ...]:
    """adapter-commons `compare` as a key: undefined/null < number < string < boolean < array < object."""
    kind = type(value)
    if value is None or value is _MISSING:
        return (0,)
    if kind is bool:
        return (4, value)
    if kind is int or kind is float:
        return (2, value)
    if kind is str:
        return (3, _utf16(value))
    if kind is list:
        return (6, tuple(_sort_key(item) for item in value))
    if kind is dict:
        return (7, tuple(_sort_key(value[key]) for key in sorted(value, key=_utf16)))
    return (8,)


def _sort_value_getter(path: str) -> Callable[[Any], Any]:
    if "." not in path:
        return lambda record: record.get(path, _MISSING) if type(record) is dict else _MISSING
    keys = path.split(".")

    def getter(record: Any) -> Any:
        value = record
        for key in keys:
            if value is None or value is _MISSING:
                return _MISSING
            value = _get(value, key)
        return value

    return getter


def _sort_key_for(path: str) -> Callable[[Any], tuple[Any, ...]]:
    read = _sort_value_getter(path)
    return lambda record: _sort_key(read(record))


def _sort_in_place(records: list[Any], criteria: Sequence[tuple[str, int]]) -> None:
    """Stable multi-key sort: one stable pass per criterion, least significant first."""
    for path, direction in reversed(criteria):
        records.sort(key=_sort_key_for(path), reverse=direction < 0)


def select(record: Mapping[str, Any], fields: Sequence[str] | None, *, id_field: str = "_id") -> dict[str, Any]:
    """A deep copy of the record, cut to `fields` plus the id field when fields are given (`_.pick` order)."""
    if fields is None:
        return {key: _json_copy(value) for key, value in record.items()}
    picked: dict[str, Any] = {}
    for name in (*fields, id_field):
        if name in record and name not in picked:
            picked[name] = _json_copy(record[name])
    return picked


def find(records: Iterable[Mapping[str, Any]], params: FindParams, *, id_field: str = "_id") -> dict[str, Any]:
    """The page envelope {total, limit, skip, data}, in that key order, over records in store order."""
    matched = [record for record in records if params.matcher(record)] if params.query else list(records)
    if params.sort:
        _sort_in_place(matched, params.sort)
    page = matched[params.skip :][: params.limit]  # Array.slice: a negative $skip keeps the last -skip
    return {
        "total": len(matched),
        "limit": params.limit,
        "skip": params.skip,
        "data": [select(record, params.select, id_field=id_field) for record in page],
    }


def check_query_for_get(query: Any) -> FindParams:
    """Validate the query of get/patch/remove exactly as find does; the result carries matcher and select."""
    return parse_find_params(query)


def record_matches_query(record: Mapping[str, Any], query: Any) -> bool:
    """Whether a record found by id still satisfies the call's query; False means NotFound for that id."""
    return parse_find_params(query).matcher(record)
