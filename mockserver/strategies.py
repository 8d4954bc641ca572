"""Hypothesis strategies for every schema of the contract, built with hypothesis-jsonschema.

    from mockserver import strategies
    @given(strategies.record("traders"), strategies.event("traders patched"))
    def test_ui_renders(trader, payload): ...

`record` covers what the server sends (objects, pages, results, the key `created`); `request` what a client
sends (`create`, `patch`, authentication's `request`); `event` an event payload by its wire name (D1).
Arguments are checked when you call them; the strategy itself is built lazily on first draw, because
hypothesis-jsonschema canonicalises the whole schema up front.

hypothesis-jsonschema knows neither the `referencing` registry nor draft 2020-12, so each kind's schema is
made self-contained here: every `$ref` is inlined from `Contract.registry`, and the result is written as
draft 7 (`dependentRequired` becomes `dependencies`). The D7 timestamps (`format: date-time` plus a pattern
requiring milliseconds) get a custom format whose strategy only makes `2024-01-15T10:00:00.000Z`-shaped
strings; hypothesis-jsonschema would otherwise draw RFC 3339 date-times and then filter nearly all of them
out by the pattern.

The only module of the package that imports hypothesis (ARCHITECTURE.md, layer 2): import it on demand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from mockserver.contract import Contract, default_contract

if TYPE_CHECKING:
    pass  # not re-exported by referencing

__all__ = ["event", "record", "request", "standalone_schema"]

REQUEST_KINDS = frozenset({"create", "patch", "request"})
"""Kinds a client sends; every other kind is something the server sends."""

_DRAFT7 = "http://json-schema.org/draft-07/schema#"
_TIMESTAMP_FORMAT = "cryptorobot-timestamp"
_EPOCH_2000 = datetime(2000, 1, 1, tzinfo=UTC)
_MS_2000_TO_2100 = 100 * 365 * 24 * 3600 * 1000


def _timestamp(ms: int) -> str:
    moment = _EPOCH_2000 + timedelta(milliseconds=ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


_CUSTOM_FORMATS: dict[str, st.SearchStrategy[str]] = {
    # D7: ISO-8601 UTC with milliseconds, between 2000 and 2100.
    _TIMESTAMP_FORMAT: st.integers(min_value=0, max_value=_MS_2000_TO_2100).map(_timestamp),
    # hypothesis-jsonschema has no strategy for "uuid" (the JWT's jti claim).
    "uuid": st.uuids().map(str),
}


def standalone_schema(service: str, *, kind: str = "object", contract: Contract | None = None) -> dict[str, Any]:
    """The draft-7, reference-free form of a kind's schema that the strategies are built from."""
    contract = _contract(contract)
    _check_kind(contract, service, kind, allowed=None)
    return _standalone(contract, service, kind)


def record(service: str, *, kind: str = "object", contract: Contract | None = None) -> st.SearchStrategy[Any]:
    """Values the server sends for `service`: its `object`, `page`, `event:*`, `result*`, `created` kinds."""
    contract = _contract(contract)
    _check_kind(contract, service, kind, allowed=lambda k: k not in REQUEST_KINDS)
    return _strategy(contract, service, kind)


def request(service: str, *, kind: str = "create", contract: Contract | None = None) -> st.SearchStrategy[Any]:
    """Bodies a client sends to `service`: `create`, `patch` (or authentication's `request`)."""
    contract = _contract(contract)
    _check_kind(contract, service, kind, allowed=lambda k: k in REQUEST_KINDS)
    return _strategy(contract, service, kind)


def event(event_name: str, *, contract: Contract | None = None) -> st.SearchStrategy[Any]:
    """Payloads of the wire event `event_name`, e.g. `"traders patched"`, `"traders/pods/events created"`."""
    contract = _contract(contract)
    if not isinstance(event_name, str):
        raise TypeError(f"event_name must be a str, not {type(event_name).__name__}: {event_name!r}")
    if event_name not in contract.events():
        raise ValueError(f"event_name must be one of {', '.join(contract.events())}; got {event_name!r}")
    service, kind = contract.event_kind(event_name)
    return _strategy(contract, service, kind)


def _contract(contract: Contract | None) -> Contract:
    if contract is None:
        return default_contract()
    if not isinstance(contract, Contract):
        raise TypeError(f"contract must be a Contract or None, not {type(contract).__name__}: {contract!r}")
    return contract


def _check_kind(contract: Contract, service: str, kind: str, *, allowed: Any) -> None:
    if not isinstance(service, str):
        raise TypeError(f"service must be a str, not {type(service).__name__}: {service!r}")
    if not isinstance(kind, str):
        raise TypeError(f"kind must be a str, not {type(kind).__name__}: {kind!r}")
    services = contract.services()
    if service not in services:
        raise ValueError(f"service must be one of {', '.join(services)}; got {service!r}")
    valid = [k for k in contract.kinds(service) if allowed is None or allowed(k)]
    if kind not in valid:
        listed = ", ".join(valid) if valid else "none (use the other function)"
        raise ValueError(f"kind for {service} must be one of {listed}; got {kind!r}")


def _strategy(contract: Contract, service: str, kind: str) -> st.SearchStrategy[Any]:
    def build() -> st.SearchStrategy[Any]:
        schema = _standalone(contract, service, kind)
        return from_schema(schema, custom_formats=_CUSTOM_FORMATS, allow_x00=False)

    return st.deferred(build)


def _standalone(contract: Contract, service: str, kind: str) -> dict[str, Any]:
    converted = _to_draft7(contract.resolved_schema(service, kind))
    assert isinstance(converted, dict)
    converted["$schema"] = _DRAFT7
    return converted


def _to_draft7(node: Any) -> Any:
    """Translate an already self-contained 2020-12 schema into the draft 7 that hypothesis-jsonschema reads."""
    if isinstance(node, list):
        return [_to_draft7(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("$schema", "$comment"):
            continue
        if key == "dependentRequired":
            out.setdefault("dependencies", {}).update(value)
        elif key in ("dependentSchemas", "properties", "patternProperties", "dependencies"):
            # The keys here are property names, not keywords: only the subschemas are converted.
            target = "dependencies" if key == "dependentSchemas" else key
            out.setdefault(target, {}).update({name: _to_draft7(sub) for name, sub in value.items()})
        else:
            out[key] = _to_draft7(value)
    if out.get("format") == "date-time" and "pattern" in out:
        out["format"] = _TIMESTAMP_FORMAT
        del out["pattern"]
    return out
