"""A compiler from the contract's JSON Schemas to hypothesis strategies, for the subset `schemas/` uses.

Every value is valid by construction: each keyword becomes a bound of a strategy (`minimum` of `integers`, a
`pattern` becomes `from_regex(..., fullmatch=True)`, `required` and `minProperties` decide which keys are
drawn), never a filter that throws draws away. Composition keywords are rewritten before compiling: `allOf`
members are intersected into one schema, `anyOf`/`oneOf` become one `one_of` branch per member (`oneOf` only
when a `const` or `enum` property proves the members disjoint), and `if`/`then`/`else` on a property's
`const`/`enum` becomes one branch per value of that property. `const` and `enum` values are checked against
the rest of their schema once, when the strategy is built.

A keyword, format or pattern outside the subset raises `UnsupportedSchemaError` at build time, naming its place
in the schema: a schema change that needs more of JSON Schema fails loudly in `tests/unit/test_strategies.py`
instead of drawing values that are silently wrong.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from hypothesis import strategies as st
from jsonschema import Draft202012Validator

__all__ = ["UnsupportedSchemaError", "from_schema"]

Schema = dict[str, Any]
Strategy = st.SearchStrategy[Any]

_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$defs", "$comment", "title", "description", "examples", "default", "deprecated"}
)
_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")
_KEYWORDS_OF_TYPE = {
    "integer": frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}),
    "number": frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}),
    "string": frozenset({"minLength", "maxLength", "pattern", "format"}),
    "array": frozenset({"items", "minItems", "maxItems", "uniqueItems"}),
    "object": frozenset(
        {"properties", "required", "additionalProperties", "minProperties", "maxProperties", "dependentRequired"}
    ),
}
_SUPPORTED = frozenset(
    {"type", "const", "enum", "not", "allOf", "anyOf", "oneOf", "if", "then", "else"}.union(*_KEYWORDS_OF_TYPE.values())
)
_NEVER: Schema = {"not": {}}
"""The schema nothing satisfies (a server-managed field in a request)."""

# Bounds that keep drawn values small enough to be useful and JSON-friendly.
_MAX_EXTRA_KEYS = 3
_MAX_ITEMS = 8
_SAFE_INTEGER = 2**53 - 1
_TEXT = st.characters(codec="utf-8", exclude_characters="\x00")

_D7 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"
_D7_OR_EMPTY = r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)?$"
_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_MS_2000 = 946_684_800_000
_MS_2100 = 4_102_444_800_000


def _iso_ms(ms: int) -> str:
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


_TIMESTAMPS = st.integers(min_value=_MS_2000, max_value=_MS_2100 - 1).map(_iso_ms)
"""D7 timestamps (milliseconds, UTC, 2000-2099), which satisfy both `format: date-time` and the D7 pattern."""

_EMAILS = st.builds(
    "{}@{}.{}".format,
    st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,30}", fullmatch=True),
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?", fullmatch=True),
    st.sampled_from(("com", "org", "net", "io", "example")),
)
"""local@domain.tld, at most 82 characters: `format: email`, the users.json pattern and `maxLength: 254` hold."""


class _Format:
    """A format's strategy, and the string keywords its values are known to satisfy (so none is left unchecked)."""

    def __init__(self, strategy: Strategy, *, patterns: frozenset[str], max_length: int) -> None:
        self.strategy = strategy
        self.patterns = patterns
        self.max_length = max_length


_FORMATS: Mapping[str, _Format] = {
    "date-time": _Format(_TIMESTAMPS, patterns=frozenset({_D7}), max_length=24),
    "email": _Format(_EMAILS, patterns=frozenset({_EMAIL}), max_length=82),
    "uuid": _Format(st.uuids().map(str), patterns=frozenset(), max_length=36),
    "ipv4": _Format(st.ip_addresses(v=4).map(str), patterns=frozenset(), max_length=15),
}
_PATTERNS: Mapping[str, Strategy] = {
    # from_regex would draw any Unicode digit for \d; these draw the timestamps the server really sends.
    _D7: _TIMESTAMPS,
    _D7_OR_EMPTY: st.one_of(st.just(""), _TIMESTAMPS),
}


