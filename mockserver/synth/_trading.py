"""Trading records: strategies, exchanges, traders, trades, pod events, models and signals (§10.5-10.14).

Every builder takes the few facts that tie it to other records (owner, exchange, trader, price) as keyword
arguments, so the dataset can build a coherent portfolio and the generator can build a plausible loose record
with the same code.
"""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Any

from mockserver.synth._catalogue import (
    INTERVALS,
    MODELS,
    TEMPLATE_VALUE_KEYS,
    TIME_IN_FORCE,
    indicator,
    seeded_templates,
)
from mockserver.synth._draw import DAY_MS, EPOCH_MS, HOUR_MS, Draw, iso_ms
from mockserver.synth._market import (
    ASSET_USD,
    EXCHANGE_IDS,
    EXCHANGES,
    MarketLevel,
    price_digits,
    split_pair,
)

__all__ = [
    "FEES",
    "exchange",
    "format_amount",
    "model",
    "pod_event",
    "signal",
    "strategy",
    "trade",
    "trader",
    "wallet_size",
]

FEES: MappingProxyType[str, float] = MappingProxyType(
    {"binance": 0.001, "bybit": 0.001, "okx": 0.001, "coinbase": 0.006, "kraken": 0.0026, "kucoin": 0.001}
)
"""Taker fee ratio per exchange; gateio (0.002) and anything else fall back to FEES.get(which, 0.002)."""

_STRATEGY_ASSETS = ("BTC", "ETH", "SOL", "Altcoin", "Majors", "XRP", "DeFi")
_STRATEGY_STYLES = (
    ("Momentum", "momentum"),
    ("Mean Reversion", "mean_reversion"),
    ("Breakout", "breakout"),
    ("Scalper", "scalping"),
    ("Trend Follower", "trend"),
    ("Swing", "swing"),
    ("RSI Dip Buyer", "mean_reversion"),
)
# What a template's strategy class is, in the free-text `type` of a strategy, and which catalogue
# indicators (indexes into INDICATORS) it is configured with.
_TEMPLATE_CATEGORY = MappingProxyType({"BbandRsi": "mean_reversion", "MacdCrossover": "momentum"})
_TEMPLATE_INDICATORS = MappingProxyType({"BbandRsi": (0, 1), "MacdCrossover": (2, 3)})
_HANDLING = (
    "VolumePairList",
    "VolumePairList",
    "StaticPairList",
    "PercentChangePairList",
    "MarketCapPairList",
)
_EXIT_REASONS = ("roi", "roi", "exit_signal", "stop_loss", "trailing_stop_loss", "force_exit")


def format_amount(value: float, digits: int = 8) -> str:
    """A number as a person writes it: `0.1`, `42400`, `0.00031` (no exponent, no trailing zeros)."""
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return text or "0"


def wallet_size(draw: Draw, stake_currency: str) -> float:
    """A dry-run wallet that makes sense in its currency: 10 000 USDT, 0.5 BTC, 8 ETH."""
    if stake_currency == "BTC":
        return draw.choice((0.1, 0.25, 0.5, 1.0))
    if stake_currency == "ETH":
        return draw.choice((1.0, 2.5, 5.0, 10.0))
    if stake_currency == "BNB":
        return draw.choice((10.0, 25.0, 50.0))
    return draw.choice((1000, 2500, 5000, 10000, 10000, 25000, 50000))


def _timestamps(draw: Draw, created_ms: int | None, updated_ms: int | None) -> tuple[int, int]:
    created = draw.created_ms() if created_ms is None else created_ms
    updated = draw.later_ms(created) if updated_ms is None else updated_ms
    return created, updated


