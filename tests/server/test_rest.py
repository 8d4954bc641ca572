"""REST as `@feathersjs/rest-client` uses it: verbs, status codes, qs-encoded queries, errors (§2.1, §3, §4, §6)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

import aiohttp
import jwt
import pytest
from crmock_support import OTHER, OTHER_ID, SEED, USER_ID, assert_error, assert_valid, login_token, rest, run

from mockserver.server import MockServer, Options, ServerThread


@pytest.fixture
def token(crmock: ServerThread) -> str:
    return run(login_token(crmock.url))


def rest_call(crmock: ServerThread, method: str, path: str, **kwargs: Any) -> tuple[int, Any, Any]:
    return run(rest(method, crmock.url, path, **kwargs))


def all_of(crmock: ServerThread, token: str, path: str) -> list[dict[str, Any]]:
    status, _, page = rest_call(crmock, "GET", f"{path}?$limit=100", token=token)
    assert status == 200, page
    assert page["total"] <= 100
    records: list[dict[str, Any]] = page["data"]
    return records


# -- verbs and status codes ---------------------------------------------------------------------------------------
def test_crud_status_codes_and_bodies(crmock: ServerThread, token: str) -> None:
    contract = crmock.server.contract
    status, _, page = rest_call(crmock, "GET", "/strategies", token=token)
    assert status == 200
    assert list(page) == ["total", "limit", "skip", "data"]
    assert (page["total"], page["limit"], page["skip"]) == (3, 25, 0)
    assert_valid(contract, "strategies", "page", page)

    first = page["data"][0]
    status, _, got = rest_call(crmock, "GET", f"/strategies/{first['_id']}", token=token)
    assert (status, got) == (200, first)

    body = {"name": "BTC Momentum", "interval": "1m", "stoploss": -0.036, "exit_profit_only": True}
    status, _, created = rest_call(crmock, "POST", "/strategies", token=token, json_body=body)
    assert status == 201
    assert {k: created[k] for k in body} == body
    assert created["userId"] == USER_ID
    assert created["configured"] is False
    assert created["createdAt"] == created["updatedAt"]
    assert_valid(contract, "strategies", "object", created)

    status, _, patched = rest_call(
        crmock, "PATCH", f"/strategies/{created['_id']}", token=token, json_body={"stoploss": -0.1}
    )
    assert status == 200
    assert patched == {**created, "stoploss": -0.1, "updatedAt": patched["updatedAt"]}
    assert patched["updatedAt"] >= created["updatedAt"]

    status, _, removed = rest_call(crmock, "DELETE", f"/strategies/{created['_id']}", token=token)
    assert (status, removed) == (200, patched)
    status, _, gone = rest_call(crmock, "GET", f"/strategies/{created['_id']}", token=token)
    assert status == 404
    assert_error(gone, "NotFound", 404, f"No record found for id '{created['_id']}'")


@pytest.mark.parametrize("path", ["/strategies/64dee59510b3b7846cc961bf", "/strategies", "/models/x", "/users/x"])
def test_put_is_always_method_not_allowed(crmock: ServerThread, token: str, path: str) -> None:
    status, _, body = rest_call(crmock, "PUT", path, token=token, json_body={"name": "x"})
    assert status == 405
    assert_error(body, "MethodNotAllowed", 405, "Method `update` is not supported by this endpoint.")


@pytest.mark.parametrize(
    ("method", "path", "wanted"),
    [
        ("POST", "/strategies/templates", "create"),
        ("PATCH", "/events/x", "patch"),
        ("DELETE", "/models/x", "remove"),
        ("GET", "/traders/pods", "find"),
        ("POST", "/trades/x", "create"),
    ],
)
def test_a_verb_the_service_does_not_offer_is_405(
    crmock: ServerThread, token: str, method: str, path: str, wanted: str
) -> None:
    status, _, body = rest_call(crmock, method, path, token=token, json_body={} if method != "GET" else None)
    assert status == 405
    assert_error(body, "MethodNotAllowed", 405, f"Method `{wanted}` is not supported by this endpoint.")


def test_multi_writes_over_rest_are_405(crmock: ServerThread, token: str) -> None:
    status, _, body = rest_call(crmock, "PATCH", "/strategies", token=token, json_body={"name": "all"})
    assert status == 405
    assert_error(body, "MethodNotAllowed", 405, "Can not patch multiple entries")
    status, _, body = rest_call(crmock, "DELETE", "/strategies", token=token)
    assert status == 405
    assert_error(body, "MethodNotAllowed", 405, "Can not remove multiple entries")
    status, _, body = rest_call(crmock, "POST", "/strategies", token=token, json_body=[{"name": "a"}])
    assert status == 405
    assert_error(body, "MethodNotAllowed", 405, "Can not create multiple entries")
    assert len(all_of(crmock, token, "/strategies")) == 3


@pytest.mark.parametrize("path", ["/nope", "/nope/1", "/strategies/a/b", "/traders/pods/events/x/y", "/socket"])
def test_an_unknown_path_is_404_path_not_found(crmock: ServerThread, token: str, path: str) -> None:
    status, _, body = rest_call(crmock, "GET", path, token=token)
    assert status == 404
    assert_error(body, "NotFound", 404, f"Path {path} not found")


def test_unknown_http_verb(crmock: ServerThread, token: str) -> None:
    status, _, body = rest_call(crmock, "PROPFIND", "/strategies", token=token)
    assert status == 405
    assert_error(body, "MethodNotAllowed", 405, "Method PROPFIND not allowed")


def test_the_longest_service_path_wins(crmock: ServerThread, token: str) -> None:
    contract = crmock.server.contract
    status, _, page = rest_call(crmock, "GET", "/strategies/templates", token=token)
    assert status == 200
    assert list(page) == ["total", "limit", "skip", "data"]
    assert [t["_id"] for t in page["data"]] == ["tmpl-1", "tmpl-2"]
    assert_valid(contract, "strategies/templates", "page", page)
    status, _, template = rest_call(crmock, "GET", "/strategies/templates/tmpl-1", token=token)
    assert status == 200
    assert template["values"]["stoploss"] == -0.077
    status, _, page = rest_call(crmock, "GET", "/traders/pods/events?$limit=1", token=token)
    assert status == 200
    assert_valid(contract, "traders/pods/events", "page", page)


def test_a_pod_command_over_rest_answers_201_with_its_result(crmock: ServerThread, token: str) -> None:
    running = next(t for t in all_of(crmock, token, "/traders") if t["status"] == "running")
    status, _, body = rest_call(
        crmock, "POST", "/traders/pods", token=token, json_body={"traderId": running["_id"], "command": "ping"}
    )
    assert (status, body) == (201, {"status": "pong"})


# -- queries ------------------------------------------------------------------------------------------------------
def test_limit_skip_and_sort(crmock: ServerThread, token: str) -> None:
    everything = all_of(crmock, token, "/traders")
    newest_first = sorted(everything, key=lambda t: t["createdAt"], reverse=True)
    status, _, page = rest_call(crmock, "GET", "/traders?$limit=2&$skip=1&$sort[createdAt]=-1", token=token)
    assert status == 200
    assert (page["total"], page["limit"], page["skip"]) == (len(everything), 2, 1)
    assert page["data"] == newest_first[1:3]
    status, _, page = rest_call(crmock, "GET", "/traders?$sort[name]=1&$sort[createdAt]=-1", token=token)
    assert [t["name"] for t in page["data"]] == sorted(t["name"] for t in everything)


@pytest.mark.parametrize(
    ("query", "limit", "count"),
    [("$limit=1000", 100, 50), ("$limit=0", 0, 0), ("$limit=-3", 25, 25), ("$limit=abc", 25, 25), ("", 25, 25)],
)
def test_limit_defaults_and_clamping(crmock: ServerThread, token: str, query: str, limit: int, count: int) -> None:
    status, _, page = rest_call(crmock, "GET", f"/trades?{query}", token=token)
    assert status == 200
    assert (page["total"], page["limit"], len(page["data"])) == (50, limit, count)


def test_in_operator_in_qs_bracket_syntax(crmock: ServerThread, token: str) -> None:
    everything = all_of(crmock, token, "/traders")
    wanted = {"running", "stopped"}
    for qs in ("status[$in][]=running&status[$in][]=stopped", "status[$in][0]=running&status[$in][1]=stopped"):
        status, _, page = rest_call(crmock, "GET", f"/traders?{qs}", token=token)
        assert status == 200, page
        assert {t["status"] for t in page["data"]} == wanted
        assert page["total"] == sum(t["status"] in wanted for t in everything)
    status, _, page = rest_call(crmock, "GET", "/traders?status[$nin][]=running", token=token)
    assert page["total"] == sum(t["status"] != "running" for t in everything)


def test_select_keeps_the_id(crmock: ServerThread, token: str) -> None:
    status, _, page = rest_call(crmock, "GET", "/strategies?$select[]=name", token=token)
    assert status == 200
    assert page["total"] == 3
    assert all(list(s) == ["name", "_id"] for s in page["data"])
    status, _, one = rest_call(crmock, "GET", "/strategies/templates/tmpl-1?$select[]=type", token=token)
    assert one == {"type": "BbandRsi", "_id": "tmpl-1"}


def test_date_comparison_on_a_date_only_value(crmock: ServerThread, token: str) -> None:
    trades = all_of(crmock, token, "/trades")
    expected = sum(t["createdAt"] >= "2024-01-01T00:00:00.000Z" for t in trades)
    status, _, page = rest_call(crmock, "GET", "/trades?createdAt[$gte]=2024-01-01&$limit=100", token=token)
    assert status == 200, page
    assert page["total"] == expected
    assert all(t["createdAt"] >= "2024-01-01" for t in page["data"])
    status, _, page = rest_call(crmock, "GET", "/trades?createdAt[$lt]=2024-01-01&$limit=100", token=token)
    assert page["total"] == len(trades) - expected


@pytest.mark.parametrize("value", ["true", "false"])
def test_booleans_are_coerced(crmock: ServerThread, token: str, value: str) -> None:
    traders = all_of(crmock, token, "/traders")
    status, _, page = rest_call(crmock, "GET", f"/traders?dry_run={value}", token=token)
    assert status == 200
    assert page["total"] == sum(t["dry_run"] is (value == "true") for t in traders)
    assert page["total"] > 0
    assert all(t["dry_run"] is (value == "true") for t in page["data"])


def test_numbers_and_or_are_coerced(crmock: ServerThread, token: str) -> None:
    traders = all_of(crmock, token, "/traders")
    wallet = traders[0]["dry_run_wallet"]
    status, _, page = rest_call(crmock, "GET", f"/traders?dry_run_wallet[$gte]={wallet}", token=token)
    assert status == 200
    assert page["total"] == sum(t["dry_run_wallet"] >= wallet for t in traders)
    status, _, page = rest_call(crmock, "GET", "/traders?$or[0][name]=Trader 1&$or[1][name]=Trader 2", token=token)
    assert sorted(t["name"] for t in page["data"]) == ["Trader 1", "Trader 2"]


def test_unknown_operators_over_rest(crmock: ServerThread, token: str) -> None:
    status, _, body = rest_call(crmock, "GET", "/traders?name[$regex]=x", token=token)
    assert status == 400
    assert body == {
        "name": "BadRequest",
        "message": "Invalid query parameter $regex",
        "code": 400,
        "className": "bad-request",
        "data": {"$regex": "x"},
    }
    status, _, body = rest_call(crmock, "GET", "/traders?$regex=x", token=token)
    assert status == 400
    assert_error(body, "BadRequest", 400, "Invalid filter value $regex")
    assert "data" not in body


# -- errors -------------------------------------------------------------------------------------------------------
def test_the_http_status_equals_the_error_code(crmock: ServerThread, token: str) -> None:
    other_token = run(login_token(crmock.url, OTHER))
    mine = all_of(crmock, token, "/strategies")[0]["_id"]
    unconfigured = next(t["_id"] for t in all_of(crmock, token, "/traders") if not t.get("exchangeId"))
    cases = [
        ("GET", "/strategies", None, None),
        ("GET", f"/strategies/{mine}", other_token, None),
        ("GET", "/strategies/ffffffffffffffffffffffff", token, None),
        ("PUT", f"/strategies/{mine}", token, {}),
        ("POST", "/strategies", token, {"stoploss": 1}),
        ("PATCH", f"/traders/{unconfigured}", token, {"running": True}),
        ("POST", "/traders/pods", token, {"traderId": "x", "command": "nope"}),
        ("GET", "/nope", token, None),
    ]
    seen = set()
    for method, path, auth, body in cases:
        status, _, error = rest_call(crmock, method, path, token=auth, json_body=body)
        assert_error(error, error["name"], status)
        assert 400 <= status < 600
        seen.add(status)
    assert seen == {400, 401, 403, 404, 405, 422}


@pytest.mark.parametrize(
    "raw", [b"{not json", b"[1", b"\xff\xfe\x00", b'{"name": "x"', b"nul", b'"unterminated', b"{}}"]
)
def test_invalid_json_is_a_feathers_bad_request(crmock: ServerThread, token: str, raw: bytes) -> None:
    status, _, body = rest_call(
        crmock, "POST", "/strategies", token=token, data=raw, headers={"Content-Type": "application/json"}
    )
    assert status == 400
    assert_error(body, "BadRequest", 400)
    assert len(all_of(crmock, token, "/strategies")) == 3


def test_a_body_that_is_valid_json_but_not_an_object(crmock: ServerThread, token: str) -> None:
    for raw in ("5", '"x"', "null", "true"):
        status, _, body = rest_call(
            crmock, "POST", "/strategies", token=token, data=raw, headers={"Content-Type": "application/json"}
        )
        assert status == 400, raw
        assert_error(body, "BadRequest", 400)


@pytest.mark.parametrize("size", [1_000_001, 3_000_000])
def test_a_body_over_one_megabyte_is_a_feathers_error(crmock: ServerThread, token: str, size: int) -> None:
    raw = json.dumps({"name": "x" * size})
    status, _, body = rest_call(
        crmock, "POST", "/strategies", token=token, data=raw, headers={"Content-Type": "application/json"}
    )
    assert 400 <= status < 500
    assert_error(body, body["name"], status)
    status, _, _ = rest_call(crmock, "GET", "/strategies", token=token)  # still serving
    assert status == 200
    assert len(all_of(crmock, token, "/strategies")) == 3


# -- CORS ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/strategies", "/strategies/x", "/authentication", "/nope"])
def test_options_preflight_is_answered_with_cors_headers(crmock: ServerThread, path: str) -> None:
    headers = {
        "Origin": "http://localhost:5173",
        "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    status, response_headers, _ = rest_call(crmock, "OPTIONS", path, headers=headers)
    assert status in (200, 204)
    assert response_headers["Access-Control-Allow-Origin"] in ("*", "http://localhost:5173")
    methods = {m.strip() for m in response_headers["Access-Control-Allow-Methods"].split(",")}
    assert {"GET", "POST", "PATCH", "DELETE"} <= methods
    allowed = {h.strip().lower() for h in response_headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed


def test_every_response_carries_cors_headers_and_json(crmock: ServerThread, token: str) -> None:
    for method, path, auth in [("GET", "/strategies", token), ("GET", "/strategies", None), ("GET", "/nope", token)]:
        _, headers, _ = rest_call(crmock, method, path, token=auth, headers={"Origin": "http://localhost:5173"})
        assert headers["Access-Control-Allow-Origin"] in ("*", "http://localhost:5173")
        assert headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(
    "raw", ['{"name":"x","exit_profit_offset":NaN}', '{"name":"x","exit_profit_offset":-Infinity}']
)
def test_nan_and_infinity_in_a_body_are_refused(crmock: ServerThread, token: str, raw: str) -> None:
    status, _, body = rest_call(
        crmock, "POST", "/strategies", token=token, data=raw, headers={"Content-Type": "application/json"}
    )
    assert status == 400
    assert_error(body, "BadRequest", 400)
    status, headers, page = rest_call(crmock, "GET", "/strategies", token=token)
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    assert page["total"] == 3


def test_oauth_google_redirects_straight_back_with_an_access_token() -> None:
    """§5.6: no Google round trip; the app's callback gets `#access_token=` (or `#error=`) as Feathers sends it."""
    options = Options(start_delay=0, oauth_redirect="http://localhost:5173/login")

    async def scenario(url: str) -> None:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{url}/oauth/google?email=trader@example.com", allow_redirects=False) as response:
                assert response.status == 302
                location = response.headers["Location"]
            base, _, fragment = location.partition("#access_token=")
            assert base == "http://localhost:5173/login"
            claims = jwt.decode(fragment, options={"verify_signature": False})
            assert claims["sub"] == OTHER_ID
            headers = {"Authorization": f"Bearer {fragment}"}
            async with session.get(f"{url}/traders", headers=headers) as response:
                assert response.status == 200  # the token is a real one

            async with session.get(f"{url}/oauth/google?email=nobody@example.com", allow_redirects=False) as response:
                location = unquote(response.headers["Location"])
                assert location == "http://localhost:5173/login#error=No user with email nobody@example.com"

    with MockServer(seed=SEED, options=options).running() as handle:
        run(scenario(handle.url))


def test_oauth_google_without_a_configured_callback_is_a_bad_request(crmock: ServerThread) -> None:
    status, _headers, body = run(rest("GET", crmock.url, "/oauth/google"))
    assert status == 400
    assert "--oauth-redirect" in body["message"]


def test_a_browser_app_on_another_origin_can_open_a_polling_socket() -> None:
    """python-engineio only allows the same origin by default; the mock must accept a dev server's origin."""
    origin = "http://localhost:5173"

    async def scenario(url: str) -> None:
        handshake = f"{url}/socket.io/?EIO=4&transport=polling"
        async with aiohttp.ClientSession() as session, session.get(handshake, headers={"Origin": origin}) as response:
            assert response.status == 200
            assert response.headers["Access-Control-Allow-Origin"] == origin
            assert (await response.text()).startswith("0{")

    with MockServer(seed=SEED).running() as handle:
        run(scenario(handle.url))
