"""The state and rules shared by both transports: who is calling, what the clock says, where events go."""

from __future__ import annotations

import random
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from mockserver.contract import Contract, Scope, ServiceSpec, service_spec
from mockserver.errors import NotAuthenticated, NotFound, TooManyRequests
from mockserver.scripting import Clock, Expectations, Faults, Journal, Timer
from mockserver.server._auth import TokenIssuer, iso_millis
from mockserver.server._channels import Audience, Channels
from mockserver.server._engine import DEFAULT_SEND_QUEUE_LIMIT
from mockserver.server._limits import ANONYMOUS_PLAN, Decision, RateLimiter, plan_named
from mockserver.server._store import Store
from mockserver.server.query import QueryLimits

__all__ = ["Caller", "Core", "Options", "RateLimited", "ServiceMethods"]

Provider = Literal["socketio", "rest", "server"]


@dataclass(frozen=True, slots=True)
class Options:
    """Behaviour switches for what the API's documentation leaves open (docs/contract.md#decisions)."""

    token_lifetime: timedelta = timedelta(days=7)
    start_delay: float = 0.05  # seconds between `starting` and `running` (D5); 0 allowed
    full_removed_strategy: bool = False  # D2: `strategies removed` carries the whole record
    exchange_connect_fails: bool = False  # §10.7 step 3: credentials answer 502 BadGateway
    deny_logged_out_tokens: bool = False  # §5.5: a logged-out token answers 401 from then on
    rate_limits: bool = False  # §7: per-plan token buckets, 429 + Retry-After, connection limits
    oauth_redirect: str | None = None  # §5.6: where GET /oauth/google sends the browser back, with #access_token=
    query_limits: QueryLimits = field(default_factory=QueryLimits)  # query size and shape, body depth: past them, 400
    send_queue_limit: int = DEFAULT_SEND_QUEUE_LIMIT  # bytes waiting for a socket client that does not read
    # Engine.IO heartbeat (real seconds): the server pings every ping_interval; a client that hears nothing for
    # ping_interval + ping_timeout gives up with "ping timeout". Engine.IO announces the interval in whole seconds.
    ping_interval: int = 25
    ping_timeout: float = 20.0

    def __post_init__(self) -> None:
        if not isinstance(self.token_lifetime, timedelta) or self.token_lifetime.total_seconds() <= 0:
            raise ValueError(f"token_lifetime must be a positive timedelta, got {self.token_lifetime!r}")
        if isinstance(self.start_delay, bool) or not isinstance(self.start_delay, int | float) or self.start_delay < 0:
            raise ValueError(f"start_delay must be a number of seconds >= 0, got {self.start_delay!r}")
        if isinstance(self.send_queue_limit, bool) or not isinstance(self.send_queue_limit, int):
            raise ValueError(f"send_queue_limit must be a number of bytes, got {self.send_queue_limit!r}")
        if self.send_queue_limit < 2**16:
            raise ValueError(f"send_queue_limit must be at least 65536 bytes, got {self.send_queue_limit!r}")
        if isinstance(self.ping_interval, bool) or not isinstance(self.ping_interval, int) or self.ping_interval < 1:
            raise ValueError(f"ping_interval must be a whole number of seconds >= 1, got {self.ping_interval!r}")
        timeout = self.ping_timeout
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0.001 <= timeout < float("inf"):
            raise ValueError(f"ping_timeout must be a number of seconds >= 0.001, got {timeout!r}")
        if self.oauth_redirect is not None and not self.oauth_redirect.startswith(("http://", "https://")):
            raise ValueError(f"oauth_redirect must be an http(s) URL, got {self.oauth_redirect!r}")
        if not isinstance(self.query_limits, QueryLimits):
            raise ValueError(f"query_limits must be a QueryLimits, got {self.query_limits!r}")


class RateLimited(TooManyRequests):
    """TooManyRequests that remembers its decision, so REST can still send the rate-limit headers."""

    def __init__(self, decision: Decision) -> None:
        super().__init__("Rate limit exceeded", data={"retryAfter": decision.retry_after})
        self.decision = decision