def strategy(
    draw: Draw,
    *,
    user_id: str | None = None,
    name: str | None = None,
    template: dict[str, Any] | None = None,
    configured: bool | None = None,
    created_ms: int | None = None,
) -> dict[str, Any]:
    """A strategy; with `template` it is the result of the configure patch (values copied, indicators set)."""
    rng = draw.rng
    created, updated = _timestamps(draw, created_ms, None)
    style, category = draw.choice(_STRATEGY_STYLES)
    if template is None and configured is None:
        configured = draw.chance(0.4)
        if configured:
            template = draw.choice(seeded_templates())
    if template is not None:
        style = template["name"]
        category = _TEMPLATE_CATEGORY.get(template["type"], "momentum")
    record: dict[str, Any] = {
        "_id": draw.object_id(created),
        "userId": user_id or draw.object_id(created - DAY_MS),
        "name": name or f"{draw.choice(_STRATEGY_ASSETS)} {style}",
        "interval": draw.choice(INTERVALS[:7]),
        "stoploss": -round(0.01 + rng.random() * 0.09, 3),
        "exit_profit_only": draw.chance(0.5),
        "exit_profit_offset": draw.choice((0, 5, 10, 10, 15, 20)),
        "exit_sell_signal": draw.chance(0.7),
    }
    if draw.chance(0.6):
        record["timeinforce"] = draw.choice(TIME_IN_FORCE)
    if template is not None:
        for key in TEMPLATE_VALUE_KEYS:
            record[key] = template["values"][key]
        record["templateId"] = template["_id"]
        core = _TEMPLATE_INDICATORS.get(template["type"], (0,))
        extra = (draw.choice((4, 5, 6, 7)),) if draw.chance(0.4) else ()
        record["indicators"] = [indicator(i) for i in (*core, *extra)]
        configured = True
    record["configured"] = bool(configured)
    if draw.chance(0.5) or template is not None:
        record["type"] = category
    record["createdAt"] = iso_ms(created)
    record["updatedAt"] = iso_ms(updated)
    return record


def exchange(
    draw: Draw,
    *,
    user_id: str | None = None,
    which: str | None = None,
    stage: str | None = None,
    whitelist: tuple[str, ...] = (),
    created_ms: int | None = None,
) -> dict[str, Any]:
    """An exchange connection at `stage` "created" (step 1), "chosen" (step 2) or "connected" (step 3)."""
    created, updated = _timestamps(draw, created_ms, None)
    if stage is None:
        stage = draw.choice(("created", "chosen", "connected", "connected", "connected"))
    record: dict[str, Any] = {
        "_id": draw.object_id(created),
        "userId": user_id or draw.object_id(created - DAY_MS),
        "connected": stage == "connected",
        "avatar": "",
        "whitelist": [],
        "blacklist": [],
        "ccxt_config": {},
        "ccxt_async_config": {},
        # Not documented as a field, but the docs filter on it (GET /exchanges?active=true, §10.7).
        "active": stage == "created" or draw.chance(0.9),
    }
    if stage != "created":
        info = EXCHANGES[which or draw.choice(EXCHANGE_IDS)]
        record["which"] = info.which
        record["requiredCredentials"] = dict.fromkeys(info.credentials, True)
        record["stakeCurrencies"] = list(info.stake_currencies)
        record["popularStakeCurrency"] = info.popular_stake_currency
        record["whitelist"] = [{"left": base} for base in whitelist]
        record["blacklist"] = [{"left": base} for base in info.default_blacklist]
    record["createdAt"] = iso_ms(created)
    record["updatedAt"] = iso_ms(updated)
    return record


def trader_create_defaults() -> dict[str, Any]:
    """The settings `POST /traders {}` answers with (§10.9), as a fresh dict each call; the server uses it too."""
    return {
        "dry_run": True,
        "dry_run_wallet": 10000,
        "stake_currency": "USDT",
        "stake_amount": "unlimited",
        "fiat_display_currency": "USD",
        "cancel_open_orders_on_exit": True,
        "unfilledtimeout": {"entry": 10, "exit": 10},
        "stressShield": {"enabled": True},
    }


