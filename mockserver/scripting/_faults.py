"""Faults: small rules that make the mock misbehave on purpose, the way a bad network or a bad day would.

A fault matches calls or events by service, method, event name, user (id or email), connection and transport, and
applies one action: delay, drop or fail an ack, close the transport before or after a call is applied, drop,
duplicate or delay an event, or add latency to everything a connection gets. `times`, `after`, `window` and a
seeded `probability` shape when it fires. The transports ask `Faults` which rules fire for a call or an event;
every application is a journal entry.
"""

from __future__ import annotations

import builtins
import itertools
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from mockserver.errors import ERROR_CLASSES, FeathersError
from mockserver.scripting._clock import Clock
from mockserver.scripting._journal import Journal

__all__ = [
    "ACTIONS",
    "CALL_ACTIONS",
    "EVENT_ACTIONS",
    "Applied",
    "Fault",
    "Faults",
    "Target",
    "error_from_json",
    "parse_fault",
]

CALL_ACTIONS: Final = frozenset(
    {"delay-ack", "drop-ack", "error", "disconnect-before-apply", "disconnect-after-apply", "latency"}
)
EVENT_ACTIONS: Final = frozenset({"drop-event", "duplicate-event", "delay-event", "latency"})
ACTIONS: Final = (
    "delay-ack",
    "drop-ack",
    "error",
    "disconnect-before-apply",
    "disconnect-after-apply",
    "drop-event",
    "duplicate-event",
    "delay-event",
    "latency",
)
MATCH_KEYS: Final = ("service", "method", "event", "email", "user", "connection", "transport")
TRANSPORTS: Final = ("websocket", "polling", "rest")
NEEDS_SECONDS: Final = frozenset({"delay-ack", "delay-event", "latency"})
FIELDS: Final = frozenset(
    {"id", "match", "action", "seconds", "jitter", "error", "times", "after", "probability", "window"}
)
ERROR_BY_NAME: Final = {cls.name: cls for cls in ERROR_CLASSES.values()}


def error_from_json(spec: Any) -> FeathersError:
    """A Feathers error from its JSON (`{"name"?, "code"?, "message"?, "data"?, "errors"?}`); ValueError if bad."""
    problems = _error_problems(spec, "error")
    if problems:
        raise ValueError("; ".join(problems))
    cls = ERROR_BY_NAME[spec["name"]] if "name" in spec else ERROR_CLASSES[spec["code"]]
    return cls(spec.get("message"), data=spec.get("data"), errors=spec.get("errors"))


def _error_problems(spec: Any, where: str) -> list[str]:
    if not isinstance(spec, Mapping):
        return [f"{where} must be an object like {{'name': 'NotFound', 'message': '...'}}, got {spec!r}"]
    problems = []
    unknown = sorted(set(spec) - {"name", "code", "message", "data", "errors", "className"})
    if unknown:
        problems.append(f"{where} has unknown field(s) {unknown}")
    name, code = spec.get("name"), spec.get("code")
    if name is None and code is None:
        problems.append(f"{where} needs a name or a code")
    if name is not None and name not in ERROR_BY_NAME:
        problems.append(f"{where}.name {name!r} is not a Feathers error; known: {', '.join(ERROR_BY_NAME)}")
    if code is not None and code not in ERROR_CLASSES:
        problems.append(f"{where}.code {code!r} is not a Feathers error code; known: {sorted(ERROR_CLASSES)}")
    if name in ERROR_BY_NAME and code in ERROR_CLASSES and ERROR_BY_NAME[name].code != code:
        problems.append(f"{where}.name {name!r} has code {ERROR_BY_NAME[name].code}, not {code!r}")
    if "message" in spec and not isinstance(spec["message"], str):
        problems.append(f"{where}.message must be a string")
    return problems


