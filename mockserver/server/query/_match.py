"""The Feathers v5 memory adapter's find flow: filters, validation, matching, sorting, `$select` and paging.

Client authors test their paging and filters against this mock and then run the same code against Feathers, so
this is a port, not an approximation (feathers-protocol.md §9-10, cryptorobot-api.md §3-4). Sources followed:
@feathersjs/adapter-commons 5.0.50 `query.ts`, `sort.ts` and `index.ts` (filters, error texts, sort order,
`$select`), @feathersjs/memory 5.0.50 (the find/get flow) and sift 17.1 (matching, with its array walking).

Deliberate departures, each where Feathers crashes or the spec asks for something else:
- a dotted `$sort` path through a missing or null object sorts as undefined (Feathers throws a TypeError);
- null and a missing field sort as equals, keeping store order (5.0.50's `compare` answers -1 both ways, which
  leaves their order to V8's TimSort internals);
- a single string `$select` selects that one field, an object `$select` its keys (Feathers' `select` breaks);
- a query that is not an object is a BadRequest (Feathers spreads strings and arrays into index keys);
- sift's plain `Error`s (malformed operator use) become GeneralError with sift's message.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from mockserver.errors import BadRequest, FeathersError, GeneralError
from mockserver.server.query._js import (
    MISSING,
    Sentinel,
    canonical_index,
    js_get,
    js_is_nan_key,
    js_keys,
    js_ordered,
    js_parse_int,
    js_relational,
    js_string,
    js_truthy,
    js_typeof,
    json_copy,
    utf16,
)

__all__ = [
    "FIELD_OPERATORS",
    "FILTERS",
    "GROUPS",
    "OPERATORS",
    "FindParams",
    "check_query_for_get",
    "compile_matcher",
    "find",
    "matches",
    "parse_find_params",
    "record_matches_query",
    "select",
]

FILTERS: Final = ("$skip", "$sort", "$limit", "$select", "$or", "$and")
"""Top-level `$` keys Feathers accepts, in the order adapter-commons applies them (and reports errors)."""

OPERATORS: Final = frozenset({"$in", "$nin", "$lt", "$lte", "$gt", "$gte", "$ne", "$or"})
"""`$` keys adapter-commons lets through below the top level; anything else is "Invalid query parameter"."""

FIELD_OPERATORS: Final = frozenset({"$in", "$nin", "$lt", "$lte", "$gt", "$gte", "$ne"})
"""The operators that apply to a field's values."""

GROUPS: Final = frozenset({"$or", "$and"})
"""The operators that combine whole queries."""

_PAGING: Final = frozenset({"$skip", "$sort", "$limit", "$select"})

_UNSET_INDEX: Final = Sentinel("<unset index>")  # `a.5` past an array's end: undefined, but $eq skips it


# ------------------------------------------------------------------------------------------------------------
# 1. Matching, as sift does it for the operators Feathers lets through
# ------------------------------------------------------------------------------------------------------------

_Test = Callable[[list[Any]], bool]  # decides on all the values a field path reaches in one record
_Predicate = Callable[[Any], bool]


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
    if depth == end or item is None or item is MISSING:
        if type(owner) is list and type(key) is str and key != "length":
            if nan[depth - 1]:
                return  # `a.b` on the array itself: not a value (sift #273)
            position = canonical_index(key)
            if position is None or position >= len(owner):
                found.append(_UNSET_INDEX)
                return
        found.append(item)
        return
    current = path[depth]
    _walk(js_get(item, current), path, nan, depth + 1, current, item, found)


def _reached(item: Any, path: tuple[str, ...], nan: tuple[bool, ...]) -> list[Any]:
    if len(path) == 1 and type(item) is dict:
        value = item.get(path[0], MISSING)
        if type(value) is not list:
            return [value]
    found: list[Any] = []
    _walk(item, path, nan, 0, None, None, found)
    return found


