"""Hypothesis strategies for every schema of the contract, for any recent hypothesis.

    from mockserver import strategies
    @given(strategies.record("traders"), strategies.event("traders patched"))
    def test_ui_renders(trader, payload): ...

`record` covers what the server sends (objects, pages, results, the key `created`); `request` what a client
sends (`create`, `patch`, authentication's `request`); `event` an event payload by its wire name (D1);
`event_sequences` whole create -> patch -> remove histories with duplicates, disorder and reconnects, which `feed`
hands to a callable (the pytest plugin's `cryptorobot_mock.feed` sends them to a live client).

Two sources, both valid by construction and both shrinking to simple values:
- `realistic=True` (the default): the fast generator of `mockserver.synth` with hypothesis making every random
  choice (`st.randoms(use_true_random=False)`), so values look like the server's (real pairs, prices in each
  asset's range, bid < ask, createdAt <= updatedAt) and shrink towards each builder's first option.
- `realistic=False`: the kind's schema compiled to a strategy (`_schema.py`), which explores all the contract
  allows: every optional field, extreme numbers, odd strings. Used as well whenever a `contract` other than
  the default one is passed, since the generator only knows the shipped schemas.

Arguments are checked, and schemas compiled, when you call the function: a keyword the compiler does not know
raises `UnsupportedSchemaError` there, never as a wrong value later. No hypothesis-jsonschema: it broke on
every object schema from hypothesis 6.170.10 on and held our users' hypothesis back.

The only package of mockserver that imports hypothesis (ARCHITECTURE.md, layer 2): import it on demand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from mockserver.contract import Contract, default_contract
from mockserver.strategies._schema import UnsupportedSchemaError, from_schema
from mockserver.strategies._sequences import Step, event_sequences, feed
from mockserver.synth import Generator

__all__ = ["REQUEST_KINDS", "Step", "UnsupportedSchemaError", "event", "event_sequences", "feed", "record", "request"]

REQUEST_KINDS = frozenset({"create", "patch", "request"})
"""Kinds a client sends; every other kind is something the server sends."""


def record(
    service: str, *, kind: str = "object", realistic: bool = True, contract: Contract | None = None
) -> st.SearchStrategy[Any]:
    """Values the server sends for `service`: its `object`, `page`, `event:*`, `result*`, `created` kinds."""
    contract = _contract(contract)
    _check_kind(contract, service, kind, allowed=lambda k: k not in REQUEST_KINDS)
    return _strategy(contract, service, kind, realistic=realistic)


def request(
    service: str, *, kind: str = "create", realistic: bool = True, contract: Contract | None = None
) -> st.SearchStrategy[Any]:
    """Bodies a client sends to `service`: `create`, `patch` (or authentication's `request`)."""
    contract = _contract(contract)
    _check_kind(contract, service, kind, allowed=lambda k: k in REQUEST_KINDS)
    return _strategy(contract, service, kind, realistic=realistic)


def event(event_name: str, *, realistic: bool = True, contract: Contract | None = None) -> st.SearchStrategy[Any]:
    """Payloads of the wire event `event_name`, e.g. `"traders patched"`, `"traders/pods/events created"`."""
    contract = _contract(contract)
    if not isinstance(event_name, str):
        raise TypeError(f"event_name must be a str, not {type(event_name).__name__}: {event_name!r}")
    if event_name not in contract.events():
        raise ValueError(f"event_name must be one of {', '.join(contract.events())}; got {event_name!r}")
    service, kind = contract.event_kind(event_name)
    return _strategy(contract, service, kind, realistic=realistic)


def _contract(contract: Contract | None) -> Contract:
    if contract is None:
        return default_contract()
    if not isinstance(contract, Contract):
        raise TypeError(f"contract must be a Contract or None, not {type(contract).__name__}: {contract!r}")
    return contract


def _check_kind(contract: Contract, service: str, kind: str, *, allowed: Callable[[str], bool]) -> None:
    if not isinstance(service, str):
        raise TypeError(f"service must be a str, not {type(service).__name__}: {service!r}")
    if not isinstance(kind, str):
        raise TypeError(f"kind must be a str, not {type(kind).__name__}: {kind!r}")
    services = contract.services()
    if service not in services:
        raise ValueError(f"service must be one of {', '.join(services)}; got {service!r}")
    valid = [k for k in contract.kinds(service) if allowed(k)]
    if kind not in valid:
        listed = ", ".join(valid) if valid else "none (use the other function)"
        raise ValueError(f"kind for {service} must be one of {listed}; got {kind!r}")


def _strategy(contract: Contract, service: str, kind: str, *, realistic: bool) -> st.SearchStrategy[Any]:
    if not isinstance(realistic, bool):
        raise TypeError(f"realistic must be a bool, not {type(realistic).__name__}: {realistic!r}")
    if realistic and contract is default_contract():
        return _generated(service, kind)
    schema = contract.resolved_schema(service, kind)
    return from_schema(schema, where=f"{service} {kind}")


def _generated(service: str, kind: str) -> st.SearchStrategy[Any]:
    """The fast generator's builder with hypothesis' random: realistic, and every choice shrinks."""

    def build(rng: Any) -> Any:
        return Generator(0, rng=rng).one(service, kind=kind)

    return st.randoms(use_true_random=False).map(build)