class UnsupportedSchemaError(ValueError):
    """The schema uses JSON Schema beyond what the strategies compile; the message names the place."""


def from_schema(schema: Schema, *, where: str = "") -> Strategy:
    """A strategy for a `$ref`-free schema (`Contract.resolved_schema`); raises `UnsupportedSchemaError` now."""
    return _compile(schema, where or "#")


# --- rewriting ----------------------------------------------------------------------------------------------------


def _unsupported(where: str, what: str) -> UnsupportedSchemaError:
    return UnsupportedSchemaError(f"{where}: {what} is not supported by mockserver.strategies")


def _clean(schema: Any, where: str) -> Schema:
    if schema is True:
        return {}
    if schema is False:
        return dict(_NEVER)
    if not isinstance(schema, dict):
        raise _unsupported(where, f"the schema {schema!r}")
    unknown = sorted(set(schema) - _SUPPORTED - _ANNOTATIONS)
    if unknown:
        raise _unsupported(where, f"the keyword {unknown[0]!r}")
    return {key: value for key, value in schema.items() if key not in _ANNOTATIONS}


def _is_never(schema: Schema) -> bool:
    return schema.get("not") == {}


def _merge(a: Schema, b: Schema, where: str) -> Schema:
    """The intersection of two cleaned schemas: a value valid under the result is valid under both."""
    if _is_never(a) or _is_never(b):
        return dict(_NEVER)
    out = dict(a)
    for key, value in b.items():
        if key == "properties":
            continue  # below: each side's additionalProperties applies to the other side's names too
        if key not in out:
            out[key] = value
            continue
        mine = out[key]
        if mine == value:
            continue
        if key == "type":
            out[key] = _common_types(mine, value)
        elif key in ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"):
            out[key] = max(mine, value)
        elif key in ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"):
            out[key] = min(mine, value)
        elif key == "required":
            out[key] = [*mine, *(name for name in value if name not in mine)]
        elif key == "uniqueItems":
            out[key] = mine or value
        elif key == "allOf":
            out[key] = [*mine, *value]
        elif key == "enum":
            out[key] = [v for v in mine if any(_same(v, w) for w in value)]
        elif key == "const":
            return dict(_NEVER)  # two different constants
        elif key == "items":
            out[key] = _merge(_clean(mine, where), _clean(value, where), f"{where}/items")
        elif key == "additionalProperties":
            out[key] = _merge(_clean(mine, where), _clean(value, where), f"{where}/additionalProperties")
        elif key == "dependentRequired":
            merged = dict(mine)
            for name, needs in value.items():
                merged[name] = [*merged.get(name, []), *(n for n in needs if n not in merged.get(name, []))]
            out[key] = merged
        else:
            raise _unsupported(where, f"two different {key!r} values to intersect ({mine!r} and {value!r})")
    if "properties" in a or "properties" in b:
        out["properties"] = _merge_properties(a, b, where)
    return out


def _common_types(a: str | list[str], b: str | list[str]) -> list[str]:
    first, second = ([a] if isinstance(a, str) else a), ([b] if isinstance(b, str) else b)
    common = [t for t in first if t in second]
    if "integer" not in common and (
        ("integer" in first and "number" in second) or ("number" in first and "integer" in second)
    ):
        common.append("integer")  # every integer is a number
    return common


def _merge_properties(a: Schema, b: Schema, where: str) -> Schema:
    """Each side's property schema falls back to its additionalProperties for names only the other side lists."""
    merged: Schema = {}
    a_props, b_props = a.get("properties", {}), b.get("properties", {})
    for name in [*a_props, *(n for n in b_props if n not in a_props)]:
        place = f"{where}/properties/{name}"
        mine = _clean(a_props.get(name, a.get("additionalProperties", True)), place)
        theirs = _clean(b_props.get(name, b.get("additionalProperties", True)), place)
        merged[name] = _merge(mine, theirs, place)
    return merged


