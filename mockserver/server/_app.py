"""`MockServer`: one aiohttp app serving Socket.IO and REST on one port, with all state on the instance."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import json
import logging
import os
import re
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from aiohttp import web

from mockserver.contract import Contract, default_contract
from mockserver.scripting import Clock, ClockMode, Expectation, Expectations, Fault, Faults, Journal
from mockserver.server._activity import Activity, ActivityOptions
from mockserver.server._auth import TokenIssuer
from mockserver.server._channels import Audience, Channels
from mockserver.server._control import ControlApi
from mockserver.server._core import Core, Options
from mockserver.server._engine import ShortHttpErrors
from mockserver.server._hosts import HostCheck
from mockserver.server._packets import DeepTolerantPacket
from mockserver.server._rest import CORS_HEADERS, MAX_BODY_BYTES, RestTransport
from mockserver.server._services import build_services
from mockserver.server._socket import DISCONNECT_MODES, FeathersSocketServer, SocketTransport
from mockserver.server._store import Store
from mockserver.synth import Dataset, UserSeed, dataset

if TYPE_CHECKING:  # tapes and scenarios load when a server is given one (start-up time of `serve`)
    from mockserver.scripting import Scenario, Tape
    from mockserver.server._recorder import Recorder
    from mockserver.server._replay import Replay
    from mockserver.server._scenarios import ScenarioRun

__all__ = ["ClockHandle", "MockServer", "ServerThread", "parse_user"]

T = TypeVar("T")
R = TypeVar("R")
VALID_EVENTS_KEPT = 1024  # distinct valid payloads `emit` remembers
log = logging.getLogger("mockserver")


def parse_user(spec: str | UserSeed) -> UserSeed:
    """`EMAIL:PASSWORD` (the CLI's --user form) or a UserSeed as is."""
    if isinstance(spec, UserSeed):
        return spec
    email, sep, password = spec.partition(":")
    if not sep or "@" not in email or not password:
        raise ValueError(f"expected EMAIL:PASSWORD, got {spec!r}")
    return UserSeed(email=email, password=password)


def _distinct_emails(users: tuple[UserSeed, ...]) -> None:
    """The real service treats e-mails that differ only in case as one account, so the mock refuses them too."""
    seen: dict[str, str] = {}
    for user in users:
        other = seen.get(user.email.casefold())
        seen[user.email.casefold()] = user.email
        if other is not None:
            raise ValueError(f"two users with the same e-mail: {other!r} and {user.email!r} (case does not matter)")


class MockServer:
    """A fake Cryptorobot.ai server that the official Feathers clients cannot tell from the real one.

    `async with MockServer(seed=42) as server:` binds 127.0.0.1 on a free port; `server.url` is its origin.
    Sync code uses `with MockServer(...).running() as handle:` instead, which runs the same core on a thread.

    Requests are answered only when their `Host` is a loopback name, the bound address or one of `allowed_hosts`
    (`["all"]` answers any), against DNS rebinding. Websocket frames are not compressed unless `ws_compression`.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        users: Sequence[str | UserSeed] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        options: Options | None = None,
        activity: ActivityOptions | None = None,
        contract: Contract | None = None,
        jwt_secret: str | None = None,
        clock: ClockMode | Clock = "real",
        speed: float = 1.0,
        replay: str | os.PathLike[str] | Tape | None = None,
        replay_speed: float = 1.0,
        loop: bool = False,
        allow_invalid: bool = False,
        scenario: str | os.PathLike[str] | Scenario | Sequence[str | os.PathLike[str] | Scenario] | None = None,
        control_token: str | None = None,
        allowed_hosts: Sequence[str] | None = None,
        ws_compression: bool = False,
        journal: bool = True,
    ) -> None:
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise TypeError(f"seed must be an int, got {seed!r}")
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an int from 0 to 65535, got {port!r}")
        if control_token is not None and not re.fullmatch(r"[!-~]+", str(control_token)):
            raise ValueError("control_token must be a non-empty string of printable ASCII without spaces")
        if isinstance(allowed_hosts, str):
            raise TypeError(f"allowed_hosts must be a list of host names, got the string {allowed_hosts!r}")
        self.seed = seed
        self.host_check = HostCheck(host, allowed_hosts or ())
        self.users = None if users is None else tuple(parse_user(u) for u in users)
        if self.users is not None:
            _distinct_emails(self.users)
        self.host = host
        self.requested_port = port
        self.options = options or Options()
        self.activity_options = activity
        self._initial_activity = activity
        self.contract = contract or default_contract()
        lifetime = self.options.token_lifetime
        issuer = (
            TokenIssuer.random(lifetime=lifetime)
            if jwt_secret is None
            else TokenIssuer(secret=jwt_secret, lifetime=lifetime)
        )
        self.dataset: Dataset = dataset(seed, self.users)
        self._records = Store.snapshot(self.dataset.records)  # what every reset copies the store from
        self._valid_events: dict[tuple[str, str], None] = {}  # (event, payload JSON) found valid, oldest first
        self.sio = FeathersSocketServer(
            async_mode="aiohttp",
            cors_allowed_origins="*",
            logger=False,
            engineio_logger=False,
            max_http_buffer_size=MAX_BODY_BYTES,
            serializer=DeepTolerantPacket,
            send_queue_limit=self.options.send_queue_limit,
            ws_compression=ws_compression,
            ping_interval=self.options.ping_interval,
            ping_timeout=self.options.ping_timeout,
        )
        self.app = web.Application(
            client_max_size=MAX_BODY_BYTES, middlewares=[self.host_check.middleware(CORS_HEADERS)]
        )
        self.sio.attach(self.app)
        if not isinstance(clock, Clock):
            clock = Clock(clock, speed=speed)
        self.core = Core(
            contract=self.contract,
            channels=Channels(self.sio),
            issuer=issuer,
            options=self.options,
            seed=seed,
            clock=clock,
        )
        self.core.journal.enabled = journal
        build_services(self.core)
        self.sockets = SocketTransport(self.core, self.sio)
        self.control = ControlApi(self, self.app, token=control_token)  # before REST's catch-all route
        self.rest = RestTransport(self.core, self.app)
        self.activity: Activity | None = None
        self.recorders: list[Recorder] = []
        self.replays: list[Replay] = []
        # A tape given here is read now, so a bad file fails at construction rather than on start.
        self._replay_tape: Tape | None = None
        speed = replay_speed
        if replay is not None or type(replay_speed) is not float or replay_speed != 1.0:  # the default needs no check
            from mockserver.scripting import Tape, read_tape
            from mockserver.server._replay import check_speed

            speed = check_speed(replay_speed)
            self._replay_tape = replay if replay is None or isinstance(replay, Tape) else read_tape(replay)
        self._replay_options = (speed, loop, allow_invalid)
        self.scenario_runs: list[ScenarioRun] = []
        # Scenarios given here are read and checked now (a typo fails the constructor) and start with the server.
        self._scenarios = [_as_scenario(item) for item in _scenario_list(scenario)]
        for item in self._scenarios:
            _scenario_run(self, item, seed)  # checks the server supports every step
        self._runner: web.AppRunner | None = None
        self._http_log = ShortHttpErrors(self.sio.eio.console)
        self.port: int | None = None
        self._load()

    # -- lifecycle ---------------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the server is not started; use `async with MockServer(...)` or `.running()`")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> MockServer:
        if self._runner is not None:
            raise RuntimeError("the server is already started")
        runner = web.AppRunner(
            self.app, handle_signals=False, access_log=None, shutdown_timeout=0.5, logger=self._http_log
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.requested_port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        self.core.clock.attach()
        self._start_scripted()
        return self

    def _start_scripted(self) -> None:
        """What runs from the start: the live streams, the constructor's tape and scenarios (on start and reset)."""
        self._start_activity()
        if self._replay_tape is not None:
            speed, loop, allow_invalid = self._replay_options
            self._start_replay(self._replay_tape, speed=speed, loop=loop, allow_invalid=allow_invalid)
        for item in self._scenarios:
            self.scenario_runs.append(_scenario_run(self, item, self.seed).start())

    def _start_activity(self) -> None:
        if self.activity_options is not None:
            self.activity = Activity(self.core, self.activity_options, seed=self.seed)
            self.activity.start()

    async def stop(self) -> None:
        if self._runner is None:
            return
        if self.activity is not None:
            self.activity.stop()
            self.activity = None
        self._stop_replays()
        self._cancel_scenarios()
        self.stop_recording()
        self.core.clock.cancel_all()
        self.control.close_panels()
        await self.sockets.disconnect_all()
        await self._runner.cleanup()
        self._runner = None
        self.port = None

    async def __aenter__(self) -> MockServer:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @contextlib.contextmanager
    def running(self) -> Iterator[ServerThread]:
        """Run on a background event-loop thread for sync callers; yields a handle with the same core."""
        handle = ServerThread(self)
        handle.start()
        try:
            yield handle
        finally:
            handle.stop()

    # -- state ------------------------------------------------------------------------------------------------
    def _load(self) -> None:
        ds = self.dataset
        passwords = {ds.user_id(email): password for email, password in ds.passwords.items()}
        self.core.store.load(self._records, passwords=passwords, api_keys=ds.api_keys, subscriptions=ds.subscriptions)

    def credentials(self) -> list[tuple[str, str, list[str]]]:
        """(email, password, API keys) of every seeded user, for the `serve` banner and for tests."""
        ds = self.dataset
        keys_of: dict[str, list[str]] = {}
        key_owner = {rec["_id"]: rec["userId"] for rec in ds.records.get("keys", [])}
        for secret, key_id in ds.api_keys.items():
            keys_of.setdefault(key_owner.get(key_id, ""), []).append(secret)
        return [(email, pw, keys_of.get(ds.user_id(email), [])) for email, pw in ds.passwords.items()]

    @property
    def clock(self) -> Clock:
        """Mock time and the scheduler: `await server.clock.advance(seconds)` runs what falls due (manual mode)."""
        return self.core.clock

    @property
    def journal(self) -> Journal:
        """What happened on the wire: `server.journal.entries(kind="call")`, `assert_called(...)` and friends."""
        return self.core.journal

    @property
    def faults(self) -> Faults:
        """Fault rules: `server.faults.add({"match": {"service": "traders"}, "action": "drop-ack"})`."""
        return self.core.faults

    @property
    def expectations(self) -> Expectations:
        """Call handlers, also as dicts: `server.expectations.add({"match": {...}, "respond": ...})`."""
        return self.core.expectations

    def expect(
        self,
        service: str,
        method: str | None = None,
        *,
        matching: Any = None,
        times: int | None = None,
        ordered: bool = False,
    ) -> Expectation:
        """Answer calls of `service`.`method` yourself: `server.expect("traders", "get").respond({...})` or
        `.fail({"name": "NotFound", "message": "..."})`; `times=None` for ever, `times=1` once, `ordered=True`
        in the order declared."""
        return self.core.expectations.expect(service, method, matching=matching, times=times, ordered=ordered)

    @property
    def store(self) -> Store:
        """The live records (`server.store.tables[path][id]`); changes made here publish nothing."""
        return self.core.store

    # -- tapes --------------------------------------------------------------------------------------------------
    def record(self, path: str | os.PathLike[str]) -> Recorder:
        """Write every event this server publishes from now on to a tape at `path` (JSON Lines, flushed per line,
        secrets redacted); `await recorder.stop()` or `server.stop_recording()` ends it."""
        from mockserver.server._recorder import Recorder

        recorder = Recorder(self.core, path)
        self.recorders.append(recorder)
        return recorder

    def stop_recording(self) -> None:
        """Close every tape this server is recording."""
        for recorder in self.recorders:
            recorder.close()
        self.recorders.clear()

    async def replay(
        self,
        path: str | os.PathLike[str] | Tape,
        *,
        speed: float = 1.0,
        loop: bool = False,
        allow_invalid: bool = False,
    ) -> Replay:
        """Play a tape's events to the connected, authenticated clients with the recorded timing divided by
        `speed` (`math.inf`: as fast as possible); frames that break the schemas are skipped (listed in
        `replay.skipped`) unless `allow_invalid`. Returns at once; `await replay.wait()` for the end."""
        from mockserver.scripting import Tape, read_tape

        tape = path if isinstance(path, Tape) else read_tape(path)
        return self._start_replay(tape, speed=speed, loop=loop, allow_invalid=allow_invalid)

    def _start_replay(self, tape: Tape, *, speed: float, loop: bool, allow_invalid: bool) -> Replay:
        from mockserver.server._replay import Replay

        replay = Replay(self.core, tape, speed=speed, loop=loop, allow_invalid=allow_invalid).start()
        self.replays.append(replay)
        return replay

    def _stop_replays(self) -> None:
        for replay in self.replays:
            replay.stop()
        self.replays.clear()

    # -- scenarios ----------------------------------------------------------------------------------------------
    async def run_scenario(self, scenario: str | os.PathLike[str] | Scenario | Mapping[str, Any]) -> ScenarioRun:
        """Schedule a scenario's steps on the server's clock from now on: a YAML file, a `Scenario`, or its dict
        form. Raises ScenarioError (naming file, line and path) before anything runs if it is wrong. Returns at
        once; `await run.wait()` until its last step ran (under a manual clock, `await server.clock.advance(s)`
        runs the steps)."""
        run = _scenario_run(self, _as_scenario(scenario), self.seed).start()
        self.scenario_runs.append(run)
        return run

    def _cancel_scenarios(self) -> None:
        for run in self.scenario_runs:
            run.cancel()
        self.scenario_runs.clear()

    def set_streams(self, options: ActivityOptions | None) -> None:
        """Restart the live streams with these intervals (None: off), as the scenario step `streams` does."""
        if self.activity is not None:
            self.activity.stop()
            self.activity = None
        self.activity_options = options
        if self._runner is not None:
            self._start_activity()

    async def reset(self, *, disconnect: bool = True) -> None:
        """Back to the seeded dataset and the clock's start, as a fresh server would start; by default drops every
        connection."""
        if self.activity is not None:
            self.activity.stop()
            self.activity = None
        self._stop_replays()
        self._cancel_scenarios()
        self.core.clock.reset()
        if disconnect:
            await self.sockets.disconnect_all()
        self.core.forget_tokens()
        self.core.limiter.clear()
        self.core.faults.clear()
        self.core.expectations.clear()
        self.core.journal.clear()
        self.control.reset_panels()
        self.core.reseed()
        self._load()
        self.activity_options = self._initial_activity  # a scenario's `streams` step changed them
        if self._runner is not None:
            self._start_scripted()

    def connections(self) -> list[dict[str, Any]]:
        """The open socket connections: `{"id", "userId", "email", "transport", "connectedAt"}` each (`id` is the
        Socket.IO sid, `transport` "websocket" or "polling", `connectedAt` ISO on the mock clock)."""
        return self.sockets.connections()

    def _select(self, email: str | None, connection: str | None) -> list[str]:
        if email is not None and not isinstance(email, str):
            raise TypeError(f"email must be a str, got {email!r}")
        user = None if email is None else self.core.store.user_by_email(email)
        if email is not None and user is None:
            return []
        return [
            row["id"]
            for row in self.connections()
            if (connection is None or row["id"] == connection) and (user is None or row["userId"] == user["_id"])
        ]

    async def disconnect(
        self, *, email: str | None = None, connection: str | None = None, mode: str = "server"
    ) -> list[str]:
        """End the connections of `email` (any case), or `connection` (a sid), or every connection; returns their ids.

        `mode="server"`: a Socket.IO DISCONNECT, the client sees `io server disconnect` and stays disconnected.
        `"transport"`: the transport closes abruptly; the client reconnects and re-authenticates by itself.
        `"ping-timeout"`: the server goes silent (no pings, no frames) until the client gives up with `ping timeout`
        after pingInterval + pingTimeout (`Options.ping_interval`, `ping_timeout`) and reconnects.
        """
        if mode not in DISCONNECT_MODES:
            raise ValueError(f"mode must be one of {', '.join(DISCONNECT_MODES)}; got {mode!r}")
        sids = self._select(email, connection)
        for sid in sids:
            await self.sockets.force_disconnect(sid, mode)
        return sids

    async def expire_tokens(self, email: str | None = None) -> list[str]:
        """Expire the tokens of `email`'s user (any case), or of every user, now: they answer 401 `jwt expired`
        from now on and the user's logged-in sockets get the usual expiry disconnect (`io server disconnect`).
        Returns the ids of those connections; a fresh login works as before."""
        if email is None:
            user_ids = [str(user["_id"]) for user in self.core.store.records("users")]
        else:
            user = self.core.store.user_by_email(email)
            user_ids = [] if user is None else [str(user["_id"])]
        for user_id in user_ids:
            self.core.expire_tokens(user_id)
        affected = [
            sid
            for sid, session in list(self.sockets.sessions.items())
            if session.user_id in user_ids and self.sio.manager.is_connected(sid, "/")
        ]
        for sid in affected:
            await self.sockets.expire(sid)
        return affected

    def emit(
        self, path: str, event: str, payload: Any, *, user_id: str | None = None, validate: bool = True
    ) -> frozenset[str]:
        """Publish a server-made event; to one user's connections when `user_id` is given, else by the
        service's scope (owned records go to their `userId`). Returns the socket ids it reached.

        The payload is checked against the event's schema first (a ContractViolation, an AssertionError, if it
        breaks it), so a test cannot silently rely on data the real server never sends; `validate=False` is for
        scenarios that break the contract on purpose.
        """
        name = f"{path} {event}"
        if name not in self.contract.events():
            known = ", ".join(self.contract.events())
            raise KeyError(f"{name!r} is not an event of the API; known: {known}")
        if validate:
            self._check_event(name, payload)
        audience = Audience.owner(user_id) if user_id is not None else self.core.audience_of(path, payload)
        return self.core.channels.publish(name, payload, audience)

    def _check_event(self, name: str, payload: Any) -> None:
        """`contract.assert_event`, skipped for a payload whose wire form equals one already found valid: a test or
        a stream that emits the same payload again then pays one JSON dump instead of a schema walk."""
        try:
            key = (name, json.dumps(payload, sort_keys=True, allow_nan=False))
        except (TypeError, ValueError):  # not JSON as such (the full check says what is wrong)
            self.contract.assert_event(name, payload)
            return
        if key in self._valid_events:
            return
        self.contract.assert_event(name, payload)
        if len(self._valid_events) >= VALID_EVENTS_KEPT:
            del self._valid_events[next(iter(self._valid_events))]
        self._valid_events[key] = None


def _scenario_list(
    given: str | os.PathLike[str] | Scenario | Sequence[str | os.PathLike[str] | Scenario] | None,
) -> list[str | os.PathLike[str] | Scenario]:
    if given is None:
        return []
    from mockserver.scripting import Scenario

    if isinstance(given, str | os.PathLike | Scenario):
        return [given]
    return list(given)


def _as_scenario(given: str | os.PathLike[str] | Scenario | Mapping[str, Any]) -> Scenario:
    from mockserver.scripting import Scenario, load_scenario

    if isinstance(given, Scenario):
        return given
    if isinstance(given, Mapping):
        return Scenario.from_dict(given)
    return load_scenario(given)


def _scenario_run(server: MockServer, scenario: Scenario, seed: int) -> ScenarioRun:
    from mockserver.server._scenarios import ScenarioRun

    return ScenarioRun(server, server.core, scenario, seed=seed)


async def _cancel_leftover_tasks() -> None:
    """Cancel what is still pending on the loop, so closing it does not print "Task was destroyed" warnings."""
    current = asyncio.current_task()
    leftovers = [task for task in asyncio.all_tasks() if task is not current]
    for task in leftovers:
        task.cancel()
    await asyncio.gather(*leftovers, return_exceptions=True)


class ServerThread:
    """Runs a MockServer's event loop on a daemon thread; `call` runs anything on that loop and waits."""

    def __init__(self, server: MockServer) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="cryptorobot-mock", daemon=True)
        self._tasks: set[asyncio.Task[None]] = set()  # what `run` started on the loop, until each is done

    @property
    def url(self) -> str:
        return self.server.url

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        self.run(self.server.start(), timeout=timeout)

    def stop(self, timeout: float = 10.0) -> None:
        try:
            self.run(self.server.stop(), timeout=timeout)
            self.run(_cancel_leftover_tasks(), timeout=timeout)  # e.g. engine.io ping timers of closed sockets
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout)
            self.loop.close()

    def run(self, awaitable: Awaitable[T], *, timeout: float | None = 30.0) -> T:
        """Await something on the server's loop from this thread. The task hands its outcome to the waiting
        thread itself (no done-callback round on the loop, as `run_coroutine_threadsafe` takes)."""
        future: Future[T] = Future()

        async def settle() -> None:
            try:
                result = await awaitable
            except asyncio.CancelledError:
                future.cancel()  # e.g. the loop's leftover tasks cancelled at stop: the caller sees CancelledError
                raise
            except BaseException as error:
                future.set_exception(error)
                if not isinstance(error, Exception):
                    raise  # KeyboardInterrupt, SystemExit: stop the loop as an unhandled one would
            else:
                future.set_result(result)

        coroutine = settle()

        def start() -> None:
            task = self.loop.create_task(coroutine)
            self._tasks.add(task)  # held until done, even when the caller stopped waiting (a timeout)
            task.add_done_callback(self._tasks.discard)

        try:
            self.loop.call_soon_threadsafe(start)
        except BaseException:
            coroutine.close()  # the loop is closed: no "never awaited" warning on top of the error
            raise
        return future.result(timeout)

    def call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a plain function on the loop thread (the core is not thread-safe) and return its result; one
        callback on the loop, no task."""
        future: Future[T] = Future()

        def settle() -> None:
            try:
                future.set_result(func(*args, **kwargs))
            except BaseException as error:
                future.set_exception(error)
                if not isinstance(error, Exception):
                    raise

        self.loop.call_soon_threadsafe(settle)
        return future.result(30.0)

    def reset(self, *, disconnect: bool = True) -> None:
        self.run(self.server.reset(disconnect=disconnect))

    def record(self, path: str | os.PathLike[str]) -> Recorder:
        return self.call(self.server.record, path)

    def stop_recording(self) -> None:
        self.call(self.server.stop_recording)

    def replay(
        self,
        path: str | os.PathLike[str] | Tape,
        *,
        speed: float = 1.0,
        loop: bool = False,
        allow_invalid: bool = False,
    ) -> Replay:
        return self.run(self.server.replay(path, speed=speed, loop=loop, allow_invalid=allow_invalid))

    def run_scenario(self, scenario: str | os.PathLike[str] | Scenario | Mapping[str, Any]) -> ScenarioRun:
        return self.run(self.server.run_scenario(scenario))

    # -- the async server's operations, each run on the loop thread ------------------------------------------------
    @property
    def store(self) -> Store:
        """The live records; read them while nothing else runs, or change them through `handle.call(...)`."""
        return self.server.store

    @property
    def clock(self) -> ClockHandle:
        return ClockHandle(self)

    def credentials(self) -> list[tuple[str, str, list[str]]]:
        return self.server.credentials()  # immutable seeded data: safe from any thread

    def emit(
        self, path: str, event: str, payload: Any, *, user_id: str | None = None, validate: bool = True
    ) -> frozenset[str]:
        return self.call(self.server.emit, path, event, payload, user_id=user_id, validate=validate)

    def connections(self) -> list[dict[str, Any]]:
        return self.call(self.server.connections)

    def disconnect(self, *, email: str | None = None, connection: str | None = None, mode: str = "server") -> list[str]:
        return self.run(self.server.disconnect(email=email, connection=connection, mode=mode))

    def expire_tokens(self, email: str | None = None) -> list[str]:
        return self.run(self.server.expire_tokens(email))

    @property
    def journal(self) -> JournalHandle:
        return JournalHandle(self)

    @property
    def faults(self) -> FaultsHandle:
        return RulesHandle(self, self.server.faults)

    @property
    def expectations(self) -> ExpectationsHandle:
        return ExpectationsHandle(self, self.server.expectations)

    def expect(
        self,
        service: str,
        method: str | None = None,
        *,
        matching: Any = None,
        times: int | None = None,
        ordered: bool = False,
    ) -> Expectation:
        """As `MockServer.expect`; give the expectation its `.respond(...)`/`.fail(...)` before the calls it answers."""
        return self.call(self.server.expect, service, method, matching=matching, times=times, ordered=ordered)


class _LoopHandle:
    """Runs each method of one of the server's objects on the loop thread and waits (they are not thread-safe)."""

    def __init__(self, handle: ServerThread) -> None:
        self._handle = handle


