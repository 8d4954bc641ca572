"""Hostile and careless clients: random calls, malformed frames, oversize messages, bursts.

The properties a client author relies on: every method call is answered with a well-formed ack (and nothing
else is), a failed call changes nothing, and no input takes the server down for anyone else.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
import socketio
from crmock_support import (
    FEATHERS_CODES,
    OTHER_ID,
    USER,
    USER_ID,
    RawSocket,
    assert_error_shape,
    logged_in,
    run,
    store_state,
)
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mockserver.contract import METHODS, SERVICES
from mockserver.server import ServerThread

# (reserved names such as "connect" close the connection, as in Node: tests/server/test_hostile_frames.py)
JUNK_EVENTS = ["frobnicate", "traders::find", "FIND", "find ", "authenticate", "logout", ""]
OPERATOR_KEYS = ["$limit", "$skip", "$sort", "$select", "$in", "$nin", "$or", "$and", "$gt", "$ne", "$regex", "$where"]
FIELD_KEYS = ["name", "status", "running", "_id", "userId", "stoploss", "which", "templateId", "subscribed", "command"]
FUZZ_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)


def _nested(depth: int, leaf: Any, as_list: bool) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value] if as_list else {"a": value}
    return value


def json_values(known_ids: list[str]) -> st.SearchStrategy[Any]:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**63), max_value=2**63)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=20)
        | st.sampled_from(known_ids)
    )
    keys = st.text(max_size=8) | st.sampled_from(OPERATOR_KEYS + FIELD_KEYS)
    tree = st.recursive(
        scalars,
        lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
        max_leaves=12,
    )
    huge = st.integers(min_value=10_000, max_value=300_000).map(lambda n: "x" * n)
    deep = st.builds(_nested, st.integers(min_value=20, max_value=150), scalars, st.booleans())
    return st.one_of(tree, tree, tree, huge, deep)


PATHS = [*SERVICES, "/traders/", "traders/pods/events/", "nope", "strategies/templates/tmpl-1", ""]


def calls(known_ids: list[str]) -> st.SearchStrategy[tuple[str, list[Any]]]:
    values = json_values(known_ids)
    events = st.sampled_from(list(METHODS)) | st.sampled_from(JUNK_EVENTS)
    paths = st.sampled_from([p for p in PATHS if p != "authentication"]) | values
    args = st.lists(values, max_size=4)
    return st.tuples(events, st.builds(lambda path, rest: [path, *rest], paths, args))


class FuzzClient:
    """One authenticated python-socketio connection driven from sync hypothesis examples on a private loop."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.loop = asyncio.new_event_loop()
        self.sio = socketio.AsyncClient(reconnection=False)
        self.disconnects: list[Any] = []
        self.sio.on("disconnect", lambda reason=None: self.disconnects.append(reason))

    def start(self) -> None:
        async def connect() -> None:
            await self.sio.connect(self.url, transports=["websocket"])
            login = {"strategy": "local", "email": USER[0], "password": USER[1]}
            ack = await self.sio.call("create", ("authentication", login, {}), timeout=5)
            assert ack[0] is None

        self.loop.run_until_complete(connect())

    def close(self) -> None:
        self.loop.run_until_complete(self.sio.disconnect())
        self.loop.run_until_complete(asyncio.sleep(0.05))
        self.loop.close()

    def fire(self, event: str, args: list[Any], *, no_ack_wait: float = 0.05) -> list[Any] | None:
        """Send one call; its ack arguments, or None when no ack came (checked after a later call's ack)."""

        async def go() -> list[Any] | None:
            got: asyncio.Future[list[Any]] = self.loop.create_future()

            def on_ack(*reply: Any) -> None:
                if not got.done():
                    got.set_result(list(reply))

            await self.sio.emit(event, tuple(args), callback=on_ack)
            if event in METHODS:
                return await asyncio.wait_for(got, 10)
            # a call sent after it is answered; by then the junk event would have been answered too
            sentinel = await self.sio.call("get", ("strategies/templates", "tmpl-1", {}), timeout=10)
            assert isinstance(sentinel, tuple), f"the socket lost its login after the event {event!r}: {sentinel}"
            await asyncio.sleep(no_ack_wait)
            return got.result() if got.done() else None

        return self.loop.run_until_complete(go())


@pytest.fixture
def fuzz_client(crmock: ServerThread) -> Iterator[FuzzClient]:
    client = FuzzClient(crmock.url)
    client.start()
    yield client
    client.close()


