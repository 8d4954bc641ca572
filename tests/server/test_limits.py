"""Per-plan rate limits (cryptorobot-api.md §7), as a client author exercises their 429 handling."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
import socketio
from crmock_support import USER, run

from mockserver.server import MockServer, Options, ServerThread
from mockserver.synth import UserSeed

FREE = UserSeed("free@example.com", "free-pw", plan="free")  # 60/min, burst 10, 1 connection
PRO = UserSeed("pro@example.com", "pro-pw", plan="pro")  # 300/min, burst 50, 5 connections


@pytest.fixture(scope="module")
def limited() -> Iterator[ServerThread]:
    with MockServer(seed=5, users=[FREE, PRO], options=Options(start_delay=0, rate_limits=True)).running() as handle:
        yield handle


@pytest.fixture
def server(limited: ServerThread) -> ServerThread:
    limited.reset()
    return limited


async def _token(session: aiohttp.ClientSession, url: str, who: UserSeed) -> str:
    login = {"strategy": "local", "email": who.email, "password": who.password}
    async with session.post(f"{url}/authentication", json=login) as response:
        assert response.status == 201
        token: str = (await response.json())["accessToken"]
        return token


async def _get(session: aiohttp.ClientSession, url: str, token: str) -> tuple[int, dict[str, str], Any]:
    async with session.get(f"{url}/traders", headers={"Authorization": f"Bearer {token}"}) as response:
        return response.status, dict(response.headers), await response.json()


def test_rest_answers_carry_the_rate_limit_headers(server: ServerThread) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            token = await _token(session, server.url, PRO)
            status, headers, _ = await _get(session, server.url, token)
            assert status == 200
            assert headers["X-RateLimit-Limit"] == "300"
            assert int(headers["X-RateLimit-Remaining"]) == 49  # the burst of 50, less this request
            assert int(headers["X-RateLimit-Reset"]) >= 1
            assert "Retry-After" not in headers

    run(scenario())


def test_the_burst_runs_out_then_429_with_retry_after_until_the_clock_refills_it(server: ServerThread) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            token = await _token(session, server.url, FREE)
            statuses = [(await _get(session, server.url, token))[0] for _ in range(10)]
            assert statuses == [200] * 10
            status, headers, body = await _get(session, server.url, token)
            assert status == 429
            assert body["name"] == "TooManyRequests"
            assert body["code"] == 429
            assert body["data"] == {"retryAfter": int(headers["Retry-After"])}
            assert headers["X-RateLimit-Remaining"] == "0"
            assert int(headers["Retry-After"]) == 1  # 60/min refills one request a second
            server.run(server.server.clock.advance(1.0))
            assert (await _get(session, server.url, token))[0] == 200

    run(scenario())


def test_socket_calls_share_the_bucket_and_get_a_429_error_ack(server: ServerThread) -> None:
    async def scenario() -> None:
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(server.url, transports=["websocket"])
        try:
            login = {"strategy": "local", "email": FREE.email, "password": FREE.password}
            # The login itself counts against the anonymous caller's address, not against the user.
            assert (await client.call("create", ("authentication", login, {})))[0] is None
            acks = [await client.call("find", ("traders", {})) for _ in range(11)]
            assert [isinstance(ack, tuple | list) and ack[0] is None for ack in acks] == [True] * 10 + [False]
            error = acks[-1]
            assert error["name"] == "TooManyRequests"
            assert error["data"]["retryAfter"] >= 1
        finally:
            await client.disconnect()

    run(scenario())


def test_a_login_beyond_the_plans_connections_is_refused(server: ServerThread) -> None:
    async def scenario() -> None:
        login = {"strategy": "local", "email": FREE.email, "password": FREE.password}
        first, second = socketio.AsyncClient(reconnection=False), socketio.AsyncClient(reconnection=False)
        await first.connect(server.url, transports=["websocket"])
        await second.connect(server.url, transports=["websocket"])
        try:
            assert (await first.call("create", ("authentication", login, {})))[0] is None
            refused = await second.call("create", ("authentication", login, {}))
            assert refused["name"] == "TooManyRequests"
            assert "free plan" in refused["message"]
            first_sid = first.get_sid()
            await first.disconnect()
            # The client's disconnect returns once sent; wait until the server has let the connection go.
            for _ in range(200):
                if first_sid not in server.call(lambda: set(server.server.core.channels.user_of)):
                    break
                await asyncio.sleep(0.01)
            accepted = await second.call("create", ("authentication", login, {}))
            assert accepted[0] is None  # the free plan's one connection is available again
        finally:
            await first.disconnect()
            await second.disconnect()

    run(scenario())


def test_handshake_authentication_beyond_the_limit_gets_a_connect_error(server: ServerThread) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            token = await _token(session, server.url, FREE)
        headers = {"Authorization": f"Bearer {token}"}
        first, second = socketio.AsyncClient(reconnection=False), socketio.AsyncClient(reconnection=False)
        refusals: list[Any] = []
        second.on("connect_error", refusals.append)
        await first.connect(server.url, transports=["websocket"], headers=headers)
        try:
            with pytest.raises(socketio.exceptions.ConnectionError):
                await second.connect(server.url, transports=["websocket"], headers=headers)
        finally:
            await first.disconnect()
        assert len(refusals) == 1
        assert "Too many connections for the free plan" in refusals[0]["message"]
        assert refusals[0]["data"]["name"] == "TooManyRequests"

    run(scenario())


def test_rate_limits_are_off_by_default(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            token = await _token(session, crmock.url, UserSeed(*USER))
            for _ in range(60):
                status, headers, _ = await _get(session, crmock.url, token)
                assert status == 200
            assert not any(name.startswith("X-RateLimit") for name in headers)

    run(scenario())
