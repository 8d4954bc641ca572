"""The fast seeded generator: one builder per (service, kind), dispatched from an immutable table.

Kinds mirror the contract's: "object", "create", "patch", "page", "event:<event>" for every event the service
publishes (D13), plus "request"/"result" on authentication, "created" on keys and "result:<command>" on
traders/pods.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

from mockserver.contract._catalog import SERVICES
from mockserver.synth import _accounts as accounts
from mockserver.synth import _catalogue as catalogue
from mockserver.synth import _pods as pods
from mockserver.synth import _requests as requests
from mockserver.synth import _trading as trading
from mockserver.synth._draw import Draw
from mockserver.synth._ticker import ticker

__all__ = ["Generator", "deep_merge", "generate", "generate_event", "kinds", "services"]

Builder = Callable[[Draw], Any]


def _pod_result(command: str) -> Builder:
    compute = {
        "status": pods.status_result,
        "balance": pods.balance_result,
        "profit": pods.profit_result,
    }[command]

    def build(draw: Draw) -> Any:
        return compute(*pods.portfolio(draw))

    return build


def _strategy_removed(draw: Draw) -> dict[str, Any]:
    """D2: the event carries only the id."""
    return {"_id": draw.object_id(draw.created_ms())}


_OBJECTS: Mapping[str, Builder] = MappingProxyType(
    {
        "users": accounts.user,
        "keys": accounts.api_key,
        "strategies": trading.strategy,
        "strategies/templates": catalogue.template,
        "exchanges": trading.exchange,
        "exchanges/ticker": ticker,
        "traders": trading.trader,
        "traders/pods/events": trading.pod_event,
        "trades": trading.trade,
        "models": trading.model,
        "models/signals": trading.signal,
        "messages": accounts.message,
        "events": accounts.system_event,
    }
)

_EXTRA_KINDS: Mapping[str, Mapping[str, Builder]] = MappingProxyType(
    {
        "authentication": {
            "request": accounts.auth_request,
            "create": accounts.auth_request,  # the create body *is* the request
            "result": accounts.auth_result,
        },
        "users": {"create": accounts.user_create, "patch": accounts.user_patch},
        "keys": {
            "create": accounts.key_create,
            "created": lambda draw: accounts.api_key(draw, with_key=True),
        },
        "strategies": {"create": requests.strategy_create, "patch": requests.strategy_patch},
        "exchanges": {"create": requests.exchange_create, "patch": requests.exchange_patch},
        "traders": {"create": requests.trader_create, "patch": requests.trader_patch},
        "traders/pods": {
            "create": pods.pod_command,
            "result:ping": lambda draw: {"status": "pong"},
            **{f"result:{command}": _pod_result(command) for command in ("status", "balance", "profit")},
        },
        "models": {"patch": lambda draw: {"subscribed": draw.chance(0.5)}},
        "messages": {"patch": accounts.message_patch},
    }
)


def _page_builder(item: Builder) -> Builder:
    def build(draw: Draw) -> dict[str, Any]:
        """A find result (D3): total across pages, limit 25 by default, at most `limit` items."""
        rng = draw.rng
        limit = draw.choice((25, 25, 10, 5))
        total = rng.randrange(0, 3 * limit)
        skip = limit * rng.randrange(0, total // limit + 1) if total else 0
        count = max(0, min(limit, total - skip))
        return {"total": total, "limit": limit, "skip": skip, "data": [item(draw) for _ in range(count)]}

    return build


def _event_builder(path: str, event: str, item: Builder | None) -> Builder:
    if path == "strategies" and event == "removed":
        return _strategy_removed
    if path == "keys" and event == "created":
        return _EXTRA_KINDS["keys"]["created"]
    assert item is not None, f"{path} publishes {event} but has no object builder"
    return item


def _build_table() -> Mapping[str, Mapping[str, Builder]]:
    table: dict[str, Mapping[str, Builder]] = {}
    for path, spec in SERVICES.items():
        item = _OBJECTS.get(path)
        kinds: dict[str, Builder] = {}
        if item is not None:
            kinds["object"] = item
        kinds.update(_EXTRA_KINDS.get(path, {}))
        if item is not None and "find" in spec.methods:
            kinds["page"] = _page_builder(item)
        for event in spec.events:
            kinds[f"event:{event}"] = _event_builder(path, event, item)
        table[path] = MappingProxyType(kinds)
    return MappingProxyType(table)


_TABLE = _build_table()


def services() -> tuple[str, ...]:
    """Every service path the generator knows, in catalogue order."""
    return tuple(_TABLE)


def kinds(service: str) -> tuple[str, ...]:
    """The kinds `service` can generate; ValueError names the valid services when it is unknown."""
    return tuple(_kinds_of(service))


def _kinds_of(service: str) -> Mapping[str, Builder]:
    table = _TABLE.get(service.strip("/"))
    if table is None:
        raise ValueError(f"service must be one of {', '.join(_TABLE)}; got {service!r}")
    return table


def deep_merge(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`overrides` replace top-level fields; where both sides are dicts they merge key by key, recursively."""
    for key, value in overrides.items():
        current = base.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            base[key] = deep_merge(current, value)
        else:
            base[key] = value
    return base