def known_ids(crmock: ServerThread) -> list[str]:
    def collect() -> list[str]:
        store = crmock.server.store
        ids = [USER_ID, OTHER_ID, "tmpl-1", "ffffffffffffffffffffffff"]
        for path in ("strategies", "traders", "exchanges", "keys", "messages", "models"):
            ids.extend(list(store.tables.get(path, {}))[:3])
        return ids

    return crmock.call(collect)


def check_reply(event: str, reply: list[Any] | None) -> bool:
    """Assert the reply is what Feathers would send; True when it was an error ack."""
    if event not in METHODS:
        assert reply is None, (event, reply)
        return False
    assert reply is not None
    if len(reply) == 2:
        assert reply[0] is None, reply
        return False
    assert len(reply) == 1, reply
    assert_error_shape(reply[0])
    assert reply[0]["code"] in FEATHERS_CODES
    assert reply[0]["code"] != 500, reply[0]  # an internal error is a bug in the mock, never an answer
    return True


def test_random_calls_get_well_formed_acks_and_failures_change_nothing(
    crmock: ServerThread, fuzz_client: FuzzClient
) -> None:
    ids = known_ids(crmock)
    seen = {"errors": 0, "results": 0, "silent": 0}

    @FUZZ_SETTINGS
    @given(call=calls(ids))
    @example(call=("create", ["strategies", {"name": "x" * 200_000}, {}]))
    @example(call=("find", ["strategies", _nested(150, {"$in": [1]}, False)]))
    def fire(call: tuple[str, list[Any]]) -> None:
        event, args = call
        before = store_state(crmock)
        reply = fuzz_client.fire(event, args)
        failed = check_reply(event, reply)
        seen["errors" if failed else "results" if reply is not None else "silent"] += 1
        if failed or reply is None:
            assert store_state(crmock) == before, (event, args, reply)
        assert fuzz_client.sio.connected, fuzz_client.disconnects

    fire()
    # How one_of splits draws between method and junk events changes between hypothesis releases (6.170.15 sends
    # about a third methods): ask for plenty of error acks, not for a split.
    assert seen["errors"] > 30, seen
    assert seen["silent"] > 5, seen

    async def afterwards() -> None:
        async with logged_in(crmock.url) as client:
            assert (await client.call("find", "strategies", {}))["total"] >= 0
            created = await client.call("create", "strategies", {"name": "after the storm"}, {})
            assert (await client.call("get", "strategies", created["_id"], {}))["name"] == "after the storm"

    run(afterwards())
    assert fuzz_client.fire("find", ["strategies", {}])[0] is None  # the fuzzing socket is still logged in


