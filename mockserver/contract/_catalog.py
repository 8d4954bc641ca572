"""The service table of the Cryptorobot.ai API (cryptorobot-api.md §10.1, D13, D15).

Data, not behaviour: which paths exist, which methods each offers, which events it publishes, and whether its
records are owned. The server routes with it; the contract names schemas after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = ["METHODS", "SERVICES", "Scope", "ServiceSpec", "service_spec"]

METHODS: tuple[str, ...] = ("find", "get", "create", "update", "patch", "remove")
"""Every Feathers service method; `update` is offered by none (D10) but answered with 405 by all (D15)."""


class Scope(Enum):
    """Who may see a service's records and receive its events (D8)."""

    OWNED = "owned"  # records carry userId; find is scoped and events go to the owner
    SELF = "self"  # the users service: a user owns its own record
    SHARED = "shared"  # catalogues and market data: every authenticated caller
    NONE = "none"  # no records (authentication, pod commands)


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    path: str
    methods: frozenset[str]
    events: tuple[str, ...]
    scope: Scope
    schema_file: str

    @property
    def event_names(self) -> tuple[str, ...]:
        """Wire names: the registered path with its slashes, a space, the event (D1)."""
        return tuple(f"{self.path} {event}" for event in self.events)


def _spec(path: str, methods: str, events: str, scope: Scope) -> ServiceSpec:
    return ServiceSpec(
        path=path,
        methods=frozenset(methods.split()),
        events=tuple(events.split()),
        scope=scope,
        schema_file=path.replace("/", ".") + ".json",
    )


SERVICES: dict[str, ServiceSpec] = {
    spec.path: spec
    for spec in (
        _spec("authentication", "create remove", "", Scope.NONE),
        _spec("users", "find get create patch remove", "created patched removed", Scope.SELF),
        _spec("keys", "find get create remove", "created removed", Scope.OWNED),
        _spec("strategies", "find get create patch remove", "created patched removed", Scope.OWNED),
        _spec("strategies/templates", "find get", "", Scope.SHARED),
        _spec("exchanges", "find get create patch remove", "created patched removed", Scope.OWNED),
        _spec("exchanges/ticker", "find get", "created patched", Scope.SHARED),
        _spec("traders", "find get create patch remove", "created patched removed", Scope.OWNED),
        _spec("traders/pods", "create", "", Scope.NONE),
        _spec("traders/pods/events", "find get", "created", Scope.OWNED),
        _spec("trades", "find get", "created patched", Scope.OWNED),
        _spec("models", "find get patch", "patched", Scope.SHARED),
        _spec("models/signals", "find get", "created", Scope.OWNED),
        _spec("messages", "find get patch remove", "created patched removed", Scope.OWNED),
        _spec("events", "find get", "created", Scope.SHARED),
    )
}


def service_spec(path: str) -> ServiceSpec:
    """The spec of a service path; slashes around it are ignored, as the Feathers router does."""
    key = path.strip("/")
    try:
        return SERVICES[key]
    except KeyError:
        raise KeyError(f"unknown service {path!r}; known: {', '.join(SERVICES)}") from None
