"""Faults without a server: parsing, matching, lifetimes, seeded probability and jitter, windows on mock time."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from mockserver.errors import TooManyRequests
from mockserver.scripting import Clock, Expectations, Faults, Journal, Target, error_from_json, parse_fault


def make(seed: int = 7) -> tuple[Faults, Journal, Clock]:
    clock = Clock("manual")
    journal = Journal(clock)
    faults = Faults(clock, journal, seed=seed)
    faults.email_of = {"u1": "Ann@Example.com", "u2": "bob@example.com"}.get
    faults.transport_of = {"s1": "websocket", "s2": "polling"}.get
    return faults, journal, clock


def call(connection: str = "s1", user: str | None = "u1", **fields: Any) -> Target:
    return Target(connection, user, **{"service": "traders", "method": "patch", **fields})


def test_parse_fault_accepts_the_control_api_shape_and_round_trips() -> None:
    spec = {
        "match": {"service": "traders", "method": "patch", "email": "ann@example.com"},
        "action": "delay-ack",
        "seconds": 2,
        "jitter": 0.5,
        "times": 3,
        "after": 1,
        "probability": 0.5,
        "window": 60,
    }
    faults, _, _ = make()
    fault = faults.add(spec)
    shown = fault.to_json()
    assert shown["id"] == "f1"
    assert {key: shown[key] for key in spec} == spec
    assert json.loads(json.dumps(shown)) == shown
    again = faults.add({key: value for key, value in shown.items() if key not in ("seen", "applied")})
    assert again.id == "f2"  # an id in use is replaced


@pytest.mark.parametrize(
    ("spec", "problems"),
    [
        ("drop-ack", ["must be an object"]),
        ({"action": "delay-ack"}, ["needs 'seconds'"]),
        ({"action": "error"}, ["error must be an object"]),
        (
            {"action": "error", "error": {"name": "Nope", "code": 999}},
            ["not a Feathers error", "not a Feathers error code"],
        ),
        ({"action": "error", "error": {"name": "NotFound", "code": 400}}, ["has code 404"]),
        (
            {
                "action": "drop-event",
                "match": {"service": 3, "who": "x", "transport": "pigeon"},
                "after": -1,
                "window": 0,
                "jitter": -1,
                "error": {},
                "extra": 1,
            },
            [
                "match.service",
                "match.who",
                "match.transport",
                "after must be",
                "window must be > 0",
                "jitter must be",
                "'error' only goes with",
                "unknown field",
            ],
        ),
    ],
)
def test_parse_fault_lists_every_problem(spec: Any, problems: list[str]) -> None:
    with pytest.raises(ValueError, match="fault") as bad:
        parse_fault(spec)
    for problem in problems:
        assert problem in str(bad.value)


def test_matching_by_each_key() -> None:
    faults, _, _ = make()
    cases = {
        "service": ({"service": "/traders"}, call(), call(service="strategies")),
        "method": ({"method": "patch"}, call(), call(method="find")),
        "event short": ({"event": "patched"}, call(event="traders patched"), call(event="traders created")),
        "event full": ({"event": "traders patched"}, call(event="traders patched"), call(event="trades patched")),
        "email": ({"email": "ann@example.com"}, call(), call(user="u2")),
        "user": ({"user": "u2"}, call(user="u2"), call(user=None)),
        "connection": ({"connection": "s2"}, call(connection="s2"), call()),
        "transport": ({"transport": "polling"}, call(connection="s2"), call()),
        "rest": ({"transport": "rest"}, call(connection=None, transport="rest"), call()),
    }
    for name, (match, hit, miss) in cases.items():
        faults.clear()
        faults.add({"match": match, "action": "drop-ack"})
        assert [a.action for a in faults.for_call(hit)] == ["drop-ack"], name
        assert faults.for_call(miss) == [], name


def test_call_and_event_actions_apply_to_their_own_kind_and_latency_to_both() -> None:
    faults, _, _ = make()
    faults.add({"action": "drop-event"})
    faults.add({"action": "error", "error": {"code": 500}})
    faults.add({"action": "latency", "seconds": 0.5})
    assert [a.action for a in faults.for_call(call())] == ["error", "latency"]
    assert [a.action for a in faults.for_event(call(event="traders patched"))] == ["drop-event", "latency"]


def test_times_after_and_window_retire_rules() -> None:
    faults, _, clock = make()
    faults.add({"action": "drop-ack", "times": 2, "after": 1})
    pattern = [bool(faults.for_call(call())) for _ in range(5)]
    assert pattern == [False, True, True, False, False]
    assert len(faults) == 0

    faults.add({"action": "drop-event", "window": 10})
    assert faults.for_event(call(event="traders patched"))
    asyncio.run(clock.advance(10))
    assert faults.for_event(call(event="traders patched")) == []
    assert not faults


def seeded_pattern(seed: int) -> list[tuple[bool, float]]:
    faults, _, _ = make(seed)
    faults.add({"action": "delay-ack", "seconds": 1, "jitter": 0.5, "probability": 0.5})
    out = []
    for _ in range(40):
        fired = faults.for_call(call())
        out.append((bool(fired), fired[0].seconds if fired else 0.0))
    return out


def test_probability_and_jitter_are_seeded() -> None:
    first = seeded_pattern(1)
    assert first == seeded_pattern(1)
    assert first != seeded_pattern(2)
    hits = [seconds for fired, seconds in first if fired]
    assert 5 < len(hits) < 35
    assert all(0.5 <= seconds <= 1.5 for seconds in hits)
    assert len(set(hits)) > 1


def test_every_application_is_a_journal_entry() -> None:
    faults, journal, _ = make()
    faults.add({"match": {"method": "patch"}, "action": "error", "error": {"name": "NotFound", "message": "x"}})
    faults.add({"action": "delay-ack", "seconds": 2})
    faults.for_call(call())
    faults.for_call(call(method="find"))
    entries = journal.entries("fault")
    assert [(e["fault"], e["action"], e["method"]) for e in entries] == [
        ("f1", "error", "patch"),
        ("f2", "delay-ack", "patch"),
        ("f2", "delay-ack", "find"),
    ]
    assert entries[0]["email"] == "Ann@Example.com"
    assert entries[0]["connection"] == "s1"
    assert entries[1]["seconds"] == 2


def test_error_from_json_builds_the_feathers_error() -> None:
    error = error_from_json({"name": "TooManyRequests", "message": "slow", "data": {"retryAfter": 3}})
    assert isinstance(error, TooManyRequests)
    assert error.to_json() == {
        "name": "TooManyRequests",
        "message": "slow",
        "code": 429,
        "className": "too-many-requests",
        "data": {"retryAfter": 3},
    }
    assert error_from_json({"code": 404}).name == "NotFound"


def test_expectations_lifetimes_without_a_server() -> None:
    expectations = Expectations()
    once = expectations.expect("traders", "get", times=1).respond("once")
    always = expectations.expect("traders", "get").respond("always")
    narrow = expectations.expect("traders", "get", matching={"id": "t9"}, times=2).fail({"code": 404})
    get = {"service": "traders", "method": "get", "id": "t1"}
    assert expectations.answer(get) is once
    assert expectations.answer(get) is always
    assert expectations.answer({**get, "id": "t9"}) is narrow
    assert expectations.answer({**get, "method": "find"}) is None
    assert [e.id for e in expectations.pending()] == [narrow.id]
    with pytest.raises(ValueError, match="times"):
        expectations.expect("traders", times=0)
    assert expectations.add({"match": {"service": "traders"}, "error": {"code": 409}}).to_json()["error"]["code"] == 409
