"""The control API (`/_mock/...`) as a tool or a browser panel calls it: real HTTP against a running mock.

Every endpoint is called as curl would call it: the access rule, routing and errors, body checks, and each
operation (clock, emit, reset, connections, disconnects, token expiry, faults, journal, scenarios, tapes).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from unittest import mock

import aiohttp
import pytest
from aiohttp.test_utils import make_mocked_request
from crmock_support import OTHER, SEED, USER, USER_ID, assert_error, assert_valid, logged_in, login_token, rest, run

from mockserver.errors import Forbidden
from mockserver.server import MockServer, ServerThread
from mockserver.server._control import check_access, check_token, peer_is_loopback


def ctl(crmock: ServerThread, method: str, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any, Any]:
    """One control request, like `curl -X METHOD $URL/_mock/PATH -d BODY`: (status, headers, JSON body)."""
    return run(rest(method, crmock.url, "/_mock" + path, json_body=body, **kwargs))


# -- who may call it ------------------------------------------------------------------------------------------------
def fake_request(peer: Any, headers: dict[str, str] | None = None) -> Any:
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: peer if name == "peername" else default
    return make_mocked_request("GET", "/_mock/clock", headers=headers or {}, transport=transport)


@pytest.mark.parametrize(
    ("peer", "loopback"),
    [
        (("127.0.0.1", 5000), True),
        (("127.8.9.10", 5000), True),
        (("::1", 5000, 0, 0), True),
        (("::ffff:127.0.0.1", 5000, 0, 0), True),
        (("10.0.0.7", 5000), False),
        (("192.168.1.20", 5000), False),
        (("::ffff:10.0.0.7", 5000, 0, 0), False),
        (("fe80::1%eth0", 5000, 0, 2), False),
        (("2001:db8::1", 5000, 0, 0), False),
        (None, False),
        ("/tmp/mock.sock", False),
        (("not-an-address", 1), False),
    ],
)
def test_loopback_is_judged_by_the_tcp_peer(peer: Any, loopback: bool) -> None:
    assert peer_is_loopback(fake_request(peer)) is loopback


def test_forwarding_headers_do_not_make_a_remote_peer_local() -> None:
    spoofed = {
        "X-Forwarded-For": "127.0.0.1",
        "X-Real-IP": "127.0.0.1",
        "Forwarded": "for=127.0.0.1",
        "Host": "localhost",
    }
    with pytest.raises(Forbidden, match="loopback clients only"):
        check_access(fake_request(("10.0.0.7", 5000), spoofed), None)
    check_access(fake_request(("127.0.0.1", 5000), {}), None)


def test_a_control_token_is_required_from_everyone_once_set() -> None:
    token = "s3cret-token"
    for peer in (("127.0.0.1", 1), ("10.0.0.7", 1)):
        check_access(fake_request(peer, {"Authorization": f"Bearer {token}"}), token)
        for header in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}, {"Authorization": "Basic x"}):
            with pytest.raises(Forbidden, match="control token"):
                check_access(fake_request(peer, header), token)


def test_token_comparison() -> None:
    assert check_token("Bearer abc", "abc")
    assert check_token("bearer   abc ", "abc")
    assert not check_token("Bearer abcd", "abc")
    assert not check_token("Bearer ab", "abc")
    assert not check_token("Bearer \udcff", "abc")  # a header byte that is not UTF-8 compares, never crashes
    assert not check_token(None, "abc")


def test_a_remote_peer_gets_403_from_the_running_handler(crmock: ServerThread) -> None:
    async def handle() -> tuple[int, Any, dict[str, str]]:
        request = fake_request(("203.0.113.9", 40000))
        response = await crmock.server.control.handle(request)
        return response.status, json.loads(response.text or ""), dict(response.headers)

    status, body, headers = crmock.run(handle())
    assert status == 403
    assert_error(body, "Forbidden", 403)
    assert headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("token", ["", "two words", "tab\there", "naïve", "line\nbreak"])
def test_a_token_must_fit_in_a_header(token: str) -> None:
    with pytest.raises(ValueError, match="control_token"):
        MockServer(control_token=token)


def test_with_a_token_requests_need_the_right_bearer() -> None:
    with MockServer(seed=SEED, control_token="t0ken").running() as handle:
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Bearer t0ken-and-more"}):
            status, got, body = ctl(handle, "GET", "/clock", headers=headers)
            assert status == 403, body
            assert_error(body, "Forbidden", 403)
            assert got["Access-Control-Allow-Origin"] == "*"
        status, _, body = ctl(handle, "POST", "/reset", {}, headers={"Authorization": "Bearer nope"})
        assert status == 403
        status, _, body = ctl(handle, "GET", "/clock", headers={"Authorization": "Bearer t0ken"})
        assert status == 200
        assert body["mode"] == "real"
        assert run(login_token(handle.url))  # the API itself needs no control token


# -- routing, CORS and errors -----------------------------------------------------------------------------------------
def test_index_lists_every_endpoint(crmock: ServerThread) -> None:
    status, _, body = ctl(crmock, "GET", "")
    assert status == 200
    listed = {(e["method"], e["path"]) for e in body["endpoints"]}
    for method, path in [
        ("GET", "/clock"),
        ("POST", "/clock"),
        ("POST", "/emit"),
        ("POST", "/reset"),
        ("GET", "/connections"),
        ("GET", "/journal"),
        ("POST", "/faults"),
        ("DELETE", "/faults/{id}"),
        ("POST", "/disconnect"),
        ("POST", "/tokens/expire"),
        ("POST", "/scenarios"),
        ("POST", "/record"),
        ("DELETE", "/record"),
        ("POST", "/replay"),
    ]:
        assert (method, "/_mock" + path) in listed


def test_unknown_paths_404_and_wrong_methods_405_with_allow(crmock: ServerThread) -> None:
    for path in ("/nope", "/clock/extra", "/faults/a/b", "/tokens"):
        status, _, body = ctl(crmock, "GET", path)
        assert status == 404, path
        assert_error(body, "NotFound", 404, f"Path /_mock{path} not found")
    status, headers, body = ctl(crmock, "PUT", "/clock", {})
    assert status == 405
    assert_error(body, "MethodNotAllowed", 405)
    assert headers["Allow"] == "GET, POST"
    status, headers, body = ctl(crmock, "GET", "/emit")
    assert (status, headers["Allow"]) == (405, "POST")


def test_control_paths_never_reach_the_rest_router(crmock: ServerThread) -> None:
    status, _, body = ctl(crmock, "GET", "/clock/")  # trailing slash: still the control API
    assert status == 200
    assert "mode" in body
    status, _, body = run(rest("GET", crmock.url, "/_mockery"))  # only /_mock and below are taken
    assert_error(body, "NotFound", 404, "Path /_mockery not found")


def test_cors_preflight_and_headers_match_the_rest_api(crmock: ServerThread) -> None:
    async def preflight() -> tuple[int, dict[str, str]]:
        headers = {"Origin": "http://panel.example", "Access-Control-Request-Method": "POST"}
        async with (
            aiohttp.ClientSession() as session,
            session.options(crmock.url + "/_mock/emit", headers=headers) as r,
        ):
            return r.status, dict(r.headers)

    status, headers = run(preflight())
    assert status == 204
    _, rest_headers, _ = run(rest("GET", crmock.url, "/strategies/templates"))
    for name in ("Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers"):
        assert headers[name] == rest_headers[name]
    for method, path in (("GET", "/clock"), ("GET", "/nope"), ("POST", "/clock")):
        _, headers, _ = ctl(crmock, method, path, {"bad": 1} if method == "POST" else None)
        assert headers["Access-Control-Allow-Origin"] == "*"


def test_head_answers_like_get_without_a_body(crmock: ServerThread) -> None:
    async def head() -> tuple[int, bytes]:
        async with aiohttp.ClientSession() as session, session.head(crmock.url + "/_mock/clock") as response:
            return response.status, await response.read()

    assert run(head()) == (200, b"")


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("{", "Invalid JSON in request body"),
        ('{"advance": NaN}', "NaN is not JSON"),
        ('{"advance": Infinity}', "Infinity is not JSON"),
        ("[" * 100 + "]" * 100, "nested deeper than 64 levels"),
        ("[" * 100_000, "Invalid JSON"),
        ('{"advance": 1' + "0" * 5000 + "}", "Invalid JSON"),
        (b"\xff\xfe\x00", "Invalid JSON"),
    ],
)
def test_bad_json_is_a_400_listing_the_problem(crmock: ServerThread, raw: str | bytes, problem: str) -> None:
    status, _, body = ctl(crmock, "POST", "/clock", data=raw)
    assert status == 400
    assert_error(body, "BadRequest", 400)
    assert problem in body["message"]
    assert body["errors"][0]["path"] == ""


def test_a_body_over_the_size_limit_is_a_400(crmock: ServerThread) -> None:
    status, _, body = ctl(crmock, "POST", "/emit", data=b'{"x":"' + b"a" * 1_100_000 + b'"}')
    assert status == 400
    assert "larger than" in body["message"]


def test_a_bad_body_lists_every_problem_by_field(crmock: ServerThread) -> None:
    status, _, body = ctl(crmock, "POST", "/clock", {"advance": -1, "mode": "fast", "colour": "red"})
    assert status == 400
    assert_error(body, "BadRequest", 400)
    assert body["errors"] == [
        {"path": "advance", "message": "must be >= 0"},
        {"path": "colour", "message": "is not a known field"},
        {"path": "mode", "message": 'must be one of "real", "scaled", "manual"'},
    ]
    assert body["message"].startswith("Invalid body of POST /_mock/clock: advance: must be >= 0")
    status, _, body = ctl(crmock, "POST", "/emit", [1, 2])
    assert (status, body["errors"][0]) == (400, {"path": "", "message": "must be an object"})


# -- clock ------------------------------------------------------------------------------------------------------------
def test_clock_get_describes_mock_time(crmock: ServerThread) -> None:
    status, _, body = ctl(crmock, "GET", "/clock")
    assert status == 200
    assert list(body) == ["mode", "speed", "now", "time", "pending", "nextDue"]
    assert (body["mode"], body["speed"]) == ("real", 1.0)


def test_clock_freeze_advance_and_speed(crmock: ServerThread) -> None:
    status, _, frozen = ctl(crmock, "POST", "/clock", {"mode": "manual"})
    assert (status, frozen["mode"], frozen["speed"]) == (200, "manual", 0.0)
    fired: list[str] = []
    crmock.call(crmock.server.clock.call_later, 90, lambda: fired.append(crmock.server.clock.iso()))

    status, _, moved = ctl(crmock, "POST", "/clock", {"advance": 60})
    assert moved["time"] == pytest.approx(frozen["time"] + 60)
    assert (moved["pending"], fired) == (1, [])
    _, _, moved = ctl(crmock, "POST", "/clock", {"advance": 3600})
    assert moved["time"] == pytest.approx(frozen["time"] + 3660)
    assert moved["pending"] == 0
    assert len(fired) == 1  # ran when due, on the way

    _, _, scaled = ctl(crmock, "POST", "/clock", {"speed": 10})
    assert (scaled["mode"], scaled["speed"]) == ("scaled", 10.0)
    _, _, real = ctl(crmock, "POST", "/clock", {"mode": "real"})
    assert (real["mode"], real["speed"]) == ("real", 1.0)
    _, _, both = ctl(crmock, "POST", "/clock", {"mode": "manual", "advance": 5})
    assert both["mode"] == "manual"
    assert both["time"] == pytest.approx(real["time"] + 5, abs=1)


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"mode": "manual", "speed": 2}, "speed"),
        ({"mode": "scaled"}, "speed"),
        ({"mode": "real", "speed": 3}, "speed"),
        ({"speed": 0}, "speed"),
        ({"advance": 400_000_000}, "advance"),
        ({"advance": "60"}, "advance"),
        ({}, ""),
    ],
)
def test_clock_refuses_what_it_cannot_do(crmock: ServerThread, body: dict[str, Any], path: str) -> None:
    before = ctl(crmock, "GET", "/clock")[2]
    status, _, answer = ctl(crmock, "POST", "/clock", body)
    assert status == 400, answer
    assert [problem["path"] for problem in answer["errors"]] == [path]
    after = ctl(crmock, "GET", "/clock")[2]
    assert (after["mode"], after["speed"]) == (before["mode"], before["speed"])


def test_a_second_advance_while_one_runs_is_a_409(crmock: ServerThread) -> None:
    async def slow_step() -> None:
        await asyncio.sleep(0.5)  # wall time: the first advance waits for it

    crmock.call(crmock.server.clock.call_later, 10, slow_step)

    async def both() -> list[tuple[int, Any, Any]]:
        first = asyncio.ensure_future(rest("POST", crmock.url, "/_mock/clock", json_body={"advance": 20}))
        await asyncio.sleep(0.2)
        second = await rest("POST", crmock.url, "/_mock/clock", json_body={"advance": 20})
        return [await first, second]

    (first, _, _), (status, _, body) = run(both())
    assert first == 200
    assert status == 409
    assert_error(body, "Conflict", 409, "clock.advance() is already running (called from a scheduled callback?)")


# -- emit -------------------------------------------------------------------------------------------------------------
def test_emit_generates_a_valid_payload_and_delivers_it_to_the_users_connections(crmock: ServerThread) -> None:
    async def scenario() -> tuple[Any, str, str, list[Any], list[Any]]:
        async with logged_in(crmock.url) as mine, logged_in(crmock.url, OTHER) as other:
            body = {"path": "traders", "event": "patched", "email": USER[0].upper(), "overrides": {"name": "From API"}}
            answer = await rest("POST", crmock.url, "/_mock/emit", json_body=body)
            got = await mine.wait_for("traders patched")
            await asyncio.sleep(0.1)
            return answer, mine.sio.get_sid("/"), other.sio.get_sid("/"), got, other.events["traders patched"]

    (status, _, answer), my_sid, _other_sid, got, others = run(scenario())
    assert status == 200, answer
    assert list(answer) == ["payload", "delivered"]
    assert answer["delivered"] == [my_sid]
    assert answer["payload"]["name"] == "From API"
    assert answer["payload"]["userId"] == USER_ID  # a generated record belongs to the user it is sent to
    assert got == [answer["payload"]]
    assert others == []
    assert_valid(crmock.server.contract, "traders", "event:patched", answer["payload"])


def test_emit_without_email_goes_to_the_records_owner(crmock: ServerThread) -> None:
    async def scenario() -> tuple[Any, list[Any]]:
        async with logged_in(crmock.url) as mine:
            body = {"path": "/messages", "event": "created", "overrides": {"userId": USER_ID}}
            answer = await rest("POST", crmock.url, "/_mock/emit", json_body=body)
            return answer, await mine.wait_for("messages created")

    (status, _, answer), got = run(scenario())
    assert status == 200, answer
    assert len(answer["delivered"]) == 1
    assert got == [answer["payload"]]


def test_emitted_payloads_are_reproducible_after_reset(crmock: ServerThread) -> None:
    body = {"path": "models/signals", "event": "created"}
    first = [ctl(crmock, "POST", "/emit", body)[2]["payload"] for _ in range(2)]
    assert first[0] != first[1]
    assert ctl(crmock, "POST", "/reset", {})[0] == 200
    again = [ctl(crmock, "POST", "/emit", body)[2]["payload"] for _ in range(2)]
    assert again == first
    seeded = ctl(crmock, "POST", "/emit", {**body, "seed": 7})[2]["payload"]
    assert ctl(crmock, "POST", "/emit", {**body, "seed": 7})[2]["payload"] == seeded


def test_emit_refuses_a_payload_that_breaks_the_event_schema(crmock: ServerThread) -> None:
    payload = {"_id": "nope", "status": "flying"}
    status, _, body = ctl(crmock, "POST", "/emit", {"path": "traders", "event": "patched", "payload": payload})
    assert status == 400
    assert_error(body, "BadRequest", 400, "The payload breaks the schema of 'traders patched'")
    paths = [problem["path"] for problem in body["errors"]]
    assert "payload.status" in paths  # a wrong value
    assert "payload.dry_run" in paths  # a missing field


def test_emit_with_validate_false_sends_a_broken_payload_on_purpose(crmock: ServerThread) -> None:
    async def scenario() -> tuple[Any, list[Any]]:
        async with logged_in(crmock.url, check_events=False) as mine:
            body = {
                "path": "traders",
                "event": "removed",
                "payload": "not a record",
                "email": USER[0],
                "validate": False,
            }
            answer = await rest("POST", crmock.url, "/_mock/emit", json_body=body)
            return answer, await mine.wait_for("traders removed")

    (status, _, answer), got = run(scenario())
    assert status == 200, answer
    assert got == ["not a record"]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"path": "traders", "event": "exploded"}, "event"),
        ({"path": "nothing", "event": "created"}, "path"),
        ({"path": "strategies/templates", "event": "created"}, "path"),
        ({"path": "traders", "event": "created", "email": "nobody@example.com"}, "email"),
        ({"path": "traders", "event": "created", "payload": [1], "overrides": {"a": 1}}, "overrides"),
        ({"path": "traders", "event": "created", "payload": "x", "validate": False}, "payload"),
        ({"path": "users", "event": "patched", "payload": {"name": "x"}, "validate": False}, "payload._id"),
        ({"event": "created"}, "path"),
    ],
)
def test_emit_bad_requests_name_the_field(crmock: ServerThread, body: dict[str, Any], path: str) -> None:
    status, _, answer = ctl(crmock, "POST", "/emit", body)
    assert status == 400, answer
    assert_error(answer, "BadRequest", 400)
    assert [problem["path"] for problem in answer["errors"]] == [path]


# -- connections and reset --------------------------------------------------------------------------------------------
def test_connections_show_who_is_on_which_transport_since_when() -> None:
    with MockServer(seed=SEED, clock="manual").running() as handle:

        async def scenario() -> tuple[list[Any], list[Any], str]:
            async with logged_in(handle.url, None) as anonymous:
                status, _, before = await rest("GET", handle.url, "/_mock/connections")
                assert status == 200
                await anonymous.authenticate(*USER)
                _, _, after = await rest("GET", handle.url, "/_mock/connections")
                assert handle.call(handle.server.connections) == after  # the same Python API
                return before, after, anonymous.sio.get_sid("/")

        before, after, sid = run(scenario())
        entry = {"id": sid, "userId": None, "email": None, "transport": "websocket"}
        assert before == [{**entry, "connectedAt": "2024-01-15T10:00:00.000Z"}]  # on the mock clock
        assert after == [{**entry, "userId": USER_ID, "email": USER[0], "connectedAt": "2024-01-15T10:00:00.000Z"}]
        assert ctl(handle, "GET", "/connections")[2] == []  # gone once closed


def test_a_polling_connection_says_so(crmock: ServerThread) -> None:
    async def scenario() -> list[Any]:
        from mockserver.client import FeathersSocketClient

        async with FeathersSocketClient(crmock.url, transports=["polling"]) as client:
            await client.authenticate(*OTHER)
            connections = (await rest("GET", crmock.url, "/_mock/connections"))[2]
            await rest("POST", crmock.url, "/_mock/reset")  # a polling client's own close waits for its long poll
            await asyncio.sleep(0.1)
            return connections

    [entry] = run(scenario())
    assert (entry["transport"], entry["email"]) == ("polling", OTHER[0])


def test_reset_restores_the_seeded_data_and_drops_connections(crmock: ServerThread) -> None:
    async def scenario() -> tuple[int, int, Any]:
        token = await login_token(crmock.url)
        created = await rest("POST", crmock.url, "/strategies", token=token, json_body={"name": "temporary"})
        async with logged_in(crmock.url) as client:
            kept = await rest("POST", crmock.url, "/_mock/reset", json_body={"disconnect": False})
            connected_after_soft_reset = client.sio.connected
            status, _, _ = await rest("POST", crmock.url, "/_mock/reset")
            await asyncio.sleep(0.2)
            assert kept[0] == 200
            assert connected_after_soft_reset
            assert not client.sio.connected
        found = await rest("GET", crmock.url, f"/strategies/{created[2]['_id']}", token=await login_token(crmock.url))
        return status, found[0], (await rest("GET", crmock.url, "/_mock/connections"))[2]

    status, found, connections = run(scenario())
    assert (status, found, connections) == (200, 404, [])


# -- disconnects, faults, journal, scenarios and tapes ------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/disconnect", {"mode": "unplug"}, "mode"),
        ("/disconnect", {"connection": 5}, "connection"),
        ("/tokens/expire", {"email": ""}, "email"),
        ("/faults", {"action": "explode"}, "action"),
        ("/faults", {"action": "error", "probability": 2}, "probability"),
        ("/faults", {"action": "delay-ack", "match": {"planet": "mars"}}, "match.planet"),
        ("/faults", {"match": {}}, "action"),
        ("/scenarios", {}, ""),
        ("/scenarios", {"scenario": {}, "yaml": "a: 1"}, ""),
        ("/record", {}, "path"),
        ("/replay", {"path": "t.tape", "speed": 0}, "speed"),
        ("/replay", {"path": "t.tape", "allow_invalid": True}, "allow_invalid"),
    ],
)
def test_bodies_of_every_endpoint_are_checked_in_every_build(
    crmock: ServerThread, path: str, body: Any, field: str
) -> None:
    status, _, answer = ctl(crmock, "POST", path, body)
    assert status == 400, answer
    assert_error(answer, "BadRequest", 400)
    assert field in [problem["path"] for problem in answer["errors"]]


def test_journal_query_is_checked(crmock: ServerThread) -> None:
    for query, field in (
        ("since=-1", "since"),
        ("limit=0", "limit"),
        ("kind=gossip", "kind"),
        ("colour=red", "colour"),
    ):
        status, _, answer = ctl(crmock, "GET", f"/journal?{query}")
        assert status == 400, answer
        assert [problem["path"] for problem in answer["errors"]] == [field]


def test_disconnect_by_email_and_by_connection(crmock: ServerThread) -> None:

    async def scenario() -> tuple[Any, Any, Any, bool, bool]:
        async with logged_in(crmock.url) as mine, logged_in(crmock.url, OTHER) as other:
            sid = mine.sio.get_sid("/")
            by_email = await rest("POST", crmock.url, "/_mock/disconnect", json_body={"email": USER[0].upper()})
            await asyncio.sleep(0.3)
            unknown = await rest("POST", crmock.url, "/_mock/disconnect", json_body={"connection": sid})
            by_id = await rest(
                "POST",
                crmock.url,
                "/_mock/disconnect",
                json_body={"connection": other.sio.get_sid("/"), "mode": "transport"},
            )
            await asyncio.sleep(0.3)
            assert by_email[2] == {"disconnected": [sid]}
            return by_email, unknown, by_id, mine.sio.connected, other.sio.connected

    by_email, unknown, by_id, mine_connected, other_connected = run(scenario())
    assert by_email[0] == 200
    assert unknown[0] == 400
    assert by_id[0] == 200
    assert len(by_id[2]["disconnected"]) == 1
    assert not mine_connected
    assert not other_connected
    status, _, answer = ctl(crmock, "POST", "/disconnect", {"email": "nobody@example.com"})
    assert (status, answer["errors"][0]["path"]) == (400, "email")


def test_expiring_tokens_makes_them_401(crmock: ServerThread) -> None:
    token = run(login_token(crmock.url))
    status, _, answer = ctl(crmock, "POST", "/tokens/expire", {"email": USER[0]})
    assert status == 200, answer
    assert isinstance(answer["expired"], list)
    status, _, body = run(rest("GET", crmock.url, "/strategies", token=token))
    assert status == 401
    assert_error(body, "NotAuthenticated", 401)


def test_faults_are_added_listed_and_removed(crmock: ServerThread) -> None:
    fault = {
        "match": {"service": "strategies", "method": "find"},
        "action": "error",
        "error": {"name": "Unavailable", "code": 503, "message": "down for a bit"},
        "times": 1,
    }
    status, _, added = ctl(crmock, "POST", "/faults", fault)
    assert status == 201, added
    assert isinstance(added["id"], str)
    assert {key: added[key] for key in fault} == fault
    assert ctl(crmock, "GET", "/faults")[2] == [added]

    async def call_twice() -> tuple[Any, Any]:
        async with logged_in(crmock.url) as client:
            try:
                first: Any = await client.call("find", "strategies", {})
            except Exception as error:
                first = error
            return first, await client.call("find", "strategies", {})

    first, second = run(call_twice())
    assert getattr(first, "code", None) == 503
    assert second["total"] >= 0

    status, _, again = ctl(crmock, "POST", "/faults", {"action": "drop-ack", "match": {"method": "get"}})
    assert status == 201
    status, _, removed = ctl(crmock, "DELETE", f"/faults/{again['id']}")
    assert (status, removed) == (200, again)
    status, _, answer = ctl(crmock, "DELETE", f"/faults/{again['id']}")
    assert_error(answer, "NotFound", 404)
    ctl(crmock, "POST", "/faults", {"action": "drop-event", "match": {"event": "traders patched"}})
    status, _, cleared = ctl(crmock, "DELETE", "/faults")
    assert status == 200
    assert len(cleared) == len(ctl(crmock, "GET", "/faults")[2]) + len(cleared)
    assert ctl(crmock, "GET", "/faults")[2] == []


def test_a_fault_the_python_api_refuses_is_a_400(crmock: ServerThread) -> None:
    status, _, answer = ctl(crmock, "POST", "/faults", {"action": "delay-ack"})  # no seconds to delay by
    assert status == 400, answer
    assert_error(answer, "BadRequest", 400)


def test_journal_pages_with_since_and_next(crmock: ServerThread) -> None:
    run(login_token(crmock.url))
    status, _, page = ctl(crmock, "GET", "/journal")
    assert status == 200, page
    assert list(page) == ["entries", "next"]
    assert page["entries"], page
    assert all(entry["seq"] >= 1 for entry in page["entries"])
    assert page["next"] == page["entries"][-1]["seq"]
    assert ctl(crmock, "GET", f"/journal?since={page['next']}")[2] == {"entries": [], "next": page["next"]}
    run(login_token(crmock.url))
    newer = ctl(crmock, "GET", f"/journal?since={page['next']}&limit=1")[2]
    assert len(newer["entries"]) == 1
    assert newer["entries"][0]["seq"] > page["next"]
    kinds = {entry["kind"] for entry in ctl(crmock, "GET", "/journal?kind=rest")[2]["entries"]}
    assert kinds <= {"rest"}


def test_recording_and_replaying_a_tape(crmock: ServerThread, tmp_path: Path) -> None:
    tape = tmp_path / "session.tape"
    status, _, answer = ctl(crmock, "POST", "/record", {"path": str(tape)})
    assert (status, answer) == (201, {"recording": str(tape)})
    ctl(crmock, "POST", "/emit", {"path": "models/signals", "event": "created"})
    status, _, answer = ctl(crmock, "DELETE", "/record")
    assert (status, answer) == (200, {"recording": None})
    assert tape.stat().st_size > 0
    status, _, answer = ctl(crmock, "POST", "/replay", {"path": str(tape), "speed": 100})
    assert status == 200, answer
    assert answer == {"replaying": str(tape), "speed": 100, "loop": False}
    status, _, answer = ctl(crmock, "POST", "/replay", {"path": str(tmp_path / "missing.tape")})
    assert status == 400, answer


def test_a_scenario_the_python_api_refuses_is_a_400(crmock: ServerThread) -> None:
    status, _, answer = ctl(crmock, "POST", "/scenarios", {"scenario": {"no such key": True}})
    assert status == 400, answer
    assert_error(answer, "BadRequest", 400)
    status, _, answer = ctl(crmock, "POST", "/scenarios", {"yaml": "- just\n- a list\n"})
    assert status == 400, answer


def test_the_docs_show_every_endpoint_with_curl() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "control-api.md").read_text()
    server = MockServer()
    for key, route in server.control.routes.items():
        for method in route:
            path = "$URL/_mock" + (f"/{key}" if key else "").replace("{id}", "FAULT_ID")
            curl = f"curl -s {path}" if method == "GET" else f"curl -s -X {method} {path}"
            assert curl in docs.replace('"$URL', "$URL"), curl


def test_the_body_schemas_are_valid_draft_2020_12() -> None:
    from jsonschema import Draft202012Validator

    folder = Path(__file__).resolve().parents[2] / "mockserver" / "server" / "control_schemas"
    found = sorted(folder.glob("*.json"))
    assert len(found) == 12
    for path in found:
        Draft202012Validator.check_schema(json.loads(path.read_text()))


def test_a_bug_is_one_log_line_and_a_general_error_not_a_traceback(
    crmock: ServerThread, caplog: pytest.LogCaptureFixture
) -> None:
    with mock.patch.object(crmock.server.clock, "describe", side_effect=KeyError("oops")):
        status, _, body = ctl(crmock, "GET", "/clock")
    assert status == 500
    assert_error(body, "GeneralError", 500, "Internal error in the mock's control API")
    [record] = [r for r in caplog.records if r.name == "mockserver.control"]
    assert record.getMessage() == "control API bug on GET '/_mock/clock': KeyError: KeyError('oops')"
    assert record.exc_info is None


def test_a_yaml_scenario_is_scheduled_then_runs_as_the_clock_advances() -> None:
    """201 says how many step runs were scheduled and how many ran; on a manual clock they run on the next advance."""
    yaml_text = (
        "name: two-messages\n"
        "steps:\n"
        "  - at: 1\n"
        "    emit: {event: events created, fields: {severity: warning}}\n"
        "  - at: 2\n"
        "    emit: {event: events created, fields: {severity: error}}\n"
    )
    typo = yaml_text.replace("emit:", "emitt:", 1)
    with MockServer(seed=5, clock="manual").running() as handle:
        status, _, answer = ctl(handle, "POST", "/scenarios", {"yaml": yaml_text})
        assert (status, answer) == (201, {"steps": 2, "ran": 0, "done": False})
        assert ctl(handle, "POST", "/clock", {"advance": 3})[0] == 200
        severities = [e["payload"]["severity"] for e in handle.journal.entries(kind="event")]
        assert severities == ["warning", "error"]
        status, _, answer = ctl(handle, "POST", "/scenarios", {"yaml": typo})
        assert status == 400
        assert_error(answer, "BadRequest", 400)
        assert "yaml:4: steps[0].emitt: unknown field" in answer["message"]  # the line and path of the typo
