"""Event sequences a client's handler must survive: create -> patch -> remove lives of records, with duplicated
events, patches arriving out of order, events for records never created, and reconnects in between.

Every payload is valid for its event's schema (the server would send it), so a handler that breaks on a draw has a
bug, and hypothesis shrinks the draw to the fewest, simplest steps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from hypothesis import strategies as st

from mockserver.contract import Contract, default_contract

__all__ = ["Step", "event_sequences", "feed"]

IDENTITY = ("_id", "userId", "createdAt")


class Step(NamedTuple):
    """One step of a sequence: an event (`kind="event"`, `event` like "traders patched", its `payload`) or a
    dropped connection the client must recover from (`kind="reconnect"`)."""

    kind: str
    event: str = ""
    payload: Any = None


def event_sequences(
    service: str,
    *,
    records: int = 3,
    max_patches: int = 4,
    duplicates: bool = True,
    out_of_order: bool = True,
    orphans: bool = True,
    reconnects: bool = True,
    contract: Contract | None = None,
) -> st.SearchStrategy[list[Step]]:
    """Lists of `Step`s for `service`'s events: up to `records` records, each created, patched up to
    `max_patches` times (each patch a newer `updatedAt`) and maybe removed, the lives interleaved. Switches add
    the disorder a real connection shows: an event twice, patches swapped, a patch or remove for a record the
    client never saw created, reconnect steps."""
    contract = contract or default_contract()
    names = [name for name in contract.events() if name.rpartition(" ")[0] == service]
    if not names:
        services = sorted({name.rpartition(" ")[0] for name in contract.events()})
        raise ValueError(f"service must be one of {', '.join(services)} (the services with events); got {service!r}")
    verbs = {name.rpartition(" ")[2] for name in names}
    if records < 1 or max_patches < 0:
        raise ValueError("records must be >= 1 and max_patches >= 0")

    from mockserver import strategies  # the module's own record strategies (imported late: it imports us)

    base = strategies.event(f"{service} created" if "created" in verbs else names[0])
    variant = strategies.event(f"{service} patched") if "patched" in verbs else base

    def shaped(draw: st.DrawFn, name: str, candidate: dict[str, Any]) -> Any:
        """`candidate` if its event's schema takes it, else the part the schema takes (a removed event may carry
        the id only), else a fresh payload with the record's id."""
        if not contract.validate_event(name, candidate):
            return candidate
        known = contract.resolved_schema(*contract.event_kind(name)).get("properties", {})
        projected = {key: value for key, value in candidate.items() if key in known}
        if not contract.validate_event(name, projected):
            return projected
        fresh = draw(strategies.event(name))
        if isinstance(fresh, dict) and "_id" in candidate:
            with_id = {**fresh, "_id": candidate["_id"]}
            if not contract.validate_event(name, with_id):
                return with_id
        return fresh

    @st.composite
    def life(draw: st.DrawFn) -> list[Step]:
        # The switches are drawn first, so shrinking the number of patches leaves them as they were.
        orphan = orphans and "created" in verbs and draw(st.booleans())
        remove = "removed" in verbs and draw(st.booleans())
        record = draw(base)
        steps = []
        if "created" in verbs:
            steps.append(Step("event", f"{service} created", record))
        if "patched" in verbs:
            least = 0 if "created" in verbs or max_patches == 0 else 1  # a life of a patched-only event is not empty
            count = draw(st.integers(least, max_patches))
            other = draw(variant) if count else {}  # one other record per life: patches take fields from it
            fields = sorted(set(other) - set(IDENTITY) - {"updatedAt"})
            current = dict(record)
            for n in range(count):
                chosen = draw(st.lists(st.sampled_from(fields), max_size=3, unique=True)) if fields else []
                current = {**current, **{key: other[key] for key in chosen}}
                changed = dict(current)
                if "updatedAt" in record:
                    changed["updatedAt"] = _later(record.get("createdAt") or record["updatedAt"], n + 1)
                steps.append(Step("event", f"{service} patched", shaped(draw, f"{service} patched", changed)))
        if remove:
            last = steps[-1].payload if steps else record
            steps.append(Step("event", f"{service} removed", shaped(draw, f"{service} removed", last)))
        if orphan and len(steps) > 1:
            steps = steps[1:]  # the client never saw this record created
        return steps

    @st.composite
    def sequence(draw: st.DrawFn) -> list[Step]:
        lives = draw(st.lists(life(), min_size=1, max_size=records, unique_by=_record_id))
        merged: list[Step] = []
        queues = [list(steps) for steps in lives if steps]
        while queues:  # interleave the lives, keeping each one's own order
            queue = queues[draw(st.integers(0, len(queues) - 1))]
            merged.append(queue.pop(0))
            queues = [q for q in queues if q]
        if out_of_order and len(merged) > 1 and draw(st.booleans()):
            i = draw(st.integers(0, len(merged) - 2))
            merged[i], merged[i + 1] = merged[i + 1], merged[i]
        if duplicates and len(merged) > 0 and draw(st.booleans()):
            i = draw(st.integers(0, len(merged) - 1))
            merged.insert(i + 1, merged[i])
        if reconnects and draw(st.booleans()):
            for _ in range(draw(st.integers(1, 3))):
                merged.insert(draw(st.integers(0, len(merged))), Step("reconnect"))
        return merged

    return sequence()


def _record_id(steps: list[Step]) -> str:
    """Lives of one sequence are of different records (a repeat is the `duplicates` switch's job)."""
    return repr(steps[0].payload.get("_id")) if steps and isinstance(steps[0].payload, dict) else repr(steps)


def _later(stamp: str, seconds: int) -> str:
    start = datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC)
    return (start + timedelta(seconds=seconds)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def feed(
    steps: Iterable[Step],
    handler: Callable[[str, Any], object],
    *,
    on_reconnect: Callable[[], object] | None = None,
) -> int:
    """Call `handler(event, payload)` for every event step (and `on_reconnect()` for every reconnect step, if
    given); returns the events fed. For a live client, the pytest plugin's `cryptorobot_mock.feed(steps)` sends
    them through the running mock instead."""
    fed = 0
    for step in steps:
        if step.kind == "reconnect":
            if on_reconnect is not None:
                on_reconnect()
            continue
        handler(step.event, step.payload)
        fed += 1
    return fed
