"""REST query strings against qs 6.17's `parse` with its defaults, as koa-qs runs it for Feathers.

Client authors build these strings with the Feathers REST client (qs.stringify) and rely on Feathers reading them
back the way qs does; each case states what qs returns (checked against the package running under Node).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockserver.server.query._qs import parse_query_string

# ---------------------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------------------


def qs_stringify(value: Any, prefix: str = "") -> list[str]:
    """qs.stringify with the Feathers REST client's defaults (indices, RFC 3986 encoding)."""
    if isinstance(value, dict):
        return [
            part for key, item in value.items() for part in qs_stringify(item, f"{prefix}[{key}]" if prefix else key)
        ]
    if isinstance(value, list):
        return [part for index, item in enumerate(value) for part in qs_stringify(item, f"{prefix}[{index}]")]
    return [f"{quote(prefix, safe='-_.~')}={quote(str(value), safe='-_.~')}"]


# ---------------------------------------------------------------------------------------------------------------
# 1. query strings (qs.parse defaults, as koa-qs uses them)
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("status=read&$limit=10&$select[]=text", {"status": "read", "$limit": "10", "$select": ["text"]}),
        # what the Feathers REST client really sends: qs.stringify encodes `$`, brackets, and uses indices
        ("status=read&%24limit=10&%24select%5B0%5D=text", {"status": "read", "$limit": "10", "$select": ["text"]}),
        (
            "status[$in][]=running&status[$in][]=starting",
            {"status": {"$in": ["running", "starting"]}},
        ),
        ("status[$in][0]=running&status[$in][1]=starting", {"status": {"$in": ["running", "starting"]}}),
        ("$or[0][name]=x&$or[1][type]=y", {"$or": [{"name": "x"}, {"type": "y"}]}),
        ("$or[0][name]=x&$or[0][type]=y", {"$or": [{"name": "x", "type": "y"}]}),
        ("createdAt[$gte]=2024-01-01", {"createdAt": {"$gte": "2024-01-01"}}),
        ("$sort[createdAt]=-1", {"$sort": {"createdAt": "-1"}}),
        ("$sort[createdAt]=-1&$sort[name]=1", {"$sort": {"createdAt": "-1", "name": "1"}}),
        ("active=true&$sort[createdAt]=-1&$limit=10", {"active": "true", "$sort": {"createdAt": "-1"}, "$limit": "10"}),
        ("a[b][c]=1", {"a": {"b": {"c": "1"}}}),
        ("a=1&a=2", {"a": ["1", "2"]}),
        ("a[]=x&a[]=y&a[]=", {"a": ["x", "y", ""]}),
        ("a[1]=y&a[0]=x", {"a": ["x", "y"]}),
        ("a[1]=b", {"a": ["b"]}),  # sparse arrays are compacted
        ("a[0]=x&a[b]=y", {"a": {"0": "x", "b": "y"}}),
        ("a=1&a[b]=2", {"a": ["1", {"b": "2"}]}),
        ("name=hello+world&x=%C3%A9t%C3%A9", {"name": "hello world", "x": "été"}),
        ("a%5Bb%5D=c", {"a": {"b": "c"}}),
        ("a%20b=c", {"a b": "c"}),
        ("a=%E0%A4%A", {"a": "%E0%A4%A"}),  # decodeURIComponent would throw: the text is kept
        ("a=%ZZ+1", {"a": "%ZZ 1"}),
        ("a=x=y", {"a": "x=y"}),
        ("a", {"a": ""}),
        ("=x&&b=", {"b": ""}),
        ("", {}),
        ("?x=1", {"x": "1"}),
        ("toString=1&a[constructor]=2&b=3", {"b": "3"}),  # keys on Object.prototype are dropped
        ("a[b[c]]=1", {"a": {"b[c]": "1"}}),
        ("a[=1", {"a": {"[": "1"}}),
        ("b=1&0=2", {"0": "2", "b": "1"}),
    ],
)
def test_parse_query_string(raw: str, expected: dict[str, Any]) -> None:
    result = parse_query_string(raw)
    assert result == expected
    assert list(result) == list(expected)


def test_parse_keeps_every_value_a_string() -> None:
    result = parse_query_string("n=5&b=true&z=null&l[]=1&o[x]=2.5")
    assert result == {"n": "5", "b": "true", "z": "null", "l": ["1"], "o": {"x": "2.5"}}


def test_indexes_up_to_19_make_arrays_and_larger_ones_object_keys() -> None:
    assert parse_query_string("a[19]=x") == {"a": ["x"]}
    assert parse_query_string("a[20]=x") == {"a": {"20": "x"}}
    assert parse_query_string("a[0]=x&a[25]=y") == {"a": {"0": "x", "25": "y"}}


def test_arrays_past_twenty_items_become_objects() -> None:
    twenty = "&".join(f"a[]={n}" for n in range(20))
    assert parse_query_string(twenty) == {"a": [str(n) for n in range(20)]}
    twenty_one = "&".join(f"a[]={n}" for n in range(21))
    assert parse_query_string(twenty_one) == {"a": {str(n): str(n) for n in range(21)}}
    repeated = "&".join(f"a={n}" for n in range(22))
    assert parse_query_string(repeated) == {"a": {str(n): str(n) for n in range(22)}}


def test_brackets_deeper_than_five_stay_one_literal_key() -> None:
    assert parse_query_string("a[b][c][d][e][f][g][h]=1") == {"a": {"b": {"c": {"d": {"e": {"f": {"[g][h]": "1"}}}}}}}


def test_parameter_limit_is_1000() -> None:
    raw = "&".join(f"k{n}=v" for n in range(1005))
    assert len(parse_query_string(raw)) == 1000


_keys = st.from_regex(r"[a-zA-Z$][a-zA-Z0-9_$]{0,6}", fullmatch=True).filter(
    lambda key: key not in {"constructor", "toString", "valueOf"}
)
_qs_values = st.recursive(
    st.text(max_size=8),
    lambda inner: st.lists(inner, min_size=1, max_size=4) | st.dictionaries(_keys, inner, min_size=1, max_size=3),
    max_leaves=8,
)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(_depth(item) for item in value.values())
    if isinstance(value, list):
        return 1 + max(_depth(item) for item in value)
    return 0


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_keys, _qs_values, min_size=1, max_size=4).filter(lambda obj: _depth(obj) <= 5))
def test_parse_inverts_the_rest_clients_stringify(obj: dict[str, Any]) -> None:
    assert parse_query_string("&".join(qs_stringify(obj))) == obj
