"""Pod command requests and their freqtrade-shaped results (D12, §10.10).

The results are computed from trade records of the `trades` shape, so they add up the way freqtrade's do:
the balance total is the sum of `est_stake`, winning + losing trades = closed trades, profit sums match the
trades. The generator feeds them a synthetic portfolio; the server can feed them a trader's real trades.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mockserver.synth._draw import DAY_MS, EPOCH_MS, Draw, iso_ms
from mockserver.synth._draw import ms_of as _ms
from mockserver.synth._market import EXCHANGES, MarketLevel, split_pair
from mockserver.synth._trading import trade, wallet_size

__all__ = [
    "COMMANDS",
    "balance_result",
    "pod_command",
    "portfolio",
    "profit_result",
    "status_result",
]

COMMANDS = ("ping", "status", "balance", "profit")
_MINUTES = {"1m": 1, "3m": 3, "5m": 5, "15m": 15, "30m": 30, "1h": 60, "4h": 240, "1d": 1440}


def pod_command(draw: Draw, *, trader_id: str | None = None) -> dict[str, Any]:
    """A `POST /traders/pods` body; `params` is optional and unused by the four commands."""
    request: dict[str, Any] = {
        "traderId": trader_id or draw.object_id(draw.created_ms()),
        "command": draw.choice(COMMANDS),
    }
    if draw.chance(0.3):
        request["params"] = {}
    return request


def portfolio(draw: Draw) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, float]]:
    """A stand-alone (trader facts, trades, current prices) triple for the generator's result kinds."""
    which = draw.choice(tuple(EXCHANGES))
    info = EXCHANGES[which]
    stake = info.popular_stake_currency
    market = MarketLevel(draw)
    pairs = info.pairs(stake)
    trades = [
        trade(draw, which=which, pair=pair, price=market.price(pair), is_open=draw.chance(0.25))
        for pair in (draw.choice(pairs) for _ in range(draw.rng.randrange(0, 9)))
    ]
    prices = {pair: market.price(pair) for pair in pairs}
    # freqtrade never stakes more than the wallet holds: size the wallet to what the trades used.
    used = sum(t["stake_amount"] for t in trades if t["is_open"]) - min(0.0, _closed_profit(trades))
    wallet = wallet_size(draw, stake)
    while wallet < used * 1.2:
        wallet *= 2
    facts = {
        "which": which,
        "stake_currency": stake,
        "fiat_display_currency": "USD",
        "dry_run": True,
        "dry_run_wallet": wallet,
        "strategy": draw.choice(("BbandRsi", "MacdCrossover")),
        "interval": draw.choice(tuple(_MINUTES)),
        "stoploss": -0.05,
        "fiat_rate": market.usd(stake),
    }
    return facts, trades, prices


def status_result(
    facts: Mapping[str, Any], trades: Sequence[Mapping[str, Any]], prices: Mapping[str, float]
) -> list[dict[str, Any]]:
    """The open trades, as freqtrade's `/status` lists them."""
    result = []
    for number, record in enumerate(trades, start=1):
        if not record["is_open"]:
            continue
        base, quote = split_pair(record["pair"])
        current = prices.get(record["pair"], record["open_rate"])
        amount, open_rate, fee = record["amount"], record["open_rate"], record["fee_open"]
        open_value = amount * open_rate * (1.0 + fee)
        profit_abs = round(amount * current * (1.0 - record["fee_close"]) - open_value, 8)
        ratio = round(profit_abs / open_value, 6)
        result.append(
            {
                "trade_id": number,
                "pair": record["pair"],
                "base_currency": base,
                "quote_currency": quote,
                "is_open": True,
                "is_short": False,
                "exchange": facts["which"],
                "amount": amount,
                "stake_amount": record["stake_amount"],
                "strategy": facts["strategy"],
                "enter_tag": None,
                "timeframe": _MINUTES.get(facts["interval"], 1),
                "open_date": record["open_date"],
                "open_timestamp": _ms(record["open_date"]),
                "open_rate": open_rate,
                "close_date": None,
                "close_rate": None,
                "profit_ratio": ratio,
                "profit_pct": round(ratio * 100.0, 2),
                "profit_abs": profit_abs,
                "realized_profit": 0,
                "stop_loss_abs": round(open_rate * (1.0 + facts["stoploss"]), 8),
                "has_open_orders": False,
                "orders": [],
                "current_rate": current,
                "total_profit_abs": profit_abs,
                "leverage": 1,
            }
        )
    return result


def _closed_profit(trades: Sequence[Mapping[str, Any]]) -> float:
    return float(sum(t["profit_abs"] for t in trades if not t["is_open"]))