def _flatten(schema: Schema, where: str) -> Schema:
    """Intersect `allOf` members into the schema; collect `if`/`then`/`else` triples under `_conditionals`."""
    schema = _clean(schema, where)
    conditionals: list[tuple[Schema, Schema, Schema]] = []
    if "if" in schema:
        conditionals.append((schema.pop("if"), schema.pop("then", {}), schema.pop("else", {})))
    elif "then" in schema or "else" in schema:
        schema.pop("then", None)
        schema.pop("else", None)  # without `if` they have no effect
    members = schema.pop("allOf", [])
    for index, member in enumerate(members):
        flat = _flatten(member, f"{where}/allOf/{index}")
        conditionals.extend(flat.pop("_conditionals", []))
        schema = _merge(schema, flat, where)
    if conditionals:
        schema["_conditionals"] = conditionals
    return schema


def _discriminator(condition: Any, where: str) -> tuple[str, list[Any]]:
    """`{"properties": {P: {"const": v}}, "required": [P]}` (or an enum) -> (P, values): the one `if` we compile."""
    condition = _clean(condition, where)
    properties = condition.get("properties", {})
    if (
        set(condition) != {"properties", "required"}
        or len(properties) != 1
        or condition["required"] != list(properties)
    ):
        raise _unsupported(where, "an `if` other than one required property's const or enum")
    ((name, rule),) = properties.items()
    rule = _clean(rule, f"{where}/properties/{name}")
    if set(rule) == {"const"}:
        return name, [rule["const"]]
    if set(rule) == {"enum"}:
        return name, list(rule["enum"])
    raise _unsupported(where, "an `if` other than one required property's const or enum")


def _expand_conditionals(schema: Schema, where: str) -> list[Schema]:
    """One branch per value the conditions name, plus one for "none of them": each branch is `if`-free."""
    conditionals = schema.pop("_conditionals")
    parsed = [(*_discriminator(cond, f"{where}/if"), then, other) for cond, then, other in conditionals]
    names = {name for name, _, _, _ in parsed}
    if len(names) != 1:
        raise _unsupported(where, "conditions on more than one property")
    (name,) = names
    seen: list[Any] = []
    for _, values, _, _ in parsed:
        seen.extend(v for v in values if v not in seen)
    branches = []
    for value in seen:
        branch = _merge(schema, {"properties": {name: {"const": value}}, "required": [name]}, where)
        for _, values, then, other in parsed:
            branch = _merge(branch, _plain(then if value in values else other, where), where)
        branches.append(branch)
    rest = _merge(schema, {"properties": {name: {"not": {"enum": seen}}}}, where)
    for _, _, _, other in parsed:
        rest = _merge(rest, _plain(other, where), where)
    branches.append(rest)
    return branches


def _plain(schema: Any, where: str) -> Schema:
    flat = _flatten(schema, where)
    if "_conditionals" in flat:
        raise _unsupported(where, "an `if` inside `then` or `else`")
    return flat


def _disjoint(branches: list[Schema]) -> bool:
    """True when some property is required by every branch with a const/enum whose values never overlap."""
    candidates = set.intersection(*(set(b.get("required", [])) for b in branches))
    for name in candidates:
        sets = []
        for branch in branches:
            rule = branch.get("properties", {}).get(name, {})
            values = [rule["const"]] if "const" in rule else rule.get("enum")
            if values is None:
                break
            sets.append(values)
        else:
            flat = [json.dumps(v, sort_keys=True) for values in sets for v in values]
            if len(flat) == len(set(flat)):
                return True
    return False


# --- compiling ----------------------------------------------------------------------------------------------------


def _compile(schema: Any, where: str) -> Strategy:
    node = _flatten(schema, where)
    if "_conditionals" in node:
        return _one_of([_compile_flat(branch, where) for branch in _expand_conditionals(node, where)])
    return _compile_flat(node, where)


