"""The `Contract`: which schema applies to which (service, kind), and validation against it.

A kind names one shape a service exchanges: its stored `object`, the `create` and `patch` bodies, the `page`
a find answers with, one `event:<name>` payload per event it publishes, and a few special shapes
(authentication's `request` and `result`, the pod commands' `result:<command>`, the key `created` with its
secret). Every kind is a small schema that `$ref`s into the registry, and gets one validator, built the first
time that kind is validated.
"""

from __future__ import annotations

import copy
import functools
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from mockserver.contract._catalog import SERVICES, ServiceSpec
from mockserver.contract._loader import (
    BASE_URI,
    DIALECT,
    ContractError,
    build_registry,
    check_formats,
    load_schemas,
    locate_schemas,
)
from mockserver.contract._problems import Problem, RuledProblem, problems_from_errors, ruled_problems_from_errors
from mockserver.errors import BadRequest

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from referencing import Registry
    from referencing._core import Resolver

__all__ = ["ERROR_SERVICE", "Contract", "ContractViolation", "default_contract", "load_contract"]

ERROR_SERVICE = "error"
"""A pseudo-service with the single kind `object`: the Feathers error body (§6.1)."""

_COMMON = BASE_URI + "common.json"
_POD_COMMANDS = ("ping", "status", "balance", "profit")
# Event payloads that are not the service's object (D2, §10.4).
_EVENT_PAYLOADS = {("strategies", "removed"): "#/$defs/removed", ("keys", "created"): "#/$defs/created"}
_MAX_INLINE_DEPTH = 64


def _kind_schemas(spec: ServiceSpec) -> dict[str, dict[str, Any]]:
    """The schema of every kind of one service, in a stable order (object first, events last)."""
    uri = BASE_URI + spec.schema_file

    def ref(fragment: str = "") -> dict[str, Any]:
        return {"$schema": DIALECT, "$ref": uri + fragment}

    if spec.path == "authentication":
        request = ref("#/$defs/request")
        return {"request": request, "create": request, "result": ref("#/$defs/result")}
    if spec.path == "traders/pods":
        kinds = {"create": ref("#/$defs/create")}
        kinds.update({f"result:{command}": ref(f"#/$defs/{command}") for command in _POD_COMMANDS})
        return kinds
    kinds = {"object": ref()}
    if "create" in spec.methods:
        kinds["create"] = ref("#/$defs/create")
    if spec.path == "keys":
        kinds["created"] = ref("#/$defs/created")
    if "patch" in spec.methods:
        kinds["patch"] = ref("#/$defs/patch")
    if "find" in spec.methods:
        kinds["page"] = {
            "$schema": DIALECT,
            "$ref": _COMMON + "#/$defs/page",
            "properties": {"data": {"items": {"$ref": uri}}},
        }
    for event in spec.events:
        kinds[f"event:{event}"] = ref(_EVENT_PAYLOADS.get((spec.path, event), ""))
    return kinds


class _LazyRegistry:
    """The schemas' `referencing.Registry`, crawled when first asked for (`serve` starts without `referencing`)."""

    def __init__(self, documents: Mapping[str, Mapping[str, Any]], registry: Registry[Any] | None) -> None:
        self._documents = documents
        self._registry = registry
        self._lock = threading.Lock()

    def get(self) -> Registry[Any]:
        registry = self._registry
        if registry is None:
            with self._lock:
                if self._registry is None:
                    self._registry = build_registry(self._documents)
                registry = self._registry
        return registry


class _Validators(Mapping[tuple[str, str], "Draft202012Validator"]):
    """One validator per kind, built on first use: building all of them (and importing jsonschema) at load would
    cost `serve` a fifth of its start-up. Read-only to callers; thread-safe, so a shared contract stays shareable.
    """

    def __init__(self, schemas: Mapping[tuple[str, str], Mapping[str, Any]], registry: _LazyRegistry) -> None:
        self._schemas = schemas
        self._registry = registry
        self._built: dict[tuple[str, str], Draft202012Validator] = {}
        self._lock = threading.Lock()

    def __getitem__(self, key: tuple[str, str]) -> Draft202012Validator:
        validator = self._built.get(key)
        if validator is None:
            with self._lock:
                validator = self._built.get(key) or self._build(key)
        return validator

    def _build(self, key: tuple[str, str]) -> Draft202012Validator:
        from jsonschema import Draft202012Validator

        if not self._built:
            check_formats()
        # Validating the inlined schema is ~2.4x faster than following `$ref`s through the registry per call.
        registry = self._registry.get()
        inlined = {"$schema": DIALECT, **_inline(dict(self._schemas[key]), registry.resolver(), 0)}
        validator = Draft202012Validator(inlined, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)
        self._built[key] = validator
        return validator

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._schemas)

    def __len__(self) -> int:
        return len(self._schemas)


