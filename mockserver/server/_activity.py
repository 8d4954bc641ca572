"""Server-made activity, so a frontend pointed at `serve` sees a market that moves and bots that trade.

Every change goes through the same store-and-publish path as client calls, so the events are exactly what the
real server would send (§8.4): `exchanges/ticker patched`, `trades created|patched`,
`traders/pods/events created`, `models/signals created`, `messages created`, `events created`.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mockserver.scripting import Timer
from mockserver.server._core import Core
from mockserver.server._services import pod_events_of
from mockserver.synth import Generator

__all__ = ["Activity", "ActivityOptions"]

GROWING = ("trades", "traders/pods/events", "models/signals", "messages", "events")


@dataclass(frozen=True, slots=True)
class ActivityOptions:
    """Seconds between activity rounds; 0 turns a stream off."""

    ticker_interval: float = 1.0
    trade_interval: float = 5.0
    signal_interval: float = 15.0
    message_interval: float = 30.0
    system_event_interval: float = 60.0
    max_records: int = 10_000  # per growing service; the oldest go first, so a day-long `serve` stays small

    def __post_init__(self) -> None:
        if isinstance(self.max_records, bool) or not isinstance(self.max_records, int) or self.max_records < 1:
            raise ValueError(f"max_records must be an int >= 1, got {self.max_records!r}")
        for name in (
            "ticker_interval",
            "trade_interval",
            "signal_interval",
            "message_interval",
            "system_event_interval",
        ):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")


class Activity:
    """Background streams driven by one seeded RNG (reproducible for a seed, up to timing)."""

    def __init__(self, core: Core, options: ActivityOptions, *, seed: int) -> None:
        self.core = core
        self.options = options
        self.rng = random.Random(seed ^ 0x5EED)
        self.generator = Generator(seed ^ 0xAC71)
        self._timers: dict[str, Timer] = {}

    def start(self) -> None:
        """Schedule every stream on the server's clock, so they follow its speed and a manual clock's `advance`."""
        streams: list[tuple[float, Callable[[], None]]] = [
            (self.options.ticker_interval, self.tick_prices),
            (self.options.trade_interval, self.trade),
            (self.options.signal_interval, self.signal),
            (self.options.message_interval, self.message),
            (self.options.system_event_interval, self.system_event),
        ]
        for interval, step in streams:
            if interval > 0:
                self._schedule(interval, step)

    def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    def _schedule(self, interval: float, step: Callable[[], None]) -> None:
        """Run `step` after `interval` seconds of mock time, then again; slow streams get jitter so they do not fire
        in lockstep."""
        delay = interval * (0.5 + self.rng.random()) if interval >= 5 else interval

        def run() -> None:
            self._schedule(interval, step)
            step()
            self.trim()

        self._timers[step.__name__] = self.core.clock.call_later(delay, run)

    def trim(self) -> None:
        """Drop the oldest records of the collections the streams grow, beyond `max_records` each."""
        for path in GROWING:
            table = self.core.store.table(path)
            excess = len(table) - self.options.max_records
            if excess > 0:
                for record_id in list(itertools.islice(table, excess)):
                    del table[record_id]

    # -- streams ------------------------------------------------------------------------------------------------
    def tick_prices(self) -> None:
        """A small random walk on every ticker, keeping bid < last < ask and the day's high/low consistent."""
        now = self.core.clock.now()
        stamp = self.core.clock.iso()
        for ticker in list(self.core.store.records("exchanges/ticker")):
            last = float(ticker.get("last") or ticker.get("close") or 1.0)
            price = round(last * (1 + self.rng.gauss(0, 0.0008)), _decimals(last))
            spread = max(price * 0.0001, 10 ** -_decimals(last))
            opened = float(ticker.get("open") or price)
            updated = {
                **ticker,
                "timestamp": int(now.timestamp() * 1000),
                "datetime": stamp,
                "last": price,
                "close": price,
                "bid": round(price - spread, _decimals(last)),
                "ask": round(price + spread, _decimals(last)),
                "high": max(float(ticker.get("high") or price), price),
                "low": min(float(ticker.get("low") or price), price),
                "change": round(price - opened, _decimals(last)),
                "percentage": round((price - opened) / opened * 100, 4) if opened else 0.0,
                "updatedAt": stamp,
            }
            self.core.store.put("exchanges/ticker", updated)
            self.core.publish("exchanges/ticker", "patched", dict(updated))

    def trade(self) -> None:
        """One running trader opens a position or closes one; a pod event follows the trade (§10.11)."""
        running = [t for t in self.core.store.records("traders") if t.get("status") == "running"]
        if not running:
            return
        trader = self.rng.choice(running)
        open_trades = [
            t for t in self.core.store.records("trades") if t.get("traderId") == trader["_id"] and t.get("is_open")
        ]
        if open_trades and self.rng.random() < 0.5:
            self._close(trader, self.rng.choice(open_trades))
        else:
            self._open(trader)

    def _tickers(self, trader: dict[str, Any]) -> list[dict[str, Any]]:
        """Tickers of the trader's exchange quoted in its stake currency: the pairs it can actually trade."""
        exchange = self.core.store.get("exchanges", str(trader.get("exchangeId", "")))
        which = None if exchange is None else exchange.get("which")
        suffix = "/" + str(trader.get("stake_currency", "USDT"))
        return [
            t
            for t in self.core.store.records("exchanges/ticker")
            if t.get("which") == which and str(t.get("symbol", "")).endswith(suffix) and t.get("last")
        ]

    def _price(self, trader: dict[str, Any], pair: str) -> float | None:
        return next((float(t["last"]) for t in self._tickers(trader) if t["symbol"] == pair), None)

    def _open(self, trader: dict[str, Any]) -> None:
        draft = self.generator.one("trades")
        tickers = self._tickers(trader)
        if tickers:
            ticker = self.rng.choice(tickers)
            pair, price = str(ticker["symbol"]), float(ticker["last"])
        else:
            pair, price = str(draft["pair"]), float(draft["open_rate"])
        stamp = self.core.clock.iso()
        wallet = float(trader.get("dry_run_wallet") or 1000)
        amount = float(f"{wallet * self.rng.uniform(0.02, 0.1) / price:.6g}")  # 2-10% of the wallet per trade
        trade = {
            **draft,
            "_id": self.core.new_id(),
            "userId": trader["userId"],
            "traderId": trader["_id"],
            "exchangeId": trader.get("exchangeId", draft.get("exchangeId")),
            "pair": pair,
            "is_open": True,
            "amount": amount,
            "open_rate": price,
            "open_date": stamp,
            "stake_amount": round(amount * price, 2),
            "close_rate": None,
            "close_date": None,
            "profit_abs": None,
            "profit_ratio": None,
            "exit_reason": None,
            "createdAt": stamp,
            "updatedAt": stamp,
        }
        self.core.services["trades"].insert(trade)
        base = pair.split("/")[0]
        self._pod_event(
            trader,
            f"Bought {_number(amount)} {base} @ {_number(price)}",
            {"pair": pair, "side": "buy", "amount": amount, "price": price, "tradeId": trade["_id"]},
        )

    def _close(self, trader: dict[str, Any], trade: dict[str, Any]) -> None:
        price = self._price(trader, str(trade["pair"])) or float(trade["open_rate"]) * (1 + self.rng.gauss(0, 0.01))
        profit_ratio = round(price / float(trade["open_rate"]) - 1, 6)
        stamp = self.core.clock.iso()
        closed = {
            **trade,
            "is_open": False,
            "close_rate": price,
            "close_date": stamp,
            "profit_ratio": profit_ratio,
            "profit_abs": round(float(trade["stake_amount"]) * profit_ratio, 2),
            "exit_reason": "roi" if profit_ratio > 0 else "stop_loss",
            "updatedAt": stamp,
        }
        self.core.store.put("trades", closed)
        self.core.publish("trades", "patched", dict(closed))
        base = str(trade["pair"]).split("/")[0]
        self._pod_event(
            trader,
            f"Sold {_number(trade['amount'])} {base} @ {_number(price)}",
            {"pair": trade["pair"], "side": "sell", "amount": trade["amount"], "price": price, "tradeId": trade["_id"]},
        )

    def _pod_event(self, trader: dict[str, Any], message: str, data: dict[str, Any]) -> None:
        pod_events_of(self.core).record_event(trader, "trade_executed", message, data)

    def signal(self) -> None:
        """A model fires: one signal record per subscriber, so ownership rules deliver it (§10.14)."""
        models = list(self.core.store.records("models"))
        if not models:
            return
        model = self.rng.choice(models)
        subscribers = [u for u, subs in self.core.store.subscriptions.items() if model["_id"] in subs]
        draft = self.generator.one("models/signals")
        pair = self.rng.choice(model.get("pairs") or [draft["pair"]])
        for user_id in subscribers:
            self.core.services["models/signals"].insert(
                {
                    **draft,
                    "_id": self.core.new_id(),
                    "userId": user_id,
                    "modelId": model["_id"],
                    "pair": pair,
                    "interval": model.get("interval", draft["interval"]),
                    "createdAt": self.core.clock.iso(),
                }
            )

    def message(self) -> None:
        users = list(self.core.store.records("users"))
        if not users:
            return
        user = self.rng.choice(users)
        draft = self.generator.one("messages")
        stamp = self.core.clock.iso()
        self.core.services["messages"].insert(
            {
                **draft,
                "_id": self.core.new_id(),
                "userId": user["_id"],
                "read": False,
                "createdAt": stamp,
                "updatedAt": stamp,
            }
        )

    def system_event(self) -> None:
        draft = self.generator.one("events")
        self.core.services["events"].insert({**draft, "_id": self.core.new_id(), "createdAt": self.core.clock.iso()})


def _decimals(price: float) -> int:
    """Price precision that looks like an exchange's: 2 decimals for BTC, 6 for a coin under a cent."""
    if price >= 1000:
        return 2
    if price >= 1:
        return 4
    return 8


def _number(value: float) -> str:
    """A number as a trading UI writes it: no exponent, no trailing zeros."""
    return f"{value:,.8f}".rstrip("0").rstrip(".")
