"""Random REST requests at a running server: every answer is well formed, nothing crashes, failures change nothing."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from crmock_support import FEATHERS_CODES, USER, assert_error_shape, login_token, run, store_state
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockserver.contract import SERVICES
from mockserver.server import ServerThread

SEGMENTS = st.sampled_from(
    [*(p for path in SERVICES for p in path.split("/")), "restricted", "nope", "..", "%2F", "507f1f77bcf86cd799439011"]
)
PATHS = st.lists(SEGMENTS, min_size=0, max_size=4).map(lambda parts: "/" + "/".join(parts))
KEYS = st.sampled_from(
    [
        "$limit",
        "$skip",
        "$sort[name]",
        "$select[]",
        "status[$in][]",
        "$or[0][name]",
        "name[$regex]",
        "createdAt[$gte]",
        "dry_run",
        "$where",
        "a[b][c][d][e][f][g]",
        "",
        "=",
        "[]",
    ]
)
VALUES = st.one_of(
    st.sampled_from(["1", "-1", "abc", "true", "null", "2024-01-01", "", "%", "%zz"]), st.text(max_size=8)
)
QUERIES = st.lists(st.tuples(KEYS, VALUES), max_size=5).map(
    lambda pairs: "&".join(f"{quote(k, safe='[]$')}={quote(v)}" for k, v in pairs)
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
BODIES = st.one_of(JSON.map(json.dumps), st.sampled_from(["", "{", "not json", "[1,2", '{"a":NaN}', "\x00"]))
METHODS = st.sampled_from(["GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "TRACE"])
AUTH = st.sampled_from(["token", "none", "Bearer garbage", "ApiKey cr_live_nope", "Basic Zm9vOmJhcg==", ""])


@pytest.fixture(scope="module")
def token(crmock_thread: ServerThread) -> str:
    return run(login_token(crmock_thread.url, USER))


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(method=METHODS, path=PATHS, query=QUERIES, body=BODIES, auth=AUTH)
def test_random_requests_get_well_formed_answers(
    crmock_thread: ServerThread, token: str, method: str, path: str, query: str, body: str, auth: str
) -> None:
    before = store_state(crmock_thread)
    headers = {"Content-Type": "application/json"}
    if auth == "token":
        headers["Authorization"] = f"Bearer {token}"
    elif auth != "none":
        headers["Authorization"] = auth

    async def send() -> tuple[int, str]:
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                method, f"{crmock_thread.url}{path}?{query}", data=body.encode(), headers=headers
            ) as response,
        ):
            return response.status, await response.text()

    status, text = run(send())
    assert status != 500, text
    if method == "HEAD":
        return
    answer: Any = json.loads(text)
    if status >= 400:
        assert_error_shape(answer)
        assert answer["code"] == status
        assert status in FEATHERS_CODES
        if method in ("POST", "PATCH", "PUT", "DELETE") and status != 201:
            assert store_state(crmock_thread) == before  # a refused write changed nothing


def test_the_server_still_serves_a_normal_client_afterwards(crmock: ServerThread) -> None:
    async def find() -> Any:
        fresh = await login_token(crmock.url, USER)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{crmock.url}/traders?$limit=2", headers={"Authorization": f"Bearer {fresh}"}) as response,
        ):
            assert response.status == 200
            return await response.json()

    assert run(find())["limit"] == 2