def trader(
    draw: Draw,
    *,
    user_id: str | None = None,
    number: int | None = None,
    exchange_record: dict[str, Any] | None = None,
    strategy_id: str | None = None,
    status: str | None = None,
    configured: bool | None = None,
    created_ms: int | None = None,
) -> dict[str, Any]:
    """A trader (§10.9) with the documented create defaults; configured ones trade on an exchange.

    Only a configured trader (exchangeId and strategyId set) can be anything but stopped (D5).
    """
    rng = draw.rng
    created, updated = _timestamps(draw, created_ms, None)
    _id = draw.object_id(created)
    if status is None:
        status = draw.choice(("stopped", "stopped", "running", "running", "running", "starting", "error"))
    if configured is None:
        configured = exchange_record is not None or status != "stopped" or draw.chance(0.5)
    stake_currency = "USDT"
    if configured:
        if exchange_record is not None and exchange_record.get("which"):
            which = exchange_record["which"]
        else:
            which = draw.choice(EXCHANGE_IDS)
        info = EXCHANGES[which]
        stake_currency = info.popular_stake_currency if draw.chance(0.6) else draw.choice(info.stake_currencies)
    if configured:
        wallet = wallet_size(draw, stake_currency)
        settings: dict[str, Any] = {
            "dry_run": draw.chance(0.8),
            "dry_run_wallet": wallet,
            "stake_currency": stake_currency,
            "stake_amount": "unlimited" if draw.chance(0.6) else round(wallet / draw.choice((5, 10, 20)), 8),
            "fiat_display_currency": "EUR" if stake_currency == "EUR" else "USD",
            "cancel_open_orders_on_exit": True,
            "unfilledtimeout": {
                "entry": draw.choice((10, 10, 5, 15, 30)),
                "exit": draw.choice((10, 10, 5, 30)),
            },
            "stressShield": {"enabled": draw.chance(0.85)},
        }
    else:  # never configured: the documented create defaults (§10.9)
        settings = trader_create_defaults()
    record: dict[str, Any] = {
        "_id": _id,
        "userId": user_id or draw.object_id(created - DAY_MS),
        "name": f"Trader {number if number is not None else rng.randrange(1, 13)}",
        **settings,
        "webhook": {"enabled": True, "format": "json", "url": f"https://api.cryptorobot.ai/webhooks/{_id}"},
        "api_server": {
            "enabled": True,
            "listen_ip_address": "0.0.0.0",
            "listen_port": 8080,
            "verbosity": draw.choice(("error", "error", "info")),
            "jwt_secret_key": draw.hex(64),
            "username": "freqtrader",
            "password": draw.hex(24),
        },
    }
    if configured:
        record["exchangeId"] = exchange_record["_id"] if exchange_record else draw.object_id(created - HOUR_MS)
        record["strategyId"] = strategy_id or draw.object_id(created - HOUR_MS)
        record["handling"] = draw.choice(_HANDLING)
        record["plugins"] = {
            "sortByPerformance": draw.chance(0.8),
            "ignoreLowValue": draw.chance(0.8),
            "removeRecentlyListed": draw.chance(0.8),
        }
    record["running"] = status in ("starting", "running", "error")
    record["status"] = status
    record["createdAt"] = iso_ms(created)
    record["updatedAt"] = iso_ms(updated)
    return record