def _compile_flat(node: Schema, where: str) -> Strategy:
    for keyword in ("anyOf", "oneOf"):
        if keyword in node:
            members = node.pop(keyword)
            branches = [_merge(node, _flatten(m, f"{where}/{keyword}/{i}"), where) for i, m in enumerate(members)]
            if any("_conditionals" in b for b in branches):
                raise _unsupported(where, f"`if` inside {keyword}")
            if keyword == "oneOf" and not _disjoint(branches):
                raise _unsupported(where, "a oneOf whose members no required const/enum property tells apart")
            return _one_of([_compile_flat(b, f"{where}/{keyword}/{i}") for i, b in enumerate(branches)])
    if _is_never(node):
        return st.nothing()
    excluded = _excluded(node, where)
    if "const" in node or "enum" in node:
        return _finite(node, [node["const"]] if "const" in node else node["enum"], excluded, where)
    types = node.get("type")
    if types is None:
        if set(node) - {"not"}:
            raise _unsupported(where, "a schema with keywords but no `type`, `const` or `enum`")
        if excluded:
            raise _unsupported(where, "`not` on a schema without a `type`")
        return _any_json()
    types = [types] if isinstance(types, str) else list(types)
    strategies = []
    for name in _TYPES:
        if name in types:
            strategies.append(_typed(name, node, excluded, where))
    return _one_of(strategies)


def _excluded(node: Schema, where: str) -> list[Any]:
    rule = node.pop("not", None)
    if rule is None:
        return []
    rule = _clean(rule, f"{where}/not")
    if set(rule) == {"const"}:
        return [rule["const"]]
    if set(rule) == {"enum"}:
        return list(rule["enum"])
    raise _unsupported(f"{where}/not", "a `not` other than {} or a const or enum")


def _finite(node: Schema, values: list[Any], excluded: list[Any], where: str) -> Strategy:
    """const/enum: the values the rest of the schema accepts, checked here, once."""
    if "const" in node and "enum" in node:
        values = [v for v in values if any(_same(v, x) for x in node["enum"])]
    rest = {key: value for key, value in node.items() if key not in ("const", "enum")}
    checker = Draft202012Validator(rest, format_checker=Draft202012Validator.FORMAT_CHECKER)
    keep = [v for v in values if checker.is_valid(v) and not any(_same(v, x) for x in excluded)]
    return st.sampled_from(keep) if len(keep) > 1 else st.just(keep[0]) if keep else st.nothing()


def _same(a: Any, b: Any) -> bool:
    """JSON equality: 1 and True differ (Python says they are equal)."""
    return isinstance(a, bool) is isinstance(b, bool) and a == b


def _typed(name: str, node: Schema, excluded: list[Any], where: str) -> Strategy:
    if name == "null":
        return st.nothing() if None in excluded else st.none()
    if name == "boolean":
        return _finite({}, [False, True], excluded, where)
    if excluded:
        raise _unsupported(where, f"`not` on type {name}")
    if name in ("integer", "number"):
        return _number(name, node)
    if name == "string":
        return _string(node, where)
    if name == "array":
        return _array(node, where)
    return _object(node, where)


def _number(name: str, node: Schema) -> Strategy:
    low, high = node.get("minimum"), node.get("maximum")
    low_open, high_open = node.get("exclusiveMinimum"), node.get("exclusiveMaximum")
    if low_open is not None and (low is None or low_open >= low):
        low, low_exclusive = low_open, True
    else:
        low_exclusive = False
    if high_open is not None and (high is None or high_open <= high):
        high, high_exclusive = high_open, True
    else:
        high_exclusive = False
    if name == "integer":
        least = None if low is None else math.floor(low) + 1 if low_exclusive else math.ceil(low)
        most = None if high is None else math.ceil(high) - 1 if high_exclusive else math.floor(high)
        # Unbounded sides stop at JavaScript's safe integers: the values travel to Feathers JS clients.
        if least is None:
            least = -_SAFE_INTEGER if most is None else min(-_SAFE_INTEGER, most)
        if most is None:
            most = max(_SAFE_INTEGER, least)
        return st.integers(min_value=least, max_value=most) if least <= most else st.nothing()
    return st.floats(
        min_value=low,
        max_value=high,
        exclude_min=low_exclusive,
        exclude_max=high_exclusive,
        allow_nan=False,
        allow_infinity=False,
    )