def balance_result(
    facts: Mapping[str, Any], trades: Sequence[Mapping[str, Any]], prices: Mapping[str, float]
) -> dict[str, Any]:
    """The wallet: free stake currency plus every held base asset, valued in the stake currency."""
    stake = facts["stake_currency"]
    start = float(facts["dry_run_wallet"])
    open_trades = [t for t in trades if t["is_open"]]
    in_trades = sum(t["stake_amount"] * (1 + t["fee_open"]) for t in open_trades)
    free_stake = max(0.0, start + _closed_profit(trades) - in_trades)
    holdings: dict[str, tuple[float, float]] = {}  # currency -> (amount, value in stake)
    for record in open_trades:
        base = split_pair(record["pair"])[0]
        amount, value = holdings.get(base, (0.0, 0.0))
        price = prices.get(record["pair"], record["open_rate"])
        holdings[base] = (amount + record["amount"], value + record["amount"] * price)
    rows = [(stake, round(free_stake, 8), round(free_stake, 8))]
    rows += [(cur, round(amount, 8), round(value, 8)) for cur, (amount, value) in holdings.items()]
    currencies = [
        {
            "currency": currency,
            "free": amount,
            "balance": amount,
            "used": 0,
            "bot_owned": amount,
            "est_stake": value,
            "est_stake_bot": value,
            "stake": stake,
            "side": "long",
            "leverage": 1,
            "is_position": False,
            "position": 0,
            "is_bot_managed": True,
        }
        for currency, amount, value in rows
    ]
    total = round(sum(c["est_stake"] for c in currencies), 8)
    rate = float(facts.get("fiat_rate", 1.0))
    ratio = round(total / start - 1.0, 6) if start else 0.0
    return {
        "currencies": currencies,
        "total": total,
        "total_bot": total,
        "symbol": facts["fiat_display_currency"],
        "value": round(total * rate, 2),
        "value_bot": round(total * rate, 2),
        "stake": stake,
        "note": "Simulated balances" if facts.get("dry_run", True) else "",
        "starting_capital": start,
        "starting_capital_ratio": ratio,
        "starting_capital_pct": round(ratio * 100.0, 2),
        "starting_capital_fiat": round(start * rate, 2),
        "starting_capital_fiat_ratio": ratio,
        "starting_capital_fiat_pct": round(ratio * 100.0, 2),
    }


def _humanized(ms: int) -> str:
    days = (EPOCH_MS - ms) // DAY_MS
    if days >= 1:
        return f"{days} day{'s' if days > 1 else ''} ago"
    hours = (EPOCH_MS - ms) // 3_600_000
    return f"{hours} hours ago" if hours > 1 else "an hour ago"


