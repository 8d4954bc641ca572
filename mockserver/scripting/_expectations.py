"""Call handlers: answer a given call with a given result or error once, always, or in order.

Expectation + lifetime + responder, as pytest-httpserver has them (oneshot, permanent, ordered). The transports ask
`Expectations.answer(call)` before running a method; the same objects serve Python tests (`server.expect`),
scenario files and the control panel (`expectations.add(dict)`).
"""

from __future__ import annotations

import builtins
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from mockserver.errors import FeathersError, GeneralError
from mockserver.scripting._faults import error_from_json
from mockserver.scripting._journal import matches

__all__ = ["Expectation", "Expectations", "parse_expectation"]

CALL_FIELDS: Final = ("id", "data", "query", "user", "email", "connection", "transport")
SPEC_FIELDS: Final = frozenset({"id", "match", "respond", "error", "times", "ordered"})
_UNSET: Final = object()

Matching = Mapping[str, Any] | Callable[[dict[str, Any]], bool]


@dataclass(slots=True, eq=False)
class Expectation:
    """Calls of `service`.`method` that contain `matching` (a subset of {id, data, query, user, email,
    connection, transport}, or a predicate of that dict) get `respond(...)`'s result or `fail(...)`'s error.

    `times=None` answers for ever; `times=N` answers N calls, then retires; `ordered=True` joins a queue whose
    head alone may answer (a call that fits a later one answers an error and is listed in `failures`).
    """

    service: str
    method: str | None = None
    matching: Matching | None = None
    times: int | None = None
    ordered: bool = False
    id: str = ""
    calls: int = 0
    _result: Any = field(default=_UNSET, repr=False)
    _error: FeathersError | None = field(default=None, repr=False)

    def respond(self, result: Any) -> Expectation:
        """Answer with `result` (a callable gets the call dict and returns the result)."""
        self._result, self._error = result, None
        return self

    def fail(self, error: Mapping[str, Any] | FeathersError) -> Expectation:
        """Answer with a Feathers error (its JSON `{"name", "message", ...}` or a FeathersError)."""
        self._error = error if isinstance(error, FeathersError) else error_from_json(error)
        self._result = _UNSET
        return self

    @property
    def ready(self) -> bool:
        return self._error is not None or self._result is not _UNSET

    @property
    def remaining(self) -> int | None:
        return None if self.times is None else max(0, self.times - self.calls)

    def fits(self, call: Mapping[str, Any]) -> bool:
        if call.get("service") != self.service or (self.method is not None and call.get("method") != self.method):
            return False
        if self.matching is None:
            return True
        if callable(self.matching):
            return bool(self.matching(dict(call)))
        return matches(call, self.matching)

    def reply(self, call: Mapping[str, Any]) -> Any:
        """The result for `call`, or raise the error."""
        if self._error is not None:
            raise self._error
        if callable(self._result):
            return self._result(dict(call))
        return self._result

    def to_json(self) -> dict[str, Any]:
        match: dict[str, Any] = {"service": self.service}
        if self.method is not None:
            match["method"] = self.method
        if isinstance(self.matching, Mapping):
            match.update(self.matching)
        elif self.matching is not None:
            match["predicate"] = repr(self.matching)
        out: dict[str, Any] = {"id": self.id, "match": match}
        if self._error is not None:
            out["error"] = self._error.to_json()
        elif self._result is not _UNSET:
            out["respond"] = repr(self._result) if callable(self._result) else self._result
        out.update(times=self.times, ordered=self.ordered, calls=self.calls)
        return out