class UnknownSchemaError(KeyError):
    """An unknown service, kind or event name; the message lists the valid ones."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


@dataclass(frozen=True, eq=False)  # no slots: with them, setting the `registry` property would not say "frozen"
class Contract:
    """All schemas of the API, loaded once; read-only, so one instance can serve every thread and test.

    Besides the catalog's services, the pseudo-service `"error"` has the kind `"object"`: the Feathers error
    body.
    """

    source: str
    """Where the schemas were read from."""
    _registry: _LazyRegistry
    _schemas: Mapping[tuple[str, str], Mapping[str, Any]]
    _validators: Mapping[tuple[str, str], Draft202012Validator]
    _kinds: Mapping[str, tuple[str, ...]]

    @property
    def registry(self) -> Registry[Any]:
        """The immutable registry of every schema file, keyed by `$id` (built on first use)."""
        return self._registry.get()

    def services(self) -> tuple[str, ...]:
        """The catalog's service paths (without the `error` pseudo-service)."""
        return tuple(SERVICES)

    def events(self) -> tuple[str, ...]:
        """Every event the mock publishes, by its wire name, e.g. `"traders/pods/events created"` (slashes kept:
        docs/contract.md#event-names-keep-their-slashes)."""
        return tuple(name for spec in SERVICES.values() for name in spec.event_names)

    def kinds(self, service: str) -> tuple[str, ...]:
        """The schema kinds of one service (or of the `error` pseudo-service)."""
        _check_str("service", service)
        try:
            return self._kinds[service]
        except KeyError:
            raise UnknownSchemaError(f"unknown service {service!r}; known: {', '.join(self._kinds)}") from None

    def schema(self, service: str, kind: str = "object") -> dict[str, Any]:
        """The kind's schema: a small document that `$ref`s into `registry` (a fresh copy each call)."""
        return copy.deepcopy(dict(self._schemas[self._key(service, kind)]))

    def resolved_schema(self, service: str, kind: str = "object") -> dict[str, Any]:
        """The kind's schema with every `$ref` inlined, for tools that cannot use a registry.

        `mockserver.strategies` compiles these into hypothesis strategies.
        """
        key = self._key(service, kind)
        resolver = self.registry.resolver()
        inlined = _inline(dict(self._schemas[key]), resolver, 0)
        return {"$schema": DIALECT, **inlined}

    def validator(self, service: str, kind: str = "object") -> Draft202012Validator:
        """The cached validator of a kind (with the registry and format checking)."""
        return self._validators[self._key(service, kind)]

    def validate(self, service: str, kind: str, instance: Any) -> list[Problem]:
        """Every problem of `instance` as `{path, message}` items, sorted by path; `[]` when it is valid."""
        validator = self._validators[self._key(service, kind)]
        return problems_from_errors(validator.iter_errors(instance))

    def violations(self, service: str, kind: str, instance: Any) -> list[RuledProblem]:
        """The problems of `validate`, each with the schema rule it broke (`required`, `type`, `enum`, ...)."""
        validator = self._validators[self._key(service, kind)]
        return ruled_problems_from_errors(validator.iter_errors(instance))

    def validate_event(self, event_name: str, payload: Any) -> list[Problem]:
        """Validate an event payload by its wire name, e.g. `"strategies removed"`."""
        service, kind = self.event_kind(event_name)
        return self.validate(service, kind, payload)

    def event_kind(self, event_name: str) -> tuple[str, str]:
        """The (service, kind) that holds the payload schema of a wire event name."""
        _check_str("event_name", event_name)
        service, _, event = event_name.rpartition(" ")
        spec = SERVICES.get(service)
        if spec is None or event not in spec.events:
            raise UnknownSchemaError(f"unknown event {event_name!r}; known: {', '.join(self.events())}")
        return service, f"event:{event}"

    def check(self, service: str, kind: str, instance: Any) -> None:
        """Raise the Feathers `BadRequest("Validation failed")` the server answers with if invalid
        (docs/contract.md#validation-errors)."""
        problems = self.validate(service, kind, instance)
        if problems:
            raise BadRequest("Validation failed", errors=[dict(problem) for problem in problems])

    def assert_valid(self, service: str, kind: str, instance: Any) -> None:
        """Fail a test with a `ContractViolation` (an AssertionError) if `instance` breaks the schema."""
        problems = self.validate(service, kind, instance)
        if problems:
            raise ContractViolation(service=service, kind=kind, problems=problems, instance=instance)

    def assert_event(self, event_name: str, payload: Any) -> None:
        """Fail a test with a `ContractViolation` if an event payload breaks its schema (e.g. "traders patched")."""
        service, kind = self.event_kind(event_name)
        problems = self.validate(service, kind, payload)
        if problems:
            raise ContractViolation(service=service, kind=kind, problems=problems, instance=payload, event=event_name)

    def _key(self, service: str, kind: str) -> tuple[str, str]:
        _check_str("kind", kind)
        kinds = self.kinds(service)
        if kind not in kinds:
            raise UnknownSchemaError(f"service {service!r} has no kind {kind!r}; its kinds: {', '.join(kinds)}")
        return service, kind