def _eq(expected: Any, actual: Any) -> bool:
    """sift's `equals`: null matches null and undefined, no type coercion, deep for arrays and objects."""
    if expected is None or expected is MISSING:
        return actual is None or actual is MISSING
    if actual is None or actual is MISSING:
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
            and all(_eq(value, actual.get(key, MISSING)) for key, value in expected.items())
        )
    return bool(expected == actual)


def _compile_equals(expected: Any) -> _Test:
    if type(expected) is str:
        return lambda values: expected in values
    if type(expected) is int or type(expected) is float:  # `_eq` inlined: numbers equal numbers only, bools aside
        return lambda values: any((type(v) is int or type(v) is float) and v == expected for v in values)
    return lambda values: any(_eq(expected, value) for value in values if value is not _UNSET_INDEX)


def _compile_in(name: str, operand: Any) -> _Test:
    options = operand if type(operand) is list else [operand]
    for option in options:
        if type(option) is dict and any(key[:1] == "$" for key in option):
            raise GeneralError(f"cannot nest $ under {name}")
    # Strings, numbers and booleans only ever equal their own kind (see `_eq`), so they are looked up in sets:
    # a long `$in` costs no more per record than a short one.
    strings = frozenset(option for option in options if type(option) is str)
    numbers = frozenset(option for option in options if type(option) is int or type(option) is float)
    booleans = frozenset(option for option in options if type(option) is bool)
    # The rest are null, arrays and objects: null equals null and undefined, an array only arrays, an object only
    # objects; so a value is compared with its own kind of option only.
    has_null = any(option is None for option in options)
    arrays = [option for option in options if type(option) is list]
    objects = [option for option in options if type(option) is dict]

    def contains(values: list[Any]) -> bool:
        for value in values:
            kind = type(value)
            if kind is str:
                if value in strings:
                    return True
                continue
            if kind is int or kind is float:
                if value in numbers:
                    return True
                continue
            if kind is bool:
                if value in booleans:
                    return True
                continue
            if kind is list:
                if any(_eq(option, value) for option in arrays):
                    return True
            elif kind is dict:
                if any(_eq(option, value) for option in objects):
                    return True
            elif has_null:  # null, undefined, or an index past an array's end (undefined too)
                return True
        return False

    if name == "$nin":
        return lambda values: not contains(values)
    return contains


_COMPARISONS: Final = {"$lt": operator.lt, "$lte": operator.le, "$gt": operator.gt, "$gte": operator.ge}


def _compile_comparison(name: str, operand: Any) -> _Test:
    """`$lt` and friends: only values of the operand's JavaScript type compare (undefined counts as null)."""
    kind = js_typeof(operand)
    compare = _COMPARISONS[name]
    if kind == "string":
        bound = utf16(operand)
        return lambda values: any(type(v) is str and compare(utf16(v), bound) for v in values)
    if kind != "object":
        return lambda values: any(js_typeof(v) == kind and compare(v, operand) for v in values if v is not _UNSET_INDEX)
    inclusive = name in ("$lte", "$gte")
    bound = js_string(operand) if type(operand) in (list, dict) else operand  # what `<` makes of it, made once

    def test(values: list[Any]) -> bool:  # null, array and object bounds: JavaScript's coercing comparison
        for value in values:
            candidate = None if value is MISSING else value
            if value is _UNSET_INDEX or js_typeof(candidate) != "object":
                continue
            if candidate is None and (not inclusive or operand is None):
                if inclusive:
                    return True  # `b === params` for null
                continue  # `b != null && ...`
            if js_relational(candidate, bound, compare):
                return True
        return False

    return test


