"""Helpers of the server tests (the fixtures are in conftest.py).

pytest-asyncio is not a dependency, so every test is a plain function that runs its scenario with `run()`
(`asyncio.run` with a deadline). Three ways to talk to the server, from high to low level:

- `logged_in(url)`: the project's `FeathersSocketClient`, connected and authenticated;
- `RawSocket`: Engine.IO/Socket.IO frames over an aiohttp websocket, for exact ack text, frame order and junk;
- `rest(...)`: one REST request with aiohttp, returning (status, headers, JSON body).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import aiohttp

from mockserver.client import FeathersSocketClient
from mockserver.contract import Contract, default_contract
from mockserver.errors import ERROR_CLASSES
from mockserver.server import Options, ServerThread

T = TypeVar("T")

SEED = 42
JWT_SECRET = "tests-server-secret-" + "0123456789abcdef" * 4  # long enough for HS512 too
FAST = Options(start_delay=0.0)
USER = ("user@example.com", "your-password")
USER_ID = "507f1f77bcf86cd799439011"
OTHER = ("trader@example.com", "second-password")
OTHER_ID = "507f191e810c19729de860ea"
FEATHERS_CODES = frozenset(ERROR_CLASSES)
ERROR_HEAD = ["name", "message", "code", "className"]


def run(scenario: Coroutine[Any, Any, T], *, timeout: float = 30.0) -> T:
    """Run one async scenario to completion on a fresh loop, failing (not hanging) after `timeout` seconds."""

    async def bounded() -> T:
        return await asyncio.wait_for(scenario, timeout)

    return asyncio.run(bounded())


# -- assertions ------------------------------------------------------------------------------------------------
def assert_error_shape(body: Any) -> None:
    """A Feathers error object: name, message, code, className, then data and errors if present, in that order."""
    assert isinstance(body, dict), body
    keys = list(body)
    assert keys[:4] == ERROR_HEAD, keys
    assert keys[4:] in ([], ["data"], ["errors"], ["data", "errors"]), keys
    assert isinstance(body["name"], str)
    assert isinstance(body["message"], str)
    assert body["code"] in FEATHERS_CODES, body
    cls = ERROR_CLASSES[body["code"]]
    assert body["name"] == cls.name, body
    assert body["className"] == cls.class_name, body


def assert_error(body: Any, name: str, code: int, message: str | None = None) -> None:
    assert_error_shape(body)
    assert (body["name"], body["code"]) == (name, code), body
    if message is not None:
        assert body["message"] == message, body


def assert_valid(contract: Contract, service: str, kind: str, payload: Any) -> None:
    problems = contract.validate(service, kind, payload)
    assert problems == [], (service, kind, problems, payload)


def assert_events_valid(contract: Contract, events: dict[str, list[Any]]) -> int:
    """Every recorded event payload matches its schema; returns how many were checked."""
    checked = 0
    for name, payloads in events.items():
        if name in ("connect", "disconnect", "connect_error"):
            continue
        for payload in payloads:
            problems = contract.validate_event(name, payload)
            assert problems == [], (name, problems, payload)
            checked += 1
    return checked


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a JWT as ordered dicts, without verifying anything."""

    def decode(segment: str) -> dict[str, Any]:
        padded = segment + "=" * (-len(segment) % 4)
        value: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
        return value

    header, claims, _ = token.split(".")
    return decode(header), decode(claims)


# -- clients -----------------------------------------------------------------------------------------------------
def result_kind(contract: Contract, method: str, path: str, args: tuple[Any, ...]) -> str | None:
    """The schema kind a successful call's result must match (None: nothing to check it against)."""
    kinds = contract.kinds(path)
    if any(isinstance(arg, dict) and "$select" in arg for arg in args):
        return None  # a partial record by request
    if path == "authentication":
        return "result"
    if method == "find":
        return "page" if "page" in kinds else None
    if path == "traders/pods":
        command = args[0].get("command") if args and isinstance(args[0], dict) else None
        return f"result:{command}" if f"result:{command}" in kinds else None
    if path == "keys" and method == "create":
        return "created"
    return "object" if "object" in kinds else None


