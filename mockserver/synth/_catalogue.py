"""Shared catalogues: strategy templates, TA-Lib indicators and signal models.

The two seeded templates are the docs' own (`tmpl-1` exactly as §10.6 shows it) and the `tmpl-2` the spec
suggests. Builders return fresh dicts on every call, because callers (the server's store) mutate records.
"""

from __future__ import annotations

from typing import Any

from mockserver.synth._draw import Draw

__all__ = [
    "INDICATORS",
    "MODELS",
    "TEMPLATE_VALUE_KEYS",
    "indicator",
    "seeded_templates",
    "template",
]

TEMPLATE_VALUE_KEYS = (
    "stoploss",
    "interval",
    "timeinforce",
    "exit_profit_only",
    "exit_profit_offset",
    "exit_sell_signal",
)
"""The values a template copies onto a strategy on its first templateId patch (§10.5)."""

# (_id, name, type, description, stoploss, interval, timeinforce, exit_profit_only, exit_profit_offset,
#  exit_sell_signal)
_SEEDED_TEMPLATES: tuple[tuple[str, str, str, str, float, str, str, bool, float, bool], ...] = (
    (
        "tmpl-1",
        "Bollinger RSI",
        "BbandRsi",
        "Bollinger Band breakout with RSI confirmation",
        -0.077,
        "1m",
        "GTC",
        False,
        20,
        False,
    ),
    (
        "tmpl-2",
        "MACD Crossover",
        "MacdCrossover",
        "Enters when the MACD line crosses above its signal line, exits on the reverse cross",
        -0.05,
        "15m",
        "GTC",
        True,
        10,
        True,
    ),
)

# Extra template styles for generated (non-seeded) templates: (name, type, description).
_TEMPLATE_STYLES: tuple[tuple[str, str, str], ...] = (
    ("Bollinger RSI", "BbandRsi", "Bollinger Band breakout with RSI confirmation"),
    ("MACD Crossover", "MacdCrossover", "Enters on a MACD line crossing its signal line"),
    ("EMA Ribbon", "EmaRibbon", "Trend entries when fast EMAs fan out above the slow ones"),
    ("Supertrend", "Supertrend", "ATR-based trend following with a trailing exit"),
    ("Stochastic RSI Dip", "StochRsiDip", "Buys oversold dips confirmed by Stochastic RSI"),
    ("Ichimoku Cloud", "IchimokuCloud", "Enters on breaks above the cloud with a bullish Tenkan/Kijun cross"),
)

INTERVALS = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d")
TIME_IN_FORCE = ("GTC", "GTC", "GTC", "IOC", "FOK", "PO")

# (_id, name, group, description, optInputs as (name, displayName, defaultValue, hint, type))
_Input = tuple[str, str, float, str, str]
INDICATORS: tuple[tuple[str, str, str, str, tuple[_Input, ...]], ...] = (
    (
        "ta.rsi",
        "RSI",
        "Momentum Indicators",
        "Relative Strength Index",
        (("optInTimePeriod", "Time Period", 14, "Number of period", "integer_range"),),
    ),
    (
        "ta.bbands",
        "BBANDS",
        "Overlap Studies",
        "Bollinger Bands",
        (
            ("optInTimePeriod", "Time Period", 5, "Number of period", "integer_range"),
            ("optInNbDevUp", "Deviations up", 2, "Deviation multiplier for upper band", "real_range"),
            ("optInNbDevDn", "Deviations down", 2, "Deviation multiplier for lower band", "real_range"),
            ("optInMAType", "MA Type", 0, "Type of Moving Average", "integer_list"),
        ),
    ),
    (
        "ta.macd",
        "MACD",
        "Momentum Indicators",
        "Moving Average Convergence/Divergence",
        (
            ("optInFastPeriod", "Fast Period", 12, "Number of period for the fast MA", "integer_range"),
            ("optInSlowPeriod", "Slow Period", 26, "Number of period for the slow MA", "integer_range"),
            ("optInSignalPeriod", "Signal Period", 9, "Smoothing for the signal line", "integer_range"),
        ),
    ),
    (
        "ta.ema",
        "EMA",
        "Overlap Studies",
        "Exponential Moving Average",
        (("optInTimePeriod", "Time Period", 30, "Number of period", "integer_range"),),
    ),
    (
        "ta.atr",
        "ATR",
        "Volatility Indicators",
        "Average True Range",
        (("optInTimePeriod", "Time Period", 14, "Number of period", "integer_range"),),
    ),
    ("ta.obv", "OBV", "Volume Indicators", "On Balance Volume", ()),
    (
        "ta.adx",
        "ADX",
        "Momentum Indicators",
        "Average Directional Movement Index",
        (("optInTimePeriod", "Time Period", 14, "Number of period", "integer_range"),),
    ),
    (
        "ta.mfi",
        "MFI",
        "Momentum Indicators",
        "Money Flow Index",
        (("optInTimePeriod", "Time Period", 14, "Number of period", "integer_range"),),
    ),
)

# (name, description, pairs, interval)
MODELS: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("BTC Trend Model", "Trend-following signals on major pairs", ("BTC/USDT", "ETH/USDT"), "1h"),
    ("ETH Momentum Model", "Momentum breakouts on ETH and its ecosystem", ("ETH/USDT", "LINK/USDT"), "15m"),
    (
        "Altcoin Breakout",
        "Volume-confirmed breakouts on large-cap altcoins",
        ("SOL/USDT", "AVAX/USDT", "DOT/USDT"),
        "4h",
    ),
    (
        "Mean Reversion Majors",
        "Fades stretched moves on the most liquid pairs",
        ("BTC/USDT", "XRP/USDT"),
        "5m",
    ),
    ("Stress Index Hedge", "Risk-off signals when the Crypto Stress Index is high", ("BTC/USDT",), "1d"),
)


def indicator(index: int) -> dict[str, Any]:
    """Indicator `index` of the catalogue as a fresh dict (§10.5 Indicator object)."""
    _id, name, group, description, inputs = INDICATORS[index]
    return {
        "_id": _id,
        "alias": _id.removeprefix("ta."),
        "name": name,
        "group": group,
        "description": description,
        "optInputs": [
            {"name": n, "displayName": display, "defaultValue": default, "hint": hint, "type": kind}
            for n, display, default, hint, kind in inputs
        ],
    }


def _template_record(row: tuple[str, str, str, str, float, str, str, bool, float, bool]) -> dict[str, Any]:
    _id, name, type_, description, *values = row
    return {
        "_id": _id,
        "name": name,
        "type": type_,
        "description": description,
        "values": dict(zip(TEMPLATE_VALUE_KEYS, values, strict=True)),
    }


def seeded_templates() -> list[dict[str, Any]]:
    """tmpl-1 (the docs' example, values exact) and tmpl-2."""
    return [_template_record(row) for row in _SEEDED_TEMPLATES]


def template(draw: Draw) -> dict[str, Any]:
    """A plausible template with a `tmpl-N` id like the seeded ones."""
    rng = draw.rng
    name, type_, description = draw.choice(_TEMPLATE_STYLES)
    return {
        "_id": f"tmpl-{rng.randrange(1, 100)}",
        "name": name,
        "type": type_,
        "description": description,
        "values": {
            "stoploss": -round(0.01 + rng.random() * 0.14, 3),
            "interval": draw.choice(INTERVALS),
            "timeinforce": draw.choice(TIME_IN_FORCE),
            "exit_profit_only": draw.chance(0.5),
            "exit_profit_offset": draw.choice((0, 5, 10, 15, 20, 25)),
            "exit_sell_signal": draw.chance(0.5),
        },
    }
