"""The journal: what happened on the wire, in order, for tests to assert on and for tools to watch.

One entry per connect, call, ack, event, disconnect, applied fault, contract violation and REST exchange. Entries are
plain JSON-serialisable dicts with `seq`, `time` (ISO, mock clock), `t` (mock POSIX seconds), `kind`,
`connection`, `user` and `email`, plus fields of their kind. The journal is bounded (oldest entries dropped), so a
day of `serve` stays small, and it can be switched off for benchmarks.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from mockserver.scripting._clock import Clock

__all__ = ["KINDS", "Journal", "JournalAssertionError", "matches", "redact"]

KINDS: Final = ("connect", "call", "ack", "event", "disconnect", "fault", "violation", "rest")
DEFAULT_LIMIT: Final = 100_000
SECRET_KEYS: Final = frozenset({"password", "accessToken", "secret", "key", "apiKey", "authorization"})
REDACTED: Final = "***"
NEAREST: Final = 5  # entries an assertion failure shows

log = logging.getLogger("mockserver.journal")

Subscriber = Callable[[dict[str, Any]], object]


MAX_DEPTH: Final = 64
"""Levels of a payload the journal keeps; deeper parts become TRUNCATED, so an entry always serialises (a hostile
client may send values nested hundreds deep, which the server then refuses)."""
TRUNCATED: Final = f"<nested deeper than {MAX_DEPTH} levels>"


def redact(value: Any, _depth: int = 0) -> Any:
    """A copy of `value` with passwords, access tokens and API key secrets replaced by `***`, cut at MAX_DEPTH
    levels (only the parts that change are copied)."""
    if isinstance(value, Mapping | list) and _depth >= MAX_DEPTH:
        return TRUNCATED
    if isinstance(value, Mapping):
        changed = False
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in SECRET_KEYS and isinstance(item, str):
                out[key] = REDACTED
                changed = True
            else:
                new = redact(item, _depth + 1)
                changed = changed or new is not item
                out[key] = new
        return out if changed else value
    if isinstance(value, list):
        items = [redact(item, _depth + 1) for item in value]
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    return value


def matches(actual: Any, expected: Any) -> bool:
    """`expected` is contained in `actual`: dicts by subset (recursively), anything else by equality."""
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return False
        return all(key in actual and matches(actual[key], item) for key, item in expected.items())
    return bool(actual == expected)


class JournalAssertionError(AssertionError):
    """A journal assertion failed; the message shows what was expected and the nearest entries."""

    def __init__(self, message: str, *, expected: dict[str, Any], nearest: list[dict[str, Any]]) -> None:
        self.expected = expected
        self.nearest = nearest
        shown = "\n".join("  " + json.dumps(entry, default=str)[:400] for entry in nearest) or "  (none)"
        super().__init__(f"{message}\nnearest journal entries:\n{shown}")


class Journal:
    """A bounded, filterable log of wire activity; `record` is cheap, and a no-op when disabled."""

    def __init__(self, clock: Clock, *, enabled: bool = True, limit: int = DEFAULT_LIMIT) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be an int >= 1, got {limit!r}")
        self.clock = clock
        self.enabled = enabled
        self.limit = limit
        self._entries: deque[dict[str, Any]] = deque(maxlen=limit)
        self._seq = itertools.count(1)
        self._subscribers: list[Subscriber] = []
        self._second = -1
        self._prefix = ""
        self.who: dict[str, tuple[str | None, str | None]] = {}
        """connection id -> (user id, email) as last identified; lets `assert_emitted(to=email)` read event
        entries, which name connections only."""

    def __len__(self) -> int:
        return len(self._entries)

    def record(
        self,
        kind: str,
        /,
        *,
        connection: str | None = None,
        user: str | None = None,
        email: str | None = None,
        **fields: Any,
    ) -> dict[str, Any] | None:
        """Append one entry (None when the journal is off) and hand it to the subscribers."""
        if not self.enabled:
            return None
        t = self.clock.time()
        second = int(t // 1)
        if second != self._second:  # format the date and time once per mock second, then add milliseconds
            self._second = second
            self._prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        if connection is not None and user is None:
            user, email = self.who.get(connection, (None, None))
        entry = {
            "seq": next(self._seq),
            "time": f"{self._prefix}{min(int((t - second) * 1000), 999):03d}Z",
            "t": t,
            "kind": kind,
            "connection": connection,
            "user": user,
            "email": email,
            **fields,
        }
        self._entries.append(entry)
        for subscriber in tuple(self._subscribers):
            try:
                subscriber(entry)
            except Exception:  # a broken listener (a panel, a tape) must not break the call that is journaled
                log.exception("journal subscriber %r failed; unsubscribing it", subscriber)
                self._subscribers.remove(subscriber)
        return entry

    def identify(self, connection: str, user: str | None, email: str | None) -> None:
        """Connection `connection` is now `user` (login) or anonymous again (None, logout)."""
        if user is None:
            self.who.pop(connection, None)
        else:
            self.who[connection] = (user, email)

    def clear(self) -> None:
        self._entries.clear()
        self._seq = itertools.count(1)
        self.who.clear()

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call `callback(entry)` for every new entry; returns the function that stops it."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    # -- reading ----------------------------------------------------------------------------------------------
    def entries(
        self,
        kind: str | Iterable[str] | None = None,
        *,
        user: str | None = None,
        email: str | None = None,
        connection: str | None = None,
        service: str | None = None,
        method: str | None = None,
        event: str | None = None,
        since: int | float | str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Entries in order, filtered. `since` is a sequence number (int: entries after it), mock POSIX seconds
        (float) or an ISO time; `limit` keeps the newest N."""
        kinds = None if kind is None else ({kind} if isinstance(kind, str) else set(kind))
        if kinds is not None and not kinds <= set(KINDS):
            raise ValueError(f"unknown kind(s) {sorted(kinds - set(KINDS))}; known: {', '.join(KINDS)}")
        after_seq, after_t = _since(since)
        folded = None if email is None else email.casefold()
        out = []
        for entry in self._entries:
            if entry["seq"] <= after_seq or entry["t"] < after_t:
                continue
            if kinds is not None and entry["kind"] not in kinds:
                continue
            if user is not None and entry["user"] != user and not self._reached(entry, user=user):
                continue
            if (
                folded is not None
                and (entry["email"] or "").casefold() != folded
                and not self._reached(entry, email=folded)
            ):
                continue
            if connection is not None and entry["connection"] != connection and connection not in entry.get("to", ()):
                continue
            if service is not None and entry.get("service") != service:
                continue
            if method is not None and entry.get("method") != method:
                continue
            if event is not None and entry.get("event") != event:
                continue
            out.append(entry)
        return out if limit is None else out[-limit:] if limit > 0 else []

    def _reached(self, entry: dict[str, Any], *, user: str | None = None, email: str | None = None) -> bool:
        """An event entry that reached a connection of `user` / `email` (casefolded)."""
        if entry["kind"] != "event":
            return False
        for sid in entry.get("to", ()):
            who_user, who_email = self.who.get(sid, (None, None))
            if user is not None and who_user == user:
                return True
            if email is not None and who_email is not None and who_email.casefold() == email:
                return True
        return False

    # -- assertions -------------------------------------------------------------------------------------------
    def assert_called(
        self,
        service: str,
        method: str | None = None,
        *,
        matching: Mapping[str, Any] | Callable[[dict[str, Any]], bool] | None = None,
        times: int | None = None,
        email: str | None = None,
    ) -> list[dict[str, Any]]:
        """At least one call (exactly `times`, if given) of `service`.`method` whose entry contains `matching`
        (a subset of id/data/query/... or a predicate); returns the matching call entries."""
        calls = self.entries("call", service=service, method=method, email=email)
        found = [entry for entry in calls if _fits(entry, matching)]
        expected = {"kind": "call", "service": service, "method": method, "email": email, "times": times}
        if (times is None and not found) or (times is not None and len(found) != times):
            what = f"{service}.{method or '*'}" + ("" if matching is None else f" matching {matching!r}")
            count = "no" if not found else str(len(found))
            raise JournalAssertionError(
                f"expected {'a' if times is None else times} call(s) of {what}, found {count}",
                expected={**expected, "matching": repr(matching)},
                nearest=self._nearest(calls or self.entries("call"), found),
            )
        return found

    def assert_emitted(
        self,
        event: str,
        *,
        to: str | None = None,
        matching: Mapping[str, Any] | Callable[[dict[str, Any]], bool] | None = None,
    ) -> list[dict[str, Any]]:
        """At least one `event` (e.g. "traders patched") that reached a connection of `to` (an email) and whose
        entry contains `matching` (e.g. {"payload": {"status": "running"}}); returns the entries."""
        found = self._emitted(event, to, matching)
        if not found:
            target = "" if to is None else f" to {to}"
            raise JournalAssertionError(
                f"expected event {event!r}{target}" + ("" if matching is None else f" matching {matching!r}"),
                expected={"kind": "event", "event": event, "to": to, "matching": repr(matching)},
                nearest=self._nearest(self.entries("event", event=event) or self.entries("event"), []),
            )
        return found

    def assert_not_emitted(
        self,
        event: str,
        *,
        to: str | None = None,
        matching: Mapping[str, Any] | Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        found = self._emitted(event, to, matching)
        if found:
            target = "" if to is None else f" to {to}"
            raise JournalAssertionError(
                f"expected no event {event!r}{target}, found {len(found)}",
                expected={"kind": "event", "event": event, "to": to, "matching": repr(matching)},
                nearest=found[-NEAREST:],
            )

    def _emitted(
        self, event: str, to: str | None, matching: Mapping[str, Any] | Callable[[dict[str, Any]], bool] | None
    ) -> list[dict[str, Any]]:
        entries = self.entries("event", event=event, email=to)
        return [entry for entry in entries if _fits(entry, matching)]

    @staticmethod
    def _nearest(candidates: list[dict[str, Any]], found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return (found or candidates)[-NEAREST:]


def _fits(entry: dict[str, Any], matching: Mapping[str, Any] | Callable[[dict[str, Any]], bool] | None) -> bool:
    if matching is None:
        return True
    if callable(matching):
        return bool(matching(entry))
    return matches(entry, matching)


def _since(since: int | float | str | None) -> tuple[int, float]:
    """(sequence number, mock POSIX seconds) an entry must exceed / reach."""
    if since is None:
        return 0, float("-inf")
    if isinstance(since, bool):
        raise ValueError(f"since must be a sequence number, POSIX seconds or an ISO time, got {since!r}")
    if isinstance(since, int):
        return since, float("-inf")
    if isinstance(since, float):
        return 0, since
    try:
        parsed = datetime.fromisoformat(since.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"since must be a sequence number, POSIX seconds or an ISO time, got {since!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return 0, parsed.timestamp()