class CheckedClient(FeathersSocketClient):
    """A FeathersSocketClient that validates every successful result against the contract."""

    def __init__(self, url: str, contract: Contract, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.contract = contract

    async def call(self, method: str, path: str, *args: Any) -> Any:
        result = await super().call(method, path, *args)
        service = path.strip("/") if isinstance(path, str) else path
        if service in self.contract.services():
            kind = result_kind(self.contract, method, service, args)
            if kind is not None:
                assert_valid(self.contract, service, kind, result)
        return result


@asynccontextmanager
async def logged_in(
    url: str, who: tuple[str, str] | None = USER, *, wait: float = 5.0, check_events: bool = True
) -> AsyncIterator[CheckedClient]:
    """A connected client, logged in as `who` (None: stays anonymous). Every result it gets is checked against
    the contract, and, unless `check_events` is off, every event it received when the block ends."""
    contract = default_contract()
    client = CheckedClient(url, contract, timeout=wait)
    await client.connect()
    try:
        if who is not None:
            await client.authenticate(*who)
        yield client
        if check_events:
            assert_events_valid(contract, client.events)
    finally:
        await client.close()


async def login_token(url: str, who: tuple[str, str] = USER) -> str:
    login = {"strategy": "local", "email": who[0], "password": who[1]}
    status, _, body = await rest("POST", url, "/authentication", json_body=login)
    assert status == 201, body
    token: str = body["accessToken"]
    return token


async def rest(
    method: str,
    url: str,
    path: str,
    *,
    token: str | None = None,
    api_key: str | None = None,
    json_body: Any = None,
    data: bytes | str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, Any]:
    """One REST request: (status, response headers, parsed JSON body or None)."""
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    if api_key is not None:
        sent["Authorization"] = f"ApiKey {api_key}"
    if json_body is not None:
        data = json.dumps(json_body)
        sent.setdefault("Content-Type", "application/json")
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url + path, data=data, headers=sent) as response,
    ):
        text = await response.text()
        body = json.loads(text) if text else None
        return response.status, response.headers, body


class RawSocket:
    """Socket.IO over a bare websocket: every frame as text, so tests see exactly what a JS client would."""

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.session = session
        self.ws = ws
        self.frames: list[str] = []  # Socket.IO packets (Engine.IO "4" stripped) in arrival order
        self._ids = itertools.count()

    @classmethod
    async def open(cls, url: str, *, namespace_connect: bool = True, max_msg_size: int = 4 * 2**20) -> RawSocket:
        session = aiohttp.ClientSession()
        try:
            ws = await session.ws_connect(
                url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket", max_msg_size=max_msg_size
            )
        except BaseException:
            await session.close()
            raise
        sock = cls(session, ws)
        try:
            opening = await sock._receive_text(5.0)
            assert opening is not None, "no Engine.IO OPEN packet"
            assert opening.startswith("0{"), opening
            if namespace_connect:
                await sock.ws.send_str("40")
                reply = await sock.next_packet(5.0)
                assert reply is not None, "no CONNECT reply"
                assert reply.startswith("0{"), reply
        except BaseException:
            await sock.close()
            raise
        return sock

    async def close(self) -> None:
        await self.ws.close()
        await self.session.close()

    async def __aenter__(self) -> RawSocket:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _receive_text(self, wait: float) -> str | None:
        """The next Engine.IO text message (pings answered on the way); None once the socket is closed."""
        while True:
            msg = await self.ws.receive(timeout=wait)
            if msg.type is aiohttp.WSMsgType.TEXT:
                if msg.data == "2":
                    await self.ws.send_str("3")
                    continue
                text: str = msg.data
                return text
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                return None
            if msg.type is aiohttp.WSMsgType.ERROR:
                return None

    async def next_packet(self, wait: float = 5.0) -> str | None:
        """The next Socket.IO packet (`42[...]`, `43n[...]`, `41`, ...); None when the connection closed."""
        while True:
            text = await self._receive_text(wait)
            if text is None:
                return None
            if text.startswith("4"):
                packet = text[1:]
                self.frames.append(packet)
                return packet
            if text.startswith("1"):  # Engine.IO close
                return None

    async def send_event(self, event: str, *args: Any, ack: bool = True) -> int | None:
        ack_id = next(self._ids) if ack else None
        await self.ws.send_str(f"42{'' if ack_id is None else ack_id}" + json.dumps([event, *args]))
        return ack_id

    async def call(self, event: str, *args: Any, wait: float = 5.0) -> str:
        """Send an event with an ack id and return the raw ack packet text (`3<id>[...]`)."""
        ack_id = await self.send_event(event, *args)
        return await self.ack(ack_id, wait=wait)

    async def ack(self, ack_id: int | None, *, wait: float = 5.0) -> str:
        prefix = f"3{ack_id}["
        while True:
            packet = await self.next_packet(wait)
            assert packet is not None, "the server closed the connection instead of answering"
            if packet.startswith(prefix):
                return packet

    async def call_json(self, event: str, *args: Any, wait: float = 5.0) -> list[Any]:
        """The ack's argument list: `[None, result]` or `[error]`."""
        packet = await self.call(event, *args, wait=wait)
        args_list: list[Any] = json.loads(packet[packet.index("[") :])
        return args_list

    def events(self) -> list[tuple[str, Any]]:
        """(name, payload) of every event packet received so far."""
        found = []
        for packet in self.frames:
            if packet.startswith("2["):
                name, *payload = json.loads(packet[1:])
                found.append((name, payload[0] if len(payload) == 1 else payload))
        return found


def store_state(crmock: ServerThread) -> str:
    """Everything the store holds, as one canonical string (taken on the server's own thread)."""

    def dump() -> str:
        store = crmock.server.store
        return json.dumps(
            {
                "tables": store.tables,
                "passwords": store.passwords,
                "api_keys": store.api_keys,
                "subscriptions": {user: sorted(models) for user, models in store.subscriptions.items()},
                "templates_applied": sorted(store.templates_applied),
            },
            sort_keys=True,
        )

    return crmock.call(dump)
