"""The one clock and scheduler: manual, real and scaled time; ordering; coroutines; reset."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from mockserver.scripting import MANUAL_EPOCH, Clock


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_manual_clock_starts_at_the_data_epoch_and_stands_still() -> None:
    clock = Clock("manual")
    assert clock.time() == MANUAL_EPOCH
    assert clock.iso() == "2024-01-15T10:00:00.000Z"
    assert clock.speed == 0.0


def test_advance_runs_due_callbacks_in_time_order_each_at_its_own_time() -> None:
    async def scenario() -> list[tuple[str, float]]:
        clock = Clock("manual")
        seen: list[tuple[str, float]] = []
        clock.call_later(3, lambda: seen.append(("c", clock.time() - MANUAL_EPOCH)))
        clock.call_later(1, lambda: seen.append(("a", clock.time() - MANUAL_EPOCH)))
        clock.call_later(2, lambda: seen.append(("b", clock.time() - MANUAL_EPOCH)))
        clock.call_later(2, lambda: seen.append(("b2", clock.time() - MANUAL_EPOCH)))  # ties keep insertion order
        clock.call_later(10, lambda: seen.append(("late", clock.time() - MANUAL_EPOCH)))
        await clock.advance(5)
        assert clock.time() == MANUAL_EPOCH + 5
        assert clock.pending() == 1
        return seen

    assert run(scenario()) == [("a", 1.0), ("b", 2.0), ("b2", 2.0), ("c", 3.0)]


def test_callbacks_scheduled_by_callbacks_run_in_the_same_advance_when_due() -> None:
    async def scenario() -> list[float]:
        clock = Clock("manual")
        ticks: list[float] = []

        def tick() -> None:
            ticks.append(clock.time() - MANUAL_EPOCH)
            clock.call_later(1, tick)

        clock.call_later(1, tick)
        await clock.advance(4.5)
        return ticks

    assert run(scenario()) == [1.0, 2.0, 3.0, 4.0]


def test_advance_waits_for_the_coroutines_it_starts_and_sleep_follows_mock_time() -> None:
    async def scenario() -> list[str]:
        clock = Clock("manual")
        log: list[str] = []

        async def job() -> None:
            log.append("start")
            await clock.sleep(2)  # wakes during the same advance
            log.append(f"woke at {clock.time() - MANUAL_EPOCH}")

        clock.call_later(1, job)
        await clock.advance(5)
        return log

    assert run(scenario()) == ["start", "woke at 3.0"]


def test_cancelled_timers_never_run_and_reset_drops_everything() -> None:
    async def scenario() -> list[str]:
        clock = Clock("manual")
        log: list[str] = []
        timer = clock.call_later(1, lambda: log.append("cancelled"))
        clock.call_later(2, lambda: log.append("kept"))
        timer.cancel()
        await clock.advance(3)
        clock.call_later(1, lambda: log.append("after reset"))
        clock.reset()
        assert clock.time() == MANUAL_EPOCH
        await clock.advance(5)
        return log

    assert run(scenario()) == ["kept"]


def test_a_failing_callback_is_collected_and_the_rest_still_run() -> None:
    async def scenario() -> Clock:
        clock = Clock("manual")

        def boom() -> None:
            raise RuntimeError("step failed")

        ran: list[int] = []
        clock.call_later(1, boom)
        clock.call_later(2, lambda: ran.append(1))
        await clock.advance(3)
        assert ran == [1]
        return clock

    clock = run(scenario())
    assert [str(e) for e in clock.failures] == ["step failed"]


def test_real_clock_fires_on_the_loop_and_advance_jumps_ahead() -> None:
    async def scenario() -> tuple[bool, bool]:
        clock = Clock("real")
        clock.attach()
        fired = asyncio.Event()
        far = asyncio.Event()
        clock.call_later(0.01, fired.set)
        clock.call_later(3600, far.set)
        await asyncio.wait_for(fired.wait(), 2)
        before = clock.time()
        await clock.advance(3600)
        assert clock.time() - before >= 3600
        return fired.is_set(), far.is_set()

    assert run(scenario()) == (True, True)


def test_scaled_clock_runs_faster_than_the_wall() -> None:
    async def scenario() -> float:
        clock = Clock("scaled", speed=100)
        clock.attach()
        done = asyncio.Event()
        clock.call_later(5, done.set)  # 5 mock seconds = 50 ms of wall time
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.wait_for(done.wait(), 3)
        return loop.time() - started

    assert run(scenario()) < 2.0  # far below the 5 s a real clock would take


def test_speed_changes_rebase_without_a_jump() -> None:
    clock = Clock("manual")
    clock.set_speed(10)
    assert clock.mode == "scaled"
    assert abs(clock.time() - MANUAL_EPOCH) < 1
    clock.freeze()
    frozen = clock.time()
    assert clock.time() == frozen
    clock.set_speed(1)
    assert clock.mode == "real"


def test_configure_sets_what_reset_returns_to() -> None:
    clock = Clock("real")
    start = datetime(2025, 3, 1, tzinfo=UTC)
    clock.configure("manual", start=start)
    clock.set_speed(5)
    clock.reset()
    assert (clock.mode, clock.time()) == ("manual", start.timestamp())


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Clock("fast"), "mode must be one of real, scaled, manual"),  # type: ignore[arg-type]
        (lambda: Clock("scaled", speed=0), "speed must be a finite number > 0"),
        (lambda: Clock("real", speed=2), "a real clock runs at speed 1"),
        (lambda: Clock("manual", start=datetime(2025, 1, 1)), "start must be timezone-aware"),
        (lambda: Clock("manual").call_later(-1, print), "delay must be >= 0"),
        (lambda: Clock("manual").set_speed(float("nan")), "speed must be a finite number > 0"),
    ],
)
def test_bad_arguments_are_refused_with_a_message_naming_them(make, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        make()


def test_advance_refuses_negative_time() -> None:
    with pytest.raises(ValueError, match="seconds must be >= 0"):
        run(Clock("manual").advance(-1))


def test_advancing_a_running_clock_runs_callbacks_one_after_another_even_while_its_loop_timer_is_due() -> None:
    async def scenario() -> list[str]:
        clock = Clock("scaled", speed=1000)
        clock.attach()
        log: list[str] = []

        async def slow(n: int) -> None:
            log.append(f"start {n}")
            await asyncio.sleep(0.02)  # real time passes: the loop timer of the next callback falls due meanwhile
            log.append(f"end {n}")

        for n in range(3):
            clock.call_later(n * 0.001, lambda n=n: slow(n))
        await clock.advance(1)
        await asyncio.sleep(0.1)
        return log

    assert run(scenario()) == ["start 0", "end 0", "start 1", "end 1", "start 2", "end 2"]
