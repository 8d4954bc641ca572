"""REST query values coerced by the service's JSON Schema, and the field types read from that schema.

A REST query arrives as strings; these cases pin which strings become which typed values (and which stay strings),
so the same query matches the same records over REST and Socket.IO. The one deliberate departure (a date-time
without an offset is read as UTC) is named in `_coerce`'s module docstring.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from mockserver.server.query._coerce import FieldType, coerce_query, field_types_from_schema
from mockserver.server.query._match import find, parse_find_params
from mockserver.server.query._qs import parse_query_string

# ---------------------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------------------


def ids(result: dict[str, Any]) -> list[str]:
    return [item["_id"] for item in result["data"]]


def run(records: list[dict[str, Any]], query: Any, **limits: int) -> dict[str, Any]:
    return find(records, parse_find_params(query, **limits))


# ---------------------------------------------------------------------------------------------------------------
# 2. schema field types and coercion
# ---------------------------------------------------------------------------------------------------------------

SCHEMA: dict[str, Any] = {
    "$defs": {"timestamp": {"type": "string", "format": "date-time"}},
    "type": "object",
    "properties": {
        "_id": {"type": "string"},
        "name": {"type": "string"},
        "n": {"type": "integer"},
        "price": {"type": "number"},
        "active": {"type": "boolean"},
        "status": {"enum": ["running", "stopped"]},
        "createdAt": {"$ref": "#/$defs/timestamp"},
        "closedAt": {"type": ["string", "null"], "format": "date-time"},
        "stoploss": {"anyOf": [{"type": "number"}, {"type": "null"}]},
        "label": {"type": ["string", "number"]},
        "unfilledtimeout": {"type": "object", "properties": {"entry": {"type": "number"}, "unit": {"type": "string"}}},
        "levels": {"type": "array", "items": {"type": "number"}},
        "orders": {"type": "array", "items": {"type": "object", "properties": {"qty": {"type": "integer"}}}},
        "mode": {"const": 3},
        "external": {"$ref": "common.json#/$defs/flag"},
    },
}


def test_field_types_from_schema() -> None:
    types = field_types_from_schema(SCHEMA)
    assert types["n"] == FieldType(frozenset({"integer"}))
    assert types["active"] == FieldType(frozenset({"boolean"}))
    assert types["status"] == FieldType(frozenset({"string"}))
    assert types["createdAt"] == FieldType(frozenset({"string"}), date_time=True)
    assert types["closedAt"] == FieldType(frozenset({"string", "null"}), date_time=True)
    assert types["stoploss"] == FieldType(frozenset({"number", "null"}))
    assert types["unfilledtimeout.entry"] == FieldType(frozenset({"number"}))
    assert types["levels"] == FieldType(frozenset({"array", "number"}))
    assert types["orders.qty"] == FieldType(frozenset({"integer"}))
    assert types["mode"] == FieldType(frozenset({"integer"}))
    assert "external" not in types  # a non-local $ref without a resolver: unknown, left as strings


def test_field_types_follow_allof_and_a_resolver() -> None:
    schema = {"allOf": [{"properties": {"a": {"type": "integer"}}}, {"properties": {"b": {"$ref": "x.json"}}}]}
    types = field_types_from_schema(schema, resolve=lambda ref: {"type": "boolean"} if ref == "x.json" else None)
    assert types == {"a": FieldType(frozenset({"integer"})), "b": FieldType(frozenset({"boolean"}))}


def test_field_types_survive_a_ref_cycle() -> None:
    schema = {
        "$defs": {"node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"}}}},
        "properties": {"head": {"$ref": "#/$defs/node"}},
    }
    types = field_types_from_schema(schema)
    assert types["head"] == FieldType(frozenset({"object"}))
    assert "head.next.next" in types


TYPES = field_types_from_schema(SCHEMA)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("active=true", {"active": True}),
        ("active=false", {"active": False}),
        ("active=yes", {"active": "yes"}),
        ("n=12", {"n": 12}),
        ("n=-3", {"n": -3}),
        ("price=1.5", {"price": 1.5}),
        ("price=1e3", {"price": 1000.0}),
        ("n=abc", {"n": "abc"}),  # stays a string and then matches nothing; never an error
        ("n=", {"n": ""}),
        ("name=12", {"name": "12"}),
        ("label=12", {"label": "12"}),  # a field that also allows strings keeps the string
        ("stoploss=null", {"stoploss": None}),
        ("closedAt=null", {"closedAt": None}),
        ("n=null", {"n": "null"}),
        ("n[$gt]=3&n[$lte]=9", {"n": {"$gt": 3, "$lte": 9}}),
        ("n[$in][]=1&n[$in][]=x", {"n": {"$in": [1, "x"]}}),
        ("n[$nin]=1", {"n": {"$nin": 1}}),
        ("active[$ne]=true", {"active": {"$ne": True}}),
        ("n=1&n=2", {"n": [1, 2]}),
        ("$or[0][n]=1&$or[1][active]=true", {"$or": [{"n": 1}, {"active": True}]}),
        ("$and[0][price][$gt]=2", {"$and": [{"price": {"$gt": 2}}]}),
        ("unfilledtimeout[entry]=10", {"unfilledtimeout": {"entry": 10}}),
        ("unfilledtimeout.entry=10", {"unfilledtimeout.entry": 10}),
        ("levels=5", {"levels": 5}),
        ("orders.qty[$gte]=2", {"orders.qty": {"$gte": 2}}),
        ("unknown=5", {"unknown": "5"}),
        (
            "$limit=5&$skip=1&$sort[n]=1&$select[]=n",
            {"$limit": "5", "$skip": "1", "$sort": {"n": "1"}, "$select": ["n"]},
        ),
        # operator objects Feathers refuses are left as sent, so the BadRequest shows the client's values
        ("n[$gt]=1&n[$regex]=5", {"n": {"$gt": "1", "$regex": "5"}}),
        ("$or[0][n]=1&$or[0][$where]=x", {"$or": [{"n": "1", "$where": "x"}]}),
    ],
)
def test_coerce_rest_values(raw: str, expected: dict[str, Any]) -> None:
    assert coerce_query(parse_query_string(raw), TYPES) == expected


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("2024-01-01", "2024-01-01T00:00:00.000Z"),
        ("2024-01", "2024-01-01T00:00:00.000Z"),
        ("2024-01-15T10:00:00Z", "2024-01-15T10:00:00.000Z"),
        ("2024-01-15T10:00:00.5Z", "2024-01-15T10:00:00.500Z"),
        ("2024-01-15T10:00:00.123456Z", "2024-01-15T10:00:00.123Z"),
        ("2024-01-15T10:00", "2024-01-15T10:00:00.000Z"),
        ("2024-01-15T12:00:00+02:00", "2024-01-15T10:00:00.000Z"),
        ("2024-01-15T12:00:00 02:00", "2024-01-15T10:00:00.000Z"),  # an unencoded `+` arrives as a space
        ("2024-01-15T08:30:00-0130", "2024-01-15T10:00:00.000Z"),
        ("2024-01-15 10:00:00", "2024-01-15T10:00:00.000Z"),
        ("2024-02-30", "2024-02-30"),  # not a date: left alone
        ("yesterday", "yesterday"),
    ],
)
def test_date_time_values_become_canonical_instants(text: str, canonical: str) -> None:
    assert coerce_query({"createdAt": {"$gte": text}}, TYPES) == {"createdAt": {"$gte": canonical}}


def test_coercion_leaves_typed_values_and_the_input_alone() -> None:
    query = {"n": {"$gt": 3}, "active": True, "createdAt": "2024-01-01", "$or": [{"n": "4"}]}
    snapshot = json.dumps(query)
    assert coerce_query(query, TYPES) == {
        "n": {"$gt": 3},
        "active": True,
        "createdAt": "2024-01-01T00:00:00.000Z",
        "$or": [{"n": 4}],
    }
    assert json.dumps(query) == snapshot
    assert coerce_query(["n"], TYPES) == ["n"]
    assert coerce_query(None, TYPES) is None


def test_date_only_value_compares_as_midnight_utc() -> None:
    records = [
        {"_id": "a", "createdAt": "2023-12-31T23:59:59.999Z"},
        {"_id": "b", "createdAt": "2024-01-01T00:00:00.000Z"},
        {"_id": "c", "createdAt": "2024-01-15T10:00:00.000Z"},
    ]
    query = coerce_query(parse_query_string("createdAt[$gte]=2024-01-01"), TYPES)
    assert ids(run(records, query)) == ["b", "c"]
    query = coerce_query(parse_query_string("createdAt=2024-01-15T11:00:00%2B01:00"), TYPES)
    assert ids(run(records, query)) == ["c"]
