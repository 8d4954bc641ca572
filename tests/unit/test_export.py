"""`schemas export`: the AsyncAPI 3.0 and OpenAPI 3.1 documents are valid by the official specification schemas,
and say what the contract says (every event and call, the same payload schemas)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, validators
from openapi_spec_validator import validate as validate_openapi
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from mockserver.contract import SERVICES, asyncapi_document, default_contract, openapi_document

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "fixtures" / "golden"
ASYNCAPI_SCHEMA = ROOT / "tests" / "interop" / "node_modules" / "@asyncapi" / "specs" / "schemas" / "3.0.0.json"


@pytest.fixture(scope="module")
def asyncapi() -> dict[str, Any]:
    return asyncapi_document(default_contract())


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return openapi_document(default_contract())


@pytest.fixture(scope="module")
def asyncapi_errors() -> Any:
    """Every error of a document by the official AsyncAPI 3.0.0 JSON Schema (npm @asyncapi/specs)."""
    if not ASYNCAPI_SCHEMA.is_file():
        missing = f"{ASYNCAPI_SCHEMA} is missing: run `npm ci` in tests/interop (`scripts/dev test` does)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI must check the AsyncAPI document, but {missing}")
        pytest.skip(missing)
    spec = json.loads(ASYNCAPI_SCHEMA.read_text())
    validator = validators.validator_for(spec)(spec)
    return lambda document: [f"{e.json_path}: {e.message[:200]}" for e in validator.iter_errors(document)]


def test_asyncapi_document_is_valid_asyncapi_3(asyncapi: dict[str, Any], asyncapi_errors: Any) -> None:
    assert asyncapi["asyncapi"] == "3.0.0"
    assert asyncapi_errors(asyncapi) == []
    # the check can fail: an operation without its action, a reply pointing nowhere
    broken = copy.deepcopy(asyncapi)
    del broken["operations"]["call.strategies.find"]["action"]
    broken["operations"]["call.strategies.get"]["reply"] = {"channel": 7}
    assert len(asyncapi_errors(broken)) >= 2


def test_asyncapi_lists_every_event_with_its_payload_schema(asyncapi: dict[str, Any]) -> None:
    contract = default_contract()
    messages = asyncapi["channels"]["socket"]["messages"]
    events = {message["name"]: message for message in messages.values() if message["title"].endswith(" event")}
    assert sorted(events) == sorted(contract.events())
    for name, message in events.items():
        schema = message["payload"]["schema"]
        Draft202012Validator.check_schema(schema)
        assert message["payload"]["schemaFormat"] == "application/schema+json;version=2020-12"
        assert "$ref" not in json.dumps(schema), name  # self-contained
    received = {op["messages"][0]["$ref"] for op in asyncapi["operations"].values() if op["action"] == "receive"}
    assert len(received) == len(events)
    # the exported schema judges as the contract does
    strategy = json.loads((GOLDEN / "strategies.create-response.json").read_text())
    payload = Draft202012Validator(events["strategies patched"]["payload"]["schema"])
    assert payload.is_valid(strategy)
    assert not payload.is_valid({**strategy, "stoploss": "-0.1"})
    assert not payload.is_valid({k: v for k, v in strategy.items() if k != "name"})
    removed = Draft202012Validator(events["strategies removed"]["payload"]["schema"])
    assert removed.is_valid({"_id": strategy["_id"]})  # D2: the removed event carries only the id


def test_asyncapi_describes_every_call_and_its_ack(asyncapi: dict[str, Any]) -> None:
    messages = asyncapi["channels"]["socket"]["messages"]
    calls = {key: op for key, op in asyncapi["operations"].items() if op["action"] == "send"}
    expected = {
        (path, method)
        for path, spec in SERVICES.items()
        for method in ("find", "get", "create", "patch", "remove")
        if method in spec.methods
    }
    assert len(calls) == len(expected)
    find = messages["call.strategies.find"]
    assert find["name"] == "find"
    call = Draft202012Validator(find["payload"]["schema"])
    assert call.is_valid(["strategies", {"$limit": 5}])
    assert not call.is_valid(["traders", {}])  # the path is the first argument
    ack_ref = calls["call.strategies.create"]["reply"]["messages"][0]["$ref"]
    ack = Draft202012Validator(messages[ack_ref.rsplit("/", 1)[1]]["payload"]["schema"])
    strategy = json.loads((GOLDEN / "strategies.create-response.json").read_text())
    error = json.loads((GOLDEN / "error.validation-failed.json").read_text())
    assert ack.is_valid([None, strategy])
    assert ack.is_valid([error])
    assert not ack.is_valid([None, {"name": "x"}])
    login = messages["call.authentication.create"]["payload"]["schema"]
    assert Draft202012Validator(login).is_valid(
        ["authentication", json.loads((GOLDEN / "auth.local-request.json").read_text()), {}]
    )


def test_openapi_document_is_valid_openapi_3_1(openapi: dict[str, Any]) -> None:
    assert openapi["openapi"] == "3.1.0"
    validate_openapi(openapi)
    broken = copy.deepcopy(openapi)
    broken["paths"]["/strategies"]["get"]["parameters"][0]["in"] = "body"  # Swagger 2, not OpenAPI 3.1
    with pytest.raises(OpenAPIValidationError):
        validate_openapi(broken)
    broken = copy.deepcopy(openapi)
    del broken["info"]["version"]
    with pytest.raises(OpenAPIValidationError):
        validate_openapi(broken)


def test_openapi_has_every_rest_route_with_status_and_schemas(openapi: dict[str, Any]) -> None:
    paths = openapi["paths"]
    assert set(paths["/strategies"]) == {"get", "post"}
    assert set(paths["/strategies/{id}"]) == {"parameters", "get", "patch", "delete"}
    assert set(paths["/exchanges/ticker"]) == {"get"}
    assert "201" in paths["/strategies"]["post"]["responses"]
    assert "201" in paths["/authentication"]["post"]["responses"]
    assert paths["/authentication"]["post"]["security"] == []
    schemas = openapi["components"]["schemas"]
    page_ref = paths["/traders"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    page = Draft202012Validator(schemas[page_ref.rsplit("/", 1)[1]])
    assert page.is_valid({"total": 0, "limit": 25, "skip": 0, "data": []})
    assert not page.is_valid([])  # a plain array is not a page
    error = Draft202012Validator(schemas["error"])
    assert error.is_valid(json.loads((GOLDEN / "error.not-found.json").read_text()))


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mockserver.cli", "schemas", "export", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def test_cli_prints_or_writes_the_documents(asyncapi: dict[str, Any], openapi: dict[str, Any], tmp_path: Path) -> None:
    printed = run_cli("--format", "asyncapi")
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout) == asyncapi

    out = tmp_path / "openapi.json"
    written = run_cli("--format", "openapi", "--output", str(out))
    assert written.returncode == 0, written.stderr
    assert written.stdout == ""
    assert json.loads(out.read_text()) == openapi

    wrong = run_cli("--format", "yaml")
    assert wrong.returncode == 2
    assert "'yaml' is not one of 'asyncapi', 'openapi'" in wrong.stderr
    unwritable = run_cli("--format", "openapi", "--output", str(tmp_path / "missing" / "x.json"))
    assert unwritable.returncode == 2
    assert unwritable.stderr.strip().startswith("Error: cannot write")
