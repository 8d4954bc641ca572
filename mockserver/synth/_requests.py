"""Client request bodies: create and patch payloads as the docs' flows send them (§10.5, 10.7, 10.9)."""

from __future__ import annotations

from typing import Any

from mockserver.synth._catalogue import INTERVALS, TIME_IN_FORCE, indicator
from mockserver.synth._draw import Draw
from mockserver.synth._market import EXCHANGE_IDS
from mockserver.synth._trading import strategy

__all__ = [
    "exchange_create",
    "exchange_patch",
    "strategy_create",
    "strategy_patch",
    "trader_create",
    "trader_patch",
]

_CREATE_KEYS = ("name", "interval", "stoploss", "exit_profit_only", "exit_profit_offset", "exit_sell_signal")


def strategy_create(draw: Draw) -> dict[str, Any]:
    """Like the docs' `{"name": "BTC Momentum", "interval": "1m", "stoploss": -0.036, ...}`."""
    record = strategy(draw, configured=False)
    body = {key: record[key] for key in _CREATE_KEYS}
    if draw.chance(0.3):
        body["timeinforce"] = draw.choice(TIME_IN_FORCE)
    if draw.chance(0.3):
        body["type"] = record.get("type", "momentum")
    return body


def strategy_patch(draw: Draw) -> dict[str, Any]:
    """The configure patch (templateId + indicators) or an edit of one or two fields."""
    roll = draw.rng.random()
    if roll < 0.4:
        picks = sorted(draw.rng.sample(range(1, 8), draw.rng.randrange(0, 3)))
        return {
            "templateId": draw.choice(("tmpl-1", "tmpl-2")),
            "indicators": [indicator(0), *(indicator(i) for i in picks)],
        }
    if roll < 0.7:
        return {"stoploss": -round(0.01 + draw.rng.random() * 0.09, 3)}
    return {"interval": draw.choice(INTERVALS), "exit_sell_signal": draw.chance(0.5)}


def exchange_create(draw: Draw) -> dict[str, Any]:
    """Step 1 of the connection flow: an empty body."""
    return {}


def exchange_patch(draw: Draw) -> dict[str, Any]:
    """Step 2 (`which`) or step 3 (credentials) of the connection flow."""
    if draw.chance(0.5):
        return {"which": draw.choice(EXCHANGE_IDS)}
    return {"apiKey": draw.hex(64), "secret": draw.hex(64)}


def trader_create(draw: Draw) -> dict[str, Any]:
    """Step 1 of the trader lifecycle: `{}`, all defaults."""
    return {}


def trader_patch(draw: Draw) -> dict[str, Any]:
    """The configure patch of §10.9 or a start/stop (`{"running": ...}`)."""
    if draw.chance(0.5):
        return {
            "exchangeId": draw.object_id(draw.created_ms()),
            "strategyId": draw.object_id(draw.created_ms()),
            "handling": draw.choice(("VolumePairList", "StaticPairList")),
            "plugins": {
                "sortByPerformance": draw.chance(0.8),
                "ignoreLowValue": draw.chance(0.8),
                "removeRecentlyListed": draw.chance(0.8),
            },
        }
    return {"running": draw.chance(0.5)}
