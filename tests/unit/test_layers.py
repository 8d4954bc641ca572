"""The import rules of ARCHITECTURE.md, checked on the source and in fresh interpreters."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# (module prefix, forbidden import prefixes) — the first matching prefix wins, most specific first.
RULES: list[tuple[str, tuple[str, ...]]] = [
    (
        "mockserver.errors",
        (
            "mockserver.contract",
            "mockserver.synth",
            "mockserver.server",
            "mockserver.cli",
            "mockserver.strategies",
            "jsonschema",
            "socketio",
            "aiohttp",
            "hypothesis",
            "pytest",
            "click",
            "faker",
        ),
    ),
    (
        "mockserver.contract",
        (
            "mockserver.server",
            "mockserver.synth",
            "mockserver.cli",
            "mockserver.strategies",
            "socketio",
            "engineio",
            "aiohttp",
            "hypothesis",
            "pytest",
            "click",
            "faker",
        ),
    ),
    (
        "mockserver.scripting",
        (
            "mockserver.server",
            "mockserver.cli",
            "mockserver.strategies",
            "socketio",
            "engineio",
            "aiohttp",
            "hypothesis",
            "pytest",
            "click",
        ),
    ),
    ("mockserver.strategies", ("mockserver.server", "mockserver.cli", "socketio", "aiohttp", "pytest", "click")),
    (
        "mockserver.synth",
        (
            "mockserver.server",
            "mockserver.cli",
            "mockserver.strategies",
            "socketio",
            "engineio",
            "aiohttp",
            "hypothesis",
            "pytest",
            "click",
        ),
    ),
    # The query engine is a library of its own: JSON values and Feathers errors in, nothing of the server.
    (
        "mockserver.server.query",
        (
            *(f"mockserver.server.{p.stem}" for p in (ROOT / "mockserver" / "server").glob("_*.py")),
            "mockserver.synth",
            "mockserver.cli",
            "socketio",
            "engineio",
            "aiohttp",
            "jwt",
        ),
    ),
    # The core holds services by a protocol type, so it never imports the domain or the transports.
    (
        "mockserver.server._core",
        (
            "mockserver.server._services",
            "mockserver.server._socket",
            "mockserver.server._rest",
            "mockserver.server._app",
        ),
    ),
    ("mockserver.server", ("mockserver.cli", "mockserver.strategies", "hypothesis", "pytest", "click")),
    # verify is a client of a live server: it must not use the mock's own code to judge it.
    (
        "mockserver.verify",
        ("mockserver.server", "mockserver.cli", "mockserver.strategies", "hypothesis", "pytest", "click"),
    ),
    ("mockserver.cli", ("pytest_plugin", "pytest", "hypothesis")),
    ("mockserver", ("pytest", "click", "hypothesis", "mockserver.cli", "mockserver.strategies")),
    ("pytest_plugin", ("click", "mockserver.cli")),
]


def _modules() -> list[tuple[str, Path]]:
    found = []
    for package in ("mockserver", "pytest_plugin"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found.append((name, path))
    return found


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _forbidden_for(module: str) -> tuple[str, ...]:
    for prefix, forbidden in RULES:
        if module == prefix or module.startswith(prefix + "."):
            return forbidden
    return ()


def _hits(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@pytest.mark.parametrize(("module", "path"), _modules(), ids=[m for m, _ in _modules()])
def test_module_respects_its_layer(module: str, path: Path) -> None:
    forbidden = _forbidden_for(module)
    bad = sorted(name for name in _imports(path) for prefix in forbidden if _hits(name, prefix))
    assert not bad, f"{module} imports {bad}, which ARCHITECTURE.md forbids for its layer"


def test_only_the_cli_imports_click_and_only_the_plugin_imports_pytest() -> None:
    for module, path in _modules():
        names = _imports(path)
        if not module.startswith("mockserver.cli"):
            assert not any(_hits(n, "click") for n in names), f"{module} imports click"
        if not module.startswith("pytest_plugin"):
            assert not any(_hits(n, "pytest") for n in names), f"{module} imports pytest"


@pytest.mark.parametrize(
    ("module", "must_not_load"),
    [
        ("mockserver.contract", ("socketio", "aiohttp", "hypothesis", "faker", "click", "pytest")),
        ("mockserver.synth", ("socketio", "aiohttp", "hypothesis", "click", "pytest")),
        ("mockserver", ("hypothesis", "click", "pytest")),
        ("mockserver.cli", ("hypothesis", "pytest", "aiohttp", "socketio")),
        ("mockserver.verify", ("mockserver.server", "hypothesis", "click", "pytest")),
    ],
)
def test_module_imports_alone_without_heavy_layers(module: str, must_not_load: tuple[str, ...]) -> None:
    """Import in a fresh interpreter: a lower layer must not drag in an upper one at run time either."""
    code = (
        f"import sys, {module}\n"
        f"loaded = sorted(m for m in {must_not_load!r} if m in sys.modules)\n"
        "print(','.join(loaded))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"importing {module} loaded {done.stdout.strip()}"
