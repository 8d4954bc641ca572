"""Random bodies, methods and paths at the control API: every answer is a success or a Feathers-shaped 4xx (or the
501 of an operation this build lacks), never a 500, and the server keeps serving afterwards.

Requests go over one kept-alive stdlib connection, so a few hundred examples per endpoint take a second or two.
Tape paths are drawn from plain file names and the test runs in a temporary directory: once tapes are in the
build, a body that happens to be valid writes its recording there, not somewhere on the machine.
"""

from __future__ import annotations

import contextlib
import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from crmock_support import FEATHERS_CODES, assert_error_shape, login_token, run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockserver.contract import SERVICES
from mockserver.server import ServerThread
from mockserver.strategies._schema import UnsupportedSchemaError, from_schema

SCHEMAS = Path(__file__).resolve().parents[2] / "mockserver" / "server" / "control_schemas"
ANSWERS = frozenset({200, 201, 202, 204, 400, 404, 405, 409, 501})
FUZZ = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
NOT_STRINGS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.lists(JSON, max_size=2)
TAPE_NAMES = st.from_regex(r"\A[a-z]{1,8}\.tape\Z") | NOT_STRINGS  # never a path outside the working directory
RAW = st.sampled_from(["", "{", "not json", "[1,2", '{"a":NaN}', "\x00", "null", '"text"', "[" * 80 + "]" * 80])


def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / f"{name}.json").read_text())
    return loaded


def valid_or_any(sub: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values of the schema where the strategies' compiler covers it (it targets the API's schemas), else any JSON."""
    try:
        return from_schema(sub)
    except UnsupportedSchemaError:
        return JSON


def near_misses(name: str, overrides: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with the schema's own field names, each holding a valid value or any JSON, plus stray fields."""
    fields = {
        key: overrides.get(key, st.one_of(valid_or_any(sub), JSON)) for key, sub in schema(name)["properties"].items()
    }
    return st.fixed_dictionaries({}, optional={**fields, "stray": JSON, "": JSON})


POST_BODIES: dict[str, st.SearchStrategy[Any]] = {}
for endpoint, name, overrides in [
    ("/clock", "clock", {}),
    ("/emit", "emit", {"path": st.sampled_from([*SERVICES, "nope", "/traders/"]) | JSON}),
    ("/reset", "reset", {}),
    ("/disconnect", "disconnect", {}),
    ("/tokens/expire", "tokens-expire", {}),
    ("/faults", "fault", {}),
    ("/scenarios", "scenarios", {}),
    ("/record", "record", {"path": TAPE_NAMES}),
    ("/replay", "replay", {"path": TAPE_NAMES}),
]:
    bodies = [JSON.map(json.dumps), RAW, near_misses(name, overrides).map(json.dumps)]
    if not overrides:
        bodies.append(valid_or_any(schema(name)).map(json.dumps))  # valid ones too, where they compile
    POST_BODIES[endpoint] = st.one_of(bodies)

SEGMENTS = st.sampled_from(["clock", "emit", "faults", "journal", "tokens", "expire", "record", "..", "%2F", ""])
PATHS = st.lists(SEGMENTS | st.text(max_size=6), max_size=3).map(
    lambda parts: "/".join(quote(p, safe="") for p in parts)
)
METHODS = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "PROPFIND"])
QUERIES = st.sampled_from(["", "since=3", "kind=call", "limit=0", "since=x", "a=1&a=2", "%zz"])


class Connection:
    """One kept-alive HTTP/1.1 connection to the mock, reopened if the server closed it."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=None if body is None else body.encode(), headers=headers)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def http_conn(crmock_thread: ServerThread) -> Iterator[Connection]:
    connection = Connection(crmock_thread.url)
    yield connection
    connection.conn.close()


@pytest.fixture(scope="module", autouse=True)
def in_a_scratch_directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with contextlib.chdir(tmp_path_factory.mktemp("control-fuzz")):
        yield


def check_answer(method: str, status: int, raw: bytes) -> None:
    assert status != 500, raw
    assert status in ANSWERS, (status, raw)
    if method == "HEAD" or status == 204:
        return
    answer = json.loads(raw)
    if status >= 400:
        assert_error_shape(answer)
        assert answer["code"] == status
        assert status in FEATHERS_CODES


@pytest.mark.parametrize("endpoint", sorted(POST_BODIES))
@FUZZ
@given(data=st.data())
def test_random_bodies_get_well_formed_answers(
    crmock_thread: ServerThread, http_conn: Connection, endpoint: str, data: st.DataObject
) -> None:
    body = data.draw(POST_BODIES[endpoint], label="body")
    status, raw = http_conn.request("POST", "/_mock" + endpoint, body)
    check_answer("POST", status, raw)


@FUZZ
@given(method=METHODS, path=PATHS, query=QUERIES, body=st.none() | JSON.map(json.dumps))
def test_random_methods_and_paths_get_well_formed_answers(
    crmock_thread: ServerThread, http_conn: Connection, method: str, path: str, query: str, body: str | None
) -> None:
    status, raw = http_conn.request(method, f"/_mock/{path}?{query}", body)
    check_answer(method, status, raw)


def test_the_server_is_healthy_after_the_fuzz(crmock_thread: ServerThread, http_conn: Connection) -> None:
    server = crmock_thread.server
    assert server.clock.failures == []
    status, raw = http_conn.request("POST", "/_mock/reset", "{}")
    assert status == 200, raw
    status, raw = http_conn.request("GET", "/_mock/clock")
    assert (status, json.loads(raw)["mode"]) == (200, "real")
    assert run(login_token(crmock_thread.url))  # the API itself still answers
