"""Coercing REST query values by the service's JSON Schema.

A REST query string carries only strings (`n=5` arrives as "5"), while a socket call carries typed JSON; a
Feathers app converts REST values with its query schema before the memory adapter compares them. The mock has
each service's record schema, so it turns the strings into the types the fields hold, and the same query
matches the same records on both transports.

Deliberate departure: a date-time query value without an offset is read as UTC (JavaScript would read it as
local time).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

from mockserver.server.query._match import FIELD_OPERATORS, GROUPS, OPERATORS

__all__ = ["FieldType", "coerce_query", "field_types_from_schema"]

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
        if key in GROUPS and type(value) is list:
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
            if field_type is None or any(key not in FIELD_OPERATORS for key in value):
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