def _duration(ms: float) -> str:
    seconds = int(ms // 1000)
    days, seconds = divmod(seconds, 86400)
    text = f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return f"{days} day{'s' if days > 1 else ''}, {text}" if days else text


def profit_result(
    facts: Mapping[str, Any],
    trades: Sequence[Mapping[str, Any]],
    prices: Mapping[str, float],
    *,
    bot_start_ms: int | None = None,
) -> dict[str, Any]:
    """freqtrade's `/profit` summary over the given trades; counts and sums agree with them."""
    start = float(facts["dry_run_wallet"]) or 1.0
    rate = float(facts.get("fiat_rate", 1.0))
    closed = [t for t in trades if not t["is_open"]]
    unrealized = [
        t["amount"] * prices.get(t["pair"], t["open_rate"]) * (1 - t["fee_close"])
        - t["amount"] * t["open_rate"] * (1 + t["fee_open"])
        for t in trades
        if t["is_open"]
    ]
    closed_ratios = [t["profit_ratio"] for t in closed]
    open_trades = [t for t in trades if t["is_open"]]
    all_ratios = closed_ratios + [u / t["stake_amount"] for u, t in zip(unrealized, open_trades, strict=True)]
    closed_coin = round(_closed_profit(trades), 8)
    all_coin = round(closed_coin + sum(unrealized), 8)
    wins = [t["profit_abs"] for t in closed if t["profit_abs"] > 0]
    losses = [t["profit_abs"] for t in closed if t["profit_abs"] <= 0]
    opened = sorted(_ms(t["open_date"]) for t in trades)
    first_ms = opened[0] if opened else EPOCH_MS
    latest_ms = opened[-1] if opened else EPOCH_MS
    started = bot_start_ms if bot_start_ms is not None else first_ms - DAY_MS
    durations = [_ms(t["close_date"]) - _ms(t["open_date"]) for t in closed]
    by_pair: dict[str, float] = {}
    for t in closed:
        by_pair[t["pair"]] = by_pair.get(t["pair"], 0.0) + t["profit_ratio"]
    best_pair, best_ratio = max(by_pair.items(), key=lambda item: item[1]) if by_pair else ("", 0.0)
    drawdown_abs, peak, equity, dd_start, dd_end = 0.0, 0.0, 0.0, first_ms, first_ms
    peak_ms = first_ms
    for t in sorted(closed, key=lambda t: t["close_date"]):
        equity += t["profit_abs"]
        if equity > peak:
            peak, peak_ms = equity, _ms(t["close_date"])
        elif peak - equity > drawdown_abs:
            drawdown_abs, dd_start, dd_end = peak - equity, peak_ms, _ms(t["close_date"])
    win_rate = len(wins) / len(closed) if closed else 0.0
    avg_win = sum(wins) / len(wins) if wins else 0.0
    avg_loss = -sum(losses) / len(losses) if losses else 0.0
    dates = {
        "first_trade_date": iso_ms(first_ms),
        "first_trade_humanized": _humanized(first_ms),
        "first_trade_timestamp": first_ms,
        "latest_trade_date": iso_ms(latest_ms),
        "latest_trade_humanized": _humanized(latest_ms),
        "latest_trade_timestamp": latest_ms,
    }
    if not trades:  # freqtrade writes "" and 0 for dates that do not exist yet
        dates = dict.fromkeys(dates, "") | {"first_trade_timestamp": 0, "latest_trade_timestamp": 0}
    drawdown = {
        "max_drawdown_start": iso_ms(dd_start),
        "max_drawdown_start_timestamp": dd_start,
        "max_drawdown_end": iso_ms(dd_end),
        "max_drawdown_end_timestamp": dd_end,
    }
    if not drawdown_abs:
        drawdown = {"max_drawdown_start": "", "max_drawdown_start_timestamp": 0} | {
            "max_drawdown_end": "",
            "max_drawdown_end_timestamp": 0,
        }
    return {
        "profit_closed_coin": closed_coin,
        "profit_closed_percent_mean": round(_mean(closed_ratios) * 100, 2),
        "profit_closed_ratio_mean": round(_mean(closed_ratios), 6),
        "profit_closed_percent_sum": round(sum(closed_ratios) * 100, 2),
        "profit_closed_ratio_sum": round(sum(closed_ratios), 6),
        "profit_closed_percent": round(closed_coin / start * 100, 2),
        "profit_closed_ratio": round(closed_coin / start, 6),
        "profit_closed_fiat": round(closed_coin * rate, 2),
        "profit_all_coin": all_coin,
        "profit_all_percent_mean": round(_mean(all_ratios) * 100, 2),
        "profit_all_ratio_mean": round(_mean(all_ratios), 6),
        "profit_all_percent_sum": round(sum(all_ratios) * 100, 2),
        "profit_all_ratio_sum": round(sum(all_ratios), 6),
        "profit_all_percent": round(all_coin / start * 100, 2),
        "profit_all_ratio": round(all_coin / start, 6),
        "profit_all_fiat": round(all_coin * rate, 2),
        "trade_count": len(trades),
        "closed_trade_count": len(closed),
        **{key: dates[key] for key in ("first_trade_date", "first_trade_humanized", "first_trade_timestamp")},
        **{key: dates[key] for key in ("latest_trade_date", "latest_trade_humanized", "latest_trade_timestamp")},
        "avg_duration": _duration(_mean(durations)),
        "best_pair": best_pair,
        "best_rate": round(best_ratio * 100, 2),
        "best_pair_profit_ratio": round(best_ratio, 6),
        "winning_trades": len(wins),
        "losing_trades": len(losses),
        "profit_factor": round(sum(wins) / -sum(losses), 4) if sum(losses) < 0 else 0.0,
        "winrate": round(win_rate, 4),
        "expectancy": round(win_rate * avg_win - (1 - win_rate) * avg_loss, 8),
        "expectancy_ratio": round((1 + avg_win / avg_loss) * win_rate - 1, 4) if avg_loss else 0.0,
        "max_drawdown": round(drawdown_abs / (start + peak), 6) if drawdown_abs else 0.0,
        "max_drawdown_abs": round(drawdown_abs, 8),
        **drawdown,
        "trading_volume": round(sum(t["stake_amount"] * (1 if t["is_open"] else 2) for t in trades), 8),
        "bot_start_date": iso_ms(started),
        "bot_start_timestamp": started,
    }


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0
