"""Seeded primitives shared by every builder: ids, timestamps and human text.

Timestamps derive from a fixed epoch, never the wall clock, so a seed reproduces byte-identical JSON (D7).
"""

from __future__ import annotations

import calendar
import random
import time
from collections.abc import Sequence
from typing import TypeVar

__all__ = ["DAY_MS", "EPOCH_MS", "HOUR_MS", "Draw", "iso_ms", "ms_of"]

EPOCH_MS = 1705312800000
"""2024-01-15T10:00:00.000Z, the instant of the docs' examples: "now" for every generated record."""

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

_T = TypeVar("_T")


def iso_ms(ms: int) -> str:
    """ISO-8601 UTC with milliseconds (D7); about three times faster than going through datetime."""
    seconds, millis = divmod(ms, 1000)
    t = time.gmtime(seconds)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (  # noqa: UP031 - the fastest formatting here
        t.tm_year,
        t.tm_mon,
        t.tm_mday,
        t.tm_hour,
        t.tm_min,
        t.tm_sec,
        millis,
    )


def ms_of(iso: str) -> int:
    """Back from `iso_ms` output ("2024-01-15T10:00:00.000Z") to epoch milliseconds."""
    seconds = calendar.timegm(
        (
            int(iso[0:4]),
            int(iso[5:7]),
            int(iso[8:10]),
            int(iso[11:13]),
            int(iso[14:16]),
            int(iso[17:19]),
            0,
            0,
            0,
        )
    )
    return seconds * 1000 + int(iso[20:23])


class Draw:
    """One seeded random stream plus lazily built pools of human text.

    Faker is slow to import and to call, so it runs once per Draw, on first need, to fill a small pool of
    people; the fast paths (tickers, trades, pod events) never touch it.
    """

    __slots__ = ("_people", "rng", "seed")

    def __init__(self, seed: int, rng: random.Random | None = None) -> None:
        self.seed = seed
        self.rng = random.Random(seed) if rng is None else rng
        self._people: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] | None = None

    # ids and time -------------------------------------------------------------------------------------------

    def object_id(self, at_ms: int = EPOCH_MS) -> str:
        """A 24-hex ObjectId whose leading 4 bytes are the creation second, as MongoDB makes them (D6)."""
        return "%08x%016x" % (at_ms // 1000, self.rng.getrandbits(64))  # noqa: UP031

    def hex(self, n_chars: int) -> str:
        return "%0*x" % (n_chars, self.rng.getrandbits(4 * n_chars))  # noqa: UP031

    def created_ms(self, max_age_days: int = 90) -> int:
        """A creation instant within `max_age_days` before the epoch, on a whole millisecond."""
        return EPOCH_MS - self.rng.randrange(1, max_age_days * DAY_MS)

    def later_ms(self, after_ms: int, until_ms: int = EPOCH_MS) -> int:
        """An instant in [after_ms, until_ms]: keeps createdAt <= updatedAt."""
        if until_ms <= after_ms:
            return after_ms
        return after_ms + self.rng.randrange(until_ms - after_ms + 1)

    # choices ------------------------------------------------------------------------------------------------

    def choice(self, options: Sequence[_T]) -> _T:
        return options[int(self.rng.random() * len(options))]

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    # human text ---------------------------------------------------------------------------------------------

    def person(self) -> tuple[str, str]:
        """A (full name, e-mail) pair: names from the seeded Faker pools, combined by the seeded stream."""
        if self._people is None:
            self._people = _name_pools(self.seed)
        first_names, last_names, domains = self._people
        first, last = self.choice(first_names), self.choice(last_names)
        number = self.rng.randrange(10, 100)  # 24 x 24 x 90 combinations keep e-mails (nearly) unique
        email = f"{first}.{last}{number}@{self.choice(domains)}".lower().replace(" ", "").replace("'", "")
        return f"{first} {last}", email


def _name_pools(seed: int) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Small pools of first names, last names and mail domains: ~2 ms, once per Draw that needs people."""
    from faker import Faker  # lazy: ~90 ms to import, and only users need it

    fake = Faker("en_US")
    fake.seed_instance(seed)
    return (
        tuple(fake.first_name() for _ in range(24)),
        tuple(fake.last_name() for _ in range(24)),
        tuple(fake.free_email_domain() for _ in range(5)),
    )
