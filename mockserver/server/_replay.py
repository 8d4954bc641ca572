"""Replaying a tape: its events go to the connected, authenticated clients in the recorded order, with the recorded
timing scaled, timestamps moved to now and (on a loop) fresh ids, so a frontend sees a server that looks live.

Frames go through the normal publish path with the audience each event would have (channels apply), and the
timing runs on the server's clock, so a manual clock replays a tape deterministically.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from typing import Any

from mockserver.contract import Contract
from mockserver.scripting import Timer
from mockserver.scripting._tape import Frame, Tape, created_ids, reanchor, replace_ids, schema_version
from mockserver.server._channels import Audience
from mockserver.server._core import Core

__all__ = ["Replay", "SkippedFrame", "check_frames", "check_speed"]

log = logging.getLogger("mockserver.replay")

MIN_LOOP_GAP = 0.001  # mock seconds between passes of a looped max-speed replay, so it cannot spin in place


@dataclass(frozen=True, slots=True)
class SkippedFrame:
    """A frame that breaks the schemas (line = its line in the tape file)."""

    line: int
    event: str
    problems: tuple[str, ...]

    def __str__(self) -> str:
        return f"line {self.line}: {self.event}: {'; '.join(self.problems)}"


def check_frames(contract: Contract, tape: Tape) -> list[SkippedFrame]:
    """Every frame whose event is unknown or whose payload breaks its schema."""
    known = set(contract.events())
    bad: list[SkippedFrame] = []
    for index, frame in enumerate(tape.frames):
        line = index + 2  # the header is line 1
        if frame.event not in known:
            bad.append(SkippedFrame(line, frame.event, ("not an event of the API",)))
            continue
        problems = contract.validate_event(frame.event, frame.payload)
        if problems:
            bad.append(
                SkippedFrame(line, frame.event, tuple(f"{p['path'] or '(root)'}: {p['message']}" for p in problems))
            )
    return bad


def check_speed(speed: object) -> float:
    if isinstance(speed, bool) or not isinstance(speed, int | float) or math.isnan(speed) or speed <= 0:
        raise ValueError(f"speed must be a number > 0 (math.inf for as fast as possible), got {speed!r}")
    return float(speed)


class Replay:
    """One tape being played on a server; `await replay.wait()` for the end, `stop()` to end it early."""

    def __init__(
        self, core: Core, tape: Tape, *, speed: float = 1.0, loop: bool = False, allow_invalid: bool = False
    ) -> None:
        self.core = core
        self.tape = tape
        self.speed = check_speed(speed)
        self.loop = loop
        recorded_against = tape.header.schema_version
        if recorded_against is not None and recorded_against != schema_version(core.contract):
            log.warning(
                "the tape was recorded against other schemas (%s); its frames are checked against these",
                recorded_against,
            )
        self.skipped = check_frames(core.contract, tape)
        for problem in self.skipped:
            verdict = "replaying it anyway (--allow-invalid)" if allow_invalid else "skipped"
            log.warning("tape frame breaks the schemas, %s: %s", verdict, problem)
        bad_lines = set() if allow_invalid else {s.line for s in self.skipped}
        self.frames: tuple[Frame, ...] = tuple(
            frame for index, frame in enumerate(tape.frames) if index + 2 not in bad_lines
        )
        self.sent = 0
        self.passes = 0
        self._index = 0
        self._base = 0.0
        self._ids: dict[str, str] = {}
        self._timer: Timer | None = None
        self._done: asyncio.Event | None = None

    @property
    def done(self) -> bool:
        return self._done is not None and self._done.is_set()

    def start(self) -> Replay:
        """Begin now (on the server's clock); must run on the server's event loop."""
        self._done = asyncio.Event()
        self._ids = self._user_mapping()
        if not self.frames:
            self._done.set()
            return self
        self._begin_pass(self.core.clock.time())
        return self

    async def wait(self) -> None:
        """Until the last frame went out (never, for a loop, until `stop()`)."""
        if self._done is None:
            raise RuntimeError("the replay is not started")
        await self._done.wait()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._done is not None:
            self._done.set()

    # -- playing ------------------------------------------------------------------------------------------------
    def _user_mapping(self) -> dict[str, str]:
        """Recorded user ids -> this server's ids, matched by email; a user this server does not have stands for
        its first user, so a tape recorded elsewhere still reaches someone who can log in."""
        by_email = {str(u.get("email")): str(u["_id"]) for u in self.core.store.records("users")}
        fallback = next(iter(by_email.values()), None)
        mapping: dict[str, str] = {}
        for recorded_id, email in self.tape.header.users.items():
            target = by_email.get(email, fallback)
            if target is None:
                continue
            if email not in by_email:
                log.info("tape user %s is not on this server; their events go to user %s", email, target)
            if target != recorded_id:
                mapping[recorded_id] = target
        return mapping

    def _begin_pass(self, at: float) -> None:
        self.passes += 1
        self._index = 0
        self._base = at
        if self.passes > 1:  # a loop: the records this tape creates get fresh ids, as new records would
            self._ids.update({old: self.core.new_id() for old in created_ids(self.frames)})
        self._schedule()

    def _schedule(self) -> None:
        frame = self.frames[self._index]
        due = self._base if math.isinf(self.speed) else self._base + frame.t / self.speed
        self._timer = self.core.clock.call_at(due, self._send)

    def _send(self) -> None:
        frame = self.frames[self._index]
        recorded_at = self.tape.header.start_time + frame.t
        payload = reanchor(replace_ids(frame.payload, self._ids), self.core.clock.time() - recorded_at)
        self.core.channels.publish(frame.event, payload, self._audience(frame.event, payload))
        self.sent += 1
        self._index += 1
        if self._index < len(self.frames):
            self._schedule()
        elif self.loop:
            length = 0.0 if math.isinf(self.speed) else self.frames[-1].t / self.speed
            self._begin_pass(max(self._base + length, self.core.clock.time()) + (MIN_LOOP_GAP if not length else 0))
        else:
            self._timer = None
            if self._done is not None:
                self._done.set()

    def _audience(self, event: str, payload: Any) -> Audience:
        path = event.rpartition(" ")[0]
        try:
            return self.core.audience_of(path, payload)
        except (KeyError, TypeError, AttributeError):  # an invalid frame replayed on purpose
            return Audience.authenticated()
