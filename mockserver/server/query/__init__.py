"""The query engine: a port of `qs` parsing, schema-driven coercion and the Feathers memory adapter's find flow.

It is a library of its own: it knows JSON values and Feathers' error classes, nothing of services or transports.
"""

from mockserver.server.query._coerce import FieldType, coerce_query, field_types_from_schema
from mockserver.server.query._limits import (
    TOO_DEEP,
    QueryLimits,
    check_depth,
    check_query,
    check_query_string,
    too_deep,
)
from mockserver.server.query._match import FindParams, check_query_for_get, find, parse_find_params, select
from mockserver.server.query._qs import parse_query_string

__all__ = [
    "TOO_DEEP",
    "FieldType",
    "FindParams",
    "QueryLimits",
    "check_depth",
    "check_query",
    "check_query_for_get",
    "check_query_string",
    "coerce_query",
    "field_types_from_schema",
    "find",
    "parse_find_params",
    "parse_query_string",
    "select",
    "too_deep",
]
