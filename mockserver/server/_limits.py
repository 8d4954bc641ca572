"""Per-plan rate limits (cryptorobot-api.md §7), off unless `Options(rate_limits=True)`.

The docs give requests per minute, a burst and a connection count per plan, but not how they are counted. The mock
uses a token bucket per user (the burst is the bucket size, the per-minute rate refills it), shared by REST and
socket calls, and judged on the server's clock so a test can advance time instead of sleeping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Final

__all__ = ["ANONYMOUS_PLAN", "PLANS", "Decision", "Plan", "RateLimiter", "plan_named"]


@dataclass(frozen=True, slots=True)
class Plan:
    per_minute: int
    burst: int
    connections: int


PLANS: Final = MappingProxyType(
    {
        "free": Plan(per_minute=60, burst=10, connections=1),
        "pro": Plan(per_minute=300, burst=50, connections=5),
        "enterprise": Plan(per_minute=1000, burst=100, connections=25),
    }
)
ANONYMOUS_PLAN: Final = "free"


def plan_named(name: str | None) -> Plan:
    """The limits of a plan; an unknown or missing plan gets the free plan's."""
    return PLANS.get(name or ANONYMOUS_PLAN, PLANS[ANONYMOUS_PLAN])


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one request against its bucket, and what the `X-RateLimit-*` headers say."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int  # until the bucket is full again
    retry_after: int  # until the next request is allowed (0 when allowed)

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_seconds),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


@dataclass(slots=True)
class RateLimiter:
    """Token buckets keyed by principal (`user:<id>` or `anonymous:<address>`)."""

    buckets: dict[str, _Bucket] = field(default_factory=dict)

    def take(self, principal: str, plan_name: str | None, now: datetime) -> Decision:
        plan = plan_named(plan_name)
        rate = plan.per_minute / 60.0
        moment = now.timestamp()
        bucket = self.buckets.get(principal)
        if bucket is None:
            bucket = self.buckets[principal] = _Bucket(tokens=float(plan.burst), stamp=moment)
        bucket.tokens = min(float(plan.burst), bucket.tokens + max(moment - bucket.stamp, 0.0) * rate)
        bucket.stamp = moment
        allowed = bucket.tokens >= 1.0
        if allowed:
            bucket.tokens -= 1.0
        return Decision(
            allowed=allowed,
            limit=plan.per_minute,
            remaining=int(bucket.tokens),
            reset_seconds=math.ceil((plan.burst - bucket.tokens) / rate),
            retry_after=0 if allowed else max(1, math.ceil((1.0 - bucket.tokens) / rate)),
        )

    def clear(self) -> None:
        self.buckets.clear()
