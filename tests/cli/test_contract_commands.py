"""`generate` and `schemas` through the real entry point (`python -m mockserver.cli`): exit codes and messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "mockserver.cli"]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def test_generate_without_kind_names_the_option_when_the_service_has_no_records() -> None:
    done = cli("generate", "authentication")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "Error: authentication has no records to generate; pick --kind, one of request, create, result"
    )
    assert "'object'" not in done.stderr  # a kind the user never typed


def test_generate_defaults_to_records_and_takes_the_named_kind() -> None:
    records = cli("generate", "strategies", "-n", "2")
    assert records.returncode == 0, records.stderr
    assert [set(json.loads(line)) >= {"_id", "name"} for line in records.stdout.splitlines()] == [True, True]
    login = cli("generate", "authentication", "--kind", "request")
    assert login.returncode == 0, login.stderr
    assert "strategy" in json.loads(login.stdout)


def test_generate_with_an_unknown_kind_lists_the_kinds() -> None:
    done = cli("generate", "authentication", "--kind", "object")
    assert done.returncode == 2
    assert "must be one of request, create, result; got 'object'" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("where", ["before", "after"])
def test_schemas_dir_is_accepted_before_and_after_the_subcommand(where: str, tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere")
    args = ["--dir", missing, "list"] if where == "before" else ["list", "--dir", missing]
    done = cli("schemas", *args)
    assert done.returncode == 2
    assert done.stderr.strip() == f"Error: schema directory '{missing}' (from the path argument) does not exist"


def test_schemas_dir_after_validate_is_used(tmp_path: Path) -> None:
    schemas = tmp_path / "s"
    schemas.mkdir()
    for source in (ROOT / "schemas").glob("*.json"):
        (schemas / source.name).write_text(source.read_text())
    users = json.loads((schemas / "users.json").read_text())
    users["$defs"]["plan"]["enum"] = ["free"]
    (schemas / "users.json").write_text(json.dumps(users))
    document = tmp_path / "user.json"
    user = {"_id": "u", "email": "a@example.com", "name": "", "plan": "pro", "verified": False}
    user |= {"createdAt": "2024-01-15T10:00:00.000Z", "updatedAt": "2024-01-15T10:00:00.000Z"}
    document.write_text(json.dumps(user))
    bundled = cli("schemas", "validate", str(document), "-s", "users")
    assert (bundled.returncode, bundled.stdout) == (0, "1: valid\n")
    own = cli("schemas", "validate", str(document), "-s", "users", "--dir", str(schemas))
    assert (own.returncode, own.stdout) == (1, '1: plan: must be one of "free"\n')
