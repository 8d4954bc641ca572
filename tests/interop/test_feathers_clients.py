"""The official Feathers v5 JS clients against the mock: what `@feathersjs/socketio-client`,
`@feathersjs/authentication-client` and `@feathersjs/rest-client` (5.0.50, socket.io-client 4.8.3) observe.

Each test runs ONE Node process (a scenario of scenarios.mjs) that makes many calls and reports everything it saw
as one JSON object; the assertions live here. Expected texts and shapes: feathers-protocol.md §1.3, §2, §5 to §8 and
cryptorobot-api.md §3 to §10 with the binding decisions of §13.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from interop_support import TOKEN_HEADER_SEGMENT, assert_feathers_error, decode_segment, run_node

from mockserver import MockServer
from mockserver.server import Options, ServerThread

pytestmark = pytest.mark.interop

USER_ID = "507f1f77bcf86cd799439011"
AUDIENCE = "https://cryptorobot.ai"
MISSING_ID = "000000000000000000000000"


def assert_login_result(result: dict[str, Any], strategy: str, email: str) -> dict[str, Any]:
    """The auth result of §5.2/§5.4: key order, the token's header and claims, the user without password."""
    assert list(result) == ["accessToken", "authentication", "user"]
    token = result["accessToken"]
    header, payload, signature = token.split(".")
    assert header == TOKEN_HEADER_SEGMENT
    assert decode_segment(header) == {"alg": "HS256", "typ": "access"}
    assert signature
    claims: dict[str, Any] = result["authentication"]["payload"]
    assert result["authentication"] == {"strategy": strategy, "accessToken": token, "payload": claims}
    assert list(claims) == ["iat", "exp", "aud", "sub", "jti"]
    assert decode_segment(payload) == claims
    assert claims["aud"] == AUDIENCE
    assert claims["exp"] - claims["iat"] == 7 * 24 * 3600
    user = result["user"]
    assert claims["sub"] == user["_id"]
    assert user["email"] == email
    assert "password" not in user
    return claims


# -- connecting, logging in, refreshing ---------------------------------------------------------------------------
@pytest.mark.parametrize("transport", ["websocket", "polling", "default"])
def test_connect_login_find_and_jwt_refresh(server: ServerThread, users: list[dict[str, str]], transport: str) -> None:
    report = run_node("connect", server.url, users=users, transport=transport)

    if transport != "default":  # a single-transport client never changes transport
        assert report["transport"] == report["transportAtEnd"] == transport
    else:  # the default client starts on polling and upgrades; calls keep working on the websocket
        assert report["transportAtEnd"] == "websocket"
        assert report["afterUpgrade"] == 1

    login = report["login"]
    local_claims = assert_login_result(login, "local", users[0]["email"])
    assert login["user"]["_id"] == USER_ID
    assert report["stored"] == login["accessToken"]  # the client keeps the top-level accessToken (§6)
    assert report["clientEvents"][:2] == ["login", "authenticated"]

    page = report["find"]
    assert list(page) == ["total", "limit", "skip", "data"]
    assert page["limit"] == 25
    assert page["skip"] == 0
    assert page["total"] == len(page["data"]) > 0
    assert {s["userId"] for s in page["data"]} == {USER_ID}

    # reAuthenticate() of a second client that only has the stored token: a jwt login with a FRESH token (D9).
    again = report["reAuthenticate"]
    again_claims = assert_login_result(again, "jwt", users[0]["email"])
    assert again["accessToken"] != login["accessToken"]
    assert again_claims["jti"] != local_claims["jti"]
    assert again_claims["iat"] >= local_claims["iat"]
    assert report["reAuthenticateFind"]["limit"] == 1

    # authenticate({strategy: 'jwt', accessToken}) with the first token: another fresh token, which is stored.
    jwt_login = report["jwtLogin"]
    jwt_claims = assert_login_result(jwt_login, "jwt", users[0]["email"])
    assert jwt_login["accessToken"] not in (login["accessToken"], again["accessToken"])
    assert jwt_claims["jti"] not in (local_claims["jti"], again_claims["jti"])
    assert report["storedAfterJwt"] == jwt_login["accessToken"]

    # logout(): `remove` on authentication answers the jwt-shaped result for the connection's token (§5.5).
    logout = report["logout"]
    assert list(logout) == ["accessToken", "authentication", "user"]
    assert logout["accessToken"] == jwt_login["accessToken"]
    assert logout["authentication"]["strategy"] == "jwt"
    assert "password" not in logout["user"]
    assert report["storedAfterLogout"] is None
    assert_feathers_error(report["afterLogout"], "NotAuthenticated", 401, "Not authenticated")


