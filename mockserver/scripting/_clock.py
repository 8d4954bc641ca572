"""One clock and one scheduler for everything timed in the mock.

Activity streams, trader start delays, token expiry, fault delays, scenario steps and replay timing all wait on
mock time through `Clock`, so a test can jump a day ahead in microseconds and a frontend developer can run the
market at ten times its speed. Three modes:

- `real`: mock time is wall time (plus whatever `advance` added);
- `scaled`: mock time runs `speed` times faster (or slower) than wall time;
- `manual`: mock time stands still until `await clock.advance(seconds)`, which runs everything that falls due, in
  time order, and waits for what it started before returning. Reproducible to the byte, so it is what tests use.
"""

from __future__ import annotations

import asyncio
import heapq
import inspect
import itertools
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

__all__ = ["MANUAL_EPOCH", "Clock", "ClockMode", "Timer"]

ClockMode = Literal["real", "scaled", "manual"]
MODES: Final = ("real", "scaled", "manual")

MANUAL_EPOCH: Final = datetime(2024, 1, 15, 10, 0, tzinfo=UTC).timestamp()
"""Where a manual clock starts: the instant the seeded demo data is anchored to, so runs are byte-identical."""

Callback = Callable[[], object]
log = logging.getLogger("mockserver.clock")


@dataclass(order=True, slots=True)
class Timer:
    """A scheduled callback; `cancel()` it to take it back."""

    when: float
    order: int
    callback: Callback | None = field(compare=False)

    @property
    def cancelled(self) -> bool:
        return self.callback is None

    def cancel(self) -> None:
        self.callback = None


