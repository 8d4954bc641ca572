"""Running a scenario: each step is scheduled on the server's clock and carried out by one small handler.

Steps that need the scripting features other parts of the server provide (faults, forced disconnects, token
expiry, call handlers) reach them by name on the server (`server.faults`, `server.disconnect`, ...); a server
without one refuses the scenario before it starts, naming the step, rather than failing half-way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from mockserver.contract import Scope, service_spec
from mockserver.scripting import Timer
from mockserver.scripting._scenario import Scenario, Step, resolve
from mockserver.server._activity import ActivityOptions
from mockserver.server._core import Caller, Core
from mockserver.server._dispatch import call_method
from mockserver.server._services import Traders, pod_events_of, service_of
from mockserver.synth import Generator

__all__ = ["ScenarioHost", "ScenarioRun", "ScenarioStepError"]

log = logging.getLogger("mockserver.scenario")

STREAMS = ("ticker", "trades", "signals", "messages", "events")  # the scenario names of ActivityOptions' intervals


class ScenarioHost(Protocol):
    """What a scenario needs of the server beyond the core (MockServer provides it)."""

    def emit(
        self, path: str, event: str, payload: Any, *, user_id: str | None = None, validate: bool = True
    ) -> frozenset[str]: ...

    def set_streams(self, options: ActivityOptions | None) -> None: ...

    async def disconnect(
        self, *, email: str | None = None, connection: str | None = None, mode: str = "server"
    ) -> list[str]: ...

    async def expire_tokens(self, email: str | None = None) -> list[str]: ...


class ScenarioStepError(RuntimeError):
    """A step that failed while the scenario ran (the clock keeps it in `clock.failures`)."""


Handler = Callable[["ScenarioRun", Step, Any], Awaitable[Any]]


class ScenarioRun:
    """One scenario scheduled on a server; `await run.wait()` until its last step ran, `cancel()` to drop the rest."""

    def __init__(self, host: ScenarioHost, core: Core, scenario: Scenario, *, seed: int) -> None:
        self.host = host
        self.core = core
        self.scenario = scenario
        self.steps = scenario.steps()
        self.generator = Generator(scenario.seed if scenario.seed is not None else seed)
        self.saved: dict[str, Any] = {}
        self.ran = 0
        self.errors: list[ScenarioStepError] = []
        self._total = sum(1 for step in self.steps for _ in step.times())
        self._timers: list[Timer] = []
        self._done: asyncio.Event | None = None

    def start(self) -> ScenarioRun:
        """Schedule every step from now on (mock time); must run on the server's event loop."""
        self._done = asyncio.Event()
        start = self.core.clock.time()
        if not self._total:
            self._done.set()
        for step in self.steps:
            self._schedule(step, iter(step.times()), start)
        return self

    @property
    def total(self) -> int:
        """How many step runs the scenario holds (an `every` step counts once per time it runs)."""
        return self._total

    @property
    def done(self) -> bool:
        return self._done is not None and self._done.is_set()

    async def wait(self) -> None:
        if self._done is None:
            raise RuntimeError("the scenario is not started")
        await self._done.wait()

    def cancel(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._done is not None:
            self._done.set()

    def _schedule(self, step: Step, times: Any, start: float) -> None:
        when = next(times, None)
        if when is None:
            return

        def fire() -> Awaitable[None]:
            self._schedule(step, times, start)  # the next time of an `every` step
            return self._run(step)

        self._timers.append(self.core.clock.call_at(start + when, fire))

    async def _run(self, step: Step) -> None:
        try:
            await HANDLERS[step.action](self, step, resolve(step.args, self.saved))
        except Exception as exc:
            error = ScenarioStepError(f"{self.scenario.source}: {step.path}.{step.action}: {exc}")
            self.errors.append(error)
            raise error from exc
        finally:
            self.ran += 1
            if self.ran >= self._total and self._done is not None:
                self._done.set()

    # -- helpers of the handlers ---------------------------------------------------------------------------------
    def user(self, email: str) -> dict[str, Any]:
        user = self.core.store.user_by_email(email)
        if user is None:
            raise LookupError(f"no user {email!r} on this server")
        return user

    def save(self, args: Mapping[str, Any], value: Any) -> None:
        if "save" in args:
            self.saved[str(args["save"])] = value

    async def call(self, email: str, service: str, method: str, **kwargs: Any) -> Any:
        """A service call as the user, under the ownership rules a client's call meets."""
        caller = Caller(provider="rest", user=dict(self.user(email)))
        return await call_method(
            self.core.services[service],
            caller,
            method,
            record_id=kwargs.get("id"),
            data=kwargs.get("data"),
            query=kwargs.get("query") or {},
            limits=self.core.options.query_limits,
        )


def _merge(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in overrides.items():
        if isinstance(base.get(key), dict) and isinstance(value, Mapping):
            base[key] = _merge(base[key], value)
        else:
            base[key] = value
    return base


# -- the step handlers ------------------------------------------------------------------------------------------
async def _emit(run: ScenarioRun, step: Step, args: Any) -> None:
    path, _, event = str(args["event"]).rpartition(" ")
    payload = run.generator.event(args["event"])
    user_id = None
    if "user" in args:
        user_id = str(run.user(args["user"])["_id"])
        if isinstance(payload, dict):
            if service_spec(path).scope is Scope.SELF:  # `users patched`: the record is the user
                payload["_id"] = user_id
            elif "userId" in payload:
                payload["userId"] = user_id
    if isinstance(payload, dict):
        _merge(payload, args.get("fields") or {})
    run.host.emit(path, event, payload, user_id=user_id, validate=args.get("validate", True))


async def _insert(run: ScenarioRun, step: Step, args: Any) -> None:
    service = str(args["service"])
    record: dict[str, Any] = run.generator.one(service)
    record["_id"] = run.core.new_id()
    stamp = run.core.clock.iso()
    for name in ("createdAt", "updatedAt"):
        if name in record:
            record[name] = stamp
    if "user" in args:
        record["userId"] = str(run.user(args["user"])["_id"])
    _merge(record, args.get("fields") or {})
    if args.get("validate", True):
        run.core.contract.assert_valid(service, "object", record)
    run.save(args, run.core.services[service].insert(record))


async def _update(run: ScenarioRun, step: Step, args: Any) -> None:
    service, record_id = str(args["service"]), str(args["id"])
    stored = run.core.store.get(service, record_id)
    if stored is None:
        raise LookupError(f"no {service} record {record_id!r}")
    updated = _merge({**stored}, args["fields"])
    if "updatedAt" in updated and "updatedAt" not in args["fields"]:
        updated["updatedAt"] = run.core.clock.iso()
    if args.get("validate", True):
        run.core.contract.assert_valid(service, "object", updated)
    run.core.store.put(service, updated)
    run.core.publish(service, "patched", dict(updated))
    run.save(args, dict(updated))


async def _call(run: ScenarioRun, step: Step, args: Any) -> None:
    result = await run.call(
        args["as"], args["service"], args["method"], id=args.get("id"), data=args.get("data"), query=args.get("query")
    )
    run.save(args, result)


TRADER_CALLS: Mapping[str, tuple[str, dict[str, Any] | None]] = {
    "create": ("create", None),
    "configure": ("patch", None),
    "start": ("patch", {"running": True}),
    "stop": ("patch", {"running": False}),
    "remove": ("remove", None),
}


async def _trader(run: ScenarioRun, step: Step, args: Any) -> None:
    action = args["action"]
    if action == "fail":  # what the pod reports when the bot crashes: status error, then an error pod event
        traders = service_of(run.core, Traders)
        record = run.core.store.get("traders", str(args["id"]))
        if record is None:
            raise LookupError(f"no trader {args['id']!r}")
        failed = traders.save_patch(Caller(provider="server"), {**record, "status": "error", "running": False})
        message = args.get("message") or f"{record['name']} stopped with an error"
        pod_events_of(run.core).record_event(record, "error", message)
        run.save(args, failed)
        return
    method, data = TRADER_CALLS[action]
    body = {**(args.get("data") or {}), **(data or {})}
    result = await run.call(args["as"], "traders", method, id=args.get("id"), data=None if method == "remove" else body)
    run.save(args, result)


async def _streams(run: ScenarioRun, step: Step, args: Any) -> None:
    if args in ("off", False):
        run.host.set_streams(None)
        return
    ticker, trades, signals, messages, events = (float(args.get(name, 0)) for name in STREAMS)
    run.host.set_streams(
        ActivityOptions(
            ticker_interval=ticker,
            trade_interval=trades,
            signal_interval=signals,
            message_interval=messages,
            system_event_interval=events,
        )
    )


async def _clock(run: ScenarioRun, step: Step, args: Any) -> None:
    if args.get("freeze"):
        run.core.clock.freeze()
    else:
        run.core.clock.set_speed(float(args["speed"]))


async def _fault(run: ScenarioRun, step: Step, args: Any) -> None:
    faults = run.core.faults
    if "add" in args:
        run.save(args, faults.add(args["add"]))
    elif "remove" in args:
        faults.remove(args["remove"])
    else:
        faults.clear()


async def _disconnect(run: ScenarioRun, step: Step, args: Any) -> None:
    await run.host.disconnect(
        email=args.get("email"), connection=args.get("connection"), mode=args.get("mode", "server")
    )


async def _expire_tokens(run: ScenarioRun, step: Step, args: Any) -> None:
    await run.host.expire_tokens(email=args.get("email"))


async def _expect(run: ScenarioRun, step: Step, args: Any) -> None:
    run.core.expectations.add(dict(args))


HANDLERS: Mapping[str, Handler] = {
    "emit": _emit,
    "insert": _insert,
    "update": _update,
    "call": _call,
    "trader": _trader,
    "streams": _streams,
    "clock": _clock,
    "fault": _fault,
    "disconnect": _disconnect,
    "expire_tokens": _expire_tokens,
    "expect": _expect,
}
"""One handler per step action (the scenario schema's list)."""