def test_authentication_errors(server: ServerThread, users: list[dict[str, str]]) -> None:
    report = run_node("auth_errors", server.url, users=users)

    assert_feathers_error(report["unauthenticated"], "NotAuthenticated", 401, "Not authenticated")
    assert_feathers_error(report["badPassword"], "NotAuthenticated", 401, "Invalid login")
    assert_feathers_error(report["unknownEmail"], "NotAuthenticated", 401, "Invalid login")
    assert_feathers_error(
        report["noStrategy"], "NotAuthenticated", 401, "Invalid authentication information (no `strategy` set)"
    )
    forged = assert_feathers_error(report["forged"], "NotAuthenticated", 401, "invalid signature")
    assert forged["data"] == {"name": "JsonWebTokenError"}
    assert report["storedAfterForged"] is None  # a 401 makes the authentication client drop its token (§6)
    assert_feathers_error(report["malformed"], "NotAuthenticated", 401, "jwt malformed")
    assert_feathers_error(report["afterFailedLogin"], "NotAuthenticated", 401, "Not authenticated")


# -- queries and plain errors -------------------------------------------------------------------------------------
def test_find_envelope_paging_sorting_selection_and_errors(server: ServerThread, users: list[dict[str, str]]) -> None:
    report = run_node("queries", server.url, users=users)
    envelope = ["total", "limit", "skip", "data"]

    assert report["defaultPage"] == {"total": 50, "limit": 25, "skip": 0, "count": 25, "keys": envelope}
    assert report["cappedPage"] == {"total": 50, "limit": 100, "skip": 0, "count": 50, "keys": envelope}
    assert report["zeroPage"] == {"total": 50, "limit": 0, "skip": 0, "count": 0, "keys": envelope}
    assert report["skipPage"] == {"total": 50, "limit": 100, "skip": 45, "count": 5, "keys": envelope}
    assert report["skipMatches"] is True
    created = report["sortedCreatedAt"]
    assert len(created) == 50
    assert created == sorted(created, reverse=True)
    assert report["selectedKeys"] == [["_id", "pair", "profit_abs"]] * 5
    assert report["ownersSeen"] == [report["userId"]] == [USER_ID]

    assert_feathers_error(report["getUnknown"], "NotFound", 404, f"No record found for id '{MISSING_ID}'")
    assert_feathers_error(report["unknownService"], "NotFound", 404, "Service 'nope' not found")
    invalid = assert_feathers_error(report["invalidCreate"], "BadRequest", 400)
    assert isinstance(invalid["errors"], list)
    assert "stoploss" in [problem["path"] for problem in invalid["errors"]]
    assert all(set(problem) == {"path", "message"} for problem in invalid["errors"])
    assert_feathers_error(
        report["update"], "MethodNotAllowed", 405, "Method 'update' not allowed on service 'strategies'"
    )
    assert set(report["getSelected"]) == {"_id", "name"}


