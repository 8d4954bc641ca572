"""Golden examples from the spec validate; hand-made invalid variants fail with the expected problem."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mockserver.contract import Contract, default_contract

GOLDEN = Path(__file__).resolve().parents[2] / "fixtures" / "golden"
MANIFEST: dict[str, Any] = json.loads((GOLDEN / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def contract() -> Contract:
    return default_contract()


def _load(entry: dict[str, str]) -> Any:
    return json.loads((GOLDEN / entry["file"]).read_text(encoding="utf-8"))


@pytest.mark.parametrize("entry", MANIFEST["examples"], ids=lambda entry: entry["file"])
def test_golden_example_is_valid(contract: Contract, entry: dict[str, str]) -> None:
    assert contract.validate(entry["service"], entry["kind"], _load(entry)) == []


@pytest.mark.parametrize("entry", MANIFEST["invalid"], ids=lambda entry: entry["file"])
def test_invalid_variant_fails_with_expected_problem(contract: Contract, entry: dict[str, str]) -> None:
    problems = contract.validate(entry["service"], entry["kind"], _load(entry))
    assert {"path": entry["path"], "message": entry["message"]} in problems, problems


def test_manifest_covers_every_file_once() -> None:
    listed = [entry["file"] for entry in (*MANIFEST["examples"], *MANIFEST["invalid"])]
    on_disk = sorted(str(path.relative_to(GOLDEN)) for path in GOLDEN.rglob("*.json") if path.name != "manifest.json")
    assert sorted(listed) == on_disk
    assert len(set(listed)) == len(listed)


def test_every_section_6_3_error_body_is_a_golden_example() -> None:
    errors = [entry for entry in MANIFEST["examples"] if entry["service"] == "error"]
    names = {json.loads((GOLDEN / entry["file"]).read_text())["name"] for entry in errors}
    assert len(errors) == 9
    assert names == {
        "NotAuthenticated",
        "NotFound",
        "BadRequest",
        "Forbidden",
        "MethodNotAllowed",
        "Unprocessable",
        "Conflict",
        "TooManyRequests",
    }


def test_golden_bodies_use_no_elided_values() -> None:
    for path in GOLDEN.rglob("*.json"):
        assert "..." not in path.read_text(encoding="utf-8"), path
        assert "…" not in path.read_text(encoding="utf-8"), path


def test_resolved_schemas_accept_and_refuse_the_same_golden_bodies(contract: Contract) -> None:
    """The inlined schemas (for tools without a registry) agree with the registry-backed validators."""
    from jsonschema import Draft202012Validator

    for entry in (*MANIFEST["examples"], *MANIFEST["invalid"]):
        schema = contract.resolved_schema(entry["service"], entry["kind"])
        assert "$ref" not in json.dumps(schema)
        validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
        expected_valid = entry in MANIFEST["examples"]
        assert validator.is_valid(_load(entry)) is expected_valid, entry["file"]
