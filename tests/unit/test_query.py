"""The find flow against the behaviour of adapter-commons / memory 5.0.50 and sift 17.1.

Client authors rely on these semantics when they move from the mock to Feathers, so each case states what
Feathers does (the expectations were checked against those packages running under Node); the few deliberate
departures are named in `_query`'s module docstring and tested as such.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockserver.errors import BadRequest, GeneralError
from mockserver.server.query._coerce import coerce_query, field_types_from_schema
from mockserver.server.query._match import (
    FindParams,
    check_query_for_get,
    compile_matcher,
    find,
    matches,
    parse_find_params,
    record_matches_query,
    select,
)
from mockserver.server.query._qs import parse_query_string

# ---------------------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------------------


def ids(result: dict[str, Any]) -> list[str]:
    return [item["_id"] for item in result["data"]]


def run(records: list[dict[str, Any]], query: Any, **limits: int) -> dict[str, Any]:
    return find(records, parse_find_params(query, **limits))


def error_json(query: Any) -> dict[str, Any]:
    with pytest.raises(BadRequest) as caught:
        parse_find_params(query)
    return caught.value.to_json()


# ---------------------------------------------------------------------------------------------------------------
# 1a. filters: $limit, $skip, $sort, $select
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        (None, 25),
        ("10", 10),
        (10, 10),
        ("0", 0),
        ("100", 100),
        ("101", 100),
        (1000, 100),
        ("-1", 25),
        ("abc", 25),
        ("", 25),
        ("10abc", 10),  # parseInt reads the leading digits
        ("7.9", 7),
        (7.9, 7),
        (["10", "20"], 10),  # repeated `$limit=` in a URL: String(["10","20"]) is "10,20"
        (True, 25),
    ],
)
def test_limit(limit: Any, expected: int) -> None:
    query = {} if limit is None else {"$limit": limit}
    assert parse_find_params(query).limit == expected


def test_limit_default_and_max_are_options() -> None:
    assert parse_find_params({}, default_limit=3, max_limit=5).limit == 3
    assert parse_find_params({"$limit": 9}, default_limit=3, max_limit=5).limit == 5
    with pytest.raises(ValueError, match="max_limit"):
        parse_find_params({}, max_limit=-1)


@pytest.mark.parametrize(
    ("skip", "expected"),
    [(None, 0), ("5", 5), (5, 5), ("abc", 0), ("", 0), ("3x", 3), ("7.9", 7), ("-2", -2)],
)
def test_skip(skip: Any, expected: int) -> None:
    query = {} if skip is None else {"$skip": skip}
    assert parse_find_params(query).skip == expected


def test_sort_parsing() -> None:
    assert parse_find_params({"$sort": {"createdAt": "-1", "name": "1"}}).sort == (("createdAt", -1), ("name", 1))
    assert parse_find_params({"$sort": {"a.b": 1}}).sort == (("a.b", 1),)
    # a 0 direction is a no-op; a NaN one (text, an object) makes the comparator answer NaN, ending it there
    assert parse_find_params({"$sort": {"a": "0", "e": -1}}).sort == (("e", -1),)
    assert parse_find_params({"$sort": {"a": "1", "b": "x", "e": -1}}).sort == (("a", 1),)
    assert parse_find_params({"$sort": {"c": {"d": 1}, "e": -1}}).sort == ()
    assert parse_find_params({"$sort": "name"}).sort == ()
    assert parse_find_params({}).sort == ()


def test_select_parsing() -> None:
    assert parse_find_params({"$select": ["name", "status"]}).select == ("name", "status")
    assert parse_find_params({"$select": [1, None]}).select == ("1", "null")
    assert parse_find_params({"$select": "name"}).select == ("name",)
    assert parse_find_params({"$select": {"name": 1}}).select == ("name",)
    assert parse_find_params({"$select": []}).select == ()
    assert parse_find_params({}).select is None


def test_find_params_keep_only_conditions_in_query() -> None:
    query = {"$limit": 2, "$skip": 1, "$sort": {"n": 1}, "$select": ["n"], "n": 1, "$or": [{"a": 1}]}
    params = parse_find_params(query)
    assert params.query == {"n": 1, "$or": [{"a": 1}]}
    assert isinstance(params, FindParams)


# ---------------------------------------------------------------------------------------------------------------
# 1b. errors, with Feathers' exact texts and data
# ---------------------------------------------------------------------------------------------------------------


def test_unknown_top_level_key_is_invalid_filter_value_without_data() -> None:
    assert error_json({"$regex": "x"}) == {
        "name": "BadRequest",
        "message": "Invalid filter value $regex",
        "code": 400,
        "className": "bad-request",
    }
    assert error_json({"$in": ["x"]})["message"] == "Invalid filter value $in"
    assert error_json(parse_query_string("$like=x"))["message"] == "Invalid filter value $like"


def test_unknown_operator_is_invalid_query_parameter_with_its_object_as_data() -> None:
    assert error_json({"name": {"$regex": "x"}}) == {
        "name": "BadRequest",
        "message": "Invalid query parameter $regex",
        "code": 400,
        "className": "bad-request",
        "data": {"$regex": "x"},
    }
    assert error_json(parse_query_string("name[$regex]=x")) == error_json({"name": {"$regex": "x"}})
    assert error_json({"n": {"$gt": 1, "$exists": True}})["data"] == {"$gt": 1, "$exists": True}
    assert error_json({"a": {"b": {"$like": "%x"}}})["data"] == {"$like": "%x"}


@pytest.mark.parametrize(
    ("query", "operator", "data"),
    [
        ({"$or": [{"a": 1}, {"b": {"$exists": True}}]}, "$exists", {"$exists": True}),
        ({"$or": [{"$where": "1"}]}, "$where", {"$where": "1"}),
        ({"$and": [{"a": {"$elemMatch": {}}}]}, "$elemMatch", {"$elemMatch": {}}),
        ({"$or": [{"$and": [{"a": 1}]}]}, "$and", {"$and": [{"a": 1}]}),  # $and is a filter, not an operator
        ({"$or": [[{"$where": "1"}]]}, "$where", {"$where": "1"}),  # 5.0.50 walks into arrays
        ({"name": {"$in": [{"$where": "1"}]}}, "$where", {"$where": "1"}),
        ({"name": [{"$where": "1"}]}, "$where", {"$where": "1"}),
        ({"$or": {"$where": "1"}}, "$where", {"$where": "1"}),
        ({"$sort": {"score": {"$function": 1}}}, "$function", {"$function": 1}),
        ({"$select": {"owned": {"$function": 1}}}, "$function", {"$function": 1}),
    ],
)
def test_invalid_operators_are_found_everywhere(query: dict[str, Any], operator: str, data: Any) -> None:
    body = error_json(query)
    assert body["message"] == f"Invalid query parameter {operator}"
    assert body["data"] == data


def test_errors_come_in_adapter_commons_order() -> None:
    # filters ($sort, $select, $or, $and) are checked before the unknown top-level key is noticed
    assert error_json({"$foo": 1, "$sort": {"a": {"$bad": 1}}})["message"] == "Invalid query parameter $bad"
    # then the remaining keys in order: a field before an unknown filter, an unknown filter before a field
    assert error_json({"a": {"$bad": 1}, "$foo": 1})["message"] == "Invalid query parameter $bad"
    assert error_json({"$foo": 1, "a": {"$bad": 1}})["message"] == "Invalid filter value $foo"


def test_message_and_errors_keys_are_lifted_as_feathers_errors_do() -> None:
    body = error_json({"name": {"message": "custom", "errors": [1], "$where": 1}})
    assert body == {
        "name": "BadRequest",
        "message": "custom",
        "code": 400,
        "className": "bad-request",
        "data": {"$where": 1},
        "errors": [1],
    }


@pytest.mark.parametrize("query", [[{"a": 1}], "a=1", 5, True])
def test_non_object_query_is_a_bad_request(query: Any) -> None:
    assert error_json(query)["message"] == "Invalid query: expected an object"


def test_none_is_an_empty_query() -> None:
    params = parse_find_params(None)
    assert (params.query, params.limit, params.skip) == ({}, 25, 0)


# ---------------------------------------------------------------------------------------------------------------
# 1c. matching (sift semantics)
# ---------------------------------------------------------------------------------------------------------------

R = {
    "_id": "r1",
    "name": "alpha",
    "n": 5,
    "f": 2.5,
    "active": True,
    "nothing": None,
    "tags": ["a", "b"],
    "grid": [[1, 2], [3]],
    "empty": [],
    "nested": {"x": 1, "deep": {"y": "z"}},
    "orders": [{"qty": 1, "side": "buy"}, {"qty": 4}],
    "createdAt": "2024-01-15T10:00:00.000Z",
}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, True),
        ({"name": "alpha"}, True),
        ({"name": "beta"}, False),
        ({"n": 5}, True),
        ({"n": 5.0}, True),
        ({"n": "5"}, False),  # no type coercion in matching
        ({"active": True}, True),
        ({"active": 1}, False),  # a boolean is not a number
        ({"f": 2.5, "n": 5}, True),
        ({"f": 2.5, "n": 6}, False),
        # missing fields and null
        ({"missing": "x"}, False),
        ({"missing": None}, True),
        ({"nothing": None}, True),
        ({"name": None}, False),
        # arrays
        ({"tags": "a"}, True),
        ({"tags": "c"}, False),
        ({"tags": ["a", "b"]}, True),
        ({"tags": ["b", "a"]}, False),
        ({"tags": ["a"]}, False),
        ({"grid": 3}, True),  # sift walks nested arrays too
        ({"grid": [3]}, True),
        ({"empty": None}, False),
        ({"empty": []}, True),
        ({"tags.0": "a"}, True),
        ({"tags.1": "a"}, False),
        ({"tags.length": 2}, True),
        ({"tags.length": 1}, False),  # `length` is the array's own: its elements' lengths are not visited
        ({"name.length": 5}, True),
        ({"name.0": "a"}, True),
        ({"tags.5": None}, False),  # an index past the end is skipped by $eq
        # dotted paths
        ({"nested.x": 1}, True),
        ({"nested.deep.y": "z"}, True),
        ({"nested.deep.q": None}, True),
        ({"nested.nope.q": None}, True),
        ({"nested": {"x": 1, "deep": {"y": "z"}}}, True),
        ({"nested": {"deep": {"y": "z"}, "x": 1}}, True),
        ({"nested": {"x": 1}}, False),  # a nested object without operators is an exact match
        ({"orders.qty": 4}, True),  # paths walk through arrays of objects
        ({"orders.side": "buy"}, True),
        ({"orders.side": None}, True),  # the second order has no side
        ({"orders.qty": {"$gt": 3}}, True),
        ({"orders.qty": {"$gt": 4}}, False),
        ({"orders.0.qty": 1}, True),
        ({"orders.1.qty": 1}, False),
    ],
)
def test_equality_and_paths(query: dict[str, Any], expected: bool) -> None:
    assert matches(R, query) is expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"n": {"$gt": 4}}, True),
        ({"n": {"$gt": 5}}, False),
        ({"n": {"$gte": 5}}, True),
        ({"n": {"$lt": 5}}, False),
        ({"n": {"$lte": 5}}, True),
        ({"n": {"$gt": 1, "$lt": 9}}, True),
        ({"n": {"$gt": 1, "$lt": 3}}, False),
        ({"f": {"$gt": 2}}, True),
        ({"n": {"$gt": "4"}}, False),  # comparisons never cross types
        ({"name": {"$gt": 1}}, False),
        ({"name": {"$gt": "alp"}}, True),
        ({"name": {"$lt": "b"}}, True),
        ({"name": {"$lt": "Z"}}, False),  # code-unit order: upper case sorts first
        ({"active": {"$gt": False}}, True),
        ({"n": {"$gt": None}}, False),
        ({"nothing": {"$lte": None}}, True),  # sift 17.1: `b === null` (undefined counts as null)
        ({"missing": {"$gte": None}}, True),
        ({"nothing": {"$lt": None}}, False),  # `b != null && ...`
        ({"missing": {"$lt": 10}}, False),
        ({"tags": {"$gt": ["a"]}}, True),  # array bounds compare the JavaScript way: "a,b" > "a"
        ({"tags": {"$lt": ["a"]}}, False),
        ({"nested": {"$gte": {}}}, True),  # "[object Object]" >= "[object Object]"
        ({"n": {"$gte": {}}}, False),
        ({"tags": {"$gte": "b"}}, True),
        ({"grid": {"$gt": 2}}, True),
        ({"n": {"$gt": [1]}}, False),
        ({"createdAt": {"$gte": "2024-01-01T00:00:00.000Z"}}, True),
        ({"createdAt": {"$lt": "2024-01-15T10:00:00.000Z"}}, False),
        # $ne
        ({"n": {"$ne": 5}}, False),
        ({"n": {"$ne": "5"}}, True),
        ({"missing": {"$ne": 1}}, True),
        ({"missing": {"$ne": None}}, False),
        ({"nothing": {"$ne": None}}, False),
        ({"tags": {"$ne": "a"}}, False),
        ({"tags": {"$ne": "c"}}, True),
        ({"orders.side": {"$ne": None}}, False),
        # $in / $nin
        ({"n": {"$in": [1, 5]}}, True),
        ({"n": {"$in": [1, 2]}}, False),
        ({"n": {"$in": 5}}, True),  # a scalar is a one-item list
        ({"n": {"$in": []}}, False),
        ({"n": {"$in": ["5"]}}, False),
        ({"missing": {"$in": [None]}}, True),
        ({"tags": {"$in": ["x", "b"]}}, True),
        ({"tags": {"$in": [["a", "b"]]}}, True),
        ({"nested": {"$in": [{"x": 1, "deep": {"y": "z"}}]}}, True),
        ({"n": {"$nin": [1, 2]}}, True),
        ({"n": {"$nin": [5]}}, False),
        ({"n": {"$nin": []}}, True),
        ({"missing": {"$nin": ["x"]}}, True),
        ({"missing": {"$nin": [None]}}, False),
        ({"tags": {"$nin": ["b"]}}, False),
        ({"tags": {"$nin": ["c"]}}, True),
        ({"tags.7": {"$in": [None]}}, True),  # past the end: undefined for $in, unlike $eq
    ],
)
def test_operators(query: dict[str, Any], expected: bool) -> None:
    assert matches(R, query) is expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"$or": [{"n": 1}, {"name": "alpha"}]}, True),
        ({"$or": [{"n": 1}, {"name": "beta"}]}, False),
        ({"$or": [{"n": 1}, {"name": "alpha"}], "active": False}, False),
        ({"$and": [{"n": {"$gt": 1}}, {"n": {"$lt": 9}}]}, True),
        ({"$and": [{"n": 5}, {"name": "beta"}]}, False),
        ({"$or": [{"$or": [{"n": 5}]}, {"n": 9}]}, True),
        ({"$or": [{}]}, True),
        ({"$or": ["alpha"]}, False),
        ({"$or": [{"n": 1}], "$and": [{"n": 5}]}, False),
    ],
)
def test_or_and(query: dict[str, Any], expected: bool) -> None:
    assert matches(R, query) is expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"$or": []}, "$and/$or/$nor must be a nonempty array"),
        ({"$and": []}, "$and/$or/$nor must be a nonempty array"),
        ({"$or": {"a": 1}}, "Malformed query. $or must be an array."),
        ({"n": {"$or": [{"a": 1}]}}, "Malformed query. $or cannot be matched against property."),
        ({"n": {"$gt": 1, "x": 2}}, "Property queries must contain only operations, or exact objects."),
        ({"n": {"$in": [{"$gt": 1}]}}, "cannot nest $ under $in"),
    ],
)
def test_queries_sift_refuses_are_general_errors(query: dict[str, Any], message: str) -> None:
    with pytest.raises(GeneralError) as caught:
        parse_find_params(query)
    assert caught.value.message == message


def test_compile_matcher_is_reusable_and_matches_does_not_mutate() -> None:
    query = {"n": {"$in": [5]}, "$or": [{"tags": "a"}]}
    snapshot = json.dumps(query)
    check = compile_matcher(query)
    assert check(R) is True
    assert check({"n": 5, "tags": []}) is False
    assert json.dumps(query) == snapshot


# ---------------------------------------------------------------------------------------------------------------
# 1d. sorting (adapter-commons sort.ts)
# ---------------------------------------------------------------------------------------------------------------


def _js_compare(a: Any, b: Any) -> int:
    """A direct port of adapter-commons `compare`, the reference for the key-based sort."""
    missing = object

    def rank(value: Any) -> int:
        if value is missing or value is None:
            return 0  # 5.0.50 answers -1 both ways for null vs undefined; the mock keeps them as equals
        if isinstance(value, bool):
            return 4
        if isinstance(value, int | float):
            return 2
        if isinstance(value, str):
            return 3
        return 6 if isinstance(value, list) else 7

    def utf16(text: str) -> bytes:
        return text.encode("utf-16-be")

    ra, rb = rank(a), rank(b)
    if ra != rb:
        return -1 if ra < rb else 1
    if ra == 0:
        return 0
    if ra == 3:
        a, b = utf16(a), utf16(b)
    if ra in (2, 3, 4):
        return -1 if a < b else (1 if a > b else 0)
    if ra == 6:
        for x, y in zip(a, b, strict=False):
            if (result := _js_compare(x, y)) != 0:
                return result
        return -1 if len(a) < len(b) else (1 if len(a) > len(b) else 0)
    a_keys, b_keys = sorted(a, key=utf16), sorted(b, key=utf16)
    for x, y in zip(a_keys, b_keys, strict=False):
        if (result := _js_compare(a[x], b[y])) != 0:
            return result
    return -1 if len(a_keys) < len(b_keys) else (1 if len(a_keys) > len(b_keys) else 0)


_json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(-5, 5, allow_nan=False)
    | st.text(alphabet="aAb\uffff\U0001f600", max_size=3)
)
_json = st.recursive(
    _json_leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("abc"), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.just("<missing>"), _json), max_size=12), st.sampled_from([1, -1]))
def test_sort_matches_adapter_commons_compare(values: list[Any], direction: int) -> None:
    records = [{"_id": str(i)} if v == "<missing>" else {"_id": str(i), "v": v} for i, v in enumerate(values)]
    result = run(records, {"$sort": {"v": direction}, "$limit": 100})
    marker = object()

    def js_order(left: dict[str, Any], right: dict[str, Any]) -> int:
        a, b = left.get("v", marker), right.get("v", marker)
        return direction * _js_compare(object if a is marker else a, object if b is marker else b)

    expected = sorted(records, key=functools.cmp_to_key(js_order))
    assert ids(result) == [r["_id"] for r in expected]


def test_sort_type_order_and_stability() -> None:
    records = [
        {"_id": "obj", "v": {"a": 1}},
        {"_id": "arr", "v": [1]},
        {"_id": "true", "v": True},
        {"_id": "str", "v": "a"},
        {"_id": "num", "v": 10},
        {"_id": "null", "v": None},
        {"_id": "missing"},
        {"_id": "num2", "v": 2},
        {"_id": "null2", "v": None},
    ]
    assert ids(run(records, {"$sort": {"v": 1}})) == [
        "null",
        "missing",
        "null2",
        "num2",
        "num",
        "str",
        "true",
        "arr",
        "obj",
    ]
    assert ids(run(records, {"$sort": {"v": -1}})) == [
        "obj",
        "arr",
        "true",
        "str",
        "num",
        "num2",
        "null",
        "missing",
        "null2",
    ]


def test_sort_multi_key_dotted_and_string_directions() -> None:
    records = [
        {"_id": "1", "g": "b", "m": {"t": 1}},
        {"_id": "2", "g": "a", "m": {"t": 2}},
        {"_id": "3", "g": "b", "m": {"t": 3}},
        {"_id": "4", "g": "a", "m": {"t": 1}},
        {"_id": "5", "g": "a"},
    ]
    assert ids(run(records, parse_query_string("$sort[g]=1&$sort[m.t]=-1"))) == ["2", "4", "5", "3", "1"]
    assert ids(run(records, {"$sort": {"m.t": 1, "g": -1}})) == ["5", "1", "4", "2", "3"]


def test_strings_sort_by_utf16_code_units_like_javascript() -> None:
    records = [{"_id": "bmp", "v": "\uffff"}, {"_id": "astral", "v": "\U0001f600"}, {"_id": "ascii", "v": "z"}]
    assert ids(run(records, {"$sort": {"v": 1}})) == ["ascii", "astral", "bmp"]
    assert matches({"v": "\U0001f600"}, {"v": {"$lt": "\uffff"}}) is True
    assert matches({"v": "\U0001f600"}, {"v.length": 2}) is True


def test_a_nan_sort_direction_ends_the_comparison() -> None:
    records = [{"_id": "1", "a": 1, "b": 2}, {"_id": "2", "a": 1, "b": 1}, {"_id": "3", "a": 0, "b": 3}]
    assert ids(run(records, {"$sort": {"a": 1, "b": 1}})) == ["3", "2", "1"]
    assert ids(run(records, {"$sort": {"a": 1, "x": "up", "b": 1}})) == ["3", "1", "2"]
    assert ids(run(records, {"$sort": {"x": "up", "a": 1}})) == ["1", "2", "3"]


# ---------------------------------------------------------------------------------------------------------------
# 1e. find: the envelope, paging and $select
# ---------------------------------------------------------------------------------------------------------------

STORE = [{"_id": f"id{i:02d}", "n": i % 4, "name": f"name{i:02d}", "meta": {"k": i}} for i in range(30)]


def test_envelope_key_order_and_defaults() -> None:
    result = run(STORE, {})
    assert list(result) == ["total", "limit", "skip", "data"]
    assert (result["total"], result["limit"], result["skip"], len(result["data"])) == (30, 25, 0, 25)
    assert ids(result)[:3] == ["id00", "id01", "id02"]  # store order without $sort


def test_total_counts_every_match_before_skip_and_limit() -> None:
    result = run(STORE, {"n": 1, "$limit": 2, "$skip": 1})
    assert result["total"] == 8
    assert ids(result) == ["id05", "id09"]


def test_limit_zero_gives_no_data_and_the_real_total() -> None:
    assert run(STORE, {"$limit": 0}) == {"total": 30, "limit": 0, "skip": 0, "data": []}
    assert run(STORE, {"n": 2, "$limit": "0"})["total"] == 7


def test_limit_is_capped_at_max() -> None:
    result = run(STORE, {"$limit": 100}, max_limit=3)
    assert (result["limit"], len(result["data"])) == (3, 3)


def test_skip_past_the_end_and_negative_skip() -> None:
    assert run(STORE, {"$skip": 40})["data"] == []
    # memory 5.0.50 slices with Array.slice: a negative $skip keeps the last records, and is echoed as given
    result = run(STORE, {"$skip": "-2", "$limit": 5})
    assert (result["total"], result["skip"], ids(result)) == (30, -2, ["id28", "id29"])
    assert ids(run(STORE, {"$skip": -100, "$limit": 2})) == ["id00", "id01"]


def test_select_keeps_the_id_and_field_order() -> None:
    result = run(STORE, {"$select": ["name", "n"], "$limit": 1})
    assert result["data"] == [{"name": "name00", "n": 0, "_id": "id00"}]
    assert list(result["data"][0]) == ["name", "n", "_id"]
    assert run(STORE, {"$select": [], "$limit": 1})["data"] == [{"_id": "id00"}]
    assert run(STORE, {"$select": ["_id", "nope"], "$limit": 1})["data"] == [{"_id": "id00"}]
    assert run(STORE, {"$select": ["meta.k"], "$limit": 1})["data"] == [{"_id": "id00"}]  # no dotted picks


def test_select_respects_the_id_field_option() -> None:
    assert select({"id": 1, "a": 2, "b": 3}, ["a"], id_field="id") == {"a": 2, "id": 1}


def test_data_items_are_copies() -> None:
    store = [{"_id": "x", "meta": {"k": [1]}}]
    item = run(store, {})["data"][0]
    item["meta"]["k"].append(2)
    item["new"] = 1
    assert store == [{"_id": "x", "meta": {"k": [1]}}]
    assert select(store[0], None) == store[0]
    assert select(store[0], None) is not store[0]


def test_find_accepts_any_iterable() -> None:
    result = find((record for record in STORE), parse_find_params({"n": 3, "$sort": {"name": -1}}))
    assert result["total"] == 7
    assert ids(result)[0] == "id27"


def test_rest_query_end_to_end() -> None:
    types = field_types_from_schema({"properties": {"n": {"type": "integer"}, "name": {"type": "string"}}})
    raw = "n[$in][]=1&n[$in][]=3&$sort[n]=-1&$sort[name]=1&$limit=3&$skip=1&%24select%5B0%5D=name"
    result = run(STORE, coerce_query(parse_query_string(raw), types))
    assert result == {
        "total": 15,
        "limit": 3,
        "skip": 1,
        "data": [
            {"name": "name07", "_id": "id07"},
            {"name": "name11", "_id": "id11"},
            {"name": "name15", "_id": "id15"},
        ],
    }


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.one_of(st.none(), st.integers(0, 5), st.text(alphabet="ab", max_size=2)), max_size=40),
    st.integers(1, 7),
    st.sampled_from(["1", "-1"]),
    st.one_of(st.none(), st.integers(0, 5)),
)
def test_pages_concatenate_to_the_full_sorted_result(
    values: list[Any], page_size: int, direction: str, only: int | None
) -> None:
    records = [{"_id": f"{i:03d}", "v": value} for i, value in enumerate(values)]
    base: dict[str, Any] = {"$sort": {"v": direction, "_id": "1"}}
    if only is not None:
        base["v"] = {"$ne": only}
    everything = run(records, {**base, "$limit": 100})
    collected: list[str] = []
    skip = 0
    while True:
        page = run(records, {**base, "$limit": page_size, "$skip": skip})
        assert page["total"] == everything["total"]
        assert page["limit"] == page_size
        assert len(page["data"]) <= page_size
        if not page["data"]:
            break
        collected += ids(page)
        skip += page_size
    assert collected == ids(everything)
    assert everything["total"] == len(ids(everything))


# ---------------------------------------------------------------------------------------------------------------
# 2. get / patch / remove helpers
# ---------------------------------------------------------------------------------------------------------------


def test_check_query_for_get_raises_the_same_errors() -> None:
    with pytest.raises(BadRequest, match=r"^Invalid query parameter \$regex$"):
        check_query_for_get({"name": {"$regex": "x"}})
    with pytest.raises(BadRequest, match=r"^Invalid filter value \$foo$"):
        check_query_for_get({"$foo": 1})
    params = check_query_for_get({"$select": ["name"], "n": 5})
    assert select(R, params.select) == {"name": "alpha", "_id": "r1"}


def test_record_matches_query() -> None:
    assert record_matches_query(R, {}) is True
    assert record_matches_query(R, None) is True
    assert record_matches_query(R, {"name": "alpha", "$limit": 1, "$select": ["n"]}) is True
    assert record_matches_query(R, {"name": "nope"}) is False
    with pytest.raises(BadRequest):
        record_matches_query(R, {"name": {"$exists": True}})


def test_find_over_a_thousand_records_counts_and_pages() -> None:
    records = [{"_id": f"{i:024x}", "status": ["running", "stopped"][i % 2], "n": i} for i in range(1000)]
    params = parse_find_params({"status": "running", "n": {"$gte": 10}, "$limit": 100, "$skip": 5})
    result = find(records, params)
    assert result["total"] == 495
    assert [r["n"] for r in result["data"]][:3] == [20, 22, 24]
    assert len(result["data"]) == 100