class ContractViolation(AssertionError):
    """A payload that breaks the contract, with the fields a report needs; test runners show it as a failure."""

    def __init__(
        self, *, service: str, kind: str, problems: list[Problem], instance: Any, event: str | None = None
    ) -> None:
        self.service = service
        self.kind = kind
        self.event = event
        self.problems = problems
        self.instance = instance
        subject = f"event {event!r}" if event else f"{service} {kind}"
        lines = "\n".join(f"  {problem['path'] or '(root)'}: {problem['message']}" for problem in problems)
        super().__init__(f"{subject} breaks the contract:\n{lines}")


def _check_str(argument: str, value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{argument} must be a str, not {type(value).__name__}: {value!r}")


def _inline(node: Any, resolver: Resolver[Any], depth: int) -> Any:
    if depth > _MAX_INLINE_DEPTH:
        raise ContractError("schema references nest too deeply (a $ref cycle?)")
    if isinstance(node, list):
        return [_inline(item, resolver, depth) for item in node]
    if not isinstance(node, dict):
        return node
    rest = {
        key: _inline(value, resolver, depth)
        for key, value in node.items()
        if key not in ("$ref", "$id", "$schema", "$defs")
    }
    ref = node.get("$ref")
    if not isinstance(ref, str):
        return rest
    resolved = resolver.lookup(ref)
    target = _inline(resolved.contents, resolved.resolver, depth + 1)
    if not isinstance(target, dict):  # a boolean schema
        return {"allOf": [target], **rest} if rest else {"allOf": [target]}
    annotations = {"title", "description", "$comment", "examples", "default"}
    if set(rest) <= annotations:
        return {**target, **rest}
    return {"allOf": [target], **rest}


def load_contract(path: str | os.PathLike[str] | None = None) -> Contract:
    """Load every schema file into a new `Contract`.

    Lookup order: `path`; the `CRYPTOROBOT_MOCK_SCHEMAS` environment variable; the schemas shipped inside the
    installed package; the `schemas/` directory of a source checkout. Raises `ContractError` when no directory
    is found or a file is not a usable schema.
    """
    if path is not None and not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a str, an os.PathLike or None, not {type(path).__name__}: {path!r}")
    directory, origin = locate_schemas(path)
    required = frozenset({"common.json", *(spec.schema_file for spec in SERVICES.values())})
    shipped = origin in ("installed package", "source checkout")  # tests/unit/test_contract.py checks these
    loaded = load_schemas(directory, origin=origin, required_files=required, check_metaschema=not shipped)
    schemas: dict[tuple[str, str], Mapping[str, Any]] = {}
    kinds: dict[str, tuple[str, ...]] = {}
    for spec in SERVICES.values():
        service_kinds = _kind_schemas(spec)
        kinds[spec.path] = tuple(service_kinds)
        for kind, kind_schema in service_kinds.items():
            schemas[spec.path, kind] = kind_schema
    kinds[ERROR_SERVICE] = ("object",)
    schemas[ERROR_SERVICE, "object"] = {"$schema": DIALECT, "$ref": _COMMON + "#/$defs/error"}

    if loaded.registry is not None:  # not for the shipped schemas, whose kinds the test suite resolves
        resolver = loaded.registry.resolver()
        for key, schema in schemas.items():
            _check_kind_target(key, schema, resolver)
    frozen = MappingProxyType({key: MappingProxyType(schema) for key, schema in schemas.items()})
    registry = _LazyRegistry(loaded.documents, loaded.registry)
    return Contract(
        source=loaded.source,
        _registry=registry,
        _schemas=frozen,
        _validators=_Validators(frozen, registry),
        _kinds=MappingProxyType(kinds),
    )


def _check_kind_target(key: tuple[str, str], schema: Mapping[str, Any], resolver: Resolver[Any]) -> None:
    from referencing.exceptions import Unresolvable

    try:
        resolver.lookup(schema["$ref"])
    except Unresolvable:
        service, kind = key
        raise ContractError(
            f"kind {kind!r} of service {service!r} needs {schema['$ref']}, which the schemas do not define"
        ) from None


@functools.cache
def default_contract() -> Contract:
    """The contract from the default location, loaded on first use and shared afterwards."""
    return load_contract()