def trade(
    draw: Draw,
    *,
    user_id: str | None = None,
    trader_id: str | None = None,
    exchange_id: str | None = None,
    which: str | None = None,
    pair: str | None = None,
    price: float | None = None,
    stake_amount: float | None = None,
    is_open: bool | None = None,
    stoploss: float = -0.05,
    opened_ms: int | None = None,
) -> dict[str, Any]:
    """A spot trade (§10.12); closed trades carry close_rate/close_date and fee-aware profit."""
    rng = draw.rng
    which = which or draw.choice(EXCHANGE_IDS)
    if pair is None:
        pair = draw.choice(EXCHANGES[which].pairs(EXCHANGES[which].popular_stake_currency))
    if price is None:
        price = MarketLevel(draw).price(pair)
    if is_open is None:
        is_open = draw.chance(0.3)
    if stake_amount is None:
        stake_amount = _stake_for(draw, split_pair(pair)[1])
    opened = opened_ms if opened_ms is not None else EPOCH_MS - rng.randrange(HOUR_MS, 30 * DAY_MS)
    digits = price_digits(price)
    open_rate = round(price * (1.0 + (rng.random() - 0.5) * 0.04), digits)
    # Amounts follow the exchange's lot size: 5 decimals for BTC, 4 for ETH, whole coins for DOGE.
    base_low, base_high = ASSET_USD.get(split_pair(pair)[0], (1.0, 1.0))
    amount_digits = min(8, max(0, math.floor(math.log10((base_low + base_high) / 2)) + 1))
    amount = round(stake_amount / open_rate, amount_digits) or 10.0**-amount_digits
    fee = FEES.get(which, 0.002)
    created = opened
    record: dict[str, Any] = {
        "_id": draw.object_id(created),
        "userId": user_id or draw.object_id(created - 30 * DAY_MS),
        "traderId": trader_id or draw.object_id(created - DAY_MS),
        "exchangeId": exchange_id or draw.object_id(created - 2 * DAY_MS),
        "pair": pair,
        "is_open": is_open,
        "is_short": False,
        "amount": amount,
        "stake_amount": round(amount * open_rate, 8),
        "open_rate": open_rate,
        "open_date": iso_ms(opened),
        "close_rate": None,
        "close_date": None,
        "profit_abs": None,
        "profit_ratio": None,
        "exit_reason": None,
        "fee_open": fee,
        "fee_close": fee,
        "createdAt": iso_ms(created),
        "updatedAt": iso_ms(created),
    }
    if not is_open:
        reason = draw.choice(_EXIT_REASONS)
        move = _exit_move(draw, reason, stoploss)
        close_rate = round(open_rate * (1.0 + move), digits)
        closed = min(opened + rng.randrange(5 * 60_000, 3 * DAY_MS), EPOCH_MS)
        open_value = amount * open_rate * (1.0 + fee)
        profit_abs = amount * close_rate * (1.0 - fee) - open_value
        record.update(
            close_rate=close_rate,
            close_date=iso_ms(closed),
            profit_abs=round(profit_abs, 8),
            profit_ratio=round(profit_abs / open_value, 6),
            exit_reason=reason,
            updatedAt=iso_ms(closed),
        )
    return record


def _stake_for(draw: Draw, quote: str) -> float:
    if quote == "BTC":
        return draw.choice((0.005, 0.01, 0.02, 0.05))
    if quote == "ETH":
        return draw.choice((0.1, 0.25, 0.5, 1.0))
    if quote == "BNB":
        return draw.choice((1.0, 2.0, 5.0))
    return float(draw.choice((50, 100, 200, 250, 500, 1000)))


def _exit_move(draw: Draw, reason: str, stoploss: float) -> float:
    """The price move that plausibly ends a trade for `reason`."""
    random = draw.rng.random
    if reason == "stop_loss":
        return stoploss * (1.0 + random() * 0.1)
    if reason == "roi":
        return 0.004 + random() * 0.04
    if reason == "trailing_stop_loss":
        return 0.002 + random() * 0.03
    return (random() - 0.4) * 0.06


_POD_EVENT_TYPES = (
    "trade_executed",
    "trade_executed",
    "trade_executed",
    "started",
    "stopped",
    "status_changed",
)


