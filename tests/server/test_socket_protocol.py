"""Socket dispatch as a Feathers client sees it: which frames get an ack, and what exactly it says.

Texts and shapes come from feathers-protocol.md §2 and §4 and the binding decisions D10, D11 and D15.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest
import socketio
from crmock_support import (
    USER,
    RawSocket,
    assert_error,
    assert_error_shape,
    assert_valid,
    run,
    store_state,
)

from mockserver.contract import SERVICES
from mockserver.server import ServerThread

LOGIN = {"strategy": "local", "email": USER[0], "password": USER[1]}


async def raw_logged_in(url: str) -> RawSocket:
    sock = await RawSocket.open(url)
    ack = await sock.call_json("create", "authentication", LOGIN, {})
    assert ack[0] is None, ack
    return sock


def ack_of(packet: str) -> list[Any]:
    args: list[Any] = json.loads(packet[packet.index("[") :])
    return args


# -- events that are no method ------------------------------------------------------------------------------------
@pytest.mark.parametrize("event", ["frobnicate", "traders::find", "authenticate", "logout", "FIND"])
def test_an_event_that_is_no_method_gets_no_ack_and_the_socket_keeps_working(crmock: ServerThread, event: str) -> None:
    async def scenario() -> None:
        sio = socketio.AsyncClient(reconnection=False)
        await sio.connect(crmock.url, transports=["websocket"])
        try:
            with pytest.raises(socketio.exceptions.TimeoutError):
                await sio.call(event, ("strategies", {}), timeout=0.5)
            assert sio.connected
            reply = await sio.call("find", ("strategies/templates", {}), timeout=5)
            assert reply["code"] == 401  # still answered: the unknown event did not break the connection
        finally:
            await sio.disconnect()

    run(scenario())


# -- path resolution ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["nope", "/nope/", "nope/deeper", "trader"])
def test_unknown_service_is_not_found(crmock: ServerThread, path: str) -> None:
    async def scenario() -> None:
        async with await raw_logged_in(crmock.url) as sock:
            ack = await sock.call_json("find", path, {})
            assert len(ack) == 1
            assert_error(ack[0], "NotFound", 404, f"Service '{path.strip('/')}' not found")

    run(scenario())


@pytest.mark.parametrize("path", [5, None, {}, [], True, 1.5])
def test_a_path_that_is_not_a_string_is_not_found(crmock: ServerThread, path: Any) -> None:
    async def scenario() -> None:
        async with await RawSocket.open(crmock.url) as sock:
            ack = await sock.call_json("find", path, {})
            assert_error(ack[0], "NotFound", 404, "Invalid service path")
            no_args = await sock.call_json("get")
            assert_error(no_args[0], "NotFound", 404, "Invalid service path")

    run(scenario())


@pytest.mark.parametrize("path", ["/strategies", "strategies/", "/strategies/", "//strategies//"])
def test_slashes_around_the_path_are_ignored(crmock: ServerThread, path: str) -> None:
    async def scenario() -> None:
        async with await raw_logged_in(crmock.url) as sock:
            plain = await sock.call_json("find", "strategies", {})
            slashed = await sock.call_json("find", path, {})
            assert slashed == plain
            assert slashed[0] is None
            assert slashed[1]["total"] == 3

    run(scenario())


def test_login_works_with_a_slashed_authentication_path(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with await RawSocket.open(crmock.url) as sock:
            ack = await sock.call_json("create", "/authentication/", LOGIN, {})
            assert ack[0] is None
            assert ack[1]["user"]["email"] == USER[0]
            found = await sock.call_json("find", "strategies", {})
            assert found[0] is None

    run(scenario())


# -- methods ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "args"),
    [
        ("patch", "events", ["x", {}, {}]),
        ("update", "strategies", ["x", {}, {}]),
        ("create", "strategies/templates", [{}, {}]),
        ("remove", "models", ["x", {}]),
        ("find", "traders/pods", [{}]),
        ("get", "authentication", ["x", {}]),
        ("patch", "keys", ["x", {}, {}]),
    ],
)
def test_a_method_the_service_does_not_offer_is_not_allowed(
    crmock: ServerThread, method: str, path: str, args: list[Any]
) -> None:
    async def scenario() -> None:
        async with await raw_logged_in(crmock.url) as sock:
            ack = await sock.call_json(method, path, *args)
            assert_error(ack[0], "MethodNotAllowed", 405, f"Method '{method}' not allowed on service '{path}'")

    run(scenario())


def test_update_is_refused_on_every_service_even_anonymously(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with await RawSocket.open(crmock.url) as sock:
            for path in SERVICES:
                ack = await sock.call_json("update", path, "x", {}, {})
                assert_error(ack[0], "MethodNotAllowed", 405, f"Method 'update' not allowed on service '{path}'")
                null_id = await sock.call_json("update", path, None, {}, {})
                assert null_id[0]["code"] == 405

    run(scenario())


def test_the_path_is_checked_before_the_method(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with await RawSocket.open(crmock.url) as sock:
            ack = await sock.call_json("patch", "nope", "x", {}, {})
            assert_error(ack[0], "NotFound", 404, "Service 'nope' not found")

    run(scenario())


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("find", [{}, {}]),
        ("get", ["x", {}, {}]),
        ("create", [{}, {}, {}]),
        ("patch", ["x", {}, {}, {}]),
        ("remove", ["x", {}, {}]),
        ("update", ["x", {}, {}, {}]),
    ],
)
def test_too_many_arguments_is_a_bad_request(crmock: ServerThread, method: str, args: list[Any]) -> None:
    path = "users" if method == "update" else "strategies"

    async def scenario() -> None:
        async with await raw_logged_in(crmock.url) as sock:
            ack = await sock.call_json(method, path, *args)
            if method == "update":  # the method check comes first (§2.2 step 3)
                assert ack[0]["code"] == 405
                return
            assert_error(ack[0], "BadRequest", 400, f"Too many arguments for '{method}' method")

    run(scenario())


def test_fewer_arguments_are_accepted(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with await raw_logged_in(crmock.url) as sock:
            found = await sock.call_json("find", "strategies")
            assert found[0] is None
            assert found[1]["total"] == 3
            template = await sock.call_json("get", "strategies/templates", "tmpl-1")
            assert template[0] is None
            assert template[1]["_id"] == "tmpl-1"
            created = await sock.call_json("create", "strategies", {"name": "no query"})
            assert created[0] is None
            assert created[1]["name"] == "no query"
            null_query = await sock.call_json("find", "strategies", None)
            assert null_query[0] is None

    run(scenario())


# -- ack shapes ---------------------------------------------------------------------------------------------------
def test_ack_shapes_on_the_wire(crmock: ServerThread) -> None:
    """Success is `[null, result]`; failure is `[error]` with the keys in Feathers' order (§2.3, §6.1)."""

    async def scenario() -> None:
        contract = crmock.server.contract
        async with await raw_logged_in(crmock.url) as sock:
            ok = await sock.call("find", "strategies", {"$limit": 1})
            assert re.match(r"3\d+\[null,\{", ok), ok
            args = ack_of(ok)
            assert len(args) == 2
            assert args[0] is None
            assert list(args[1]) == ["total", "limit", "skip", "data"]
            assert_valid(contract, "strategies", "page", args[1])

            plain = ack_of(await sock.call("get", "strategies", "ffffffffffffffffffffffff", {}))
            assert len(plain) == 1
            assert list(plain[0]) == ["name", "message", "code", "className"]
            assert_error(plain[0], "NotFound", 404, "No record found for id 'ffffffffffffffffffffffff'")
            assert_valid(contract, "error", "object", plain[0])

            with_data = ack_of(await sock.call("find", "strategies", {"name": {"$regex": "x"}}))
            assert list(with_data[0]) == ["name", "message", "code", "className", "data"]

            with_errors = ack_of(await sock.call("create", "strategies", {"name": "x", "stoploss": 1}, {}))
            assert list(with_errors[0]) == ["name", "message", "code", "className", "errors"]
            assert_error(with_errors[0], "BadRequest", 400, "Validation failed")
            assert {"path": "stoploss", "message": with_errors[0]["errors"][0]["message"]} in with_errors[0]["errors"]
            assert_valid(contract, "error", "object", with_errors[0])

    run(scenario())