@dataclass(frozen=True, slots=True)
class Caller:
    """Who makes a service call; `user` is the external view of the authenticated user, or None."""

    provider: Provider
    user: dict[str, Any] | None = None
    sid: str | None = None
    api_key: dict[str, Any] | None = None
    token: str | None = None  # the access token this call was authenticated with

    @property
    def user_id(self) -> str | None:
        return None if self.user is None else str(self.user["_id"])


class ServiceMethods(Protocol):
    """What the core and the transports need of a service; `_services` implements it (so the core never imports
    the domain)."""

    @property
    def path(self) -> str: ...
    @property
    def spec(self) -> ServiceSpec: ...

    async def find(self, caller: Caller, query: Mapping[str, Any]) -> Any: ...
    async def get(self, caller: Caller, record_id: Any, query: Mapping[str, Any]) -> Any: ...
    async def create(self, caller: Caller, data: Mapping[str, Any], query: Mapping[str, Any]) -> Any: ...
    async def patch(self, caller: Caller, record_id: Any, data: Mapping[str, Any], query: Mapping[str, Any]) -> Any: ...
    async def remove(self, caller: Caller, record_id: Any, query: Mapping[str, Any]) -> Any: ...
    def insert(self, record: dict[str, Any]) -> dict[str, Any]: ...


