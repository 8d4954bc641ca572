"""The DNS-rebinding guard and websocket compression, seen from the wire: what a rebinding page and a frontend get."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from crmock_support import USER, assert_error, login_token, run

from mockserver.client import FeathersSocketClient
from mockserver.server import MockServer, ServerThread
from mockserver.server._hosts import HostCheck

EVIL = "rebind.attacker.example"
HANDSHAKE = "/socket.io/?EIO=4&transport=polling"
WEBSOCKET = "/socket.io/?EIO=4&transport=websocket"


@pytest.fixture(scope="module")
def guarded() -> Iterator[ServerThread]:
    with MockServer(seed=1, allowed_hosts=["myapp.test", ".dev.test"]).running() as handle:
        yield handle


def port_of(server: ServerThread) -> int:
    port = urlsplit(server.url).port
    assert port is not None
    return port


async def get(url: str, path: str, host: str, headers: dict[str, str] | None = None) -> tuple[int, Any, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(url + path, headers={"Host": host, **(headers or {})}) as response,
    ):
        json_body = "json" in response.content_type
        return response.status, response.headers, await (response.json() if json_body else response.text())


def assert_forbidden_host(status: int, body: Any, host: str) -> None:
    assert status == 403
    assert_error(body, "Forbidden", 403)
    assert f"Host '{host}' is not allowed" in body["message"]
    assert "--allowed-host" in body["message"]


# -- unit: which names pass -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "localhost:3030",
        "LOCALHOST:3030",
        "app.localhost:5173",
        "127.0.0.1",
        "127.0.0.1:3030",
        "127.1.2.3:80",
        "[::1]",
        "[::1]:3030",
        "myapp.test:3030",
        "dev.test",
        "api.dev.test:443",
        None,
    ],
)
def test_loopback_bound_and_allowed_names_pass(host: str | None) -> None:
    assert HostCheck("127.0.0.1", ["myapp.test", ".dev.test"]).allows(host)


@pytest.mark.parametrize(
    "host",
    [EVIL, f"{EVIL}:3030", "localhost.attacker.example", "127.0.0.1.nip.io", "10.0.0.5:3030", "[::2]", "xmyapp.test"],
)
def test_other_names_are_refused(host: str) -> None:
    assert not HostCheck("127.0.0.1", ["myapp.test", ".dev.test"]).allows(host)


def test_bound_address_passes_and_all_disables_the_check() -> None:
    assert HostCheck("192.168.1.20", []).allows("192.168.1.20:3030")
    assert not HostCheck("192.168.1.20", []).allows("192.168.1.21:3030")
    assert HostCheck("0.0.0.0", []).allows("192.168.1.21:3030")  # a wildcard bind answers any IP literal
    assert not HostCheck("0.0.0.0", []).allows(EVIL)
    assert HostCheck("::", []).allows("[fe80::1]:3030")
    for switch in ("all", "*", "ALL"):
        assert HostCheck("127.0.0.1", [switch]).allows(EVIL)


@pytest.mark.parametrize("entry", ["", "  ", "http://x/", "a b"])
def test_bad_allowed_host_entries_are_refused_up_front(entry: str) -> None:
    with pytest.raises(ValueError, match="allowed host"):
        MockServer(allowed_hosts=[entry])
    with pytest.raises(TypeError, match="allowed_hosts"):
        MockServer(allowed_hosts="myapp.test")


# -- the wire: REST, the Socket.IO handshake, /_mock/ ----------------------------------------------------------------
@pytest.mark.parametrize("path", ["/exchanges/ticker", "/authentication", "/_mock/anything", "/_mock/", HANDSHAKE])
def test_a_foreign_host_gets_a_feathers_forbidden_on_every_path(guarded: ServerThread, path: str) -> None:
    status, headers, body = run(get(guarded.url, path, f"{EVIL}:{port_of(guarded)}"))
    assert_forbidden_host(status, body, f"{EVIL}:{port_of(guarded)}")
    assert f"--allowed-host {EVIL}" in body["message"]
    assert headers["Content-Type"].startswith("application/json")


def test_a_foreign_host_cannot_log_in_over_rest(guarded: ServerThread) -> None:
    async def scenario() -> tuple[int, Any]:
        body = {"strategy": "local", "email": USER[0], "password": USER[1]}
        async with (
            aiohttp.ClientSession() as session,
            session.post(guarded.url + "/authentication", json=body, headers={"Host": EVIL}) as response,
        ):
            return response.status, await response.json()

    status, body = run(scenario())
    assert_forbidden_host(status, body, EVIL)
    assert "accessToken" not in body


def test_the_socketio_handshake_is_refused_before_any_session_exists(guarded: ServerThread) -> None:
    before = guarded.call(lambda: len(guarded.server.sio.eio.sockets))

    async def websocket_status() -> int:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(guarded.url + WEBSOCKET, headers={"Host": EVIL})
            return refused.value.status

    status, _, body = run(get(guarded.url, HANDSHAKE, EVIL))
    assert_forbidden_host(status, body, EVIL)
    assert run(websocket_status()) == 403
    assert guarded.call(lambda: len(guarded.server.sio.eio.sockets)) == before


@pytest.mark.parametrize(
    "host", ["localhost:{port}", "127.0.0.1:{port}", "[::1]:{port}", "myapp.test:{port}", "api.dev.test"]
)
def test_allowed_hosts_are_answered_with_open_cors(guarded: ServerThread, host: str) -> None:
    host = host.format(port=port_of(guarded))
    for origin in ("http://localhost:5173", "https://frontend.example", "null"):
        status, headers, body = run(get(guarded.url, "/exchanges/ticker", host, {"Origin": origin}))
        assert status == 401, body  # the API itself answers: the ticker needs a login
        assert headers["Access-Control-Allow-Origin"] == "*"
        status, _, handshake = run(get(guarded.url, HANDSHAKE, host, {"Origin": origin}))
        assert status == 200
        assert handshake.startswith("0{")


def test_clients_of_the_default_server_keep_working(guarded: ServerThread) -> None:
    async def scenario() -> str:
        token = await login_token(guarded.url)
        async with FeathersSocketClient(guarded.url) as client:
            result = await client.authenticate(*USER)
            assert result["accessToken"]
        return token

    assert run(scenario())


def test_allowed_hosts_all_answers_any_name() -> None:
    async def scenario() -> int:
        async with MockServer(seed=1, allowed_hosts=["all"]) as server:
            status, _, _ = await get(server.url, HANDSHAKE, EVIL)
            return status

    assert run(scenario()) == 200


# -- websocket compression ------------------------------------------------------------------------------------------
async def upgrade_answer(url: str) -> str:
    """The server's answer to a websocket upgrade that offers permessage-deflate, as browsers send it."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET {WEBSOCKET} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    writer.close()
    return head.decode("latin-1")


@pytest.mark.parametrize(("compression", "offered"), [(False, False), (True, True)])
def test_websocket_compression_is_off_unless_asked_for(compression: bool, offered: bool) -> None:
    async def scenario() -> str:
        async with MockServer(seed=1, ws_compression=compression) as server:
            return await upgrade_answer(server.url)

    head = run(scenario())
    assert head.startswith("HTTP/1.1 101")
    assert ("sec-websocket-extensions: permessage-deflate" in head.lower()) is offered