def _check_seconds(name: str, value: Any, *, allow_negative: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number of seconds, got {value!r}")
    if value < 0 and not allow_negative:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return float(value)


def _check_speed(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"speed must be a finite number > 0, got {value!r}")
    return float(value)


class Clock:
    """Mock time plus the scheduler that runs callbacks when mock time reaches them.

    Not thread-safe: like the rest of the server it belongs to one event loop (sync callers go through the
    server's thread runner).
    """

    def __init__(self, mode: ClockMode = "real", *, speed: float = 1.0, start: datetime | float | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self._speed = _check_speed(speed)
        if mode == "real" and self._speed != 1.0:
            raise ValueError("a real clock runs at speed 1; use mode='scaled' for another speed")
        self._mode: ClockMode = mode
        self._initial = (mode, self._speed, start)
        self._timers: list[Timer] = []
        self._order = itertools.count()
        self._handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running: set[asyncio.Task[Any]] = set()
        self._watched: dict[asyncio.Task[Any], asyncio.Future[None]] = {}  # tasks `advance` waits on
        self._advancing = False
        self.failures: list[BaseException] = []
        """Exceptions raised by scheduled callbacks, oldest first: the pytest plugin re-raises them in the test."""
        self._base_mock = self._start_of(mode, start)
        self._base_wall = time.monotonic()

    @staticmethod
    def _start_of(mode: ClockMode, start: datetime | float | None) -> float:
        if isinstance(start, datetime):
            if start.tzinfo is None:
                raise ValueError("start must be timezone-aware (e.g. datetime(..., tzinfo=UTC))")
            return start.timestamp()
        if start is not None:
            return _check_seconds("start", start)
        return MANUAL_EPOCH if mode == "manual" else time.time()

    # -- reading ------------------------------------------------------------------------------------------------
    @property
    def mode(self) -> ClockMode:
        return self._mode

    @property
    def speed(self) -> float:
        """Mock seconds per wall second (0 for a manual clock, which only moves when advanced)."""
        return 0.0 if self._mode == "manual" else self._speed

    def time(self) -> float:
        """Mock time as POSIX seconds."""
        if self._mode == "manual":
            return self._base_mock
        return self._base_mock + (time.monotonic() - self._base_wall) * self._speed

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    def iso(self) -> str:
        """ISO-8601 UTC with milliseconds, the only timestamp form on the wire (D7)."""
        moment = self.now()
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

    def pending(self) -> int:
        """How many callbacks wait for mock time."""
        return sum(1 for timer in self._timers if not timer.cancelled)

    def next_due(self) -> float | None:
        """Mock time of the next scheduled callback, if any."""
        self._drop_cancelled()
        return self._timers[0].when if self._timers else None

    def describe(self) -> dict[str, Any]:
        """The clock's state as JSON (for the control API and the journal)."""
        due = self.next_due()
        return {
            "mode": self._mode,
            "speed": self.speed,
            "now": self.iso(),
            "time": round(self.time(), 3),
            "pending": self.pending(),
            "nextDue": None if due is None else round(due - self.time(), 3),
        }

    def attach(self) -> None:
        """Bind to the running event loop and arm the timers scheduled before it ran (the server calls this on
        start)."""
        self._loop = asyncio.get_running_loop()
        self._arm()

    # -- changing -----------------------------------------------------------------------------------------------
    def _rebase(self) -> None:
        self._base_mock = self.time()
        self._base_wall = time.monotonic()

    def set_speed(self, speed: float) -> None:
        """Run at `speed` mock seconds per wall second from now on (1 is real time); leaves manual mode."""
        speed = _check_speed(speed)
        self._rebase()
        self._speed = speed
        self._mode = "real" if speed == 1.0 else "scaled"
        self._arm()

    def freeze(self) -> None:
        """Switch to manual mode: mock time stands still until `advance`."""
        self._rebase()
        self._mode = "manual"
        self._disarm()

    async def advance(self, seconds: float) -> None:
        """Move mock time forward, running every callback that falls due on the way, in time order.

        Each callback sees `now()` at its own due time. Coroutines a callback starts are awaited before the next
        callback runs, so when this returns, everything due has happened. Works in every mode; in real and scaled
        mode the clock then keeps running from the new time.
        """
        seconds = _check_seconds("seconds", seconds)
        if self._advancing:
            raise RuntimeError("clock.advance() is already running (called from a scheduled callback?)")
        self._advancing = True
        self._disarm()  # in real and scaled mode the loop timer must not fire callbacks while this runs them
        try:
            self._rebase()
            target = self._base_mock + seconds
            while True:
                self._drop_cancelled()
                if not self._timers or self._timers[0].when > target:
                    break
                timer = heapq.heappop(self._timers)
                self._base_mock = max(self._base_mock, timer.when)
                self._base_wall = time.monotonic()
                await self._run(timer)
            self._base_mock = target
            self._base_wall = time.monotonic()
        finally:
            self._advancing = False
            self._arm()

    def reset(self) -> None:
        """Back to how the clock was made: its mode, speed and start, with nothing scheduled and no failures."""
        self.cancel_all()
        self.failures.clear()
        mode, speed, start = self._initial
        self._mode, self._speed = mode, speed
        self._base_mock = self._start_of(mode, start)
        self._base_wall = time.monotonic()

    def configure(self, mode: ClockMode, *, speed: float = 1.0, start: datetime | float | None = None) -> None:
        """Make this the clock's mode from now on and after every `reset()` (the pytest plugin's marker does this)."""
        replacement = Clock(mode, speed=speed, start=start)  # validates
        self._initial = replacement._initial
        self.reset()

    # -- scheduling ---------------------------------------------------------------------------------------------
    def call_at(self, when: float, callback: Callback) -> Timer:
        """Run `callback` when mock time reaches `when` (POSIX seconds). A coroutine it returns is run as a task."""
        when = _check_seconds("when", when, allow_negative=True)
        timer = Timer(when, next(self._order), callback)
        heapq.heappush(self._timers, timer)
        if self._timers[0] is timer:
            self._arm()
        return timer

    def call_later(self, delay: float, callback: Callback) -> Timer:
        return self.call_at(self.time() + _check_seconds("delay", delay), callback)

    async def sleep(self, delay: float) -> None:
        """Wait `delay` seconds of mock time."""
        delay = _check_seconds("delay", delay)
        if delay == 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        timer = self.call_later(delay, wake)
        watcher = self._watched.get(asyncio.current_task())  # type: ignore[arg-type]
        if watcher is not None and not watcher.done():
            watcher.set_result(None)  # `advance` may move on: this task now waits for mock time
        try:
            await future
        finally:
            timer.cancel()

    def cancel_all(self) -> None:
        """Drop every scheduled callback and cancel the tasks they started (server stop and reset)."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self._disarm()
        for task in list(self._running):
            task.cancel()
        self._running.clear()

    # -- running ------------------------------------------------------------------------------------------------
    def _drop_cancelled(self) -> None:
        while self._timers and self._timers[0].cancelled:
            heapq.heappop(self._timers)

    async def _run(self, timer: Timer) -> None:
        callback = timer.callback
        timer.cancel()
        if callback is None:
            return
        outcome = self._call(callback)
        if inspect.isawaitable(outcome):
            # Wait until the coroutine finishes or parks on `sleep` (which only a later timer can wake).
            task = self._track(outcome)
            parked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._watched[task] = parked
            try:
                await asyncio.wait([task, parked], return_when=asyncio.FIRST_COMPLETED)
            finally:
                del self._watched[task]
                parked.cancel()
        # let what the callback queued (sends, tasks it spawned) take one turn of the loop
        await asyncio.sleep(0)

    def _call(self, callback: Callback) -> object:
        try:
            return callback()
        except Exception as error:
            self._failed(error)
            return None

    def _failed(self, error: BaseException) -> None:
        log.error("a scheduled callback failed: %s: %s", type(error).__name__, error)
        self.failures.append(error)
        del self.failures[:-100]  # keep the newest hundred

    def _track(self, awaitable: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(awaitable)
        self._running.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._running.discard(task)
        error = None if task.cancelled() else task.exception()
        if error is not None:
            self._failed(error)

    def _disarm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _arm(self) -> None:
        """Keep one loop timer for the earliest callback (real and scaled modes only)."""
        self._disarm()
        if self._mode == "manual" or self._advancing:
            return
        self._drop_cancelled()
        if not self._timers:
            return
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            if self._loop is None or self._loop.is_closed():
                return  # `attach()` arms it once the loop runs
        loop = self._loop
        delay = max(self._timers[0].when - self.time(), 0.0) / self._speed
        self._handle = loop.call_later(delay, self._fire_due)

    def _fire_due(self) -> None:
        self._handle = None
        now = self.time()
        while True:
            self._drop_cancelled()
            if not self._timers or self._timers[0].when > now:
                break
            timer = heapq.heappop(self._timers)
            callback = timer.callback
            timer.cancel()
            if callback is None:
                continue
            outcome = self._call(callback)
            if inspect.isawaitable(outcome):
                self._track(outcome)
        self._arm()
