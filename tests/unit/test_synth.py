"""Properties of the synthetic data: schema-valid, reproducible, realistic, and a coherent demo dataset."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mockserver.contract import default_contract
from mockserver.synth import Dataset, Generator, UserSeed, dataset, generate, generate_event

CONTRACT = default_contract()
KINDS = [(service, kind) for service in CONTRACT.services() for kind in CONTRACT.kinds(service)]
IDS = [f"{service}:{kind}" for service, kind in KINDS]
OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
# Kinds whose whole value space is one value: "different seed, different output" cannot hold for them.
CONSTANT_KINDS = {("traders/pods", "result:ping"), ("exchanges", "create"), ("traders", "create")}


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=False, separators=(",", ":"))


def _problems(service: str, kind: str, value: Any) -> list[Any]:
    return list(CONTRACT.validate(service, kind, value))


# --- the fast generator ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("service", "kind"), KINDS, ids=IDS)
def test_generated_values_validate(service: str, kind: str) -> None:
    seeds = range(50) if kind == "page" else range(200)  # a page holds up to 25 objects already
    for seed in seeds:
        value = generate(service, kind=kind, seed=seed)
        problems = _problems(service, kind, value)
        assert not problems, f"seed {seed}: {problems}\n{_dump(value)}"


def test_generator_knows_exactly_the_contract_kinds() -> None:
    from mockserver.synth._generator import kinds, services

    assert set(services()) == set(CONTRACT.services())
    for service in CONTRACT.services():
        assert set(kinds(service)) == set(CONTRACT.kinds(service)), service


@pytest.mark.parametrize("event_name", CONTRACT.events())
def test_event_payloads_validate(event_name: str) -> None:
    for seed in range(30):
        payload = generate_event(event_name, seed=seed)
        assert not CONTRACT.validate_event(event_name, payload), payload


@pytest.mark.parametrize(("service", "kind"), KINDS, ids=IDS)
def test_same_seed_same_bytes(service: str, kind: str) -> None:
    for seed in (0, 1, 12345):
        assert _dump(generate(service, kind=kind, seed=seed)) == _dump(generate(service, kind=kind, seed=seed))


@pytest.mark.parametrize(("service", "kind"), [k for k in KINDS if k not in CONSTANT_KINDS], ids=str)
def test_different_seed_different_output(service: str, kind: str) -> None:
    outputs = {_dump(generate(service, kind=kind, seed=seed)) for seed in range(20)}
    if kind in ("object", "created") or kind.startswith("event:"):
        assert len(outputs) == 20  # ids and timestamps alone make every record unique
    else:
        assert len(outputs) > 1


def test_output_is_identical_across_processes() -> None:
    """No wall clock, no hash-order dependence: another interpreter with another hash seed agrees."""
    code = (
        "import json; from mockserver.synth import dataset, generate\n"
        "print(json.dumps([dataset(7).records, generate('users', seed=3), generate('traders', seed=3)]))\n"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": hash_seed, "PATH": ""},
            cwd=Path(__file__).resolve().parents[2],
        ).stdout
        for hash_seed in ("1", "2")
    }
    assert len(outputs) == 1
    here = json.dumps([dataset(7).records, generate("users", seed=3), generate("traders", seed=3)]) + "\n"
    assert outputs == {here}


def test_generator_stream_is_reproducible_and_many_checks_up_front() -> None:
    first = [_dump(v) for v in Generator(5).many("trades", 30)]
    again = [_dump(v) for v in Generator(5).many("trades", 30)]
    assert first == again
    assert len(set(first)) == 30
    with pytest.raises(ValueError, match="service must be one of"):
        Generator(5).many("nope", 3)  # raised at the call, not at the first next()
    with pytest.raises(ValueError, match="n must be >= 0"):
        Generator(5).many("trades", -1)


def test_arguments_are_checked_with_the_valid_values_named() -> None:
    with pytest.raises(ValueError, match=r"service must be one of authentication, users, .*; got 'trader'"):
        generate("trader", seed=0)
    with pytest.raises(ValueError, match=r"kind for traders must be one of object, create, .*; got 'put'"):
        generate("traders", kind="put", seed=0)
    with pytest.raises(ValueError, match=r"event_name must be one of .*traders/pods/events created"):
        generate_event("traders pods events created", seed=0)  # the docs' spaced spelling is never sent (D1)
    with pytest.raises(TypeError, match="seed must be an int"):
        Generator("1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="overrides need a dict result"):
        generate("traders/pods", kind="result:status", seed=0, overrides={"x": 1})


def test_overrides_deep_merge_after_generation() -> None:
    base = generate("traders", seed=9)
    trader = generate("traders", seed=9, overrides={"name": "Trader 42", "api_server": {"listen_port": 9090}})
    assert trader["name"] == "Trader 42"
    assert trader["api_server"] == {**base["api_server"], "listen_port": 9090}
    assert {k: v for k, v in trader.items() if k not in ("name", "api_server")} == {
        k: v for k, v in base.items() if k not in ("name", "api_server")
    }


# --- realism ------------------------------------------------------------------------------------------------------


def _tickers(n: int) -> Iterator[dict[str, Any]]:
    return Generator(2024).many("exchanges/ticker", n)


def test_tickers_are_internally_consistent() -> None:
    from mockserver.synth._market import EXCHANGES

    for t in _tickers(2000):
        assert t["symbol"] in EXCHANGES[t["which"]].pairs(), t
        assert t["low"] <= t["bid"] < t["ask"] <= t["high"], t
        assert t["low"] <= t["open"] <= t["high"], t
        assert t["low"] <= t["last"] <= t["high"], t
        assert t["low"] <= t["vwap"] <= t["high"], t
        assert t["close"] == t["last"]
        assert math.isclose(t["change"], t["last"] - t["open"], abs_tol=10**-8 + abs(t["last"]) * 1e-9)
        assert math.isclose(t["percentage"], t["change"] / t["open"] * 100, abs_tol=0.001)
        assert math.isclose(t["quoteVolume"], t["baseVolume"] * t["vwap"], rel_tol=1e-3, abs_tol=0.01)
        assert TIMESTAMP.match(t["datetime"])
        assert t["createdAt"] <= t["updatedAt"] == t["datetime"]


@pytest.mark.parametrize(
    ("symbol", "low", "high"),
    [("BTC/USDT", 28_000, 106_000), ("ETH/USDT", 1_400, 5_300), ("SOL/USDT", 18, 265), ("XRP/USDT", 0.28, 3.2)],
)
def test_ticker_prices_are_plausible_for_the_asset(symbol: str, low: float, high: float) -> None:
    gen = Generator(1)
    for _ in range(300):
        ticker = gen.one("exchanges/ticker", overrides=None)
        if ticker["symbol"] == symbol:
            assert low <= ticker["last"] <= high, ticker
    from mockserver.synth._draw import Draw
    from mockserver.synth._ticker import ticker as build

    for seed in range(200):
        assert low <= build(Draw(seed), which="binance", symbol=symbol)["last"] <= high


def test_closed_trades_add_up() -> None:
    for trade in Generator(3).many("trades", 500):
        assert OBJECT_ID.match(trade["_id"])
        if trade["is_open"]:
            assert trade["close_rate"] is trade["close_date"] is trade["profit_abs"] is None
            continue
        assert trade["open_date"] <= trade["close_date"] == trade["updatedAt"]
        spent = trade["amount"] * trade["open_rate"] * (1 + trade["fee_open"])
        got = trade["amount"] * trade["close_rate"] * (1 - trade["fee_close"])
        assert math.isclose(trade["profit_abs"], got - spent, abs_tol=1e-6)
        assert math.isclose(trade["profit_ratio"], (got - spent) / spent, abs_tol=1e-5)


def test_pod_results_add_up() -> None:
    gen = Generator(11)
    for _ in range(100):
        balance = gen.one("traders/pods", kind="result:balance")
        assert math.isclose(balance["total"], sum(c["est_stake"] for c in balance["currencies"]), abs_tol=1e-6)
        assert balance["currencies"][0]["currency"] == balance["stake"]
        profit = gen.one("traders/pods", kind="result:profit")
        assert profit["winning_trades"] + profit["losing_trades"] == profit["closed_trade_count"]
        assert profit["closed_trade_count"] <= profit["trade_count"]
        for trade in gen.one("traders/pods", kind="result:status"):
            assert trade["is_open"]
            assert trade["stake_amount"] > 0
            assert math.isclose(trade["profit_pct"], trade["profit_ratio"] * 100, abs_tol=0.01)


def test_trader_defaults_and_names() -> None:
    for trader in Generator(4).many("traders", 300):
        assert re.fullmatch(r"Trader \d+", trader["name"])
        assert trader["createdAt"] <= trader["updatedAt"]
        assert trader["webhook"]["url"].endswith(trader["_id"])
        if "exchangeId" not in trader:  # never configured: the documented create response
            assert trader["status"] == "stopped"
            assert trader["running"] is False
            assert trader["dry_run_wallet"] == 10000
            assert trader["stake_amount"] == "unlimited"


# --- the demo dataset ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo() -> Dataset:
    return dataset(0)


def _by_id(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {record["_id"]: record for record in records}


def test_dataset_records_validate(demo: Dataset) -> None:
    for path, records in demo.records.items():
        for record in records:
            assert not _problems(path, "object", record), (path, record)


def test_dataset_is_reproducible_and_seed_dependent() -> None:
    assert _dump(dataset(5).records) == _dump(dataset(5).records)
    assert _dump(dataset(5).records) != _dump(dataset(6).records)


def test_default_users(demo: Dataset) -> None:
    golden, second = demo.records["users"]
    assert golden == {
        "_id": "507f1f77bcf86cd799439011",
        "email": "user@example.com",
        "name": "John Doe",
        "plan": "pro",
        "verified": True,
        "createdAt": golden["createdAt"],
        "updatedAt": golden["updatedAt"],
    }
    assert second["email"] == "trader@example.com"
    assert demo.passwords == {"user@example.com": "your-password", "trader@example.com": "second-password"}
    assert all("password" not in user for user in demo.records["users"])
    assert demo.user_id("trader@example.com") == second["_id"]


def test_templates_are_the_documented_ones(demo: Dataset) -> None:
    tmpl_1, tmpl_2 = demo.records["strategies/templates"]
    assert tmpl_1 == {
        "_id": "tmpl-1",
        "name": "Bollinger RSI",
        "type": "BbandRsi",
        "description": "Bollinger Band breakout with RSI confirmation",
        "values": {
            "stoploss": -0.077,
            "interval": "1m",
            "timeinforce": "GTC",
            "exit_profit_only": False,
            "exit_profit_offset": 20,
            "exit_sell_signal": False,
        },
    }
    assert (tmpl_2["_id"], tmpl_2["type"]) == ("tmpl-2", "MacdCrossover")


def test_each_user_has_a_full_portfolio(demo: Dataset) -> None:
    for user in demo.records["users"]:
        uid = user["_id"]

        def owned(path: str, uid: str = uid) -> list[dict[str, Any]]:
            return [r for r in demo.records[path] if r["userId"] == uid]

        exchanges = owned("exchanges")
        assert len(exchanges) >= 2
        for e in exchanges:
            assert e["connected"]
            assert e["which"]
            assert e["stakeCurrencies"]
            assert e["popularStakeCurrency"]
            assert e["requiredCredentials"]["apiKey"]
            assert all("left" in item for item in e["blacklist"])
        strategies_ = owned("strategies")
        assert len(strategies_) == 3
        from_tmpl_1 = [s for s in strategies_ if s.get("templateId") == "tmpl-1"]
        assert from_tmpl_1
        assert from_tmpl_1[0]["configured"]
        assert from_tmpl_1[0]["indicators"]
        assert from_tmpl_1[0]["stoploss"] == -0.077
        assert from_tmpl_1[0]["interval"] == "1m"
        traders = owned("traders")
        assert [t["name"] for t in traders] == [f"Trader {n}" for n in range(1, 6)]
        assert {"running", "stopped", "error"} <= {t["status"] for t in traders}
        assert len(owned("trades")) == 50
        trades = owned("trades")
        for t in traders:  # freqtrade holds one open trade per pair
            open_pairs = [x["pair"] for x in trades if x["traderId"] == t["_id"] and x["is_open"]]
            assert len(open_pairs) == len(set(open_pairs))
        assert any(t["is_open"] for t in trades)
        assert any(not t["is_open"] for t in trades)
        assert owned("traders/pods/events")
        assert len(owned("keys")) >= 1
        assert owned("messages")


def test_dataset_cross_references(demo: Dataset) -> None:
    users = _by_id(demo.records["users"])
    exchanges = _by_id(demo.records["exchanges"])
    strategies_ = _by_id(demo.records["strategies"])
    traders = _by_id(demo.records["traders"])
    models = _by_id(demo.records["models"])
    templates = _by_id(demo.records["strategies/templates"])
    for path, records in demo.records.items():
        for record in records:
            if "userId" in record:
                assert record["userId"] in users, (path, record)
    for strategy in strategies_.values():
        assert "templateId" not in strategy or strategy["templateId"] in templates
    for trader in traders.values():
        if trader["status"] != "stopped":
            assert "exchangeId" in trader, trader
            assert "strategyId" in trader, trader
        if "exchangeId" in trader:
            exchange = exchanges[trader["exchangeId"]]
            assert exchange["userId"] == trader["userId"]
            assert strategies_[trader["strategyId"]]["userId"] == trader["userId"]
            assert trader["stake_currency"] in exchange["stakeCurrencies"]
    pairs_in_use = set()
    for trade in demo.records["trades"]:
        trader = traders[trade["traderId"]]
        assert trade["userId"] == trader["userId"]
        assert trade["exchangeId"] == trader["exchangeId"]
        assert trade["pair"].endswith("/" + trader["stake_currency"])
        assert trade["open_date"] >= trader["createdAt"]
        pairs_in_use.add((exchanges[trade["exchangeId"]]["which"], trade["pair"]))
    tickers = {(t["which"], t["symbol"]) for t in demo.records["exchanges/ticker"]}
    assert pairs_in_use <= tickers
    for event in demo.records["traders/pods/events"]:
        trader = traders[event["traderId"]]
        assert event["podId"] == "pod-" + event["traderId"]
        assert event["userId"] == trader["userId"]
    for signal in demo.records["models/signals"]:
        assert signal["modelId"] in models
        assert signal["modelId"] in demo.subscriptions[signal["userId"]]
        assert signal["pair"] in models[signal["modelId"]]["pairs"]
    keys = _by_id(demo.records["keys"])
    assert set(demo.api_keys.values()) == set(keys)
    assert all(re.fullmatch(r"cr_live_[0-9a-f]{32}", key) for key in demo.api_keys)
    assert all("key" not in key for key in keys.values())


def test_dataset_ids_and_timestamps(demo: Dataset) -> None:
    seen: set[str] = set()
    for path, records in demo.records.items():
        for record in records:
            assert record["_id"] not in seen
            seen.add(record["_id"])
            if path != "strategies/templates":
                assert OBJECT_ID.match(record["_id"]), (path, record["_id"])
            for key in ("createdAt", "updatedAt"):
                assert key not in record or TIMESTAMP.match(record[key])
            if "updatedAt" in record:
                assert record["createdAt"] <= record["updatedAt"], (path, record)


def test_users_get_their_own_portfolios() -> None:
    two = dataset(1)
    three = dataset(1, [*two.users, UserSeed("third@example.com", "pw-3", name="Third")])
    first_user = two.records["users"][0]["_id"]
    for path in ("traders", "trades", "strategies", "exchanges"):
        mine_in_two = [r for r in two.records[path] if r["userId"] == first_user]
        mine_in_three = [r for r in three.records[path] if r["userId"] == first_user]
        assert _dump(mine_in_two) == _dump(mine_in_three), path  # other users do not disturb mine
    golden, second = two.records["users"]
    trades = {u: [t["pair"] for t in two.records["trades"] if t["userId"] == u] for u in (golden["_id"], second["_id"])}
    assert trades[golden["_id"]] != trades[second["_id"]]
    third = three.records["users"][2]
    assert OBJECT_ID.match(third["_id"])
    assert third["plan"] == "pro"
    assert third["name"] == "Third"


def test_dataset_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="at least one UserSeed"):
        dataset(0, [])
    with pytest.raises(ValueError, match="distinct e-mails"):
        dataset(0, [UserSeed("a@example.com", "x"), UserSeed("a@example.com", "y")])


def test_fresh_records_is_a_deep_copy(demo: Dataset) -> None:
    copy = demo.fresh_records()
    assert _dump(copy) == _dump(demo.records)
    copy["traders"][0]["api_server"]["listen_port"] = 1
    copy["users"].clear()
    assert demo.records["traders"][0]["api_server"]["listen_port"] == 8080
    assert demo.records["users"]