class JournalHandle(_LoopHandle):
    """`ServerThread.journal`: the server's Journal for another thread (same methods, same arguments)."""

    def entries(self, **filters: Any) -> list[dict[str, Any]]:
        return self._handle.call(self._handle.server.journal.entries, **filters)

    def assert_called(self, service: str, method: str | None = None, **options: Any) -> list[dict[str, Any]]:
        return self._handle.call(self._handle.server.journal.assert_called, service, method, **options)

    def assert_emitted(self, event: str, **options: Any) -> list[dict[str, Any]]:
        return self._handle.call(self._handle.server.journal.assert_emitted, event, **options)

    def assert_not_emitted(self, event: str, **options: Any) -> None:
        self._handle.call(self._handle.server.journal.assert_not_emitted, event, **options)

    def clear(self) -> None:
        self._handle.call(self._handle.server.journal.clear)

    def subscribe(self, callback: Callable[[dict[str, Any]], object]) -> Callable[[], None]:
        """`callback` runs on the server's loop thread with each new entry; call the result to stop."""
        unsubscribe = self._handle.call(self._handle.server.journal.subscribe, callback)
        return lambda: self._handle.call(unsubscribe)


class _Rules(Protocol[R]):
    """What Faults and Expectations share: rules added from a spec, listed, removed by id, cleared."""

    def add(self, spec: Any, /) -> R: ...
    def remove(self, rule_id: str, /) -> bool: ...
    def clear(self) -> None: ...
    def list(self) -> builtins.list[R]: ...


