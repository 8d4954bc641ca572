"""Limits on the size and shape of a query, checked before it is coerced or compiled.

Feathers has none, but the mock serves every client from one event loop: one 1 MB query (60,000 `$or` branches) held
it for seconds, and a query nested a few hundred levels deep overflowed the recursive compiler. These checks walk a
value with an explicit stack, so they cannot overflow themselves, and stop at the first limit passed, so refusing a
huge query costs little. Every refusal is a BadRequest whose message and `data.limit` name the limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Final

from mockserver.errors import BadRequest
from mockserver.server.query._js import Sentinel

__all__ = ["TOO_DEEP", "QueryLimits", "check_depth", "check_query", "check_query_string", "too_deep"]

TOO_DEEP: Final = Sentinel("<too deep>")
"""Stands for a value a decoder could not build because it nests past the interpreter's recursion limit."""

MAX_DEPTH_CEILING: Final = 200  # the engine recurses per level (sift-style matchers, the coercer, error data)

_SET_OPERATORS: Final = frozenset({"$in", "$nin"})
_FILTERS: Final = ("$sort", "$select", "$limit", "$skip")  # top-level keys that are no conditions


@dataclass(frozen=True, slots=True)
class QueryLimits:
    """How large a query (and how deep a request body) may be; beyond any of them a call answers 400.

    The defaults keep the worst query they allow to about 50 ms on a table of a thousand records (measured by
    `tests/benchmarks/bench_queries.py`), far beyond what a real client sends.
    """

    max_depth: int = 32
    """Nesting of objects and arrays in a query or a body; a dotted field path counts one level per dot."""
    max_operators: int = 100
    """Field conditions and `$` operators in a query: every key of every object counts one (but `$limit`, `$skip`,
    `$sort` and `$select`), and a dotted field path one more per dot (each segment is a step on every record)."""
    max_in: int = 1000
    """Values in one `$in` or `$nin` list."""
    max_sort_keys: int = 16
    """Keys of `$sort`."""
    max_select_keys: int = 100
    """Fields of `$select`."""
    max_values: int = 10_000
    """JSON values in a query, all told (objects, arrays, strings, numbers, ...): its overall size."""

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{spec.name} must be an int >= 1, got {value!r}")
        if self.max_depth > MAX_DEPTH_CEILING:
            raise ValueError(f"max_depth must be at most {MAX_DEPTH_CEILING}, got {self.max_depth!r}")


def _refuse(message: str, name: str, limit: int) -> BadRequest:
    return BadRequest(f"{message} (limit {name}={limit})", data={"limit": name, "max": limit})


def too_deep(what: str, limits: QueryLimits) -> BadRequest:
    """The answer to a value nested deeper than `max_depth`; `what` says which ("Query", "Request body")."""
    return _refuse(f"{what} is nested more than {limits.max_depth} levels deep", "max_depth", limits.max_depth)


def check_depth(value: Any, limits: QueryLimits, what: str) -> None:
    """Raise BadRequest when objects and arrays nest deeper than `max_depth` in a decoded JSON value."""
    max_depth = limits.max_depth
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        elif item is TOO_DEEP:
            raise too_deep(what, limits)
        else:
            continue
        if depth > max_depth:
            raise too_deep(what, limits)
        pending.extend(
            (child, depth + 1) for child in children if isinstance(child, Mapping | list) or child is TOO_DEEP
        )


def check_query(query: Any, limits: QueryLimits) -> None:
    """Raise BadRequest for a query past any of `limits`; anything else, malformed too, is left to the engine.

    Values are counted as they are reached, so a 1 MB query is refused after at most `max_values` steps.
    """
    own_limits: set[int] = set()  # ids of the top-level $sort/$select objects, whose keys are no conditions
    if isinstance(query, Mapping):
        sort, select = query.get("$sort"), query.get("$select")
        if isinstance(sort, Mapping) and len(sort) > limits.max_sort_keys:
            raise _refuse(f"$sort has more than {limits.max_sort_keys} keys", "max_sort_keys", limits.max_sort_keys)
        if isinstance(select, Mapping | list) and len(select) > limits.max_select_keys:
            raise _refuse(
                f"$select has more than {limits.max_select_keys} fields", "max_select_keys", limits.max_select_keys
            )
        own_limits = {id(sort), id(select)}
    max_depth, max_in, max_values, max_operators = (
        limits.max_depth,
        limits.max_in,
        limits.max_values,
        limits.max_operators,
    )
    operators = 0
    values = 1
    pending: list[tuple[Any, int]] = [(query, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
            if id(item) not in own_limits:
                operators += len(item) - (sum(key in item for key in _FILTERS) if depth == 1 else 0)
                for key, operand in item.items():
                    if operators > max_operators:
                        break
                    if isinstance(key, str) and (dots := key.count(".")):
                        if depth + dots > max_depth:
                            raise too_deep("Query", limits)
                        operators += dots  # each segment of a path is a step for every record
                    if key in _SET_OPERATORS and isinstance(operand, list) and len(operand) > max_in:
                        raise _refuse(f"{key} has more than {max_in} values", "max_in", max_in)
                if operators > max_operators:
                    raise _refuse(
                        f"Query has more than {max_operators} operators and conditions", "max_operators", max_operators
                    )
        elif isinstance(item, list):
            children = item
        elif item is TOO_DEEP:
            raise too_deep("Query", limits)
        else:
            continue
        if depth > max_depth:
            raise too_deep("Query", limits)
        values += len(children)
        if values > max_values:
            raise _refuse(f"Query has more than {max_values} values", "max_values", max_values)
        pending.extend(
            (child, depth + 1) for child in children if isinstance(child, Mapping | list) or child is TOO_DEEP
        )


def check_query_string(raw: str, limits: QueryLimits) -> None:
    """Raise BadRequest when a REST query key nests more brackets than `max_depth` (`$or[0][$or][0]...`).

    qs keeps brackets past its fifth as one literal key, so such a query never parses deep; it is refused all the
    same, as the same query over the socket is.
    """
    if raw.count("[") + raw.upper().count("%5B") < limits.max_depth:
        return
    for part in raw.split("&"):
        key = part.split("=", 1)[0]
        if key.count("[") + key.upper().count("%5B") >= limits.max_depth:
            raise too_deep("Query", limits)