def _string(node: Schema, where: str) -> Strategy:
    min_length, max_length = node.get("minLength", 0), node.get("maxLength")
    pattern, fmt = node.get("pattern"), node.get("format")
    if fmt is not None:
        known = _FORMATS.get(fmt)
        if known is None:
            raise _unsupported(where, f"format {fmt!r}")
        if pattern is not None and pattern not in known.patterns:
            raise _unsupported(where, f"format {fmt!r} with the pattern {pattern!r}")
        if min_length > 1 or (max_length is not None and max_length < known.max_length):
            raise _unsupported(where, f"format {fmt!r} with these length bounds")
        return known.strategy
    if pattern is not None:
        if min_length > 0 or max_length is not None:
            raise _unsupported(where, "a pattern with minLength or maxLength")
        known_pattern = _PATTERNS.get(pattern)
        return known_pattern if known_pattern is not None else st.from_regex(pattern, fullmatch=True, alphabet=_TEXT)
    return st.text(_TEXT, min_size=min_length, max_size=max_length)


def _array(node: Schema, where: str) -> Strategy:
    items = _compile(node.get("items", {}), f"{where}/items")
    min_size = node.get("minItems", 0)
    max_size = min(node.get("maxItems", _MAX_ITEMS), max(min_size, _MAX_ITEMS))
    if node.get("uniqueItems"):
        return st.lists(items, min_size=min_size, max_size=max_size, unique_by=_canonical)
    return st.lists(items, min_size=min_size, max_size=max_size)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _object(node: Schema, where: str) -> Strategy:
    properties: Schema = node.get("properties", {})
    required = list(node.get("required", []))
    dependents: dict[str, list[str]] = node.get("dependentRequired", {})
    additional = _clean(node.get("additionalProperties", True), f"{where}/additionalProperties")
    values: dict[str, Strategy] = {}
    for name in [*properties, *(n for n in required if n not in properties)]:
        place = f"{where}/properties/{name}"
        values[name] = _compile(properties.get(name, additional), place)
    possible = [name for name, strategy in values.items() if not strategy.is_empty]
    impossible = [name for name in required if name not in possible]
    if impossible:
        return st.nothing()  # a required property no value satisfies: this branch has no instance
    for trigger, needs in dependents.items():
        if trigger in possible and any(n not in possible for n in needs):
            possible.remove(trigger)  # drawing it would make the object invalid
    optional = [name for name in possible if name not in required]
    extra = None if _is_never(additional) else _compile(additional, f"{where}/additionalProperties")
    need = max(0, node.get("minProperties", 0) - len(required))
    if need > len(optional):
        raise _unsupported(where, "minProperties that the listed properties cannot reach")
    room = len(optional)
    if "maxProperties" in node:
        if (extra is not None and not extra.is_empty) or dependents:
            raise _unsupported(where, "maxProperties beside additional or dependent properties")
        room = min(room, node["maxProperties"] - len(required))
        if room < need:
            return st.nothing()  # the required properties alone pass the maximum: this branch has no instance
    chosen = st.lists(st.sampled_from(optional), min_size=need, max_size=room, unique=True) if optional else st.just([])
    extras = (
        st.dictionaries(st.text(_TEXT, min_size=1, max_size=12), extra, max_size=_MAX_EXTRA_KEYS)
        if extra is not None and not extra.is_empty
        else st.just({})
    )
    order = list(values)

    @st.composite
    def build(draw: Callable[[Strategy], Any]) -> dict[str, Any]:
        names = set(required) | set(draw(chosen))
        for trigger, needs in dependents.items():
            if trigger in names:
                names.update(needs)
        value = {name: draw(values[name]) for name in order if name in names}
        for key, item in draw(extras).items():
            if key not in values:  # a listed name follows its own schema, never the additional one
                value[key] = item
        return value

    return build()


def _one_of(strategies: list[Strategy]) -> Strategy:
    live = [s for s in strategies if not s.is_empty]
    if not live:
        return st.nothing()
    return live[0] if len(live) == 1 else st.one_of(live)


def _any_json() -> Strategy:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**53), max_value=2**53),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(_TEXT, max_size=20),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(st.text(_TEXT, max_size=12), inner, max_size=4)
        ),
        max_leaves=8,
    )