def _compile_operator(name: str, operand: Any) -> _Test:
    if name == "$ne":
        if type(operand) is str:  # strings equal strings only (see `_eq`)
            return lambda values: operand not in values
        if type(operand) is int or type(operand) is float:
            return lambda values: not any((type(v) is int or type(v) is float) and v == operand for v in values)
        return lambda values: not any(_eq(operand, MISSING if value is _UNSET_INDEX else value) for value in values)
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

        def any_branch(values: list[Any]) -> bool:
            for value in values:
                for branch in branches:
                    if branch(value):
                        return True
            return False

        return any_branch
    return lambda values: all(any(branch(value) for value in values) for branch in branches)


def _compile_field(key: str, condition: Any) -> _Predicate:
    path = tuple(key.split("."))
    nan = tuple(js_is_nan_key(segment) for segment in path)
    if type(condition) is dict and any(name[:1] == "$" for name in condition):
        tests: list[_Test] = []
        nested = False
        for name in js_keys(condition):
            if name in GROUPS:
                raise GeneralError(f"Malformed query. {name} cannot be matched against property.")
            if name in FIELD_OPERATORS:
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
    for key in js_keys(query):
        if key in GROUPS:
            own.append(_compile_group(key, query[key]))
        elif key in FIELD_OPERATORS:
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
# 2. Filters, validation, sorting, $select and the page envelope
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
    data: dict[str, Any] = js_ordered(holder)
    message = data.pop("message", None)
    errors = data.pop("errors", None)
    text = js_string(message) if js_truthy(message) else f"Invalid query parameter {key}"
    return BadRequest(text, data=data, errors=errors)


def _validate(value: Any) -> None:
    """adapter-commons `validateQueryProperty` (5.0.50: also walks into arrays)."""
    if type(value) is list:
        for item in value:
            _validate(item)
        return
    if type(value) is not dict:
        return
    for key in js_keys(value):
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
    for key in js_keys(value):
        direction = value[key]
        if type(direction) in (dict, list):
            _validate(direction)
            stopped = True
            continue
        parsed = js_parse_int(direction)
        if parsed is None:
            stopped = True
        elif parsed and not stopped:
            criteria.append((key, parsed))
    return tuple(criteria)


def _parse_select(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if type(value) is list:
        return tuple(js_string(item) for item in value)
    _validate(value)
    if type(value) is dict:
        return tuple(js_keys(value))
    return (js_string(value),)


def _limit(value: Any, default_limit: int, max_limit: int) -> int:
    """adapter-commons `getLimit` with `paginate: {default, max}`."""
    parsed = js_parse_int(value) if value is not MISSING else None
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
    limit = _limit(query.get("$limit", MISSING), default_limit, max_limit)
    select_fields = _parse_select(query.get("$select"))
    for group in ("$or", "$and"):
        if group in query:
            _validate(query[group])
    for key in js_keys(query):
        if key[:1] == "$":
            if key not in FILTERS:
                raise BadRequest(f"Invalid filter value {key}")
        else:
            _validate(query[key])
    conditions = {key: query[key] for key in query if key not in _PAGING}
    skip = js_parse_int(query["$skip"]) if "$skip" in query else None
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
    if value is None or value is MISSING:
        return (0,)
    if kind is bool:
        return (4, value)
    if kind is int or kind is float:
        return (2, value)
    if kind is str:
        return (3, utf16(value))
    if kind is list:
        return (6, tuple(_sort_key(item) for item in value))
    if kind is dict:
        return (7, tuple(_sort_key(value[key]) for key in sorted(value, key=utf16)))
    return (8,)


def _sort_value_getter(path: str) -> Callable[[Any], Any]:
    if "." not in path:
        return lambda record: record.get(path, MISSING) if type(record) is dict else MISSING
    keys = path.split(".")

    def getter(record: Any) -> Any:
        value = record
        for key in keys:
            if value is None or value is MISSING:
                return MISSING
            value = js_get(value, key)
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
        return {key: json_copy(value) for key, value in record.items()}
    picked: dict[str, Any] = {}
    for name in (*fields, id_field):
        if name in record and name not in picked:
            picked[name] = json_copy(record[name])
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
