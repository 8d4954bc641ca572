"""`mockserver.strategies.event_sequences` and `feed`: valid payloads, the promised disorder, and shrinking to the
smallest sequence that breaks a handler."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import find, given, settings

from mockserver import load_contract
from mockserver.strategies import Step, event_sequences, feed

contract = load_contract()
SERVICES = sorted({name.rpartition(" ")[0] for name in contract.events()})


@pytest.mark.parametrize("service", SERVICES)
def test_every_payload_is_one_the_server_could_send(service: str) -> None:
    @settings(max_examples=8, deadline=None, database=None)
    @given(event_sequences(service))
    def check(steps: list[Step]) -> None:
        assert steps
        for step in steps:
            assert step.kind in ("event", "reconnect")
            if step.kind == "event":
                assert step.event.rpartition(" ")[0] == service
                assert contract.validate_event(step.event, step.payload) == []

    check()


@settings(max_examples=40, deadline=None, database=None)
@given(event_sequences("traders", duplicates=False, out_of_order=False, orphans=False, reconnects=False))
def test_in_order_lives_are_create_patches_remove_with_newer_updated_at(steps: list[Step]) -> None:
    lives: dict[str, list[Step]] = {}
    for step in steps:
        lives.setdefault(step.payload["_id"], []).append(step)
    for life in lives.values():
        verbs = [step.event.rpartition(" ")[2] for step in life]
        assert verbs[0] == "created"
        assert all(verb == "patched" for verb in verbs[1:-1])
        assert verbs.count("removed") <= 1
        assert "removed" not in verbs or verbs[-1] == "removed"
        stamps = [step.payload["updatedAt"] for step in life if step.event.endswith(" patched")]
        assert stamps == sorted(stamps)
        assert len(set(stamps)) == len(stamps)


def test_the_disorder_switches_are_drawn() -> None:
    seen: Counter[str] = Counter()

    @settings(max_examples=60, deadline=None, database=None, derandomize=True)
    @given(event_sequences("traders"))
    def collect(steps: list[Step]) -> None:
        events = Counter((s.event, repr(s.payload)) for s in steps if s.kind == "event")
        seen["duplicate"] += max(events.values()) > 1
        seen["reconnect"] += any(s.kind == "reconnect" for s in steps)
        seen["orphan"] += steps[0].event == "traders patched"
        seen["removed"] += any(s.event == "traders removed" for s in steps)

    collect()
    assert set(seen) == {"duplicate", "reconnect", "orphan", "removed"}
    assert all(count > 0 for count in seen.values()), seen


def test_a_failure_shrinks_to_the_fewest_steps() -> None:
    """A handler that breaks on a patch for a record it never saw: the smallest failing draw is that one patch
    (messages: small records, so shrinking is quick)."""

    def breaks(steps: list[Step]) -> bool:
        seen: set[str] = set()
        for step in steps:
            if step.event == "messages created":
                seen.add(step.payload["_id"])
            elif step.event == "messages patched" and step.payload["_id"] not in seen:
                return True
        return False

    strategy = event_sequences("messages", records=2, max_patches=2)
    smallest = find(strategy, breaks, settings=settings(database=None, max_examples=300))
    assert [step.event for step in smallest] == ["messages patched"]


def test_feed_calls_the_handler_for_events_and_on_reconnect_for_reconnects() -> None:
    created = {"_id": "a"}
    steps = [Step("event", "traders created", created), Step("reconnect"), Step("event", "traders removed", created)]
    got: list[tuple[str, Any]] = []
    reconnects: list[int] = []
    assert feed(steps, lambda event, payload: got.append((event, payload)), on_reconnect=lambda: reconnects.append(1))
    assert got == [("traders created", created), ("traders removed", created)]
    assert reconnects == [1]
    assert feed(steps, lambda event, payload: None) == 2  # reconnects skipped without on_reconnect


@pytest.mark.parametrize(
    ("service", "kwargs", "message"),
    [
        ("orders", {}, "service must be one of events, exchanges"),
        ("traders", {"records": 0}, "records must be >= 1"),
    ],
)
def test_bad_arguments_are_named(service: str, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        event_sequences(service, **kwargs)
