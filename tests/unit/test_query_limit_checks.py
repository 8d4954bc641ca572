"""QueryLimits and the checks behind them: exact counting, no recursion of their own, and the socket decoder that
turns nesting past Python's recursion limit into a refusal instead of a lost call."""

from __future__ import annotations

from typing import Any

import pytest
from socketio import packet

from mockserver.errors import BadRequest
from mockserver.server import Options, QueryLimits
from mockserver.server._packets import DeepTolerantPacket
from mockserver.server.query import TOO_DEEP, check_depth, check_query, check_query_string

LIMITS = QueryLimits(max_depth=6, max_operators=5, max_in=3, max_sort_keys=2, max_select_keys=2, max_values=20)


def refused(query: Any, limits: QueryLimits = LIMITS) -> str | None:
    """The limit a query is refused for (checking the message names it too), or None when it passes."""
    try:
        check_query(query, limits)
    except BadRequest as error:
        refusal = error
    else:
        return None
    assert isinstance(refusal.data, dict)
    limit: str = refusal.data["limit"]
    assert f"(limit {limit}={getattr(limits, limit)})" in refusal.message
    return limit


def nested_lists(depth: int) -> list[Any]:
    """`[[[...]]]` `depth` levels deep, built without recursion."""
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_depth", 0),
        ("max_depth", 201),
        ("max_operators", -1),
        ("max_in", True),
        ("max_values", 1.5),
        ("max_sort_keys", "8"),
    ],
)
def test_limits_are_checked_up_front(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=field):
        QueryLimits(**{field: value})


def test_options_take_query_limits_only() -> None:
    assert Options(query_limits=LIMITS).query_limits is LIMITS
    assert Options().query_limits == QueryLimits()
    with pytest.raises(ValueError, match="query_limits"):
        Options(query_limits={"max_depth": 3})  # type: ignore[arg-type]


def test_operators_are_counted_exactly() -> None:
    assert refused({"a": 1, "b": {"$gt": 1, "$lt": 5}, "c": 3}) is None  # a, b, $gt, $lt, c
    assert refused({"a": 1, "b": {"$gt": 1, "$lt": 5}, "c": 3, "d": 4}) == "max_operators"
    assert refused({"$or": [{"a": 1}, {"b": 2}, {"c": 3}, {"d": 4}]}) is None
    assert refused({"$or": [{"a": 1}, {"b": 2}, {"c": 3}, {"d": 4}, {"e": 5}]}) == "max_operators"


def test_a_dotted_path_counts_one_operator_per_dot_and_one_level_per_dot() -> None:
    assert refused({"a.b.c.d.e": 1}) is None  # 1 key + 4 dots
    assert refused({"a.b.c.d.e.f": 1}) == "max_operators"
    deep = QueryLimits(max_depth=3)
    assert refused({"a.b.c": 1}, deep) is None
    assert refused({"a.b.c.d": 1}, deep) == "max_depth"
    assert refused({"x": {"a.b": 1}}, deep) is None
    assert refused({"x": {"a.b.c": 1}}, deep) == "max_depth"


def test_in_and_nin_lengths() -> None:
    assert refused({"a": {"$in": [1, 2, 3]}, "b": {"$nin": ["x", "y", "z"]}}) is None
    assert refused({"a": {"$in": [1, 2, 3, 4]}}) == "max_in"
    assert refused({"a": {"$nin": [1, 2, 3, 4]}}) == "max_in"
    assert refused({"a": [1, 2, 3, 4]}) is None  # an equality array is no `$in`; it counts towards max_values