def test_a_null_result_is_acked_as_two_arguments(crmock: ServerThread) -> None:
    """Never an ack without arguments (the client would resolve `undefined`) nor a bare list (§11.2)."""

    async def scenario() -> None:
        async with await raw_logged_in(crmock.url) as sock:
            for method, args in [("find", [{}]), ("get", ["tmpl-1", {}])]:
                ack = ack_of(await sock.call(method, "strategies/templates", *args))
                assert len(ack) == 2
                assert ack[0] is None
                assert isinstance(ack[1], dict)

    run(scenario())


@pytest.mark.parametrize("method", ["create", "patch", "remove"])
def test_the_event_frame_arrives_before_the_ack_on_the_callers_socket(crmock: ServerThread, method: str) -> None:
    async def scenario() -> None:
        async with await raw_logged_in(crmock.url) as sock:
            created = await sock.call_json("create", "strategies", {"name": "ordering"}, {})
            strategy_id = created[1]["_id"]
            sock.frames.clear()
            if method == "create":
                ack_id = await sock.send_event("create", "strategies", {"name": "second"}, {})
                event = "strategies created"
            elif method == "patch":
                ack_id = await sock.send_event("patch", "strategies", strategy_id, {"name": "renamed"}, {})
                event = "strategies patched"
            else:
                ack_id = await sock.send_event("remove", "strategies", strategy_id, {})
                event = "strategies removed"
            await sock.ack(ack_id)
            kinds = [("ack" if f.startswith(f"3{ack_id}[") else json.loads(f[1:])[0]) for f in sock.frames]
            assert kinds == [event, "ack"], sock.frames

    run(scenario())