def parse_expectation(obj: Any) -> Expectation:
    """An Expectation from `{"match": {"service", "method"?, ...}, "respond"?: any, "error"?: {...}, "times"?,
    "ordered"?}`; a ValueError lists every problem."""
    if not isinstance(obj, Mapping):
        raise ValueError(f"a call handler must be an object with 'match' and 'respond' or 'error', got {obj!r}")
    problems: list[str] = []
    unknown = sorted(set(obj) - SPEC_FIELDS)
    if unknown:
        problems.append(f"unknown field(s) {unknown}; known: {sorted(SPEC_FIELDS)}")
    match = obj.get("match")
    if not isinstance(match, Mapping) or not isinstance(match.get("service"), str):
        problems.append("match must be an object with at least 'service' (and usually 'method')")
        match = {}
    else:
        extra = sorted(set(match) - {"service", "method", *CALL_FIELDS})
        if extra:
            problems.append(f"match has unknown key(s) {extra}; known: service, method, {', '.join(CALL_FIELDS)}")
    if ("respond" in obj) == ("error" in obj):
        problems.append("give exactly one of 'respond' (a result) and 'error' (a Feathers error object)")
    error = None
    if "error" in obj:
        try:
            error = error_from_json(obj["error"])
        except ValueError as bad:
            problems.append(str(bad))
    times = obj.get("times")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        problems.append(f"times must be an integer >= 1 or null (permanent), got {times!r}")
    ordered = obj.get("ordered", False)
    if not isinstance(ordered, bool):
        problems.append(f"ordered must be true or false, got {ordered!r}")
    if problems:
        raise ValueError("invalid call handler: " + "; ".join(problems))
    matching = {key: value for key, value in match.items() if key not in ("service", "method")}
    expectation = Expectation(
        service=str(match["service"]).strip("/"),
        method=match.get("method"),
        matching=matching or None,
        times=1 if ordered and times is None else times,
        ordered=ordered,
        id=str(obj.get("id", "")),
    )
    return expectation.fail(error) if error is not None else expectation.respond(obj["respond"])


class Expectations:
    """The call handlers of one server, consulted ordered first, then those with a count, then permanent ones."""

    def __init__(self) -> None:
        self._items: builtins.list[Expectation] = []
        self._ids = itertools.count(1)
        self.failures: builtins.list[str] = []
        """Calls that came out of order, for a test to check (`assert not server.expectations.failures`)."""

    def __bool__(self) -> bool:
        return bool(self._items)

    def expect(
        self,
        service: str,
        method: str | None = None,
        *,
        matching: Matching | None = None,
        times: int | None = None,
        ordered: bool = False,
    ) -> Expectation:
        if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
            raise ValueError(f"times must be an int >= 1 or None (permanent), got {times!r}")
        expectation = Expectation(
            service=service.strip("/"),
            method=method,
            matching=matching,
            times=1 if ordered and times is None else times,
            ordered=ordered,
        )
        return self._register(expectation)

    def add(self, spec: Mapping[str, Any] | Expectation) -> Expectation:
        return self._register(spec if isinstance(spec, Expectation) else parse_expectation(spec))

    def _register(self, expectation: Expectation) -> Expectation:
        if not expectation.id or any(item.id == expectation.id for item in self._items):
            expectation.id = f"e{next(self._ids)}"
        self._items.append(expectation)
        return expectation

    def remove(self, expectation_id: str) -> bool:
        before = len(self._items)
        self._items = [item for item in self._items if item.id != expectation_id]
        return len(self._items) != before

    def clear(self) -> None:
        self._items = []
        self._ids = itertools.count(1)
        self.failures = []

    def list(self) -> builtins.list[Expectation]:
        return list(self._items)

    def pending(self) -> builtins.list[Expectation]:
        """Handlers with a count that have not answered all their calls yet."""
        return [item for item in self._items if item.times is not None and item.ready]

    def answer(self, call: Mapping[str, Any]) -> Expectation | None:
        """The handler that answers `call` ({service, method, id, data, query, user, email, connection,
        transport}), counted; None lets the service answer."""
        ready = [item for item in self._items if item.ready]
        ordered = [item for item in ready if item.ordered]
        if ordered:
            head = ordered[0]
            if head.fits(call):
                return self._use(head)
            late = next((item for item in ordered[1:] if item.fits(call)), None)
            if late is not None:
                message = (
                    f"call {call.get('service')}.{call.get('method')} came out of order: the next ordered handler "
                    f"expects {head.service}.{head.method or '*'}"
                )
                self.failures.append(message)
                return Expectation(service=late.service, method=late.method, id=late.id).fail(GeneralError(message))
        for item in ready:
            if not item.ordered and item.times is not None and item.fits(call):
                return self._use(item)
        for item in ready:
            if item.times is None and item.fits(call):
                return self._use(item)
        return None

    def _use(self, item: Expectation) -> Expectation:
        item.calls += 1
        if item.times is not None and item.calls >= item.times:
            self._items.remove(item)
        return item