def invalid_writes(crmock: ServerThread) -> list[tuple[str, list[Any]]]:
    """Writes on real records that must all fail: bad fields, bad types, other users' records, refused states."""

    def build() -> list[tuple[str, list[Any]]]:
        store = crmock.server.store
        mine = {p: [r for r in store.records(p) if r.get("userId") == USER_ID] for p in store.tables}
        theirs = {p: [r for r in store.records(p) if r.get("userId") == OTHER_ID] for p in store.tables}
        running = next(t for t in mine["traders"] if t["status"] == "running")
        bare = next(t for t in mine["traders"] if not t.get("exchangeId"))
        stopped = next(t for t in mine["traders"] if t["status"] == "stopped")
        bad: list[tuple[str, list[Any]]] = []
        for path in ("strategies", "exchanges", "traders", "messages"):
            for record in mine[path][:2]:
                bad.append(("patch", [path, record["_id"], {"zzz_unknown": 1}, {}]))
                bad.append(("patch", [path, record["_id"], {"name": 5, "createdAt": "x"}, {}]))
                bad.append(("patch", [path, record["_id"], {}, {}]))
                bad.append(("patch", [path, record["_id"], {"name": "x"}, {"name": {"$regex": "x"}}]))
                bad.append(("patch", [path, record["_id"], "not an object", {}]))
                bad.append(("remove", [path, record["_id"], {"_id": "not-this-one"}]))
            for record in theirs[path][:2]:
                bad.append(("patch", [path, record["_id"], {"name": "mine now"}, {}]))
                bad.append(("remove", [path, record["_id"], {}]))
            bad.append(("create", [path, {"zzz_unknown": True}, {}]))
            bad.append(("create", [path, [{"name": "a"}], {}]))
        bad += [
            ("patch", ["traders", running["_id"], {"status": "stopped"}, {}]),
            ("patch", ["traders", bare["_id"], {"running": True}, {}]),
            ("patch", ["traders", stopped["_id"], {"running": True, "exchangeId": theirs["exchanges"][0]["_id"]}, {}]),
            ("remove", ["traders", running["_id"], {}]),
            ("patch", ["strategies", mine["strategies"][1]["_id"], {"templateId": "tmpl-404", "stoploss": -0.5}, {}]),
            ("patch", ["strategies", mine["strategies"][1]["_id"], {"stoploss": 1}, {}]),
            ("patch", ["exchanges", mine["exchanges"][0]["_id"], {"which": "mtgox"}, {}]),
            ("patch", ["models", next(iter(store.tables["models"])), {"subscribed": "yes"}, {}]),
            ("patch", ["users", USER_ID, {"email": "trader@example.com", "password": "hijacked-1"}, {}]),
            ("patch", ["users", OTHER_ID, {"name": "x"}, {}]),
            ("create", ["users", {"email": "user@example.com", "password": "again-123"}, {}]),
            ("create", ["keys", {"name": "", "scopes": ["read:traders"]}, {}]),
            ("remove", ["keys", theirs["keys"][0]["_id"], {}]),
            ("create", ["traders/pods", {"traderId": stopped["_id"], "command": "ping"}, {}]),
            ("create", ["traders/pods", {"traderId": theirs["traders"][0]["_id"], "command": "ping"}, {}]),
            ("update", ["strategies", mine["strategies"][0]["_id"], {"name": "replaced"}, {}]),
            ("patch", ["strategies", None, {"name": "everyone"}, {}]),
            ("remove", ["strategies", None, {}]),
            ("patch", ["strategies", mine["strategies"][0]["_id"], {"name": "x"}, {}, {}]),
        ]
        return bad

    return crmock.call(build)


def test_a_batch_of_failed_writes_changes_no_record(crmock: ServerThread, fuzz_client: FuzzClient) -> None:
    batch = invalid_writes(crmock)
    before = store_state(crmock)
    for event, args in batch:
        reply = fuzz_client.fire(event, args)
        assert reply is not None
        assert len(reply) == 1, (event, args, reply)
        assert_error_shape(reply[0])
    assert store_state(crmock) == before


# -- the wire below Feathers --------------------------------------------------------------------------------------
GARBAGE = [
    "42[",
    "4",
    '42["find"',
    "42{}",
    "4x",
    "43",
    "499",
    "42[]",
    "42[null]",
    "42[1,2]",
    '42"find"',
    '42-1["find","x"]',
    "44",
    "40garbage",
    "43[null]",
    '42999999999999999999999["find"]',
    '42/nsp,["find","strategies",{}]',
    "40/admin,",
    "5",
    "6",
    "not json",
    "",
    "\x00",
    "4" + "[" * 5000,
    '42["find","strategies",{"$limit":NaN}]',
]


@pytest.mark.parametrize("frame", GARBAGE, ids=[repr(g[:20]) for g in GARBAGE])
def test_malformed_frames_cause_at_most_a_disconnect(crmock: ServerThread, frame: str) -> None:
    async def scenario() -> None:
        async with await RawSocket.open(crmock.url) as sock:
            await sock.ws.send_str(frame)
            await sock.ws.send_str('4277["find","strategies/templates",{}]')
            while True:
                packet = await sock.next_packet(5)
                if packet is None:
                    break  # the server closed the connection: acceptable
                if packet.startswith("377["):
                    ack = json.loads(packet[3:])
                    assert_error_shape(ack[0])  # anonymous: a well-formed NotAuthenticated
                    break
        async with logged_in(crmock.url) as client:  # and the server serves the next client
            assert (await client.call("find", "strategies/templates", {}))["total"] == 2

    run(scenario())


@pytest.mark.parametrize("frame", ['451-["find","strategies/templates",{"_placeholder":true,"num":0}]', b"\x00\x01"])
def test_binary_packets_close_the_connection_as_feathers_sends_none(crmock: ServerThread, frame: str | bytes) -> None:
    """A binary event or a binary frame is refused at once (issue 6): nothing waits for attachments."""

    async def scenario() -> None:
        async with await RawSocket.open(crmock.url) as sock:
            await (sock.ws.send_bytes(frame) if isinstance(frame, bytes) else sock.ws.send_str(frame))
            assert await sock.next_packet(5) is None
            assert sock.ws.close_code == 1003  # "unsupported data"
        async with logged_in(crmock.url) as client:
            assert (await client.call("find", "strategies/templates", {}))["total"] == 2

    run(scenario())


