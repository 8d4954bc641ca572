"""`mockserver.strategies`: argument checks, the self-contained draft-7 schemas, and the hypothesis pin."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from mockserver import strategies
from mockserver.contract import default_contract

CONTRACT = default_contract()
FAST = settings(
    max_examples=15,
    deadline=None,
    database=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


# pyproject pins hypothesis < 6.170.10: from that release on, hypothesis-jsonschema 0.23.1 fails on *every*
# object schema with "AttributeError: 'many' object has no attribute 'more'" (it drives hypothesis' internal
# `many` helper, whose API changed). This test draws from a plain object schema through hypothesis-jsonschema
# alone, so a dependency bump that brings the breakage back fails here first, with that error in the output.
@FAST
@given(
    from_schema(
        {
            "type": "object",
            "required": ["name", "qty"],
            "properties": {"name": {"type": "string"}, "qty": {"type": "integer"}, "tags": {"type": "object"}},
            "additionalProperties": False,
        }
    )
)
def test_hypothesis_jsonschema_draws_objects(value: dict[str, Any]) -> None:
    assert isinstance(value, dict)
    assert isinstance(value["name"], str)
    assert isinstance(value["qty"], int)


@FAST
@given(strategies.record("traders"))
def test_record_draws_valid_traders(trader: dict[str, Any]) -> None:
    assert not CONTRACT.validate("traders", "object", trader)
    assert TIMESTAMP.match(trader["createdAt"])
    assert TIMESTAMP.match(trader["updatedAt"])


@FAST
@given(strategies.request("traders", kind="patch"))
def test_request_draws_valid_patches(body: dict[str, Any]) -> None:
    assert not CONTRACT.validate("traders", "patch", body)
    assert "status" not in body  # server-managed (§10.9)


@FAST
@given(strategies.event("traders/pods/events created"), strategies.event("strategies removed"))
def test_event_draws_valid_payloads(pod_event: dict[str, Any], removed: dict[str, Any]) -> None:
    assert not CONTRACT.validate_event("traders/pods/events created", pod_event)
    assert pod_event["podId"].startswith("pod-")
    assert list(removed) == ["_id"]  # D2


@FAST
@given(strategies.record("exchanges"))
def test_dependent_required_survives_the_draft7_rewrite(exchange: dict[str, Any]) -> None:
    if "which" in exchange:
        assert {"requiredCredentials", "stakeCurrencies", "popularStakeCurrency"} <= set(exchange)


@FAST
@given(st.data())
def test_strategies_compose_with_plain_hypothesis(data: st.DataObject) -> None:
    service = data.draw(st.sampled_from(["trades", "models/signals", "keys"]))
    value = data.draw(strategies.record(service))
    assert not CONTRACT.validate(service, "object", value)


def test_standalone_schema_is_self_contained_draft7() -> None:
    schema = strategies.standalone_schema("exchanges", kind="page")
    text = json.dumps(schema)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert '"$ref"' not in text
    assert '"$defs"' not in text
    assert "dependentRequired" not in text
    assert '"dependencies"' in text
    assert '"format": "date-time"' not in text  # replaced by the milliseconds-only custom format


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
        (
            lambda: strategies.event("traders patched", contract={}),  # type: ignore[arg-type]
            TypeError,
            r"contract must be a Contract",
        ),
    ],
    ids=["service", "record-kind", "request-kind", "no-request", "event", "service-type", "kind-type", "contract"],
)
def test_arguments_are_checked_up_front(call: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        call()


def test_authentication_request_is_a_request_kind() -> None:
    strategy = strategies.request("authentication", kind="request")
    assert isinstance(strategy, st.SearchStrategy)
    with pytest.raises(ValueError, match=r"kind for authentication must be one of result"):
        strategies.record("authentication", kind="request")
