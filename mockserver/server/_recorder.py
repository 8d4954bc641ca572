"""Recording tapes: what the mock publishes (`server.record(path)`, `serve --record`), or what one user of a live
server receives (`cryptorobot-mock record --url`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from datetime import UTC, datetime
from typing import Any

from mockserver.client import FeathersSocketClient
from mockserver.contract import Contract
from mockserver.scripting._tape import TapeHeader, TapeWriter, schema_version
from mockserver.server._core import Core

__all__ = ["Recorder", "record_live"]

log = logging.getLogger("mockserver.recorder")


class Recorder:
    """Writes every event the mock publishes to a tape, with its time on the server's clock.

    Every publish is recorded, whoever is connected, so `serve --record` captures the market as the server made it.
    """

    def __init__(self, core: Core, path: str | os.PathLike[str]) -> None:
        self.core = core
        self._start = core.clock.time()
        users = {str(user["_id"]): str(user.get("email", "")) for user in core.store.records("users")}
        header = TapeHeader(
            clock_start=core.clock.iso(),
            source="mock",
            seed=core.seed,
            schema_version=schema_version(core.contract),
            users=users,
        )
        self.writer = TapeWriter(path, header)
        core.channels.observers.append(self._observe)

    @property
    def path(self) -> str:
        return self.writer.path

    @property
    def frames(self) -> int:
        """How many frames are on the tape so far."""
        return self.writer.frames

    def _observe(self, event: str, payload: Any, sids: frozenset[str]) -> None:
        if not self.writer.closed:
            self.writer.write(self.core.clock.time() - self._start, event, payload)

    def close(self) -> None:
        """Stop listening and close the file (idempotent)."""
        if self._observe in self.core.channels.observers:
            self.core.channels.observers.remove(self._observe)
        self.writer.close()

    async def stop(self) -> None:
        self.close()


async def record_live(
    url: str,
    email: str,
    password: str,
    path: str | os.PathLike[str],
    *,
    duration: float | None = None,
    contract: Contract | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Log in to a server as the Feathers client does and write every event this user receives to a tape, until
    `duration` seconds have passed or `stop` is set. Returns the number of frames written.

    Raises FeathersError when the login is refused and OSError-like socketio errors when nobody answers.
    """
    client = FeathersSocketClient(url)
    await client.connect()
    writer: TapeWriter | None = None
    try:
        result = await client.authenticate(email, password)
        user = result.get("user") or {}
        start = time.monotonic()
        header = TapeHeader(
            clock_start=_now_iso(),
            source=url,
            schema_version=None if contract is None else schema_version(contract),
            users={str(user.get("_id", "")): email},
        )
        writer = TapeWriter(path, header)
        tape = writer

        async def on_event(event: str, *args: Any) -> None:
            payload = args[0] if len(args) == 1 else list(args)
            tape.write(time.monotonic() - start, event, payload)

        client.sio.on("*", on_event)
        waiter = asyncio.Event() if stop is None else stop
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiter.wait(), duration)
        return writer.frames
    finally:
        if writer is not None:
            writer.close()
        await client.close()


def _now_iso() -> str:
    moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