class Generator:
    """A reusable seeded generator: create one per seed and call `one`/`many` in a loop, which is fast.

    Two generators with the same seed produce the same sequence, byte for byte. `rng` replaces the seeded
    stream: `mockserver.strategies` passes hypothesis' random, so hypothesis makes (and shrinks) every choice.
    """

    __slots__ = ("_draw",)

    def __init__(self, seed: int, *, rng: random.Random | None = None) -> None:
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise TypeError(f"seed must be an int; got {seed!r}")
        if rng is not None and not isinstance(rng, random.Random):
            raise TypeError(f"rng must be a random.Random or None; got {rng!r}")
        self._draw = Draw(seed, rng)

    @property
    def seed(self) -> int:
        return self._draw.seed

    def _builder(self, service: str, kind: str) -> Builder:
        table = _kinds_of(service)
        builder = table.get(kind)
        if builder is None:
            raise ValueError(f"kind for {service.strip('/')} must be one of {', '.join(table)}; got {kind!r}")
        return builder

    def one(self, service: str, *, kind: str = "object", overrides: Mapping[str, Any] | None = None) -> Any:
        """The next value of `kind` for `service`; `overrides` are deep-merged into a dict result."""
        value = self._builder(service, kind)(self._draw)
        if overrides:
            if not isinstance(value, dict):
                raise ValueError(f"overrides need a dict result; {service} {kind} gives {type(value).__name__}")
            deep_merge(value, overrides)
        return value

    def many(self, service: str, n: int, *, kind: str = "object") -> Iterator[Any]:
        """`n` values in a row; arguments are checked before the first one is made."""
        if n < 0:
            raise ValueError(f"n must be >= 0; got {n}")
        builder = self._builder(service, kind)
        draw = self._draw
        return (builder(draw) for _ in range(n))

    def event(self, event_name: str) -> Any:
        """The payload of a wire event such as "traders patched" or "traders/pods/events created" (slashes kept)."""
        service, kind = _event_kind(event_name)
        return self.one(service, kind=kind)


def _event_kind(event_name: str) -> tuple[str, str]:
    service, _, event = event_name.rpartition(" ")
    spec = SERVICES.get(service)
    if spec is None or event not in spec.events:
        valid = ", ".join(name for s in SERVICES.values() for name in s.event_names)
        raise ValueError(f"event_name must be one of {valid}; got {event_name!r}")
    return service, f"event:{event}"


def generate(service: str, *, kind: str = "object", seed: int, overrides: Mapping[str, Any] | None = None) -> Any:
    """One value of `kind` for `service`, reproducible from `seed`."""
    return Generator(seed).one(service, kind=kind, overrides=overrides)


def generate_event(event_name: str, *, seed: int) -> Any:
    """The payload of wire event `event_name`, e.g. "traders patched", reproducible from `seed`."""
    return Generator(seed).event(event_name)