@dataclass(slots=True)
class Fault:
    """One rule; `Faults.add` gives it an id and starts its counters."""

    action: str
    match: dict[str, str] = field(default_factory=dict)
    seconds: float | None = None
    jitter: float = 0.0
    error: dict[str, Any] | None = None
    times: int | None = None
    after: int = 0
    probability: float = 1.0
    window: float | None = None
    id: str = ""
    seen: int = 0  # matches so far
    applied: int = 0
    added_at: float = 0.0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def to_json(self) -> dict[str, Any]:
        """The control API's shape, plus the counters."""
        out: dict[str, Any] = {"id": self.id, "match": dict(self.match), "action": self.action}
        for key in ("seconds", "error", "times", "window"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.jitter:
            out["jitter"] = self.jitter
        if self.after:
            out["after"] = self.after
        if self.probability != 1.0:
            out["probability"] = self.probability
        out["seen"] = self.seen
        out["applied"] = self.applied
        return out

    def feathers_error(self) -> FeathersError:
        assert self.error is not None
        return error_from_json(self.error)


def _number(problems: list[str], spec: Mapping[str, Any], key: str, *, minimum: float, strict: bool) -> float | None:
    value = spec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        problems.append(f"{key} must be a number, got {value!r}")
        return None
    if value < minimum or (strict and value == minimum):
        problems.append(f"{key} must be {'>' if strict else '>='} {minimum}, got {value!r}")
        return None
    return float(value)


def _count(problems: list[str], spec: Mapping[str, Any], key: str, *, minimum: int) -> int | None:
    value = spec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        problems.append(f"{key} must be an integer >= {minimum}, got {value!r}")
        return None
    return value


def parse_fault(obj: Any) -> Fault:
    """A Fault from its JSON shape; a ValueError lists every problem at once."""
    if isinstance(obj, Fault):
        return obj
    if not isinstance(obj, Mapping):
        raise ValueError(f"a fault must be an object with 'match' and 'action', got {obj!r}")
    problems: list[str] = []
    unknown = sorted(set(obj) - FIELDS)
    if unknown:
        problems.append(f"unknown field(s) {unknown}; known: {sorted(FIELDS)}")
    action = obj.get("action")
    if action not in ACTIONS:
        problems.append(f"action must be one of {', '.join(ACTIONS)}, got {action!r}")
    match = obj.get("match", {})
    if not isinstance(match, Mapping):
        problems.append(f"match must be an object, got {match!r}")
        match = {}
    for key, value in match.items():
        if key not in MATCH_KEYS:
            problems.append(f"match.{key} is not a match key; known: {', '.join(MATCH_KEYS)}")
        elif not isinstance(value, str) or not value:
            problems.append(f"match.{key} must be a non-empty string, got {value!r}")
    if match.get("transport") not in (None, *TRANSPORTS):
        problems.append(f"match.transport must be one of {', '.join(TRANSPORTS)}, got {match['transport']!r}")
    seconds = _number(problems, obj, "seconds", minimum=0, strict=False)
    jitter = _number(problems, obj, "jitter", minimum=0, strict=False)
    probability = _number(problems, obj, "probability", minimum=0, strict=True)
    if probability is not None and probability > 1:
        problems.append(f"probability must be <= 1, got {probability!r}")
    window = _number(problems, obj, "window", minimum=0, strict=True)
    times = _count(problems, obj, "times", minimum=1)
    after = _count(problems, obj, "after", minimum=0)
    if action in NEEDS_SECONDS and seconds is None and "seconds" not in obj:
        problems.append(f"action {action!r} needs 'seconds'")
    error = obj.get("error")
    if action == "error":
        problems.extend(_error_problems(error, "error"))
    elif error is not None:
        problems.append(f"'error' only goes with action 'error', not {action!r}")
    fault_id = obj.get("id", "")
    if not isinstance(fault_id, str):
        problems.append(f"id must be a string, got {fault_id!r}")
    if problems:
        raise ValueError("invalid fault: " + "; ".join(problems))
    return Fault(
        action=str(action),
        match=dict(match),
        seconds=seconds,
        jitter=jitter or 0.0,
        error=None if error is None else dict(error),
        times=times,
        after=after or 0,
        probability=1.0 if probability is None else probability,
        window=window,
        id=fault_id,
    )


@dataclass(frozen=True, slots=True)
class Target:
    """What a fault is matched against: one call of a connection, or one event on its way to one connection."""

    connection: str | None
    user: str | None
    service: str | None = None
    method: str | None = None
    event: str | None = None
    transport: str | None = None  # None: ask `Faults.transport_of(connection)` if a rule needs it


@dataclass(frozen=True, slots=True)
class Applied:
    """A fault that fires on a target, with the delay it adds (seconds, jitter included)."""

    fault: Fault
    seconds: float = 0.0

    @property
    def action(self) -> str:
        return self.fault.action


class Faults:
    """The active fault rules of one server. Falsy when empty, so hot paths skip it with one test."""

    def __init__(self, clock: Clock, journal: Journal, *, seed: int = 0) -> None:
        self.clock = clock
        self.journal = journal
        self.seed = seed
        self._faults: builtins.list[Fault] = []
        self._ids = itertools.count(1)
        self.email_of: Callable[[str], str | None] = lambda user: None
        """User id -> email; the server sets it (faults may match by email)."""
        self.transport_of: Callable[[str], str | None] = lambda connection: None
        """Connection id -> "websocket"/"polling"; the server sets it."""

    def __bool__(self) -> bool:
        return bool(self._faults)

    def __len__(self) -> int:
        return len(self._faults)

    def add(self, spec: Mapping[str, Any] | Fault) -> Fault:
        """Add a rule (its JSON shape or a Fault) and return it with its id; ValueError on a bad spec."""
        fault = parse_fault(spec)
        if not fault.id or any(other.id == fault.id for other in self._faults):
            fault.id = f"f{next(self._ids)}"
        fault.seen = fault.applied = 0
        fault.added_at = self.clock.time()
        fault.rng = random.Random(f"{self.seed}:{fault.id}")  # same seed and order -> same pattern
        self._faults.append(fault)
        return fault

    def remove(self, fault_id: str) -> bool:
        before = len(self._faults)
        self._faults = [fault for fault in self._faults if fault.id != fault_id]
        return len(self._faults) != before

    def clear(self) -> None:
        """Remove every rule and restart ids, so a reset server numbers (and rolls) them as a fresh one."""
        self._faults = []
        self._ids = itertools.count(1)

    def list(self) -> builtins.list[Fault]:
        return list(self._faults)

    # -- matching ---------------------------------------------------------------------------------------------
    def for_call(self, target: Target) -> builtins.list[Applied]:
        """The faults that fire on this call, in the order they were added (each one journaled)."""
        return self._fire(target, CALL_ACTIONS)

    def for_event(self, target: Target) -> builtins.list[Applied]:
        """The faults that fire on this event for this recipient."""
        return self._fire(target, EVENT_ACTIONS)

    def may_fire_on_event(self, event: str) -> bool:
        """Whether any event rule could match `event` for some recipient: one check per publish lets the
        publish path skip the per-recipient matching when none can."""
        service = event.rpartition(" ")[0]
        for fault in self._faults:
            if fault.action not in EVENT_ACTIONS:
                continue
            wanted = fault.match.get("event")
            if wanted is not None and event != wanted and not event.endswith(" " + wanted):
                continue
            wanted = fault.match.get("service")
            if wanted is not None and service != wanted.strip("/"):
                continue
            if "method" in fault.match:
                continue  # events have no method
            return True
        return False

    def _fire(self, target: Target, actions: frozenset[str]) -> builtins.list[Applied]:
        fired: builtins.list[Applied] = []
        now = self.clock.time()
        for fault in list(self._faults):
            if fault.action not in actions:
                continue
            if fault.window is not None and now >= fault.added_at + fault.window:
                self.remove(fault.id)
                continue
            if not self._matches(fault.match, target):
                continue
            fault.seen += 1
            if fault.seen <= fault.after:
                continue
            if fault.probability < 1.0 and fault.rng.random() >= fault.probability:
                continue
            fault.applied += 1
            if fault.times is not None and fault.applied >= fault.times:
                self.remove(fault.id)
            applied = Applied(fault, self._delay(fault))
            fired.append(applied)
            self._journal(applied, target)
        return fired

    def _delay(self, fault: Fault) -> float:
        if fault.seconds is None or fault.action not in NEEDS_SECONDS:
            return 0.0
        if not fault.jitter:
            return fault.seconds
        return max(0.0, fault.seconds + fault.rng.uniform(-fault.jitter, fault.jitter))

    def _matches(self, match: Mapping[str, str], target: Target) -> bool:
        for key, wanted in match.items():
            if key == "service":
                if target.service != wanted.strip("/"):
                    return False
            elif key == "method":
                if target.method != wanted:
                    return False
            elif key == "event":
                name = target.event
                if name is None or (name != wanted and not name.endswith(" " + wanted)):
                    return False
            elif key == "user":
                if target.user != wanted:
                    return False
            elif key == "email":
                email = None if target.user is None else self.email_of(target.user)
                if email is None or email.casefold() != wanted.casefold():
                    return False
            elif key == "connection":
                if target.connection != wanted:
                    return False
            elif key == "transport":
                transport = target.transport
                if transport is None and target.connection is not None:
                    transport = self.transport_of(target.connection)
                if transport != wanted:
                    return False
        return True

    def _journal(self, applied: Applied, target: Target) -> None:
        fault = applied.fault
        fields: dict[str, Any] = {"fault": fault.id, "action": fault.action, "service": target.service}
        if target.method is not None:
            fields["method"] = target.method
        if target.event is not None:
            fields["event"] = target.event
        if applied.seconds:
            fields["seconds"] = applied.seconds
        if fault.action == "error" and fault.error is not None:
            fields["error"] = fault.error
        email = None if target.user is None else self.email_of(target.user)
        self.journal.record("fault", connection=target.connection, user=target.user, email=email, **fields)
