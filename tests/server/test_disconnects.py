"""Forced disconnects and token expiry on demand (`server.disconnect`, `server.expire_tokens`), `connections()`,
and the sync handle's parity with the async server. What the official JS clients make of each mode is checked in
tests/interop/test_feathers_clients.py."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import aiohttp
import pytest
from crmock_support import FAST, OTHER, OTHER_ID, USER, USER_ID, RawSocket, logged_in, login_token, rest, run

from mockserver.client import FeathersSocketClient
from mockserver.server import MockServer, Options, ServerThread
from mockserver.server._socket import Session

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


async def eventually(check: Callable[[], bool], what: str, wait: float = 5.0) -> None:
    for _ in range(int(wait / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{what}: not within {wait} s")


async def gone(client: FeathersSocketClient) -> None:
    await eventually(lambda: not client.sio.connected, "the client's disconnect")


@contextmanager
def reasons_of(handle: ServerThread) -> Iterator[dict[str, str | None]]:
    """sid -> Session.disconnect_reason of every connection that ends within the block."""
    seen: dict[str, str | None] = {}

    def note(sid: str, session: Session) -> None:
        seen[sid] = session.disconnect_reason

    listeners = handle.server.sockets.disconnect_listeners
    listeners.append(note)
    try:
        yield seen
    finally:
        listeners.remove(note)


# -- connections() ------------------------------------------------------------------------------------------------
def test_connections_lists_each_socket_with_its_user_transport_and_start(crmock: ServerThread) -> None:
    async def scenario() -> None:
        anonymous = FeathersSocketClient(crmock.url)
        async with logged_in(crmock.url, USER) as user, anonymous:
            polling = FeathersSocketClient(crmock.url, transports=["polling"])
            async with polling:
                await polling.authenticate(*OTHER)
                rows = {row["id"]: row for row in crmock.connections()}
                assert set(rows) == {user.sio.get_sid(), anonymous.sio.get_sid(), polling.sio.get_sid()}
                for row in rows.values():
                    assert list(row) == ["id", "userId", "email", "transport", "connectedAt"]
                    assert ISO.match(row["connectedAt"]), row
                    assert row["connectedAt"] <= crmock.clock.iso()
                assert rows[user.sio.get_sid()] | {"connectedAt": ""} == {
                    "id": user.sio.get_sid(),
                    "userId": USER_ID,
                    "email": USER[0],
                    "transport": "websocket",
                    "connectedAt": "",
                }
                assert rows[polling.sio.get_sid()]["transport"] == "polling"
                assert rows[polling.sio.get_sid()]["userId"] == OTHER_ID
                assert rows[anonymous.sio.get_sid()]["userId"] is None
                assert rows[anonymous.sio.get_sid()]["email"] is None
        await eventually(lambda: crmock.connections() == [], "no connection left")

    run(scenario())


def test_connected_at_is_mock_time() -> None:
    with MockServer(seed=1, options=FAST, clock="manual").running() as handle:
        handle.clock.advance(90)

        async def scenario() -> None:
            async with FeathersSocketClient(handle.url):
                [row] = handle.connections()
                assert row["connectedAt"] == "2024-01-15T10:01:30.000Z"

        run(scenario())


# -- disconnect(): selectors and modes ---------------------------------------------------------------------------
def test_disconnect_selects_by_email_in_any_case_by_connection_or_everything(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with logged_in(crmock.url, USER) as user, logged_in(crmock.url, OTHER) as other:
            anonymous = FeathersSocketClient(crmock.url)
            async with anonymous:
                assert crmock.disconnect(email="nobody@example.com") == []
                assert crmock.disconnect(connection="no-such-sid") == []
                assert crmock.disconnect(email=OTHER[0], connection=user.sio.get_sid()) == []  # both must match
                assert len(crmock.connections()) == 3

                assert crmock.disconnect(email=USER[0].upper()) == [user.sio.get_sid()]
                await gone(user)
                assert other.sio.connected
                assert anonymous.sio.connected

                assert crmock.disconnect(connection=anonymous.sio.get_sid()) == [anonymous.sio.get_sid()]
                await gone(anonymous)
                assert other.sio.connected

                assert crmock.disconnect() == [other.sio.get_sid()]
                await gone(other)
                assert crmock.disconnect() == []

    run(scenario())


def test_an_unknown_mode_is_a_value_error_naming_the_modes(crmock: ServerThread) -> None:
    with pytest.raises(ValueError, match="server, transport, ping-timeout; got 'abrupt'"):
        crmock.disconnect(mode="abrupt")


def test_server_mode_sends_a_socketio_disconnect(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with await RawSocket.open(crmock.url) as raw:
            [sid] = crmock.disconnect(mode="server")
            assert await raw.next_packet() == "1"  # Socket.IO DISCONNECT ("41" on the wire)
        assert reasons == {sid: "io server disconnect"}

    with reasons_of(crmock) as reasons:
        run(scenario())


def test_transport_mode_closes_the_websocket_without_a_disconnect_packet(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with await RawSocket.open(crmock.url) as raw:
            [sid] = crmock.disconnect(mode="transport")
            message = await raw.ws.receive(timeout=5)
            assert message.type is aiohttp.WSMsgType.CLOSE  # the very next frame: no "41", no Engine.IO "1"
        assert reasons == {sid: "transport close"}
        assert crmock.connections() == []

    with reasons_of(crmock) as reasons:
        run(scenario())


@pytest.fixture
def quick_ping() -> Iterator[ServerThread]:
    """A server of its own that pings every second and waits 0.25 s for the answer."""
    with MockServer(seed=1, options=Options(start_delay=0, ping_interval=1, ping_timeout=0.25)).running() as handle:
        yield handle


def test_ping_timeout_mode_goes_silent_then_lets_the_connection_go(quick_ping: ServerThread) -> None:
    async def scenario() -> None:
        token = await login_token(quick_ping.url)
        raw = await RawSocket.open(quick_ping.url)
        try:
            assert (await raw.call_json("create", "authentication", {"strategy": "jwt", "accessToken": token}))[
                0
            ] is None
            [sid] = quick_ping.disconnect(email=USER[0], mode="ping-timeout")
            silenced_at = time.monotonic()
            # Not a ping (due within a second), not an ack, not the user's own event: nothing at all.
            await raw.send_event("find", "traders", {})
            status, _, _ = await rest("POST", quick_ping.url, "/strategies", token=token, json_body={"name": "Quiet"})
            assert status == 201
            message = await raw.ws.receive(timeout=10)  # the first frame after going silent is the close
            # The client here never gives up, so the server does, once twice pingInterval + pingTimeout have passed.
            assert message.type is aiohttp.WSMsgType.CLOSE
            assert time.monotonic() - silenced_at >= 2 * (1 + 0.25) - 0.1
        finally:
            await raw.close()
        await eventually(lambda: quick_ping.connections() == [], "no connection left")
        assert reasons == {sid: "ping timeout"}

    with reasons_of(quick_ping) as reasons:
        run(scenario())


# -- expire_tokens() ---------------------------------------------------------------------------------------------
def test_expire_tokens_refuses_the_users_tokens_and_disconnects_its_sockets(crmock: ServerThread) -> None:
    async def scenario() -> None:
        rest_token = await login_token(crmock.url)
        other_token = await login_token(crmock.url, OTHER)
        async with logged_in(crmock.url, USER) as user, logged_in(crmock.url, OTHER) as other:
            anonymous = FeathersSocketClient(crmock.url)
            async with anonymous:
                assert crmock.expire_tokens("nobody@example.com") == []
                sid = user.sio.get_sid()
                assert crmock.expire_tokens(USER[0].upper()) == [sid]
                await gone(user)
                assert other.sio.connected
                assert anonymous.sio.connected
                assert reasons == {sid: "token expired"}
                status, _, body = await rest("GET", crmock.url, "/traders", token=rest_token)
                assert (status, body["message"], body["data"]["name"]) == (401, "jwt expired", "TokenExpiredError")
                assert (await rest("GET", crmock.url, "/traders", token=other_token))[0] == 200
                fresh = await login_token(crmock.url)  # within the same second: still a valid token
                assert (await rest("GET", crmock.url, "/traders", token=fresh))[0] == 200

                assert crmock.expire_tokens() == [other.sio.get_sid()]  # every user; anonymous sockets stay
                await gone(other)
                assert anonymous.sio.connected
                assert (await rest("GET", crmock.url, "/traders", token=other_token))[0] == 401
                assert (await rest("GET", crmock.url, "/traders", token=fresh))[0] == 401

    with reasons_of(crmock) as reasons:
        run(scenario())


def test_reset_forgets_expired_tokens(crmock: ServerThread) -> None:
    async def scenario() -> None:
        token = await login_token(crmock.url)
        crmock.expire_tokens(USER[0])
        assert (await rest("GET", crmock.url, "/traders", token=token))[0] == 401
        crmock.reset()
        assert (await rest("GET", crmock.url, "/traders", token=token))[0] == 200

    run(scenario())


# -- the sync handle ---------------------------------------------------------------------------------------------
def test_server_thread_offers_what_the_async_server_offers() -> None:
    server = MockServer(seed=1, options=FAST, clock="manual")
    with server.running() as handle:
        assert handle.store is server.store
        assert handle.credentials() == server.credentials()
        assert handle.clock.mode == "manual"
        start = handle.clock.time()
        fired: list[str] = []
        handle.call(server.clock.call_later, 30, lambda: fired.append(threading.current_thread().name))
        handle.clock.advance(29)
        assert fired == []
        handle.clock.advance(1)  # blocks until what fell due has run, on the server's loop
        assert fired == ["cryptorobot-mock"]
        assert handle.clock.time() == start + 30
        assert handle.clock.now() == datetime.fromtimestamp(start + 30, handle.clock.now().tzinfo)
        assert handle.clock.iso() == "2024-01-15T10:00:30.000Z"
        assert handle.clock.describe()["now"] == "2024-01-15T10:00:30.000Z"
        handle.clock.set_speed(10)
        assert handle.clock.describe()["mode"] == "scaled"
        handle.clock.freeze()
        assert handle.clock.mode == "manual"

        async def scenario() -> None:
            async with logged_in(handle.url, USER) as user:
                assert [row["id"] for row in handle.connections()] == [user.sio.get_sid()]
                assert handle.expire_tokens(USER[0]) == [user.sio.get_sid()]
                await gone(user)
            async with logged_in(handle.url, USER) as again:
                assert handle.disconnect(email=USER[0], mode="transport") == [again.sio.get_sid()]
                await gone(again)

        run(scenario())


# -- options ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"ping_interval": 0}, "ping_interval must be a whole number of seconds >= 1, got 0"),
        ({"ping_interval": 1.5}, "ping_interval must be a whole number of seconds >= 1, got 1.5"),
        ({"ping_interval": True}, "ping_interval"),
        ({"ping_timeout": 0}, "ping_timeout must be a number of seconds >= 0.001, got 0"),
        ({"ping_timeout": "5"}, "ping_timeout"),
    ],
)
def test_bad_ping_options_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Options(**options)  # type: ignore[arg-type]


def test_the_server_announces_its_ping_settings(quick_ping: ServerThread) -> None:
    async def scenario() -> str:
        url = quick_ping.url + "/socket.io/?EIO=4&transport=polling"
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            return await response.text()

    opening = run(scenario())
    assert '"pingInterval":1000' in opening
    assert '"pingTimeout":250' in opening


def test_emails_that_differ_only_in_case_are_one_user() -> None:
    with pytest.raises(ValueError, match=re.escape("two users with the same e-mail: 'a@b.c' and 'A@B.c'")):
        MockServer(users=["a@b.c:pw", "A@B.c:other"])


def test_token_lifetime_still_applies_after_expire_tokens() -> None:
    with MockServer(seed=1, options=Options(token_lifetime=timedelta(hours=1)), clock="manual").running() as handle:

        async def scenario() -> None:
            handle.expire_tokens(USER[0])
            token = await login_token(handle.url)
            assert (await rest("GET", handle.url, "/traders", token=token))[0] == 200
            handle.clock.advance(3600)
            assert (await rest("GET", handle.url, "/traders", token=token))[0] == 401

        run(scenario())


def test_a_silenced_connection_does_not_hold_up_a_reset(crmock: ServerThread) -> None:
    """With the default heartbeat the client would need 45 s to give up; a reset (or stop) drops it at once."""

    async def scenario() -> None:
        async with await RawSocket.open(crmock.url) as raw:
            [sid] = crmock.disconnect(connection=crmock.connections()[0]["id"], mode="ping-timeout")
            assert [row["id"] for row in crmock.connections()] == [sid]  # silent, not gone yet
            started = time.monotonic()
            crmock.reset()
            assert time.monotonic() - started < 10  # generous: it takes milliseconds, a hang would take 45 s
            assert crmock.connections() == []
            message = await raw.ws.receive(timeout=5)
            assert message.type is aiohttp.WSMsgType.CLOSE

    run(scenario())
