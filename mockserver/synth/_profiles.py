"""Domain facts the server needs at run time, from the same tables the generator draws from.

`exchange_profile` is what `PATCH /exchanges/:id {"which": ...}` fills in (§10.7 step 2); `pod_result` answers a
pod command from a trader's real trades (§10.10), so the numbers agree with what `GET /trades` shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mockserver.synth._market import ASSET_USD, EXCHANGES
from mockserver.synth._pods import COMMANDS, balance_result, profit_result, status_result

__all__ = ["exchange_profile", "pod_result"]


def exchange_profile(which: str) -> dict[str, Any]:
    """requiredCredentials, stakeCurrencies, popularStakeCurrency and the default blacklist of an exchange."""
    try:
        info = EXCHANGES[which]
    except KeyError:
        raise ValueError(f"unknown exchange {which!r}; known: {', '.join(EXCHANGES)}") from None
    return {
        "which": which,
        "requiredCredentials": dict.fromkeys(info.credentials, True),
        "stakeCurrencies": list(info.stake_currencies),
        "popularStakeCurrency": info.popular_stake_currency,
        "blacklist": [{"left": base} for base in info.default_blacklist],
    }


def pod_result(
    command: str,
    *,
    trader: Mapping[str, Any],
    trades: Sequence[Mapping[str, Any]],
    prices: Mapping[str, float],
    exchange: Mapping[str, Any] | None = None,
    strategy: Mapping[str, Any] | None = None,
) -> Any:
    """freqtrade's answer to `command` for this trader, computed from its trades and the current prices."""
    if command not in COMMANDS:
        raise ValueError(f"unknown pod command {command!r}; known: {', '.join(COMMANDS)}")
    if command == "ping":
        return {"status": "pong"}
    stake = str(trader.get("stake_currency", "USDT"))
    low, high = ASSET_USD.get(stake, (1.0, 1.0))
    facts = {
        "which": (exchange or {}).get("which", "binance"),
        "stake_currency": stake,
        "fiat_display_currency": trader.get("fiat_display_currency", "USD"),
        "dry_run": trader.get("dry_run", True),
        "dry_run_wallet": float(trader.get("dry_run_wallet", 10000)),
        "strategy": (strategy or {}).get("type") or (strategy or {}).get("name") or "BbandRsi",
        "interval": (strategy or {}).get("interval", "5m"),
        "stoploss": float((strategy or {}).get("stoploss", -0.1)),
        "fiat_rate": (low * high) ** 0.5,
    }
    known = {pair: price for pair, price in prices.items()}
    for trade in trades:  # a pair without a ticker is valued at its last known rate
        known.setdefault(str(trade["pair"]), float(trade.get("close_rate") or trade["open_rate"]))
    if command == "status":
        return status_result(facts, trades, known)
    if command == "balance":
        return balance_result(facts, trades, known)
    return profit_result(facts, trades, known)
