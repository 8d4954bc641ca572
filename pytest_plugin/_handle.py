"""What the `cryptorobot_mock` fixture hands a test: a session server seen from the test's thread.

The server runs on its own event-loop thread (`ServerThread`), so sync tests and async tests on any loop talk to
it the same way: over the socket as a real client, and through this handle for scripting. Every attribute that
touches server state runs on the server's loop (the core is not thread-safe): `mock.journal.entries()` and
`mock.clock.advance(5)` block until done; `await mock.aio.clock.advance(5)` is the same from an async test.
Imported only when a test asks for a `cryptorobot_mock*` fixture.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

from mockserver.client import FeathersSocketClient
from mockserver.contract import Contract
from mockserver.scripting import Expectation
from mockserver.server import MockServer, ServerThread
from mockserver.server._app import ClockHandle, ExpectationsHandle, FaultsHandle, JournalHandle

T = TypeVar("T")

class User(NamedTuple):
    """A seeded account: log in with email and password, or call REST with `Authorization: ApiKey <api_key>`."""

    email: str
    password: str
    id: str
    api_key: str | None


def users_of(server: MockServer) -> list[User]:
    return [
        User(email, password, server.dataset.user_id(email), keys[0] if keys else None)
        for email, password, keys in server.credentials()
    ]


class OnLoop:
    """A proxy running every call and attribute read of `target` on the server's loop; awaitables are awaited
    there, so `proxy.advance(5)` blocks until mock time moved. Results are returned as they are (live objects)."""

    def __init__(self, thread: ServerThread, target: Any) -> None:
        object.__setattr__(self, "_thread", thread)
        object.__setattr__(self, "_target", target)

    def __getattr__(self, name: str) -> Any:
        thread, target = self._thread, self._target
        value = thread.call(getattr, target, name)
        if not callable(value):
            return value

        def on_loop(*args: Any, **kwargs: Any) -> Any:
            return thread.run(_settle(value, args, kwargs))

        on_loop.__name__ = name
        on_loop.__doc__ = getattr(value, "__doc__", None)
        return on_loop

    def __iter__(self) -> Any:
        return iter(self._thread.call(list, self._target))

    def __len__(self) -> int:
        return int(self._thread.call(len, self._target))

    def __repr__(self) -> str:
        return f"<on the mock's loop: {self._thread.call(repr, self._target)}>"


class OnLoopAsync:
    """`OnLoop` for async tests: calls return awaitables for the caller's own loop (`await mock.aio.reset()`)."""

    def __init__(self, thread: ServerThread, target: Any) -> None:
        self._thread = thread
        self._target = target

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)  # attribute lookup only: no state is read here
        if not callable(value):
            return OnLoopAsync(self._thread, value)
        loop = self._thread.loop

        def on_loop(*args: Any, **kwargs: Any) -> asyncio.Future[Any]:
            future = asyncio.run_coroutine_threadsafe(_settle(value, args, kwargs), loop)
            return asyncio.wrap_future(future)

        on_loop.__name__ = name
        return on_loop


