"""`mockserver.strategies`: every kind draws contract-valid values from both sources, realistic values stay
realistic, values shrink to simple ones, and the schema compiler refuses what it does not support.

These tests are also the alarm for a new hypothesis release: they draw through `@given` and `find` on whatever
hypothesis is installed (CI installs the newest, since pyproject sets no upper bound), and every value is
checked against the contract here, in the test, never filtered in the strategy.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from mockserver import strategies
from mockserver.contract import default_contract, load_contract
from mockserver.strategies import UnsupportedSchemaError
from mockserver.strategies._schema import from_schema

CONTRACT = default_contract()
KINDS = [(service, kind) for service in CONTRACT.services() for kind in CONTRACT.kinds(service)]
IDS = [f"{service}:{kind}" for service, kind in KINDS]
FAST = settings(
    max_examples=15,
    deadline=None,
    database=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)
FIND = settings(max_examples=500, deadline=None, database=None, suppress_health_check=list(HealthCheck))
REACH = settings(FIND, phases=[Phase.generate])  # the first value found; shrinking big records takes seconds


def _strategy(service: str, kind: str, *, realistic: bool) -> st.SearchStrategy[Any]:
    if kind in strategies.REQUEST_KINDS:
        return strategies.request(service, kind=kind, realistic=realistic)
    return strategies.record(service, kind=kind, realistic=realistic)


def _dump(value: Any) -> str:
    return json.dumps(value)[:2000]


# --- every kind, both sources -------------------------------------------------------------------------------------


@pytest.mark.parametrize("realistic", [True, False], ids=["realistic", "schema"])
@pytest.mark.parametrize(("service", "kind"), KINDS, ids=IDS)
def test_every_kind_draws_valid_values(service: str, kind: str, realistic: bool) -> None:
    drawn = []

    @settings(FAST, max_examples=3 if kind == "page" else 8)
    @given(_strategy(service, kind, realistic=realistic))
    def check(value: Any) -> None:
        drawn.append(value)
        problems = CONTRACT.validate(service, kind, value)
        assert not problems, f"{problems}\n{_dump(value)}"

    check()
    assert drawn  # a strategy that draws nothing would pass the check above vacuously


def test_every_schema_of_the_contract_compiles() -> None:
    """A schema change that needs a keyword the compiler lacks fails here, with the keyword and its place."""
    for service, kind in [*KINDS, ("error", "object")]:
        strategy = from_schema(CONTRACT.resolved_schema(service, kind), where=f"{service} {kind}")
        assert not strategy.is_empty, (service, kind)


def test_the_error_schema_keeps_name_code_and_class_name_together() -> None:
    # 17 if/then pairs on `name` (common.json): each name is drawn with its own code and className.
    strategy = from_schema(CONTRACT.resolved_schema("error", "object"))
    for name, code in [("NotFound", 404), ("TooManyRequests", 429), ("BadGateway", 502)]:
        error = find(strategy, lambda e, name=name: e["name"] == name, settings=REACH)
        assert (error["code"], CONTRACT.validate("error", "object", error)) == (code, [])


# --- branches of the composition keywords are all reachable, and valid ---------------------------------------------


@pytest.mark.parametrize(
    ("service", "kind", "condition"),
    [
        ("trades", "object", lambda t: t["is_open"]),  # if/then
        ("trades", "object", lambda t: not t["is_open"]),  # else
        ("exchanges", "object", lambda e: "which" in e),  # dependentRequired
        ("authentication", "request", lambda r: r["strategy"] == "local"),  # oneOf
        ("authentication", "request", lambda r: r["strategy"] == "jwt"),
        ("traders", "object", lambda t: t["stake_amount"] != "unlimited"),  # anyOf
        ("traders", "patch", lambda p: len(p) >= 3),  # minProperties, optional keys
        ("exchanges/ticker", "object", lambda t: t["bid"] is None),  # type ["number", "null"]
    ],
    ids=["then", "else", "dependentRequired", "oneOf-local", "oneOf-jwt", "anyOf", "optional", "null"],
)
def test_schema_branches_are_reachable(service: str, kind: str, condition: Any) -> None:
    value = find(_strategy(service, kind, realistic=False), condition, settings=REACH)
    assert CONTRACT.validate(service, kind, value) == [], _dump(value)
    if service == "exchanges":
        assert {"requiredCredentials", "stakeCurrencies", "popularStakeCurrency"} <= set(value)
    if service == "trades" and value["is_open"]:
        assert value["close_rate"] is None


def test_server_managed_fields_are_never_in_requests() -> None:
    @FAST
    @given(strategies.request("traders", kind="patch", realistic=False))
    def check(body: dict[str, Any]) -> None:
        assert not {"status"} & set(body)  # `not: {}` (§10.9): no value would be accepted
        assert "url" not in body.get("webhook", {})

    check()


# --- realism and shrinking ----------------------------------------------------------------------------------------


@FAST
@given(strategies.record("exchanges/ticker"), strategies.record("traders"), strategies.event("trades created"))
def test_realistic_values_are_realistic(ticker: dict[str, Any], trader: dict[str, Any], trade: dict[str, Any]) -> None:
    assert ticker["low"] <= ticker["bid"] < ticker["ask"] <= ticker["high"], ticker
    assert math.isclose(ticker["change"], ticker["last"] - ticker["open"], abs_tol=1e-8 + abs(ticker["last"]) * 1e-9)
    assert "/" in ticker["symbol"]
    assert ticker["createdAt"] <= ticker["updatedAt"] == ticker["datetime"]
    assert trader["createdAt"] <= trader["updatedAt"]
    assert trader["webhook"]["url"].endswith(trader["_id"])
    assert trade["open_date"] <= (trade["close_date"] or trade["open_date"])


def test_hypothesis_random_keeps_the_promises_of_random_random() -> None:
    # The realistic strategies hand hypothesis' random to the generator, which indexes with int(random() * n).
    # Before hypothesis 6.129.1 random() could return 1.0 (pyproject's lower bound); a regression fails here.
    with pytest.raises(NoSuchExample):
        find(st.randoms(use_true_random=False), lambda rng: not 0.0 <= rng.random() < 1.0, settings=REACH)


def test_realistic_values_shrink_to_a_simple_realistic_value() -> None:
    # The generator's choices shrink (first pair, lowest price in range), so the counterexample stays realistic.
    ticker = find(strategies.record("exchanges/ticker"), lambda t: t["last"] > 1000, settings=FIND)
    assert ticker["bid"] < ticker["ask"]
    assert ticker["symbol"].split("/")[0] in {"BTC", "ETH"}, ticker


def test_schema_values_shrink_to_the_minimal_record() -> None:
    event = find(strategies.record("traders/pods/events", realistic=False), lambda e: "data" in e, settings=FIND)
    assert event == {
        "_id": "0",
        "userId": "0",
        "traderId": "0",
        "podId": "pod-0",
        "type": "trade_executed",
        "message": "0",
        "data": {},
        "createdAt": "2000-01-01T00:00:00.000Z",
    }
    patch = find(strategies.request("traders", kind="patch", realistic=False), lambda p: True, settings=FIND)
    assert len(patch) == 1  # minProperties: 1, and no optional key more


def test_strategies_compose_with_plain_hypothesis() -> None:
    @FAST
    @given(st.data())
    def check(data: st.DataObject) -> None:
        service = data.draw(st.sampled_from(["trades", "models/signals", "keys"]))
        value = data.draw(strategies.record(service))
        assert not CONTRACT.validate(service, "object", value)

    check()


def test_a_contract_of_your_own_gets_schema_values() -> None:
    """The generator knows only the shipped schemas, so another Contract is served by the compiler."""
    contract = load_contract()
    assert contract is not CONTRACT
    event = find(strategies.record("traders/pods/events", contract=contract), lambda e: True, settings=FIND)
    assert event["podId"] == "pod-0"  # the generator would make "pod-" + an ObjectId
    assert contract.validate("traders/pods/events", "object", event) == []


# --- the compiler refuses what it does not know -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "integer", "multipleOf": 5}, r"#: the keyword 'multipleOf' is not supported"),
        (
            {"type": "object", "properties": {"a": {"type": "string", "format": "hostname"}}},
            r"#/properties/a: format 'hostname' is not supported",
        ),
        ({"type": "string", "format": "date-time", "pattern": "^2"}, r"format 'date-time' with the pattern"),
        ({"type": "string", "pattern": "^a+$", "maxLength": 3}, r"a pattern with minLength or maxLength"),
        ({"if": {"properties": {"a": {"minimum": 1}}}, "then": {}}, r"an `if` other than one required property"),
        ({"oneOf": [{"type": "string"}, {"type": "string", "minLength": 2}]}, r"a oneOf whose members no required"),
        ({"minimum": 3}, r"a schema with keywords but no `type`, `const` or `enum`"),
        ({"type": "string", "not": {"pattern": "a"}}, r"#/not: a `not` other than"),
        ({"type": "array", "prefixItems": [{"type": "string"}]}, r"the keyword 'prefixItems'"),
    ],
    ids=["multipleOf", "format", "format-pattern", "pattern-length", "if", "oneOf", "no-type", "not", "prefixItems"],
)
def test_unsupported_schemas_fail_at_build_time(schema: dict[str, Any], message: str) -> None:
    with pytest.raises(UnsupportedSchemaError, match=message):
        from_schema(schema)


# --- arguments ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: strategies.record("trader"), ValueError, r"service must be one of authentication, users, "),
        (lambda: strategies.record("traders", kind="create"), ValueError, r"kind for traders must be one of object, "),
        (lambda: strategies.request("traders", kind="object"), ValueError, r"must be one of create, patch; got"),
        (lambda: strategies.request("trades"), ValueError, r"kind for trades must be one of none"),
        (lambda: strategies.event("traders pods events created"), ValueError, r"event_name must be one of "),
        (lambda: strategies.record(3), TypeError, r"service must be a str, not int"),  # type: ignore[arg-type]
        (lambda: strategies.record("traders", kind=None), TypeError, r"kind must be a str"),  # type: ignore[arg-type]
        (lambda: strategies.record("traders", realistic="yes"), TypeError, r"realistic must be a bool"),  # type: ignore[arg-type]
        (
            lambda: strategies.event("traders patched", contract={}),  # type: ignore[arg-type]
            TypeError,
            r"contract must be a Contract",
        ),
    ],
    ids=[
        "service",
        "record-kind",
        "request-kind",
        "no-request",
        "event",
        "service-type",
        "kind-type",
        "realistic",
        "contract",
    ],
)
def test_arguments_are_checked_up_front(call: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        call()


def test_authentication_request_is_a_request_kind() -> None:
    strategy = strategies.request("authentication", kind="request")
    assert isinstance(strategy, st.SearchStrategy)
    with pytest.raises(ValueError, match=r"kind for authentication must be one of result"):
        strategies.record("authentication", kind="request")