# -- events and ownership -----------------------------------------------------------------------------------------
def test_strategy_events_reach_the_owner_only(server: ServerThread, users: list[dict[str, str]]) -> None:
    report = run_node("crud_events", server.url, users=users)
    created, patched, removed = report["created"], report["patched"], report["removed"]
    strategy_id = created["_id"]
    assert created["userId"] == USER_ID
    assert patched["name"] == "Interop momentum v2"
    assert removed == patched  # the remove call itself answers with the whole record (D2)

    expected = [
        {"event": "strategies created", "payload": created},
        {"event": "strategies patched", "payload": patched},
        {"event": "strategies removed", "payload": {"_id": strategy_id}},  # exactly {_id} (D2)
    ]
    assert report["seenB"] == expected  # the owner's second connection
    assert report["seenA"] == expected  # the caller's own connection is the owner's too (D8)
    # User 2 saw nothing of it: only its own barrier create, which was published after all three.
    assert report["seenC"] == [{"event": "strategies created", "payload": report["barrier"]}]

    for outcome in ("foreignGet", "foreignPatch", "foreignRemove"):
        assert_feathers_error(report[outcome], "Forbidden", 403)
    assert report["foreignFind"] == 0
    assert report["stillThere"] is True


def test_trader_lifecycle_ack_then_status_and_pod_events(server: ServerThread, users: list[dict[str, str]]) -> None:
    report = run_node("trader_lifecycle", server.url, users=users)
    trader_id = report["traderId"]

    unconfigured = assert_feathers_error(report["unconfigured"], "Unprocessable", 422)
    assert {problem["path"] for problem in unconfigured["errors"]} == {"exchangeId", "strategyId"}
    assert report["configured"]["status"] == "stopped"
    assert (report["start"]["status"], report["start"]["running"]) == ("starting", True)
    assert report["afterStart"]["status"] == "running"
    assert (report["stop"]["status"], report["stop"]["running"]) == ("stopping", False)
    assert report["ping"] == {"status": "pong"}  # a pod command on a running trader (D12)
    assert_feathers_error(report["pingStopped"], "Conflict", 409)

    events = [{k: v for k, v in e.items() if v is not None} for e in report["events"]]
    patched = [e for e in events if e["event"] == "traders patched"]
    pods = [e for e in events if e["event"] == "traders/pods/events created"]
    # configure, starting, running, stopping, stopped: one `traders patched` per step (D5).
    assert [(e["status"], e["running"]) for e in patched] == [
        ("stopped", False),
        ("starting", True),
        ("running", True),
        ("stopping", False),
        ("stopped", False),
    ]
    assert [e["type"] for e in pods] == ["started", "stopped"]
    assert all(e["traderId"] == trader_id for e in pods)
    # Each pod event follows the `traders patched` that finished the step.
    order = [(e["event"], e.get("status") or e.get("type")) for e in events]
    assert order.index(("traders/pods/events created", "started")) > order.index(("traders patched", "running"))
    assert order.index(("traders/pods/events created", "stopped")) > order.index(("traders patched", "stopped"))


# -- connection life ----------------------------------------------------------------------------------------------
def test_dropped_transport_reconnects_reauthenticates_and_events_flow(
    server: ServerThread, users: list[dict[str, str]]
) -> None:
    report = run_node("reconnect", server.url, users=users)

    assert report["reasons"] in (["transport close"], ["forced close"])
    assert report["connects"] == 2
    first, second = report["logins"]  # the client's `login` event: the local login, then the automatic re-auth
    assert second != first  # the re-authentication `create` issued a fresh token (D9) ...
    assert decode_segment(second.split(".")[1])["sub"] == USER_ID
    assert report["stored"] == second  # ... which the client stored
    assert report["authenticated"] is True
    assert report["events"] == report["expected"]  # the event after the reconnect arrived, once
    assert report["findAfter"] == 1


@pytest.fixture
def short_lived_server(node: str) -> Iterator[ServerThread]:
    """A server of its own whose tokens expire after 2 s."""
    options = Options(start_delay=0.05, token_lifetime=timedelta(seconds=2))
    with MockServer(seed=42, options=options).running() as handle:
        yield handle