def test_a_message_over_the_buffer_limit_gets_a_clean_disconnect(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with await RawSocket.open(crmock.url) as sock:
            await sock.ws.send_str('42["find","strategies",' + json.dumps("x" * 1_100_000) + "]")
            assert await sock.next_packet(5) is None
            assert sock.ws.closed
            assert sock.ws.close_code == 1009  # "message too big"
        async with logged_in(crmock.url) as client:
            assert (await client.call("find", "strategies", {}))["total"] == 3

    run(scenario())


def test_just_under_the_buffer_limit_is_still_answered(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with logged_in(crmock.url) as client:
            reply = await client.sio.call("create", ("strategies", {"name": "x" * 900_000}, {}), timeout=10)
            if isinstance(reply, dict):
                assert_error_shape(reply)
            else:
                assert reply[0] is None
            assert client.sio.connected
            assert (await client.call("find", "strategies", {"$select": ["_id"]}))["total"] in (3, 4)

    run(scenario())


def test_two_thousand_rapid_calls_on_one_socket_all_get_acks(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with await RawSocket.open(crmock.url) as sock:
            login = {"strategy": "local", "email": USER[0], "password": USER[1]}
            assert (await sock.call_json("create", "authentication", login, {}))[0] is None
            frames = []
            for i in range(2000):
                call = ["get", "strategies/templates", "tmpl-1", {}] if i % 2 else ["find", "strategies", {"$limit": 1}]
                frames.append(f"42{1000 + i}" + json.dumps(call))
            for frame in frames:
                await sock.ws.send_str(frame)
            acks: dict[int, list[Any]] = {}
            while len(acks) < 2000:
                packet = await sock.next_packet(10)
                assert packet is not None
                if packet.startswith("3"):
                    ack_id = int(packet[1 : packet.index("[")])
                    assert ack_id not in acks
                    acks[ack_id] = json.loads(packet[packet.index("[") :])
            assert sorted(acks) == list(range(1000, 3000))
            assert all(ack[0] is None for ack in acks.values())
            assert all(acks[1000 + i][1]["_id"] == "tmpl-1" for i in range(1, 2000, 2))

    run(scenario())


@pytest.mark.parametrize("frame", ['42["find"', "42[", "4" + "[" * 5000], ids=["truncated", "open", "deep"])
def test_an_unparseable_packet_closes_its_connection_like_node(crmock: ServerThread, frame: str) -> None:
    """Node's socket.io closes a connection whose packet cannot be decoded; the mock does the same."""

    async def scenario() -> None:
        async with await RawSocket.open(crmock.url) as sock:
            await sock.ws.send_str(frame)
            assert await sock.next_packet(5) is None  # closed, no reply
        async with logged_in(crmock.url) as client:
            assert (await client.call("find", "strategies/templates", {}))["total"] == 2

    run(scenario())


def test_calls_before_the_namespace_connect_are_ignored_and_the_socket_still_connects(crmock: ServerThread) -> None:
    """A client that emits before CONNECT gets no ack (the namespace is not joined) and changes nothing."""

    async def scenario() -> None:
        before = store_state(crmock)
        async with await RawSocket.open(crmock.url, namespace_connect=False) as sock:
            login = {"strategy": "local", "email": USER[0], "password": USER[1]}
            await sock.ws.send_str("420" + json.dumps(["create", "authentication", login, {}]))
            await sock.ws.send_str(
                "421" + json.dumps(["create", "users", {"email": "x@example.com", "password": "p"}, {}])
            )
            with pytest.raises(asyncio.TimeoutError):
                await sock.ws.receive(timeout=0.5)  # no ack, no CONNECT reply
            await sock.ws.send_str("40")
            reply = await sock.next_packet(5.0)
            assert reply is not None
            assert reply.startswith("0{")
            text = await sock.call("find", "strategies/templates", {})
            ack = json.loads(text[text.index("[") :])
            assert ack[0]["code"] == 401  # connected, and not logged in by the early frame
        assert store_state(crmock) == before

    run(scenario())