@dataclass(slots=True)
class Core:
    """Everything one mock server knows; services and transports hold a reference, never a copy."""

    contract: Contract
    channels: Channels
    issuer: TokenIssuer
    options: Options
    seed: int
    store: Store = field(default_factory=Store)
    clock: Clock = field(default_factory=Clock)  # the one scheduler: every timed thing waits on mock time
    services: dict[str, ServiceMethods] = field(default_factory=dict)
    denied_tokens: set[str] = field(default_factory=set)
    token_serials: dict[str, int] = field(default_factory=dict)  # jti -> issue order, for expire_tokens
    expired_before: dict[str, tuple[int, float]] = field(default_factory=dict)  # user id -> (serial, time) mark
    limiter: RateLimiter = field(default_factory=RateLimiter)
    rng: random.Random = field(init=False)
    journal: Journal = field(init=False)
    faults: Faults = field(init=False)
    expectations: Expectations = field(init=False)
    _id_counter: int = 0

    def __post_init__(self) -> None:
        self.reseed()
        self.journal = Journal(self.clock)
        self.faults = Faults(self.clock, self.journal, seed=self.seed)
        self.faults.email_of = self.email_of
        self.expectations = Expectations()
        self.channels.faults = self.faults
        self.channels.observers.append(self.journal_event)

    @property
    def scripted(self) -> bool:
        """Whether a call must go the journaled, fault-checked way (False: the plain fast path)."""
        return self.journal.enabled or bool(self.faults) or bool(self.expectations)

    def email_of(self, user_id: str) -> str | None:
        user = self.store.get("users", user_id)
        return None if user is None else user.get("email")

    def journal_event(self, event: str, payload: Any, sids: frozenset[str]) -> None:
        """One `event` entry per publish (not per recipient): the payload by reference, the connections it
        reached."""
        if self.journal.enabled:
            self.journal.record("event", event=event, service=event.rpartition(" ")[0], payload=payload, to=list(sids))

    def reseed(self) -> None:
        """Restart the server's own randomness, so the same calls after a reset make the same secrets."""
        self.rng = random.Random(self.seed)
        self._id_counter = 0

    def new_id(self) -> str:
        """A MongoDB-style ObjectId (D6): creation second, random middle, counter."""
        self._id_counter = (self._id_counter + 1) & 0xFFFFFF
        return (
            f"{int(self.clock.now().timestamp()) & 0xFFFFFFFF:08x}{self.rng.getrandbits(40):010x}{self._id_counter:06x}"
        )

    def hex(self, nbytes: int) -> str:
        """Random hex from the server's seeded RNG: secrets it makes are reproducible for a seed, like its data."""
        return f"{self.rng.getrandbits(nbytes * 8):0{nbytes * 2}x}"

    def authenticate_token(self, token: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """(claims, user) for an access token, as Feathers' jwt strategy checks it on every call: a valid,
        unexpired (by the server's clock), not logged-out token whose user still exists."""
        claims = self.issuer.verify(token, now=self.clock.now())
        if token in self.denied_tokens:
            raise NotAuthenticated("Invalid access token")
        mark = self.expired_before.get(str(claims["sub"]))
        if mark is not None:
            serial = self.token_serials.get(str(claims.get("jti")))
            if serial <= mark[0] if serial is not None else claims["iat"] <= mark[1]:
                expired_at = iso_millis(datetime.fromtimestamp(mark[1], UTC))
                raise NotAuthenticated("jwt expired", data={"name": "TokenExpiredError", "expiredAt": expired_at})
        user = self.user(str(claims["sub"]))
        if user is None:
            raise NotFound(f"No record found for id '{claims['sub']}'")
        return claims, user

    def issue_token(self, user_id: str) -> tuple[str, dict[str, Any]]:
        """A fresh token on the server's clock with a seeded jti, numbered in issue order so `expire_tokens` can
        tell older tokens from newer ones even within one second (`iat` has whole seconds only)."""
        token, payload = self.issuer.issue(user_id, now=self.clock.now(), jti=self.uuid())
        self.token_serials[str(payload["jti"])] = len(self.token_serials) + 1
        return token, payload

    def expire_tokens(self, user_id: str) -> None:
        """Every token the user holds expires now ("jwt expired"); tokens issued from now on are valid."""
        self.expired_before[user_id] = (len(self.token_serials), self.clock.time())

    def forget_tokens(self) -> None:
        """Forget logged-out and expired tokens (on reset)."""
        self.denied_tokens.clear()
        self.token_serials.clear()
        self.expired_before.clear()

    def charge(self, caller: Caller, address: str | None) -> Decision | None:
        """Count one call against the caller's bucket (§7); None when rate limits are off.

        Raises TooManyRequests, carrying the decision, when the bucket is empty.
        """
        if not self.options.rate_limits:
            return None
        principal = f"user:{caller.user_id}" if caller.user_id else f"anonymous:{address or 'unknown'}"
        plan = None if caller.user is None else caller.user.get("plan")
        decision = self.limiter.take(principal, plan, self.clock.now())
        if not decision.allowed:
            raise RateLimited(decision)
        return decision

    def check_connection_limit(self, user: dict[str, Any], sid: str) -> None:
        """A login beyond the plan's WebSocket connections is refused (§7, suggested by the spec)."""
        if not self.options.rate_limits:
            return
        plan_name = str(user.get("plan", ANONYMOUS_PLAN))
        plan = plan_named(plan_name)
        others = self.channels.by_user.get(str(user["_id"]), set()) - {sid}
        if len(others) >= plan.connections:
            raise TooManyRequests(
                f"Too many connections for the {plan_name} plan (at most {plan.connections})",
                data={"limit": plan.connections},
            )

    def publish(self, path: str, event: str, record: dict[str, Any], *, audience: Audience | None = None) -> None:
        """Send `<path> <event>` to the record's audience, as the service's scope defines it (D8)."""
        if audience is None:
            audience = self.audience_of(path, record)
        self.channels.publish(f"{path} {event}", record, audience)

    @staticmethod
    def audience_of(path: str, record: dict[str, Any]) -> Audience:
        scope = service_spec(path).scope
        if scope is Scope.SHARED:
            return Audience.authenticated()
        if scope is Scope.SELF:
            return Audience.owner(str(record["_id"]))
        return Audience.owner(str(record.get("userId", "")))

    def later(self, delay: float, action: Callable[[], Awaitable[None]]) -> Timer:
        """Run a server-made change after `delay` seconds of mock time (the clock cancels it on stop and reset)."""
        return self.clock.call_later(delay, action)

    def uuid(self) -> str:
        """A version-4 UUID from the server's seeded RNG (token ids), so a seeded run is byte-identical."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def user(self, user_id: str) -> dict[str, Any] | None:
        return self.store.get("users", user_id)