def test_sort_and_select_keys_have_their_own_limits_and_are_no_operators() -> None:
    assert refused({"$sort": {"a": 1, "b": -1}, "$select": ["a", "b"], "c": 1, "d": 2, "e": 3, "f": 4}) is None
    assert refused({"$sort": {"a": 1, "b": -1, "c": 1}}) == "max_sort_keys"
    assert refused({"$select": ["a", "b", "c"]}) == "max_select_keys"
    assert refused({"$select": {"a": 1, "b": 1, "c": 1}}) == "max_select_keys"
    assert refused({"x": {"$sort": {"a": 1, "b": 1, "c": 1, "d": 1}}}) == "max_operators"  # not at the top: conditions


def test_overall_size_counts_every_value() -> None:
    assert refused({"a": list(range(18))}) is None  # the query, the list and 18 numbers
    assert refused({"a": list(range(19))}) == "max_values"
    assert refused({"$or": [{"a": index} for index in range(60_000)]}, QueryLimits()) == "max_values"


def test_depth_counts_objects_and_arrays() -> None:
    assert refused({"a": {"$in": [[[[1]]]]}}) is None  # 6 levels
    assert refused({"a": {"$in": [[[[[1]]]]]}}) == "max_depth"
    assert refused(nested_lists(6)) is None
    assert refused(nested_lists(7)) == "max_depth"


def test_the_checks_do_not_recurse() -> None:
    """100,000 levels would overflow any recursive walk; these are refused (or measured) with a stack."""
    deep = nested_lists(100_000)
    assert refused(deep, QueryLimits(max_values=10**6)) == "max_depth"
    with pytest.raises(BadRequest, match="Request body is nested more than 6 levels deep"):
        check_depth({"data": deep}, LIMITS, "Request body")
    check_depth({"a": [{"b": [1, 2]}, "x"]}, LIMITS, "Request body")


def test_too_deep_marks_are_refused_wherever_they_are() -> None:
    assert refused(TOO_DEEP) == "max_depth"
    assert refused({"a": {"$in": [TOO_DEEP]}}) == "max_depth"
    with pytest.raises(BadRequest, match="max_depth"):
        check_depth([1, {"a": TOO_DEEP}], LIMITS, "Request body")


def test_rest_keys_with_more_brackets_than_the_depth_are_refused() -> None:
    check_query_string("a[b][c][d][e][f]=1&$or[0][x]=2", LIMITS)  # at most 6 levels: the key and 5 brackets
    check_query_string("a%5Bb%5D%5Bc%5D%5Bd%5D%5Be%5D%5Bf%5D=1", LIMITS)
    check_query_string("a=" + "[" * 50, LIMITS)  # brackets in a value are text
    for raw in ("a[b][c][d][e][f][g]=1", "x=1&a%5Bb%5D%5Bc%5D%5Bd%5D%5Be%5D%5Bf%5D%5bg%5d=1", "$or" + "[0][$or]" * 200):
        with pytest.raises(BadRequest, match="max_depth"):
            check_query_string(raw, LIMITS)


# -- the socket decoder -----------------------------------------------------------------------------------------------
def decode(text: str) -> Any:
    decoded = DeepTolerantPacket(encoded_packet=text)
    return decoded.id, decoded.data


def test_packets_decode_as_python_socketio_does() -> None:
    text = '25["find","trades",{"a":[1,2.5,null,true]}]'
    plain = packet.Packet(encoded_packet=text)
    assert decode(text) == (plain.id, plain.data) == (5, ["find", "trades", {"a": [1, 2.5, None, True]}])


def test_an_argument_past_the_recursion_limit_arrives_as_too_deep() -> None:
    deep = "[" * 50_000 + "]" * 50_000
    assert decode(f'27["find", "trades" , {deep}, {{"x": 1}}]') == (7, ["find", "trades", TOO_DEEP])
    assert decode(f"27[{deep}]") == (7, [TOO_DEEP])


def test_a_deep_packet_that_is_no_array_is_malformed() -> None:
    """python-socketio closes the connection on a malformed packet (a ValueError), as before."""
    with pytest.raises(ValueError, match="nested too deeply"):
        decode("27" + '{"a":' * 50_000 + "1" + "}" * 50_000)
