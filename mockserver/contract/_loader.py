"""Find the schema directory and load every file in it into one immutable `referencing.Registry`.

Everything that can be wrong with the schemas (a missing directory, a file that is not JSON, a schema that is
not valid 2020-12, a `$ref` that leads nowhere) is found here, once, and reported as a `ContractError` that
names the file. Validation later never meets a half-loaded contract. The shipped schemas skip the costly checks
(the test suite makes them) and their registry is built on first need, so `serve` does not import `referencing`.
"""

from __future__ import annotations

import importlib.resources
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from referencing import Registry

__all__ = [
    "BASE_URI",
    "DIALECT",
    "ENV_VAR",
    "ContractError",
    "LoadedSchemas",
    "build_registry",
    "check_formats",
    "load_schemas",
    "locate_schemas",
]

BASE_URI = "https://schemas.cryptorobot.ai/"
"""Every schema file's `$id` is this followed by its file name."""
DIALECT = "https://json-schema.org/draft/2020-12/schema"
ENV_VAR = "CRYPTOROBOT_MOCK_SCHEMAS"
"""Environment variable naming a schema directory to use instead of the bundled one."""

# Formats the schemas rely on; jsonschema checks date-time only when rfc3339-validator is installed.
_REQUIRED_FORMATS = {
    "date-time": "rfc3339-validator",
    "email": "jsonschema",
    "ipv4": "jsonschema",
    "uuid": "jsonschema",
}


class ContractError(Exception):
    """The schema directory cannot be found or one of its files is not a usable schema."""


@dataclass(frozen=True, slots=True)
class LoadedSchemas:
    """The parsed schema documents, keyed by file name, and the crawled registry that holds them by `$id` (None
    when the checks were skipped: `build_registry` makes it on first need)."""

    source: str
    documents: Mapping[str, Mapping[str, Any]]
    registry: Registry[Any] | None


def locate_schemas(path: str | os.PathLike[str] | None) -> tuple[Traversable, str]:
    """The schema directory and a phrase saying where it came from, in the documented lookup order.

    An explicit `path` or the environment variable must name an existing directory: a typo there should fail
    loudly rather than fall back silently to the bundled schemas.
    """
    if path is not None:
        return _existing_dir(Path(path), "path argument"), "path argument"
    from_env = os.environ.get(ENV_VAR)
    if from_env:
        return _existing_dir(Path(from_env), f"${ENV_VAR}"), f"${ENV_VAR}"
    tried: list[str] = []
    try:
        bundled = importlib.resources.files("mockserver") / "schemas"
        if bundled.is_dir():
            return bundled, "installed package"
        tried.append(str(bundled))
    except (ModuleNotFoundError, TypeError, OSError) as exc:  # no importable package: try the checkout
        tried.append(f"mockserver/schemas ({exc})")
    checkout = Path(__file__).resolve().parents[2] / "schemas"
    if checkout.is_dir():
        return checkout, "source checkout"
    tried.append(str(checkout))
    raise ContractError(f"no schema directory found (looked in: {'; '.join(tried)}); pass path=... or set {ENV_VAR}")


def _existing_dir(path: Path, origin: str) -> Path:
    if not path.exists():
        raise ContractError(f"schema directory {str(path)!r} (from the {origin}) does not exist")
    if not path.is_dir():
        raise ContractError(f"schema directory {str(path)!r} (from the {origin}) is not a directory")
    return path


def load_schemas(
    directory: Traversable, *, origin: str, required_files: frozenset[str], check_metaschema: bool = True
) -> LoadedSchemas:
    """Read, check and register every `*.json` file of `directory`; `required_files` must all be there.

    `check_metaschema=False` skips the costly metaschema check (about 0.1 s) and the `$ref` check (with the
    registry and the `referencing` import); only for the shipped schemas, which the test suite checks instead, so
    that `serve` starts fast.
    """
    if check_metaschema:
        check_formats()
    documents: dict[str, dict[str, Any]] = {}
    try:
        entries = sorted(
            (entry for entry in directory.iterdir() if entry.name.endswith(".json")), key=lambda entry: entry.name
        )
    except OSError as exc:
        raise ContractError(f"cannot list schema directory {str(directory)!r} ({origin}): {exc}") from exc
    for entry in entries:
        documents[entry.name] = _read_schema(entry, check_metaschema=check_metaschema)
    missing = sorted(required_files - documents.keys())
    if missing:
        raise ContractError(f"schema directory {str(directory)!r} ({origin}) lacks {', '.join(missing)}")
    if not check_metaschema:
        return LoadedSchemas(source=str(directory), documents=documents, registry=None)
    registry = build_registry(documents)
    for name, document in documents.items():
        _check_references(name, document, registry)
    return LoadedSchemas(source=str(directory), documents=documents, registry=registry)


def build_registry(documents: Mapping[str, Mapping[str, Any]]) -> Registry[Any]:
    """The crawled, immutable registry of the documents, keyed by their `$id`."""
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    resources: list[tuple[str, Resource[Any]]] = [
        (document["$id"], DRAFT202012.create_resource(document)) for document in documents.values()
    ]
    return Registry().with_resources(resources).crawl()


def check_formats() -> None:
    """Fail unless jsonschema can check every format the schemas use (an optional package may be missing).

    Made when the first validator is built (jsonschema is not imported before: `serve` starts faster), and at
    load for a user's schema directory."""
    from jsonschema import Draft202012Validator

    checkers = Draft202012Validator.FORMAT_CHECKER.checkers
    for fmt, package in _REQUIRED_FORMATS.items():
        if fmt not in checkers:
            raise ContractError(f"jsonschema cannot check the {fmt!r} format; install it with: pip install {package}")


def _read_schema(entry: Traversable, *, check_metaschema: bool) -> dict[str, Any]:
    name = entry.name
    try:
        text = entry.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractError(f"{name}: cannot read schema file: {exc}") from exc
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise ContractError(f"{name}: not valid JSON: {exc.msg} ({where})") from exc
    if not isinstance(document, dict):
        raise ContractError(f"{name}: a schema file must hold a JSON object, not {type(document).__name__}")
    if document.get("$schema") != DIALECT:
        raise ContractError(f"{name}: $schema must be {DIALECT!r}, not {document.get('$schema')!r}")
    if document.get("$id") != BASE_URI + name:
        raise ContractError(f"{name}: $id must be {BASE_URI + name!r}, not {document.get('$id')!r}")
    if check_metaschema:
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError

        try:
            Draft202012Validator.check_schema(document)
        except SchemaError as exc:
            raise ContractError(f"{name}: not a valid JSON Schema 2020-12 at {exc.json_path}: {exc.message}") from exc
    return document


def _check_references(name: str, document: Mapping[str, Any], registry: Registry[Any]) -> None:
    from referencing.exceptions import Unresolvable

    resolver = registry.resolver(base_uri=document["$id"])
    for pointer, ref in _references(document, "#"):
        try:
            resolver.lookup(ref)
        except Unresolvable as exc:
            raise ContractError(f"{name}: $ref {ref!r} at {pointer} does not resolve ({exc})") from exc


def _references(node: Any, pointer: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield pointer, value
            else:
                yield from _references(value, f"{pointer}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _references(value, f"{pointer}/{index}")