def test_expired_token_disconnects_the_socket(short_lived_server: ServerThread, users: list[dict[str, str]]) -> None:
    report = run_node("expiry", short_lived_server.url, users=users)

    assert report["reason"] == "io server disconnect"
    assert report["secondsToDisconnect"] <= 3.0  # exp is whole seconds: 1 to 2 s after the login, plus slack
    assert report["activeAfter"] is False  # no automatic reconnect after a server disconnect (§1.3)
    assert report["connectedAfter"] is False
    assert report["findAfterExpiry"] == "pending"  # calls wait on the re-authentication that never happens (§5.5)
    assert report["stillExpiredToken"] is True
    rest = assert_feathers_error(report["rest"], "NotAuthenticated", 401, "jwt expired")
    assert rest["data"]["name"] == "TokenExpiredError"
    assert report["handshake"]["message"] == "jwt expired"
    assert report["handshake"]["data"]["name"] == "TokenExpiredError"
    assert report["handshake"]["active"] is False
    assert report["freshLoginWorks"] is True


# -- forced disconnects (server.disconnect, server.expire_tokens) ----------------------------------------------------
@contextmanager
def once_ready(server: ServerThread, action: Callable[[], list[str]]) -> Iterator[dict[str, Any]]:
    """Run `action` (from a watcher thread) once the Node scenario says its client is logged in and listening (it
    creates a strategy named by the yielded dict's "ready"); the action's result lands there as "ids"."""
    result: dict[str, Any] = {"ready": f"ready-{time.monotonic_ns()}"}

    def ready() -> bool:
        return any(row.get("name") == result["ready"] for row in server.store.records("strategies"))

    def watch() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if server.call(ready):
                result["ids"] = action()
                return
            time.sleep(0.01)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    yield result
    watcher.join(15)


