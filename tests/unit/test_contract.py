"""The contract: schema files, kinds per service, problem mapping, BadRequest, loading and immutability."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from mockserver.contract import SERVICES, Contract, ContractError, default_contract, load_contract
from mockserver.errors import BadRequest

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
TS = "2024-01-15T10:00:00.000Z"


@pytest.fixture(scope="module")
def contract() -> Contract:
    return default_contract()


def _trader(**changes: Any) -> dict[str, Any]:
    trader: dict[str, Any] = {
        "_id": "685c3a0000000000000000aa",
        "userId": "682e0a3b5c7d9e1f2a4b6c8d",
        "name": "Trader 1",
        "dry_run": True,
        "dry_run_wallet": 10000,
        "stake_currency": "USDT",
        "stake_amount": "unlimited",
        "fiat_display_currency": "USD",
        "cancel_open_orders_on_exit": True,
        "unfilledtimeout": {"entry": 10, "exit": 10},
        "stressShield": {"enabled": True},
        "webhook": {"enabled": True, "format": "json", "url": "https://api.cryptorobot.ai/webhooks/1"},
        "api_server": {
            "enabled": True,
            "listen_ip_address": "0.0.0.0",
            "listen_port": 8080,
            "verbosity": "error",
            "jwt_secret_key": "s",
            "username": "u",
            "password": "p",
        },
        "running": False,
        "status": "stopped",
        "createdAt": TS,
        "updatedAt": TS,
    }
    trader.update(changes)
    return trader


def _exchange(**changes: Any) -> dict[str, Any]:
    exchange: dict[str, Any] = {
        "_id": "683a1f4e2d6c8b0a9f1e3d5c",
        "userId": "682e0a3b5c7d9e1f2a4b6c8d",
        "connected": False,
        "avatar": "",
        "whitelist": [],
        "blacklist": [],
        "ccxt_config": {},
        "ccxt_async_config": {},
        "createdAt": TS,
        "updatedAt": TS,
    }
    exchange.update(changes)
    return exchange


# --- schema files ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(SCHEMAS.glob("*.json")), ids=lambda path: path.name)
def test_schema_file_has_id_and_dialect(path: Path) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["$id"] == f"https://schemas.cryptorobot.ai/{path.name}"


def test_every_catalog_service_has_its_schema_file() -> None:
    names = {path.name for path in SCHEMAS.glob("*.json")}
    assert {spec.schema_file for spec in SERVICES.values()} | {"common.json"} == names


def test_shared_definitions_are_referenced_by_id() -> None:
    strategies = json.loads((SCHEMAS / "strategies.json").read_text())
    assert strategies["properties"]["createdAt"] == {
        "$ref": "https://schemas.cryptorobot.ai/common.json#/$defs/timestamp"
    }


# --- kinds -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_service_has_an_object_kind_except_the_stateless_ones(contract: Contract, service: str) -> None:
    has_object = "object" in contract.kinds(service)
    assert has_object is (service not in ("authentication", "traders/pods"))


def test_kinds_follow_methods_and_events(contract: Contract) -> None:
    assert contract.kinds("strategies") == (
        "object",
        "create",
        "patch",
        "page",
        "event:created",
        "event:patched",
        "event:removed",
    )
    assert contract.kinds("keys") == ("object", "create", "created", "page", "event:created", "event:removed")
    assert contract.kinds("models") == ("object", "patch", "page", "event:patched")
    assert contract.kinds("authentication") == ("request", "create", "result")
    assert contract.kinds("traders/pods") == (
        "create",
        "result:ping",
        "result:status",
        "result:balance",
        "result:profit",
    )
    assert contract.kinds("error") == ("object",)


def test_every_catalog_event_has_a_payload_schema(contract: Contract) -> None:
    events = contract.events()
    assert len(events) == sum(len(spec.events) for spec in SERVICES.values())
    assert "traders/pods/events created" in events
    assert "exchanges/ticker patched" in events
    for name in events:
        service, kind = contract.event_kind(name)
        assert kind in contract.kinds(service)
        assert contract.schema(service, kind)["$ref"].startswith("https://schemas.cryptorobot.ai/")


def test_strategies_removed_event_carries_only_the_id(contract: Contract) -> None:
    assert contract.validate_event("strategies removed", {"_id": "684b2f7a1c3e5d9b0f2a4c6e"}) == []
    assert contract.validate_event("strategies removed", {}) == [{"path": "_id", "message": "is a required property"}]


def test_keys_created_event_needs_the_secret_which_the_object_refuses(contract: Contract) -> None:
    key = {"_id": "k", "userId": "u", "name": "Bot", "scopes": ["read:traders"], "lastUsed": None, "createdAt": TS}
    assert contract.validate("keys", "object", key) == []
    assert {"path": "key", "message": "is a required property"} in contract.validate_event("keys created", key)
    with_secret = {**key, "key": "cr_live_0123456789abcdef0123456789abcdef"}
    assert contract.validate_event("keys created", with_secret) == []
    assert contract.validate("keys", "object", with_secret) == [{"path": "key", "message": "is not a known field"}]


def test_page_kind_checks_the_items_against_the_object(contract: Contract) -> None:
    page = {"total": 2, "limit": 25, "skip": 0, "data": [_trader(), _trader(status="paused")]}
    assert [problem["path"] for problem in contract.validate("traders", "page", page)] == ["data.1.status"]


def test_unknown_service_kind_or_event_lists_the_valid_values(contract: Contract) -> None:
    with pytest.raises(KeyError, match="unknown service 'nope'; known: authentication, users"):
        contract.kinds("nope")
    with pytest.raises(KeyError, match="service 'keys' has no kind 'patch'; its kinds: object, create"):
        contract.validate("keys", "patch", {})
    with pytest.raises(KeyError, match="unknown event 'traders pods events created'; known: "):
        contract.validate_event("traders pods events created", {})
    with pytest.raises(TypeError, match="service must be a str, not int: 3"):
        contract.kinds(3)  # type: ignore[arg-type]


# --- problem mapping ----------------------------------------------------------------------------------------


def test_nested_path_is_dotted(contract: Contract) -> None:
    problems = contract.validate("traders", "patch", {"unfilledtimeout": {"entry": "ten"}})
    assert problems == [{"path": "unfilledtimeout.entry", "message": "must be an integer"}]


def test_array_indexes_appear_as_numbers(contract: Contract) -> None:
    exchange = _exchange(blacklist=[{"left": "BNB"}, {"left": "ETH", "note": "extra keys are fine"}, {}])
    assert contract.validate("exchanges", "object", exchange) == [
        {"path": "blacklist.2.left", "message": "is a required property"}
    ]


def test_missing_field_is_named_itself_not_its_parent(contract: Contract) -> None:
    problems = contract.validate("traders", "object", _trader(unfilledtimeout={"entry": 10}))
    assert problems == [{"path": "unfilledtimeout.exit", "message": "is a required property"}]


def test_unknown_field_is_named_and_refused(contract: Contract) -> None:
    problems = contract.validate("strategies", "create", {"name": "x", "colour": "red", "size": 3})
    assert problems == [
        {"path": "colour", "message": "is not a known field"},
        {"path": "size", "message": "is not a known field"},
    ]


def test_enum_message_lists_the_values(contract: Contract) -> None:
    problems = contract.validate(
        "messages",
        "object",
        {
            "_id": "m",
            "userId": "u",
            "title": "t",
            "text": "",
            "level": "debug",
            "read": False,
            "createdAt": TS,
            "updatedAt": TS,
        },
    )
    assert problems == [{"path": "level", "message": 'must be one of "info", "warning", "error"'}]


def test_d4_example_stoploss_must_be_at_most_zero(contract: Contract) -> None:
    assert contract.validate("strategies", "patch", {"stoploss": 0.1}) == [
        {"path": "stoploss", "message": "must be <= 0"}
    ]


def test_problems_are_sorted_by_path_with_numeric_indexes(contract: Contract) -> None:
    data = [_trader(status="x") if index in (2, 10) else _trader() for index in range(11)]
    problems = contract.validate("traders", "page", {"total": 11, "limit": 25, "skip": 0, "data": data})
    assert [problem["path"] for problem in problems] == ["data.2.status", "data.10.status"]


def test_trader_status_is_refused_in_a_patch_but_running_is_accepted(contract: Contract) -> None:
    assert contract.validate("traders", "patch", {"running": True}) == []
    assert contract.validate("traders", "patch", {"running": True, "status": "running"}) == [
        {"path": "status", "message": "is read-only (set by the server)"}
    ]


def test_client_values_for_server_ids_and_timestamps_are_accepted_and_ignored(contract: Contract) -> None:
    body = {"name": "x", "_id": 5, "userId": None, "createdAt": "yesterday", "updatedAt": {}}
    assert contract.validate("strategies", "create", body) == []


def test_write_only_fields_are_accepted_in_bodies_but_never_in_objects(contract: Contract) -> None:
    assert contract.validate("exchanges", "patch", {"apiKey": "k", "secret": "s"}) == []
    assert contract.validate("users", "create", {"email": "a@example.com", "password": "pw"}) == []
    problems = contract.validate("exchanges", "object", _exchange(secret="s"))
    assert problems == [{"path": "secret", "message": "is not a known field"}]


def test_stake_amount_alternatives_give_one_useful_message(contract: Contract) -> None:
    assert contract.validate("traders", "patch", {"stake_amount": "unlimited"}) == []
    assert contract.validate("traders", "patch", {"stake_amount": 25.5}) == []
    assert contract.validate("traders", "patch", {"stake_amount": 0}) == [
        {"path": "stake_amount", "message": "must be > 0"}
    ]
    assert contract.validate("traders", "patch", {"stake_amount": "all"}) == [
        {"path": "stake_amount", "message": 'must be "unlimited" or a number'}
    ]


def test_authentication_request_reports_the_branch_the_client_meant(contract: Contract) -> None:
    validate = contract.validate
    assert validate("authentication", "request", {"strategy": "jwt"}) == [
        {"path": "accessToken", "message": "is a required property"}
    ]
    assert validate("authentication", "request", {"strategy": "local", "email": "a@example.com"}) == [
        {"path": "password", "message": "is a required property"}
    ]
    assert validate("authentication", "request", {"email": "a@example.com", "password": "x"}) == [
        {"path": "strategy", "message": "is a required property"}
    ]
    assert validate("authentication", "request", []) == [{"path": "", "message": "must be an object"}]


def test_formats_are_checked(contract: Contract) -> None:
    bad_date = contract.validate(
        "events",
        "object",
        {
            "_id": "e",
            "type": "maintenance",
            "message": "m",
            "severity": "info",
            "createdAt": "2024-02-30T10:00:00.000Z",
        },
    )
    assert bad_date == [
        {
            "path": "createdAt",
            "message": "must be an ISO-8601 UTC date-time with milliseconds, e.g. 2024-01-15T10:00:00.000Z",
        }
    ]
    assert contract.validate("users", "patch", {"email": "nobody"}) == [
        {"path": "email", "message": "must be an e-mail address"}
    ]
    assert contract.validate("traders", "patch", {"api_server": {"listen_ip_address": "999.1.1.1"}}) == [
        {"path": "api_server.listen_ip_address", "message": "must be an IPv4 address"}
    ]


def test_timestamps_follow_d15(contract: Contract) -> None:
    for service in ("traders/pods/events", "events", "models/signals", "keys"):
        properties = contract.resolved_schema(service, "object")["properties"]
        assert "createdAt" in properties, service
        assert "updatedAt" not in properties, service
    for service in ("users", "strategies", "exchanges", "traders", "trades", "models", "messages"):
        properties = contract.resolved_schema(service, "object")["properties"]
        assert {"createdAt", "updatedAt"} <= set(properties), service


def test_models_patch_accepts_only_subscribed(contract: Contract) -> None:
    assert contract.validate("models", "patch", {"subscribed": True}) == []
    assert contract.validate("models", "patch", {"interval": "1h"}) == [
        {"path": "interval", "message": "is read-only (set by the server)"}
    ]


def test_pod_results(contract: Contract) -> None:
    assert contract.validate("traders/pods", "result:ping", {"status": "pong"}) == []
    assert contract.validate("traders/pods", "result:status", []) == []
    assert contract.validate("traders/pods", "result:status", [{"trade_id": 1}])  # far from complete


# --- check() and BadRequest ---------------------------------------------------------------------------------


def test_check_raises_the_d4_bad_request(contract: Contract) -> None:
    with pytest.raises(BadRequest) as caught:
        contract.check("strategies", "patch", {"stoploss": 0.5})
    assert caught.value.to_json() == {
        "name": "BadRequest",
        "message": "Validation failed",
        "code": 400,
        "className": "bad-request",
        "errors": [{"path": "stoploss", "message": "must be <= 0"}],
    }


def test_check_returns_none_for_a_valid_body(contract: Contract) -> None:
    assert contract.check("strategies", "create", {"name": "BTC Momentum"}) is None


def test_error_pseudo_service_validates_feathers_errors(contract: Contract) -> None:
    body = BadRequest("Validation failed", errors=[{"path": "a", "message": "b"}]).to_json()
    assert contract.validate("error", "object", body) == []
    problems = contract.validate("error", "object", {**body, "className": "BadRequest"})
    assert {"path": "className", "message": 'must be "bad-request"'} in problems
    assert {problem["path"] for problem in problems} == {"className"}


# --- loading ------------------------------------------------------------------------------------------------


def test_load_contract_uses_an_explicit_path(tmp_path: Path) -> None:
    copy = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, copy)
    document = json.loads((copy / "strategies.json").read_text())
    document["$defs"]["stoploss"]["maximum"] = -0.01  # a visible difference
    (copy / "strategies.json").write_text(json.dumps(document))
    custom = load_contract(path=copy)
    assert custom.source == str(copy)
    assert custom.validate("strategies", "patch", {"stoploss": 0}) == [
        {"path": "stoploss", "message": "must be <= -0.01"}
    ]
    assert default_contract().validate("strategies", "patch", {"stoploss": 0}) == []


def test_load_contract_reads_the_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(SCHEMAS, tmp_path / "s")
    monkeypatch.setenv("CRYPTOROBOT_MOCK_SCHEMAS", str(tmp_path / "s"))
    assert load_contract().source == str(tmp_path / "s")
    monkeypatch.setenv("CRYPTOROBOT_MOCK_SCHEMAS", str(tmp_path / "missing"))
    with pytest.raises(ContractError, match=r"missing' \(from the \$CRYPTOROBOT_MOCK_SCHEMAS\) does not exist"):
        load_contract()


def test_missing_directory_is_a_clear_contract_error(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match=r"schema directory .*nowhere.* does not exist"):
        load_contract(tmp_path / "nowhere")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ContractError, match="is not a directory"):
        load_contract(tmp_path / "file")


def test_incomplete_directory_names_the_missing_files(tmp_path: Path) -> None:
    (tmp_path / "common.json").write_text((SCHEMAS / "common.json").read_text())
    with pytest.raises(ContractError, match=r"lacks authentication\.json, events\.json"):
        load_contract(tmp_path)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda text: text[:-3], "strategies.json: not valid JSON"),
        (lambda text: text.replace('"maximum": 0', '"maximum": "zero"'), "strategies.json: not a valid JSON Schema"),
        (
            lambda text: text.replace("#/$defs/stoploss", "#/$defs/stop_loss"),
            r"strategies.json: \$ref '#/\$defs/stop_loss'",
        ),
        (lambda text: text.replace("schemas.cryptorobot.ai/strategies.json", "example.com/s.json"), r"\$id must be"),
    ],
    ids=["json", "schema", "ref", "id"],
)
def test_broken_schema_file_is_a_clear_contract_error(tmp_path: Path, damage: Any, message: str) -> None:
    shutil.copytree(SCHEMAS, tmp_path / "s")
    target = tmp_path / "s" / "strategies.json"
    target.write_text(damage(target.read_text()))
    with pytest.raises(ContractError, match=message):
        load_contract(tmp_path / "s")


def test_load_contract_checks_its_argument() -> None:
    with pytest.raises(TypeError, match=r"path must be a str, an os\.PathLike or None, not int: 42"):
        load_contract(42)  # type: ignore[arg-type]


def test_default_contract_is_loaded_once() -> None:
    assert default_contract() is default_contract()


# --- immutability and speed ---------------------------------------------------------------------------------


def test_contract_is_frozen(contract: Contract) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        contract.registry = None  # type: ignore[misc]
    with pytest.raises(TypeError):
        contract._validators[("traders", "object")] = None  # type: ignore[index]


def test_schema_returns_a_copy_that_cannot_change_the_contract(contract: Contract) -> None:
    schema = contract.schema("strategies", "patch")
    schema["$ref"] = "https://schemas.cryptorobot.ai/common.json#/$defs/id"
    assert contract.schema("strategies", "patch")["$ref"].endswith("strategies.json#/$defs/patch")
    assert contract.validate("strategies", "patch", {"stoploss": 1}) != []


def test_registry_is_immutable(contract: Contract) -> None:
    from referencing import Resource

    grown = contract.registry.with_resource("https://example.com/x", Resource.opaque({}))
    assert "https://example.com/x" in grown
    assert "https://example.com/x" not in contract.registry


def test_validators_are_cached(contract: Contract) -> None:
    assert contract.validator("traders", "object") is contract.validator("traders", "object")


def test_every_shipped_schema_file_is_a_valid_2020_12_schema() -> None:
    """The loader skips this check for the shipped schemas (start-up time), so the suite must make it."""
    from jsonschema import Draft202012Validator

    schema_dir = Path(__file__).resolve().parents[2] / "schemas"
    files = sorted(schema_dir.glob("*.json"))
    assert len(files) == 16
    for file in files:
        Draft202012Validator.check_schema(json.loads(file.read_text()))


def test_every_kind_of_the_shipped_schemas_resolves() -> None:
    """The loader skips the `$ref` checks for the shipped schemas (start-up time), so the suite must make them."""
    from mockserver.contract._loader import BASE_URI, load_schemas

    loaded = load_schemas(SCHEMAS, origin="test", required_files=frozenset(), check_metaschema=True)
    assert loaded.registry is not None  # every $ref of every file resolved, or load_schemas raised
    assert set(loaded.documents) >= {"common.json", "traders.json"}
    contract = load_contract()
    for service in (*contract.services(), "error"):
        for kind in contract.kinds(service):
            resolved = contract.resolved_schema(service, kind)
            assert "$ref" not in json.dumps(resolved), (service, kind)
    assert contract.registry.contents(BASE_URI + "common.json")["$id"] == BASE_URI + "common.json"


def test_a_user_supplied_schema_directory_is_checked_against_the_metaschema(tmp_path: Path) -> None:
    schema_dir = Path(__file__).resolve().parents[2] / "schemas"
    for file in schema_dir.glob("*.json"):
        (tmp_path / file.name).write_text(file.read_text())
    broken = json.loads((tmp_path / "events.json").read_text())
    broken["type"] = 12
    (tmp_path / "events.json").write_text(json.dumps(broken))
    with pytest.raises(ContractError, match=r"events\.json: not a valid JSON Schema"):
        load_contract(tmp_path)


def test_assert_valid_fails_a_test_with_a_structured_contract_violation(contract: Contract) -> None:
    from mockserver.contract import ContractViolation

    with pytest.raises(AssertionError) as caught:
        contract.assert_valid("strategies", "create", {"name": "x", "stoploss": 0.5})
    violation = caught.value
    assert isinstance(violation, ContractViolation)
    assert (violation.service, violation.kind, violation.event) == ("strategies", "create", None)
    assert violation.problems == [{"path": "stoploss", "message": "must be <= 0"}]
    assert str(violation) == "strategies create breaks the contract:\n  stoploss: must be <= 0"
    contract.assert_valid("strategies", "create", {"name": "x", "stoploss": -0.1})  # valid: no exception


def test_assert_event_names_the_event(contract: Contract) -> None:
    from mockserver.contract import ContractViolation

    with pytest.raises(ContractViolation) as caught:
        contract.assert_event("strategies removed", {"_id": "a", "name": "extra"})
    assert caught.value.event == "strategies removed"
    assert [p["path"] for p in caught.value.problems] == ["name"]
    assert str(caught.value).startswith("event 'strategies removed' breaks the contract:")