class RulesHandle(Generic[R]):
    """`ServerThread.faults` and `.expectations`: the server's fault rules or call handlers for another thread."""

    def __init__(self, handle: ServerThread, rules: _Rules[R]) -> None:
        self._handle = handle
        self._rules = rules

    def add(self, spec: Any) -> R:
        return self._handle.call(self._rules.add, spec)

    def remove(self, rule_id: str) -> bool:
        return self._handle.call(self._rules.remove, rule_id)

    def clear(self) -> None:
        self._handle.call(self._rules.clear)

    def list(self) -> builtins.list[R]:
        return self._handle.call(self._rules.list)


FaultsHandle = RulesHandle[Fault]


class ExpectationsHandle(RulesHandle[Expectation]):
    """`ServerThread.expectations`, which also tells which handlers still wait for their calls."""

    def pending(self) -> builtins.list[Expectation]:
        return self._handle.call(self._handle.server.expectations.pending)


class ClockHandle:
    """`ServerThread.clock`: the server's Clock for another thread; every call runs on the loop and waits."""

    def __init__(self, handle: ServerThread) -> None:
        self._handle = handle
        self._clock = handle.server.clock

    @property
    def mode(self) -> ClockMode:
        return self._clock.mode

    def advance(self, seconds: float, *, timeout: float | None = 30.0) -> None:
        """Move mock time forward; returns once everything that fell due has run."""
        self._handle.run(self._clock.advance(seconds), timeout=timeout)

    def set_speed(self, speed: float) -> None:
        self._handle.call(self._clock.set_speed, speed)

    def freeze(self) -> None:
        self._handle.call(self._clock.freeze)

    def time(self) -> float:
        return self._handle.call(self._clock.time)

    def now(self) -> datetime:
        return self._handle.call(self._clock.now)

    def iso(self) -> str:
        return self._handle.call(self._clock.iso)

    def describe(self) -> dict[str, Any]:
        return self._handle.call(self._clock.describe)

    def configure(self, mode: ClockMode, *, speed: float = 1.0, start: datetime | float | None = None) -> None:
        """As `Clock.configure`: the clock's mode from now on and after every reset."""
        self._handle.call(self._clock.configure, mode, speed=speed, start=start)

    @property
    def failures(self) -> list[BaseException]:
        """Exceptions raised by scheduled callbacks (scenario steps), oldest first."""
        return self._handle.call(lambda: list(self._clock.failures))