def wait_until_no_connection(server: ServerThread, seconds: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + seconds
    while (left := server.connections()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def test_server_disconnect_is_final(server: ServerThread, users: list[dict[str, str]]) -> None:
    email = users[0]["email"]
    with once_ready(server, lambda: server.disconnect(email=email, mode="server")) as done:
        report = run_node("forced", server.url, users=users, mode="server", ready=done["ready"])

    assert report["reasons"] == ["io server disconnect"]
    assert done["ids"] == report["sids"][:1]
    assert report["activeAfter"] is False  # no automatic reconnect (§1.3)
    assert report["connectedAfter"] is False
    assert report["findAfter"] == "pending"  # waits on a re-authentication that never comes (§5.5)


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_transport_close_reconnects_reauthenticates_and_events_flow(
    server: ServerThread, users: list[dict[str, str]], transport: str
) -> None:
    email = users[0]["email"]
    with once_ready(server, lambda: server.disconnect(email=email, mode="transport")) as done:
        report = run_node("forced", server.url, users=users, mode="transport", transport=transport, ready=done["ready"])

    expected = "transport close" if transport == "websocket" else "transport error"  # the next poll fails
    assert report["reasons"] == [expected]
    old, new = report["sids"]
    assert done["ids"] == [old]
    assert new != old
    first, second = report["logins"]  # the local login, then the authentication client's automatic re-auth
    assert second != first
    assert report["authenticated"] is True
    assert report["events"] == report["expected"]
    assert report["findAfter"] == 1


@pytest.fixture
def quick_ping_server(node: str) -> Iterator[ServerThread]:
    """A server of its own that pings every second and waits 0.5 s for the answer."""
    options = Options(start_delay=0.05, ping_interval=1, ping_timeout=0.5)
    with MockServer(seed=42, options=options).running() as handle:
        yield handle


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_silent_server_makes_the_client_time_out_reconnect_and_reauthenticate(
    quick_ping_server: ServerThread, users: list[dict[str, str]], transport: str
) -> None:
    server = quick_ping_server
    email = users[0]["email"]
    with once_ready(server, lambda: server.disconnect(email=email, mode="ping-timeout")) as done:
        report = run_node(
            "forced", server.url, users=users, mode="ping-timeout", transport=transport, ready=done["ready"]
        )

    assert report["reasons"] == ["ping timeout"]  # the client's own verdict: the server sent nothing, not even pings
    assert report["secondsToDisconnect"] < 10  # after pingInterval + pingTimeout = 1.5 s, not the default 45 s
    old, new = report["sids"]
    assert done["ids"] == [old]
    assert new != old
    assert report["logins"][1] != report["logins"][0]
    assert report["authenticated"] is True
    assert report["events"] == report["expected"]
    # The server lets the silenced connection go too (at the latest 2 x 1.5 s after going silent).
    assert wait_until_no_connection(server, 5.0) == []


def test_expire_tokens_disconnects_and_refuses_the_old_token(server: ServerThread, users: list[dict[str, str]]) -> None:
    email = users[0]["email"]
    with once_ready(server, lambda: server.expire_tokens(email.upper())) as done:
        report = run_node("expiry", server.url, users=users, ready=done["ready"])

    assert len(done["ids"]) == 1
    assert report["reason"] == "io server disconnect"
    assert report["activeAfter"] is False
    assert report["findAfterExpiry"] == "pending"
    rest = assert_feathers_error(report["rest"], "NotAuthenticated", 401, "jwt expired")
    assert rest["data"]["name"] == "TokenExpiredError"
    assert report["handshake"]["message"] == "jwt expired"
    assert report["handshake"]["active"] is False
    assert report["freshLoginWorks"] is True  # only tokens issued before the call expired


# -- REST and the handshake header --------------------------------------------------------------------------------
def test_rest_client(server: ServerThread, users: list[dict[str, str]]) -> None:
    report = run_node("rest", server.url, users=users)

    assert_login_result(report["login"], "local", users[0]["email"])
    assert report["find"]["limit"] == 25
    assert {s["userId"] for s in report["find"]["data"]} == {USER_ID}
    assert report["trades"] == {"total": 50, "limit": 100, "count": 50, "keys": ["_id,pair"]}
    assert report["sortedCreatedAt"] == sorted(report["sortedCreatedAt"], reverse=True)
    assert_feathers_error(report["getUnknown"], "NotFound", 404, f"No record found for id '{MISSING_ID}'")
    assert_feathers_error(report["noToken"], "NotAuthenticated", 401, "Not authenticated")
    assert_feathers_error(report["badLogin"], "NotAuthenticated", 401, "Invalid login")
    assert_feathers_error(report["unknownPath"], "NotFound", 404, "Path /nope not found")
    assert report["restLogout"]["accessToken"] == report["restLogoutToken"]  # DELETE /authentication (§5.5)
    assert report["restLogout"]["authentication"]["strategy"] == "jwt"

    created = report["created"]
    assert report["seenOwner"] == [
        {"event": "strategies created", "payload": created},
        {"event": "strategies removed", "payload": {"_id": created["_id"]}},
    ]
    assert report["removed"]["_id"] == created["_id"]
    assert report["seenStranger"] == [report["barrierId"]]


def test_handshake_header_authenticates_without_a_create(server: ServerThread, users: list[dict[str, str]]) -> None:
    report = run_node("handshake", server.url, users=users)

    for transport in ("websocket", "polling"):
        assert report[transport]["transport"] == transport
        assert report[transport]["total"] > 0  # a find succeeded with no authentication `create`
        assert report[transport]["events"] == 1  # and the connection is in its owner's channel
    assert report["garbage"] == {
        "message": "jwt malformed",
        "data": {"name": "JsonWebTokenError"},
        "active": False,
        "connected": False,
    }
    assert report["forged"]["message"] == "invalid signature"
    assert report["forged"]["active"] is False
    assert_feathers_error(report["withoutHeader"], "NotAuthenticated", 401, "Not authenticated")


# -- faults (issue 7 §2) -----------------------------------------------------------------------------------------
def add_faults(server: ServerThread, *specs: dict[str, Any]) -> None:
    for spec in specs:
        server.call(server.server.faults.add, spec)


def test_call_faults_as_the_official_client_sees_them(server: ServerThread, users: list[dict[str, str]]) -> None:
    unavailable = {"name": "Unavailable", "code": 503, "message": "Exchange maintenance", "data": {"until": "soon"}}
    create = {"service": "strategies", "method": "create"}
    add_faults(
        server,
        {"match": {"service": "users", "method": "get"}, "action": "drop-ack", "times": 1},
        {"match": {"service": "strategies", "method": "find"}, "action": "delay-ack", "seconds": 0.3, "times": 1},
        {"match": {"service": "strategies", "method": "remove"}, "action": "error", "error": unavailable},
        {"match": create, "action": "disconnect-after-apply", "times": 1},
        {"match": create, "action": "disconnect-before-apply", "times": 1, "after": 1},
    )
    report = run_node("call_faults", server.url, users=users)

    assert report["dropAck"]["ok"] is False  # the client's own ack timeout fired
    assert "timed out" in report["dropAck"]["error"]["message"]
    assert report["delayAck"]["ms"] >= 300
    assert report["delayAck"]["limit"] == 1
    error = assert_feathers_error(report["error"], "Unavailable", 503, "Exchange maintenance")
    assert error["data"] == {"until": "soon"}
    # disconnect-after-apply: the call never answered, but once reconnected and re-authenticated the record is there
    assert report["after"]["ok"] is False
    assert report["afterFind"]["total"] == 1
    # disconnect-before-apply: never applied
    assert report["before"]["ok"] is False
    assert report["beforeFind"]["total"] == 0
    assert report["disconnects"] == ["transport close", "transport close"]
    assert report["logins"] == 3  # the authentication client logged in again after each drop

    journal = server.server.journal
    applied = [e["action"] for e in server.call(journal.entries, "fault")]
    assert applied == ["drop-ack", "delay-ack", "error", "disconnect-after-apply", "disconnect-before-apply"]
    acks = server.call(journal.entries, "ack", service="strategies", method="create")
    assert acks[0]["sent"] is False
    assert acks[0]["result"]["name"] == "Applied then dropped"


def test_event_faults_as_the_official_client_sees_them(server: ServerThread, users: list[dict[str, str]]) -> None:
    add_faults(
        server,
        {"match": {"event": "strategies created"}, "action": "drop-event", "times": 1},
        {"match": {"event": "strategies patched"}, "action": "duplicate-event", "times": 1},
        {"match": {"event": "strategies removed"}, "action": "delay-event", "seconds": 0.4, "times": 1},
    )
    report = run_node("event_faults", server.url, users=users)

    assert report["counts"] == {"created": 0, "patched": 2, "removed": 1}
    assert report["removedLateMs"] >= 350


def test_rest_error_faults_as_the_official_client_sees_them(server: ServerThread, users: list[dict[str, str]]) -> None:
    too_many = {"name": "TooManyRequests", "message": "Slow down", "data": {"retryAfter": 7}}
    add_faults(
        server,
        {"match": {"service": "strategies", "transport": "rest"}, "action": "error", "times": 1,
         "error": {"name": "Unavailable", "message": "Down for maintenance"}, "seconds": 120},
        {"match": {"service": "strategies", "transport": "rest"}, "action": "error", "times": 1, "after": 1,
         "error": too_many},
    )  # fmt: skip
    report = run_node("rest_faults", server.url, users=users)

    assert report["raw"]["status"] == 503
    assert report["raw"]["retryAfter"] == "120"
    assert report["raw"]["body"]["message"] == "Down for maintenance"
    error = assert_feathers_error(report["client"], "TooManyRequests", 429, "Slow down")
    assert error["data"] == {"retryAfter": 7}
    assert report["afterwards"]["ok"] is True
