"""README example: the contract, seeded data and hypothesis strategies."""

from typing import Any

from hypothesis import given, settings

from mockserver import dataset, generate, load_contract, strategies

contract = load_contract()


def test_validate_maps_onto_a_feathers_bad_request() -> None:
    problems = contract.validate("strategies", "create", {"name": "BTC Momentum", "stoploss": 0.5})
    assert problems == [{"path": "stoploss", "message": "must be <= 0"}]


def test_generated_records_are_valid_and_reproducible() -> None:
    ticker = generate("exchanges/ticker", seed=7)
    assert contract.validate("exchanges/ticker", "object", ticker) == []
    assert generate("exchanges/ticker", seed=7) == ticker


def test_the_demo_dataset_is_coherent() -> None:
    demo = dataset(42)
    user_id = demo.user_id("user@example.com")
    exchanges = {e["_id"] for e in demo.records["exchanges"] if e["userId"] == user_id}
    traders = [t for t in demo.records["traders"] if t["userId"] == user_id]
    assert all(t["exchangeId"] in exchanges for t in traders if "exchangeId" in t)


@settings(max_examples=25, deadline=None)
@given(strategies.event("traders patched"))
def test_property_testing_a_handler(payload: dict[str, object]) -> None:
    assert contract.validate_event("traders patched", payload) == []
    assert payload["status"] in {"stopped", "starting", "running", "stopping", "error"}


@settings(max_examples=25, deadline=None)
@given(strategies.record("exchanges/ticker"), strategies.request("traders", kind="patch", realistic=False))
def test_my_client(ticker: dict[str, Any], patch: dict[str, Any]) -> None:
    assert ticker["bid"] < ticker["ask"]
    assert contract.validate("traders", "patch", patch) == []