# -- ids, data and queries ----------------------------------------------------------------------------------------
def test_multi_writes_are_not_allowed(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with await raw_logged_in(crmock.url) as sock:
            patch = await sock.call_json("patch", "strategies", None, {"name": "all"}, {})
            assert_error(patch[0], "MethodNotAllowed", 405, "Can not patch multiple entries")
            remove = await sock.call_json("remove", "strategies", None, {})
            assert_error(remove[0], "MethodNotAllowed", 405, "Can not remove multiple entries")
            create = await sock.call_json("create", "strategies", [{"name": "a"}, {"name": "b"}], {})
            assert_error(create[0], "MethodNotAllowed", 405, "Can not create multiple entries")
            empty = await sock.call_json("create", "strategies", [], {})
            assert_error(empty[0], "MethodNotAllowed", 405, "Can not create multiple entries")
            found = await sock.call_json("find", "strategies", {})
            assert found[1]["total"] == 3  # none of it changed anything

    run(scenario())


@pytest.mark.parametrize("query", [5, "x", [], [{}], True])
@pytest.mark.parametrize("method", ["find", "get", "create", "patch", "remove"])
def test_a_query_that_is_not_an_object_is_a_bad_request(crmock: ServerThread, method: str, query: Any) -> None:
    before = {"find": [], "get": ["tmpl-1"], "create": [{"name": "q"}], "patch": ["x", {}], "remove": ["x"]}[method]
    path = "strategies/templates" if method == "get" else "strategies"

    async def scenario() -> None:
        async with await raw_logged_in(crmock.url) as sock:
            ack = await sock.call_json(method, path, *before, query)
            assert_error(ack[0], "BadRequest", 400)

    run(scenario())


def test_query_operators_that_feathers_does_not_know_are_refused(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with await raw_logged_in(crmock.url) as sock:
            inner = await sock.call_json("find", "strategies", {"name": {"$regex": "x"}})
            assert inner == [
                {
                    "name": "BadRequest",
                    "message": "Invalid query parameter $regex",
                    "code": 400,
                    "className": "bad-request",
                    "data": {"$regex": "x"},
                }
            ]
            top = await sock.call_json("find", "strategies", {"$regex": "x"})
            assert top == [
                {
                    "name": "BadRequest",
                    "message": "Invalid filter value $regex",
                    "code": 400,
                    "className": "bad-request",
                }
            ]
            for operator in ("$like", "$exists"):
                ack = await sock.call_json("find", "strategies", {"name": {operator: "x"}})
                assert_error(ack[0], "BadRequest", 400, f"Invalid query parameter {operator}")
            on_get = await sock.call_json("get", "strategies/templates", "tmpl-1", {"name": {"$regex": "x"}})
            assert_error(on_get[0], "BadRequest", 400, "Invalid query parameter $regex")

    run(scenario())


def test_known_operators_work_over_the_socket(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with await raw_logged_in(crmock.url) as sock:
            ack = await sock.call_json(
                "find", "traders", {"status": {"$in": ["running", "error"]}, "$sort": {"name": 1}, "$select": ["name"]}
            )
            assert ack[0] is None
            page = ack[1]
            assert [t["name"] for t in page["data"]] == ["Trader 1", "Trader 3", "Trader 4"]
            assert all(set(t) == {"_id", "name"} for t in page["data"])
            ored = await sock.call_json("find", "traders", {"$or": [{"name": "Trader 1"}, {"name": "Trader 2"}]})
            assert ored[1]["total"] == 2

    run(scenario())


@pytest.mark.parametrize("record_id", [{}, [], True, {"$ne": None}])
def test_an_id_that_is_not_a_string_or_number_is_a_bad_request(crmock: ServerThread, record_id: Any) -> None:
    async def scenario() -> None:
        async with await raw_logged_in(crmock.url) as sock:
            ack = await sock.call_json("get", "strategies", record_id, {})
            assert_error_shape(ack[0])
            assert ack[0]["code"] in (400, 404)

    run(scenario())


def test_data_that_is_not_an_object_is_a_bad_request(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with await raw_logged_in(crmock.url) as sock:
            for data in ("x", 5, None, True):
                ack = await sock.call_json("create", "strategies", data, {})
                assert_error(ack[0], "BadRequest", 400)

    run(scenario())


def test_an_unauthenticated_call_is_refused_but_sign_up_and_login_are_open(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with await RawSocket.open(crmock.url) as sock:
            ack = await sock.call_json("find", "strategies", {})
            assert ack == [
                {
                    "name": "NotAuthenticated",
                    "message": "Not authenticated",
                    "code": 401,
                    "className": "not-authenticated",
                }
            ]
            signed_up = await sock.call_json(
                "create", "users", {"email": "new@example.com", "password": "pw-123456"}, {}
            )
            assert signed_up[0] is None
            assert signed_up[1]["email"] == "new@example.com"
            assert "password" not in signed_up[1]
            assert sock.events() == []  # an anonymous socket receives no events, not even its own sign-up

    run(scenario())


def test_concurrent_calls_are_all_answered_with_their_own_ids(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with await raw_logged_in(crmock.url) as sock:
            ids = [await sock.send_event("get", "strategies/templates", f"tmpl-{i % 3}", {}) for i in range(30)]
            acks: dict[int, list[Any]] = {}
            while len(acks) < len(ids):
                packet = await sock.next_packet(5)
                assert packet is not None
                if packet.startswith("3"):
                    ack_id = int(packet[1 : packet.index("[")])
                    acks[ack_id] = ack_of(packet)
            for i, ack_id in enumerate(ids):
                assert ack_id is not None
                if i % 3 == 0:
                    assert_error(acks[ack_id][0], "NotFound", 404, "No record found for id 'tmpl-0'")
                else:
                    assert acks[ack_id][1]["_id"] == f"tmpl-{i % 3}"

    run(scenario())


def test_python_socketio_client_sees_the_same_acks(crmock: ServerThread) -> None:
    """The shape as python-socketio's own `call` returns it: a tuple on success, the error dict on failure."""

    async def scenario() -> None:
        sio = socketio.AsyncClient(reconnection=False)
        await sio.connect(crmock.url, transports=["websocket"])
        try:
            ok = await sio.call("create", ("authentication", LOGIN, {}), timeout=5)
            assert isinstance(ok, tuple)
            assert ok[0] is None
            assert "accessToken" in ok[1]
            failed = await sio.call("find", ("nope", {}), timeout=5)
            assert isinstance(failed, dict)
            assert failed["message"] == "Service 'nope' not found"
        finally:
            await sio.disconnect()
            await asyncio.sleep(0)

    run(scenario())


@pytest.mark.parametrize(
    ("event", "args"),
    [("disconnect", ["io client disconnect"]), ("disconnect", []), ("connect", [{"HTTP_AUTHORIZATION": "x"}, None])],
)
def test_client_events_named_connect_or_disconnect_close_the_connection_and_change_nothing(
    crmock: ServerThread, event: str, args: list[Any]
) -> None:
    """socket.io-parser refuses a client event with a reserved name as an invalid payload, and Node's server closes
    the connection; nothing is answered and nothing changes."""

    async def scenario() -> None:
        before = store_state(crmock)
        async with await raw_logged_in(crmock.url) as sock:
            await sock.send_event(event, *args)
            await sock.ws.send_str('4277["find","strategies",{}]')
            assert await sock.next_packet(5) is None  # closed, nothing answered
        assert store_state(crmock) == before

    run(scenario())


@pytest.mark.parametrize(
    "frame",
    [
        '["create","strategies",{"name":"x","exit_profit_offset":NaN},{}]',
        '["create","strategies",{"name":"x","exit_profit_offset":Infinity},{}]',
        '["find","strategies",{"stoploss":{"$gt":-Infinity}}]',
        '["patch","strategies","64dee59510b3b7846cc961bf",{"exit_profit_offset":NaN},{}]',
    ],
)
def test_nan_and_infinity_are_refused_as_json_parse_would(crmock: ServerThread, frame: str) -> None:
    """Python's json reads them, JavaScript's JSON.parse does not; stored, they would poison every later answer."""

    async def scenario() -> None:
        async with await raw_logged_in(crmock.url) as sock:
            await sock.ws.send_str("4250" + frame)
            ack = ack_of(await sock.ack(50))
            assert_error(ack[0], "BadRequest", 400)
            page = await sock.call_json("find", "strategies", {})
            assert page[1]["total"] == 3
            assert all(s.get("exit_profit_offset") != float("inf") for s in page[1]["data"])
            assert "NaN" not in json.dumps(page)

    run(scenario())