def pod_event(
    draw: Draw,
    *,
    user_id: str | None = None,
    trader_record: dict[str, Any] | None = None,
    event_type: str | None = None,
    trade_record: dict[str, Any] | None = None,
    at_ms: int | None = None,
) -> dict[str, Any]:
    """A pod event (§10.11); `trade_executed` ones say what was bought or sold, at what price."""
    rng = draw.rng
    created = at_ms if at_ms is not None else EPOCH_MS - rng.randrange(1, 7 * DAY_MS)
    trader_id = trader_record["_id"] if trader_record else draw.object_id(created - 2 * DAY_MS)
    trader_name = trader_record["name"] if trader_record else f"Trader {rng.randrange(1, 13)}"
    event_type = event_type or draw.choice(_POD_EVENT_TYPES)
    record: dict[str, Any] = {
        "_id": draw.object_id(created),
        "userId": user_id or (trader_record["userId"] if trader_record else draw.object_id(created - 9 * DAY_MS)),
        "traderId": trader_id,
        "podId": f"pod-{trader_id}",
        "type": event_type,
        "message": "",
    }
    if event_type == "trade_executed":
        if trade_record is None:
            trade_record = trade(draw, which=draw.choice(EXCHANGE_IDS), is_open=True, opened_ms=created)
        selling = not trade_record["is_open"]
        base = split_pair(trade_record["pair"])[0]
        rate = trade_record["close_rate"] if selling else trade_record["open_rate"]
        amount = trade_record["amount"]
        record["message"] = f"{'Sold' if selling else 'Bought'} {format_amount(amount)} {base} @ {format_amount(rate)}"
        record["data"] = {
            "pair": trade_record["pair"],
            "side": "sell" if selling else "buy",
            "amount": amount,
            "price": rate,
            "tradeId": trade_record["_id"],
        }
    elif event_type == "started":
        record["message"] = f"{trader_name} started"
    elif event_type == "stopped":
        record["message"] = f"{trader_name} stopped"
    elif event_type == "status_changed":
        status = draw.choice(("running", "stopped", "starting", "stopping"))
        record["message"] = f"{trader_name} is now {status}"
        record["data"] = {"status": status}
    else:
        reason = draw.choice(
            (
                "Exchange rejected the order: insufficient balance",
                "Exchange API timed out after 30 s",
                "Strategy raised an exception while analysing the dataframe",
            )
        )
        record["message"] = f"{trader_name} stopped after an error: {reason}"
    record["createdAt"] = iso_ms(created)
    return record


def model(draw: Draw, *, index: int | None = None, subscribed: bool | None = None) -> dict[str, Any]:
    """A signal model of the shared catalogue; `subscribed` is per caller, the server recomputes it."""
    name, description, pairs, interval = MODELS[draw.rng.randrange(len(MODELS)) if index is None else index]
    created, updated = _timestamps(draw, draw.created_ms(365), None)
    return {
        "_id": draw.object_id(created),
        "name": name,
        "description": description,
        "pairs": list(pairs),
        "interval": interval,
        "subscribed": draw.chance(0.5) if subscribed is None else subscribed,
        "createdAt": iso_ms(created),
        "updatedAt": iso_ms(updated),
    }


def signal(
    draw: Draw,
    *,
    user_id: str | None = None,
    model_record: dict[str, Any] | None = None,
    market: MarketLevel | None = None,
    at_ms: int | None = None,
) -> dict[str, Any]:
    """A model signal (§10.14) on one of the model's pairs, priced on the market."""
    rng = draw.rng
    created = at_ms if at_ms is not None else EPOCH_MS - rng.randrange(1, 7 * DAY_MS)
    if model_record is None:
        _, _, pairs, interval = draw.choice(MODELS)
        model_id = draw.object_id(created - 90 * DAY_MS)
    else:
        pairs, interval, model_id = (
            tuple(model_record["pairs"]),
            model_record["interval"],
            model_record["_id"],
        )
    pair = draw.choice(pairs)
    price = (market or MarketLevel(draw)).price(pair)
    return {
        "_id": draw.object_id(created),
        "userId": user_id or draw.object_id(created - 30 * DAY_MS),
        "modelId": model_id,
        "pair": pair,
        "direction": "buy" if draw.chance(0.55) else "sell",
        "confidence": round(0.5 + rng.random() * 0.49, 2),
        "price": round(price, price_digits(price)),
        "interval": interval,
        "createdAt": iso_ms(created),
    }
