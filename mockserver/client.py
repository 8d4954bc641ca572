"""A minimal Python Feathers socket client, for tests and benchmarks that talk to the mock from Python.

It speaks exactly what `@feathersjs/socketio-client` sends (docs/protocol.md#socket-calls): the method name as
the event, the service path first, the query always present, and an ack of `[error]` or `[null, result]`.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import socketio

from mockserver.errors import ERROR_CLASSES, FeathersError, GeneralError

__all__ = ["FeathersSocketClient"]


class FeathersSocketClient:
    """`async with FeathersSocketClient(url) as client: await client.call("find", "traders", {})`."""

    def __init__(
        self,
        url: str,
        *,
        transports: list[str] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.transports = transports or ["websocket"]
        self.headers = headers or {}
        self.timeout = timeout
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: defaultdict[str, list[Any]] = defaultdict(list)
        self.log: list[tuple[str, Any]] = []  # (event, payload) of every event, in arrival order
        self._arrived = asyncio.Condition()
        self.sio.on("*", self._record)

    async def _record(self, event: str, *args: Any) -> None:
        payload = args[0] if len(args) == 1 else list(args)
        self.events[event].append(payload)
        self.log.append((event, payload))
        async with self._arrived:
            self._arrived.notify_all()

    async def connect(self) -> FeathersSocketClient:
        await self.sio.connect(self.url, transports=self.transports, headers=self.headers, wait_timeout=self.timeout)
        return self

    async def close(self) -> None:
        await self.sio.disconnect()

    async def __aenter__(self) -> FeathersSocketClient:
        return await self.connect()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def call(self, method: str, path: str, *args: Any) -> Any:
        """Send one method call and return its result, or raise the FeathersError it was answered with."""
        reply = await self.sio.call(method, (path, *args), timeout=self.timeout)
        if isinstance(reply, tuple | list):
            error, result = [*list(reply), None, None][:2]
        else:
            error, result = reply, None
        if error:
            raise _to_error(error)
        return result

    async def authenticate(self, email: str, password: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.call(
            "create", "authentication", {"strategy": "local", "email": email, "password": password}, {}
        )
        return result

    async def wait_for(self, event: str, *, count: int = 1, timeout: float = 5.0) -> list[Any]:  # noqa: ASYNC109
        """Payloads of `event`, once at least `count` have arrived (raises TimeoutError otherwise)."""

        async def enough() -> list[Any]:
            async with self._arrived:
                await self._arrived.wait_for(lambda: len(self.events[event]) >= count)
            return list(self.events[event])

        return await asyncio.wait_for(enough(), timeout)


def _to_error(body: Any) -> FeathersError:
    if isinstance(body, dict) and isinstance(body.get("code"), int) and body["code"] in ERROR_CLASSES:
        error = ERROR_CLASSES[body["code"]](body.get("message"), data=body.get("data"), errors=body.get("errors"))
        return error
    return GeneralError(str(body))