async def _settle(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    result = func(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


@dataclass
class MockHandle:
    """The mock server of one test: `url`, `users`, scripting (`emit`, `disconnect`, `faults`, `clock`,
    `journal`, `record`/`replay`, `store`), sync here and async under `aio`."""

    thread: ServerThread
    expect_violations: bool = False
    journal_start: int = 0

    @property
    def server(self) -> MockServer:
        """The MockServer itself; touch it only on its loop (`mock.call(fn)`), or through this handle."""
        return self.thread.server

    @property
    def url(self) -> str:
        return self.thread.url

    @property
    def seed(self) -> int:
        return self.server.seed

    @property
    def users(self) -> list[User]:
        return users_of(self.server)

    def user(self, email: str | None = None) -> User:
        """A seeded user by email (the first demo user by default)."""
        found = self.users
        for user in found:
            if email is None or user.email == email:
                return user
        raise KeyError(f"no seeded user {email!r}; users: {', '.join(u.email for u in found)}")

    @property
    def contract(self) -> Contract:
        return self.server.contract

    # -- state on the server's loop -----------------------------------------------------------------------------
    @property
    def clock(self) -> ClockHandle:
        """The mock clock: `mock.clock.advance(60)` runs what falls due; `now()`, `iso()`, `failures`, ..."""
        return self.thread.clock

    @property
    def journal(self) -> JournalHandle:
        """`mock.journal.assert_called("orders", "create")`, `assert_emitted`, `assert_not_emitted`, `entries`."""
        return self.thread.journal

    @property
    def faults(self) -> FaultsHandle:
        """`mock.faults.add({"match": {"service": "orders"}, "action": "drop-ack"})`, `list()`, `clear()`."""
        return self.thread.faults

    @property
    def expectations(self) -> ExpectationsHandle:
        """The call handlers: `list()`, `pending()`, `clear()`."""
        return self.thread.expectations

    @property
    def store(self) -> Any:
        """The live records: `mock.store.tables["traders"]` (changes made here publish nothing)."""
        return OnLoop(self.thread, self.server.store)

    @property
    def aio(self) -> Any:
        """The async flavour of the server: `await mock.aio.clock.advance(5)`, `await mock.aio.disconnect(...)`."""
        return OnLoopAsync(self.thread, self.server)

    def call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `func` on the server's loop (where the core may be touched) and return its result."""
        return self.thread.call(func, *args, **kwargs)

    # -- scripting, sync flavours -------------------------------------------------------------------------------
    def emit(self, path: str, event: str, payload: Any, *, user_id: str | None = None, validate: bool = True) -> Any:
        """Publish a server-made event (`mock.emit("traders", "patched", trader)`); see `MockServer.emit`."""
        return self.thread.emit(path, event, payload, user_id=user_id, validate=validate)

    def disconnect(
        self, *, email: str | None = None, connection: str | None = None, mode: str = "server"
    ) -> list[str]:
        """Drop connections (`email=`, `connection=`, `mode="server"|"transport"|"ping-timeout"`; none: all)."""
        return self.thread.disconnect(email=email, connection=connection, mode=mode)

    def expire_tokens(self, email: str | None = None) -> list[str]:
        return self.thread.expire_tokens(email)

    def expect(self, service: str, method: str | None = None, **kwargs: Any) -> Expectation:
        """A call handler: `mock.expect("orders", "create").fail({...})` (see the scripting docs)."""
        return self.thread.expect(service, method, **kwargs)

    def connections(self) -> list[dict[str, Any]]:
        return self.thread.connections()

    def wait_connected(self, email: str, *, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until `email` has `count` logged-in connections (after a client's login or reconnect)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [c for c in self.connections() if c["email"] == email]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"{email} has {len(found)} logged-in connection(s), expected {count}")
            time.sleep(0.005)

    def record(self, path: Any) -> Any:
        return self.thread.record(path)

    def stop_recording(self) -> None:
        self.thread.stop_recording()

    def replay(self, path: Any, **kwargs: Any) -> Any:
        return self.thread.replay(path, **kwargs)

    def run_scenario(self, scenario: Any) -> Any:
        return self.thread.run_scenario(scenario)

    def advance(self, seconds: float) -> None:
        """Move a manual clock forward, running what falls due (`mock.clock.advance` too)."""
        self.thread.run(self.server.clock.advance(seconds))

    def feed(self, steps: Iterable[Any], *, to: str | None = None, settle: float = 5.0) -> int:
        """Publish a `mockserver.strategies.event_sequences` draw to `to`'s connections (default: the first
        user): each event through `emit`, each reconnect step as a transport drop the client must recover from
        (waiting up to `settle` seconds for it to log in again). Returns the events published."""
        email = to or self.user().email
        user_id = self.user(email).id
        sent = 0
        for step in steps:
            if step.kind == "reconnect":
                self.disconnect(email=email, mode="transport")
                self.wait_connected(email, timeout=settle)
                continue
            path, _, event = step.event.rpartition(" ")
            self.emit(path, event, step.payload, user_id=user_id)
            sent += 1
        return sent


class SyncClient:
    """A logged-in `FeathersSocketClient` driven from sync code; it runs on the mock's own loop, but talks to
    the server over a real socket. `client.call("find", "traders", {})`, `client.wait_for("traders patched")`."""

    def __init__(self, thread: ServerThread, client: FeathersSocketClient, user: User) -> None:
        self._thread = thread
        self.client = client
        self.user = user

    @property
    def events(self) -> Mapping[str, list[Any]]:
        """Payloads received, by event name (`client.events["traders patched"]`)."""
        return self.client.events

    @property
    def log(self) -> list[tuple[str, Any]]:
        """(event, payload) of everything received, in arrival order."""
        return self.client.log

    def call(self, method: str, path: str, *args: Any) -> Any:
        return self._thread.run(self.client.call(method, path, *args))

    def find(self, path: str, query: Mapping[str, Any] | None = None) -> Any:
        return self.call("find", path, dict(query or {}))

    def get(self, path: str, record_id: str, query: Mapping[str, Any] | None = None) -> Any:
        return self.call("get", path, record_id, dict(query or {}))

    def create(self, path: str, data: Any, query: Mapping[str, Any] | None = None) -> Any:
        return self.call("create", path, data, dict(query or {}))

    def patch(self, path: str, record_id: str | None, data: Any, query: Mapping[str, Any] | None = None) -> Any:
        return self.call("patch", path, record_id, data, dict(query or {}))

    def remove(self, path: str, record_id: str | None, query: Mapping[str, Any] | None = None) -> Any:
        return self.call("remove", path, record_id, dict(query or {}))

    def wait_for(self, event: str, *, count: int = 1, timeout: float = 5.0) -> list[Any]:
        result: list[Any] = self._thread.run(self.client.wait_for(event, count=count, timeout=timeout))
        return result

    def close(self) -> None:
        self._thread.run(self.client.close())


def open_client(thread: ServerThread, user: User) -> SyncClient:
    async def connect() -> FeathersSocketClient:
        client = FeathersSocketClient(thread.url)
        await client.connect()
        try:
            await client.authenticate(user.email, user.password)
        except BaseException:
            await client.close()
            raise
        return client

    return SyncClient(thread, thread.run(connect()), user)
