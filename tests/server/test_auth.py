"""Authentication as the Feathers authentication client relies on it: tokens, errors, logout, expiry, API keys.

Sources: cryptorobot-api.md §5, D9, D14, D15; feathers-protocol.md §5.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import socketio
from crmock_support import (
    JWT_SECRET,
    OTHER,
    OTHER_ID,
    USER,
    USER_ID,
    assert_error,
    assert_valid,
    jwt_parts,
    logged_in,
    login_token,
    rest,
    run,
)

from mockserver.errors import FeathersError
from mockserver.server import MockServer, Options, ServerThread

HEADER_SEGMENT = "eyJhbGciOiJIUzI1NiIsInR5cCI6ImFjY2VzcyJ9"  # {"alg":"HS256","typ":"access"}
AUDIENCE = "https://cryptorobot.ai"
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def craft(claims: dict[str, Any], *, secret: str = JWT_SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm, headers={"typ": "access"})


def claims_for(user_id: str = USER_ID, *, lifetime: int = 3600, issued: int | None = None) -> dict[str, Any]:
    iat = int(time.time()) if issued is None else issued
    return {"iat": iat, "exp": iat + lifetime, "aud": AUDIENCE, "sub": user_id, "jti": str(uuid.uuid4())}


async def socket_auth_error(url: str, data: Any) -> dict[str, Any]:
    """The error body a socket `create` on authentication is answered with."""
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(url, transports=["websocket"])
    try:
        reply = await sio.call("create", ("authentication", data, {}), timeout=5)
    finally:
        await sio.disconnect()
    assert isinstance(reply, dict), reply
    return reply


async def rest_auth_error(url: str, data: Any) -> tuple[int, dict[str, Any]]:
    status, _, body = await rest("POST", url, "/authentication", json_body=data)
    return status, body


# -- local login --------------------------------------------------------------------------------------------------
def test_local_login_result_and_token(crmock: ServerThread) -> None:
    async def scenario() -> None:
        contract = crmock.server.contract
        async with logged_in(crmock.url, None) as client:
            before = int(time.time())
            result = await client.authenticate(*USER)
            after = int(time.time())
        assert list(result) == ["accessToken", "authentication", "user"]
        assert list(result["authentication"]) == ["strategy", "accessToken", "payload"]
        assert result["authentication"]["strategy"] == "local"
        token = result["accessToken"]
        assert result["authentication"]["accessToken"] == token
        assert token.split(".")[0] == HEADER_SEGMENT
        header, claims = jwt_parts(token)
        assert header == {"alg": "HS256", "typ": "access"}
        assert list(claims) == ["iat", "exp", "aud", "sub", "jti"]
        assert before <= claims["iat"] <= after
        assert claims["exp"] - claims["iat"] == 7 * 24 * 3600
        assert claims["aud"] == AUDIENCE
        assert claims["sub"] == USER_ID
        assert UUID4.match(claims["jti"])
        assert result["authentication"]["payload"] == claims
        assert jwt.decode(token, JWT_SECRET, algorithms=["HS256"], audience=AUDIENCE) == claims
        user = result["user"]
        assert user["_id"] == USER_ID
        assert user["email"] == USER[0]
        assert {"name": user["name"], "plan": user["plan"], "verified": user["verified"]} == {
            "name": "John Doe",
            "plan": "pro",
            "verified": True,
        }
        assert "password" not in user
        assert_valid(contract, "authentication", "result", result)

    run(scenario())


def test_rest_login_answers_201_with_the_same_shape(crmock: ServerThread) -> None:
    async def scenario() -> None:
        login = {"strategy": "local", "email": OTHER[0], "password": OTHER[1]}
        status, _, body = await rest("POST", crmock.url, "/authentication", json_body=login)
        assert status == 201
        assert list(body) == ["accessToken", "authentication", "user"]
        assert body["user"]["_id"] == OTHER_ID
        assert jwt_parts(body["accessToken"])[1]["sub"] == OTHER_ID
        assert_valid(crmock.server.contract, "authentication", "result", body)

    run(scenario())


def test_jwt_reauthentication_issues_a_fresh_token_and_the_old_one_stays_valid(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with logged_in(crmock.url, None) as client:
            first = await client.authenticate(*USER)
            old = first["accessToken"]
            refreshed = await client.call("create", "authentication", {"strategy": "jwt", "accessToken": old}, {})
            new = refreshed["accessToken"]
            assert new != old
            assert refreshed["authentication"]["strategy"] == "jwt"
            assert refreshed["authentication"]["accessToken"] == new
            old_claims, new_claims = jwt_parts(old)[1], jwt_parts(new)[1]
            assert new_claims["jti"] != old_claims["jti"]
            assert new_claims["iat"] >= old_claims["iat"]
            assert new_claims["exp"] - new_claims["iat"] == 7 * 24 * 3600
            assert refreshed["authentication"]["payload"] == new_claims
            assert refreshed["user"]["_id"] == USER_ID
            assert_valid(crmock.server.contract, "authentication", "result", refreshed)
            page = await client.call("find", "strategies", {})  # the socket is still logged in
            assert page["total"] == 3
        status, _, body = await rest("GET", crmock.url, "/strategies", token=old)
        assert status == 200, body
        status, _, body = await rest(
            "POST", crmock.url, "/authentication", json_body={"strategy": "jwt", "accessToken": new}
        )
        assert status == 201
        assert body["accessToken"] not in (old, new)

    run(scenario())


@pytest.mark.parametrize(
    "data",
    [
        {"strategy": "local", "email": USER[0], "password": "wrong"},
        {"strategy": "local", "email": "nobody@example.com", "password": USER[1]},
        {"strategy": "local", "email": USER[0]},
        {"strategy": "local", "password": USER[1]},
        {"strategy": "local", "email": USER[0], "password": 12345},
        {"strategy": "local", "email": OTHER[0], "password": USER[1]},
    ],
)
def test_wrong_credentials_are_an_invalid_login(crmock: ServerThread, data: dict[str, Any]) -> None:
    async def scenario() -> None:
        assert_error(await socket_auth_error(crmock.url, data), "NotAuthenticated", 401, "Invalid login")
        status, body = await rest_auth_error(crmock.url, data)
        assert status == 401
        assert_error(body, "NotAuthenticated", 401, "Invalid login")

    run(scenario())


@pytest.mark.parametrize(
    "data",
    [{"email": USER[0], "password": USER[1]}, {"strategy": "google"}, {"strategy": None}, {"strategy": 1}, {}],
)
def test_a_missing_or_unknown_strategy_is_refused(crmock: ServerThread, data: dict[str, Any]) -> None:
    message = "Invalid authentication information (no `strategy` set)"

    async def scenario() -> None:
        assert_error(await socket_auth_error(crmock.url, data), "NotAuthenticated", 401, message)
        status, body = await rest_auth_error(crmock.url, data)
        assert status == 401
        assert_error(body, "NotAuthenticated", 401, message)

    run(scenario())


# -- bad tokens ---------------------------------------------------------------------------------------------------
def _bad_tokens() -> list[tuple[str, str, set[str]]]:
    now = int(time.time())
    none_header = "eyJhbGciOiJub25lIiwidHlwIjoiYWNjZXNzIn0"  # {"alg":"none","typ":"access"}
    good_claims = craft(claims_for()).split(".")[1]
    return [
        ("forged", craft(claims_for(), secret="not-the-server-secret-" * 4), {"invalid signature"}),
        ("garbage", "garbage", {"jwt malformed"}),
        ("three-garbage-parts", "abc.def.ghi", {"invalid token", "jwt malformed"}),
        ("alg-none", f"{none_header}.{good_claims}.", set()),
        ("alg-none-signed", f"{none_header}.{good_claims}.c2ln", set()),
        ("hs512", craft(claims_for(), algorithm="HS512"), set()),
        (
            "wrong-audience",
            craft({**claims_for(), "aud": "https://yourdomain.com"}),
            {"jwt audience invalid. expected: https://cryptorobot.ai"},
        ),
        ("expired", craft(claims_for(issued=now - 100, lifetime=50)), {"jwt expired"}),
    ]


BAD_TOKENS = _bad_tokens()


@pytest.mark.parametrize(("label", "token", "messages"), BAD_TOKENS, ids=[t[0] for t in BAD_TOKENS])
def test_bad_tokens_are_not_authenticated(crmock: ServerThread, label: str, token: str, messages: set[str]) -> None:
    async def scenario() -> None:
        socket_error = await socket_auth_error(crmock.url, {"strategy": "jwt", "accessToken": token})
        status, rest_login_error = await rest_auth_error(crmock.url, {"strategy": "jwt", "accessToken": token})
        assert status == 401
        bearer_status, _, bearer_error = await rest("GET", crmock.url, "/strategies", token=token)
        assert bearer_status == 401
        for body in (socket_error, rest_login_error, bearer_error):
            assert_error(body, "NotAuthenticated", 401)
            if messages:
                assert body["message"] in messages, body

    run(scenario())


def test_an_expired_token_names_when_it_expired(crmock: ServerThread) -> None:
    exp = int(time.time()) - 60
    token = craft({**claims_for(issued=exp - 3600), "exp": exp})
    expired_at = datetime.fromtimestamp(exp, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    expected = {
        "name": "NotAuthenticated",
        "message": "jwt expired",
        "code": 401,
        "className": "not-authenticated",
        "data": {"name": "TokenExpiredError", "expiredAt": expired_at},
    }

    async def scenario() -> None:
        assert await socket_auth_error(crmock.url, {"strategy": "jwt", "accessToken": token}) == expected
        status, _, body = await rest("GET", crmock.url, "/traders", token=token)
        assert (status, body) == (401, expected)

    run(scenario())


def test_jwt_strategy_without_a_token_and_a_token_of_a_deleted_user(crmock: ServerThread) -> None:
    ghost = "ffffffffffffffffffffffff"

    async def scenario() -> None:
        no_token = await socket_auth_error(crmock.url, {"strategy": "jwt"})
        assert_error(no_token, "NotAuthenticated", 401, "No access token")
        deleted = await socket_auth_error(crmock.url, {"strategy": "jwt", "accessToken": craft(claims_for(ghost))})
        assert_error(deleted, "NotFound", 404, f"No record found for id '{ghost}'")

    run(scenario())


def test_tokens_issued_while_the_server_clock_is_advanced_are_accepted(crmock: ServerThread) -> None:
    """jsonwebtoken does not refuse an `iat` ahead of the real time, so neither may the mock."""
    crmock.run(crmock.server.clock.advance(3600))

    async def scenario() -> None:
        token = await login_token(crmock.url)
        assert jwt_parts(token)[1]["iat"] > time.time() + 3000
        status, _, body = await rest("GET", crmock.url, "/strategies", token=token)
        assert status == 200, body
        async with logged_in(crmock.url) as client:
            assert (await client.call("find", "strategies", {}))["total"] == 3

    run(scenario())


# -- logout -------------------------------------------------------------------------------------------------------
def test_logout_returns_the_same_token_and_the_socket_stays_connected_but_deaf(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with logged_in(crmock.url, None) as client, logged_in(crmock.url) as witness:
            token = (await client.authenticate(*USER))["accessToken"]
            result = await client.call("remove", "authentication", None, {})
            assert list(result) == ["accessToken", "authentication", "user"]
            assert result["accessToken"] == token
            assert result["authentication"]["strategy"] == "jwt"
            assert result["authentication"]["accessToken"] == token
            assert result["authentication"]["payload"] == jwt_parts(token)[1]
            assert result["user"]["_id"] == USER_ID
            assert_valid(crmock.server.contract, "authentication", "result", result)
            assert client.sio.connected
            with pytest.raises(FeathersError) as not_authenticated:
                await client.call("find", "strategies", {})
            assert (not_authenticated.value.code, not_authenticated.value.message) == (401, "Not authenticated")

            ticker = next(iter(crmock.server.store.tables["exchanges/ticker"].values()))
            reached = crmock.emit("exchanges/ticker", "patched", ticker)
            created = await witness.call("create", "strategies", {"name": "after logout"}, {})
            await witness.wait_for("strategies created")
            await witness.wait_for("exchanges/ticker patched")
            assert client.sio.get_sid() not in reached
            await asyncio.sleep(0.1)
            assert dict(client.events) == {}
            assert created["name"] == "after logout"
            status, _, _ = await rest("GET", crmock.url, "/strategies", token=token)
            assert status == 200  # tokens are stateless: logout does not revoke by default

    run(scenario())


def test_logout_with_another_token_and_logout_when_not_logged_in(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with logged_in(crmock.url) as client:
            other = await login_token(crmock.url)
            with pytest.raises(FeathersError) as wrong:
                await client.call("remove", "authentication", other, {})
            assert (wrong.value.code, wrong.value.message) == (401, "Invalid access token")
            assert (await client.call("find", "strategies", {}))["total"] == 3  # still logged in
        async with logged_in(crmock.url, None) as anonymous:
            with pytest.raises(FeathersError) as nobody:
                await anonymous.call("remove", "authentication", None, {})
            assert nobody.value.code == 401
            assert nobody.value.message == "Invalid authentication information (no `strategy` set)"

    run(scenario())


def test_rest_logout(crmock: ServerThread) -> None:
    async def scenario() -> None:
        token = await login_token(crmock.url)
        status, _, body = await rest("DELETE", crmock.url, "/authentication", token=token)
        assert status == 200, body
        assert body["accessToken"] == token
        assert body["authentication"]["strategy"] == "jwt"

    run(scenario())


def test_logged_out_tokens_are_refused_when_the_switch_is_on() -> None:
    async def scenario() -> None:
        options = Options(start_delay=0.0, deny_logged_out_tokens=True)
        async with MockServer(seed=1, options=options) as server:
            token = await login_token(server.url, (server.credentials()[0][0], server.credentials()[0][1]))
            assert (await rest("DELETE", server.url, "/authentication", token=token))[0] == 200
            status, _, body = await rest("GET", server.url, "/strategies", token=token)
            assert status == 401
            assert_error(body, "NotAuthenticated", 401)

    run(scenario())


# -- expiry and the handshake header ------------------------------------------------------------------------------
def test_token_expiry_disconnects_the_socket() -> None:
    async def scenario() -> None:
        options = Options(start_delay=0.0, token_lifetime=timedelta(seconds=1))
        async with MockServer(seed=42, options=options) as server:
            sio = socketio.AsyncClient(reconnection=False)
            reasons: list[Any] = []
            gone = asyncio.Event()

            @sio.event
            async def disconnect(reason: Any = None) -> None:
                reasons.append(reason)
                gone.set()

            await sio.connect(server.url, transports=["websocket"])
            login = {"strategy": "local", "email": USER[0], "password": USER[1]}
            ack = await sio.call("create", ("authentication", login, {}), timeout=5)
            assert ack[0] is None
            await asyncio.wait_for(gone.wait(), 4)
            assert reasons == [sio.reason.SERVER_DISCONNECT]  # "io server disconnect": no automatic reconnect
            assert not sio.connected
            assert server.sockets.sessions == {}
            assert server.core.channels.authenticated == set()

    run(scenario())


def test_handshake_bearer_header_authenticates_the_socket(crmock: ServerThread) -> None:
    async def scenario() -> None:
        token = await login_token(crmock.url)
        sio = socketio.AsyncClient(reconnection=False)
        events: list[str] = []
        sio.on("*", lambda event, *_: events.append(event))
        await sio.connect(crmock.url, transports=["websocket"], headers={"Authorization": f"Bearer {token}"})
        try:
            page = await sio.call("find", ("strategies", {}), timeout=5)
            assert page[0] is None
            assert page[1]["total"] == 3
            await rest("POST", crmock.url, "/strategies", token=token, json_body={"name": "from REST"})
            for _ in range(50):
                if events:
                    break
                await asyncio.sleep(0.02)
            assert events == ["strategies created"]
        finally:
            await sio.disconnect()

    run(scenario())


@pytest.mark.parametrize("scheme", ["Bearer", "JWT", ""])
def test_handshake_header_schemes(crmock: ServerThread, scheme: str) -> None:
    async def scenario() -> None:
        token = await login_token(crmock.url)
        sio = socketio.AsyncClient(reconnection=False)
        await sio.connect(crmock.url, transports=["websocket"], headers={"Authorization": f"{scheme} {token}".strip()})
        try:
            page = await sio.call("find", ("strategies", {}), timeout=5)
            assert page[0] is None
        finally:
            await sio.disconnect()

    run(scenario())


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (craft(claims_for(), secret="another-secret-" * 4), "invalid signature"),
        (craft(claims_for(issued=int(time.time()) - 100, lifetime=10)), "jwt expired"),
        ("garbage", "jwt malformed"),
    ],
)
def test_a_bad_handshake_token_refuses_the_connection(crmock: ServerThread, token: str, message: str) -> None:
    async def scenario() -> None:
        sio = socketio.AsyncClient(reconnection=False)
        refusals: list[Any] = []
        sio.on("connect_error", lambda data=None: refusals.append(data))
        with pytest.raises(socketio.exceptions.ConnectionError):
            await sio.connect(
                crmock.url, transports=["websocket"], headers={"Authorization": f"Bearer {token}"}, wait_timeout=5
            )
        assert not sio.connected
        assert refusals
        assert refusals[0]["message"] == message
        if message == "jwt expired":
            assert refusals[0]["data"]["name"] == "TokenExpiredError"
        await sio.disconnect()
        assert crmock.call(lambda: dict(crmock.server.sockets.sessions)) == {}

    run(scenario())


def test_an_api_key_in_the_handshake_does_not_authenticate_the_socket(crmock: ServerThread) -> None:
    key = crmock.server.credentials()[0][2][0]

    async def scenario() -> None:
        sio = socketio.AsyncClient(reconnection=False)
        await sio.connect(crmock.url, transports=["websocket"], headers={"Authorization": f"ApiKey {key}"})
        try:
            reply = await sio.call("find", ("strategies", {}), timeout=5)
            assert_error(reply, "NotAuthenticated", 401, "Not authenticated")
        finally:
            await sio.disconnect()

    run(scenario())


# -- REST credentials and API keys -------------------------------------------------------------------------------
def key_with_scopes(crmock: ServerThread, user_id: str, wanted: set[str]) -> str:
    """A seeded API key of `user_id` whose scopes include or exclude what the test needs."""
    store = crmock.server.store
    for secret, key_id in store.api_keys.items():
        record = store.get("keys", key_id)
        if record is not None and record["userId"] == user_id and wanted <= set(record["scopes"]):
            return secret
    raise LookupError(f"no seeded key of {user_id} with {wanted}")


def test_rest_bearer_and_api_key_both_act_as_the_owner(crmock: ServerThread) -> None:
    async def scenario() -> None:
        token = await login_token(crmock.url)
        key = crmock.server.credentials()[0][2][0]
        for auth in ({"token": token}, {"api_key": key}):
            status, _, page = await rest("GET", crmock.url, "/strategies", **auth)
            assert status == 200, page
            assert page["total"] == 3
            assert {s["userId"] for s in page["data"]} == {USER_ID}
        status, _, body = await rest("GET", crmock.url, "/strategies")
        assert status == 401
        assert_error(body, "NotAuthenticated", 401, "Not authenticated")

    run(scenario())


def test_api_key_use_sets_last_used_without_an_event(crmock: ServerThread) -> None:
    key = crmock.server.credentials()[0][2][0]
    key_id = crmock.server.store.api_keys[key]

    async def scenario() -> None:
        async with logged_in(crmock.url) as watcher:
            before = crmock.call(lambda: crmock.server.store.get("keys", key_id)["lastUsed"])
            status, _, _ = await rest("GET", crmock.url, "/traders", api_key=key)
            assert status == 200
            after = crmock.call(lambda: crmock.server.store.get("keys", key_id)["lastUsed"])
            assert after != before
            assert after is not None
            await asyncio.sleep(0.1)
            assert "keys patched" not in watcher.events
            assert dict(watcher.events) == {}

    run(scenario())


@pytest.mark.parametrize("key", ["cr_live_00000000000000000000000000000000", "nope", ""])
def test_an_unknown_api_key_is_not_authenticated(crmock: ServerThread, key: str) -> None:
    async def scenario() -> None:
        status, _, body = await rest("GET", crmock.url, "/strategies", headers={"Authorization": f"ApiKey {key}"})
        assert status == 401
        if key:
            assert_error(body, "NotAuthenticated", 401, "Invalid API key")
        else:
            assert_error(body, "NotAuthenticated", 401)
        status, _, body = await rest("GET", crmock.url, "/restricted/strategies", api_key=key or "x")
        assert status == 401
        assert_error(body, "NotAuthenticated", 401, "Invalid API key")

    run(scenario())


def test_restricted_paths_check_the_key_scopes(crmock: ServerThread) -> None:
    async def scenario() -> None:
        token = await login_token(crmock.url)
        status, _, created = await rest(
            "POST", crmock.url, "/keys", token=token, json_body={"name": "Traders only", "scopes": ["read:traders"]}
        )
        assert status == 201, created
        narrow = created["key"]
        status, _, body = await rest("GET", crmock.url, "/restricted/strategies", api_key=narrow)
        assert status == 403
        assert_error(body, "Forbidden", 403)
        assert "read:strategies" in body["message"]
        status, _, body = await rest("GET", crmock.url, "/restricted/traders", api_key=narrow)
        assert status == 200, body
        status, _, body = await rest("GET", crmock.url, "/strategies", api_key=narrow)  # no checks outside
        assert status == 200, body

        wide = key_with_scopes(crmock, USER_ID, {"read:strategies"})
        status, _, page = await rest("GET", crmock.url, "/restricted/strategies", api_key=wide)
        assert status == 200, page
        assert page["total"] == 3
        status, _, template = await rest("GET", crmock.url, "/restricted/strategies/templates/tmpl-1", api_key=wide)
        assert status == 200, template
        assert template["_id"] == "tmpl-1"

        strategy_id = page["data"][0]["_id"]
        status, _, body = await rest(
            "PATCH", crmock.url, f"/restricted/strategies/{strategy_id}", api_key=wide, json_body={"name": "x"}
        )
        assert status == 403
        assert body["message"] == "Missing scope 'write:strategies'"

        status, _, body = await rest("GET", crmock.url, "/restricted/strategies", token=token)
        assert status == 200, body
        status, _, body = await rest(
            "PATCH", crmock.url, f"/restricted/strategies/{strategy_id}", token=token, json_body={"name": "x"}
        )
        assert status == 200, body

    run(scenario())


@pytest.mark.parametrize(
    "path", ["/restricted/keys", "/restricted/users", "/restricted/messages", "/restricted/events"]
)
def test_services_outside_the_scope_table_are_not_mounted_under_restricted(crmock: ServerThread, path: str) -> None:
    async def scenario() -> None:
        token = await login_token(crmock.url)
        status, _, body = await rest("GET", crmock.url, path, token=token)
        assert status == 404
        assert_error(body, "NotFound", 404, f"Path {path} not found")

    run(scenario())


def test_a_revoked_key_is_refused_at_once(crmock: ServerThread) -> None:
    async def scenario() -> None:
        token = await login_token(crmock.url)
        key = crmock.server.credentials()[0][2][0]
        key_id = crmock.server.store.api_keys[key]
        assert (await rest("GET", crmock.url, "/strategies", api_key=key))[0] == 200
        status, _, removed = await rest("DELETE", crmock.url, f"/keys/{key_id}", token=token)
        assert status == 200, removed
        assert "key" not in removed
        for path in ("/strategies", "/restricted/strategies"):
            status, _, body = await rest("GET", crmock.url, path, api_key=key)
            assert status == 401
            assert_error(body, "NotAuthenticated", 401, "Invalid API key")

    run(scenario())


def test_keys_cannot_be_managed_with_an_api_key(crmock: ServerThread) -> None:
    async def scenario() -> None:
        key = crmock.server.credentials()[0][2][0]
        status, _, body = await rest("GET", crmock.url, "/keys", api_key=key)
        assert status == 403
        assert_error(body, "Forbidden", 403)
        status, _, body = await rest("POST", crmock.url, "/keys", api_key=key, json_body={"name": "x", "scopes": []})
        assert status == 403

    run(scenario())


def test_advancing_the_server_clock_expires_tokens_and_disconnects_at_once(crmock: ServerThread) -> None:
    """Expiry follows the server's clock, so a test can jump past the 7 days instead of waiting: the token is
    refused and the socket gets its server-side disconnect during the advance, not 7 real days later."""

    async def scenario() -> None:
        token = await login_token(crmock.url)
        sio = socketio.AsyncClient(reconnection=False)
        reasons: list[Any] = []
        gone = asyncio.Event()

        @sio.event
        async def disconnect(reason: Any = None) -> None:
            reasons.append(reason)
            gone.set()

        await sio.connect(crmock.url, transports=["websocket"], headers={"Authorization": f"Bearer {token}"})
        assert (await sio.call("find", ("traders", {}), timeout=5))[0] is None
        crmock.run(crmock.server.clock.advance(7 * 86400 + 1))
        await asyncio.wait_for(gone.wait(), 5)
        assert reasons == [sio.reason.SERVER_DISCONNECT]
        status, _, body = await rest("GET", crmock.url, "/traders", token=token)
        assert status == 401
        assert body["message"] == "jwt expired"
        assert body["data"]["name"] == "TokenExpiredError"

    run(scenario())
