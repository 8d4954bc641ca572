"""CCXT-style tickers (§10.8): the hot path of the generator, so it avoids everything but `random`.

Invariants a trading UI relies on: low <= bid < ask <= high, low <= open, last <= high, close == last,
change == last - open, percentage == change / open * 100, quoteVolume ~ baseVolume * vwap.
"""

from __future__ import annotations

from typing import Any

from mockserver.synth._draw import DAY_MS, EPOCH_MS, HOUR_MS, Draw, iso_ms
from mockserver.synth._market import EXCHANGE_IDS, EXCHANGES, MarketLevel, price_digits, split_pair

__all__ = ["ticker"]


def ticker(
    draw: Draw,
    *,
    which: str | None = None,
    symbol: str | None = None,
    last: float | None = None,
    usd_price: float | None = None,
    at_ms: int | None = None,
    created_ms: int | None = None,
) -> dict[str, Any]:
    """One ticker; `last` pins the price (the dataset keeps tickers and trades on one market)."""
    rng = draw.rng
    random = rng.random
    if which is None:
        which = EXCHANGE_IDS[int(random() * len(EXCHANGE_IDS))]
    if symbol is None:
        pairs = EXCHANGES[which].pairs()
        symbol = pairs[int(random() * len(pairs))]
    if last is None or usd_price is None:
        market = MarketLevel(draw)
        if last is None:
            last = market.price(symbol)
        if usd_price is None:
            usd_price = market.usd(split_pair(symbol)[0])
    if at_ms is None:
        at_ms = EPOCH_MS - int(random() * HOUR_MS)
    if created_ms is None:
        created_ms = at_ms - int(random() * 30 * DAY_MS)

    digits = price_digits(last)
    tick = 10.0**-digits
    last = round(last, digits)
    change_ratio = (random() - 0.5) * 0.12  # +-6 % over 24 h
    open_ = round(last / (1.0 + change_ratio), digits)
    previous_close = round(open_ * (1.0 + (random() - 0.5) * 0.001), digits)
    half_spread = max(last * (0.00001 + random() * 0.0002), tick)
    bid = round(last - half_spread, digits)
    if bid <= 0:
        bid = tick
    ask = round(max(last + half_spread, bid + tick), digits)
    high = round(max(open_, last, ask) * (1.0 + random() * 0.03), digits)
    low = round(min(open_, last, bid) * (1.0 - random() * 0.03), digits)
    vwap = round(low + (high - low) * (0.3 + random() * 0.4), digits)
    if not low <= vwap <= high:  # rounding at the 8th decimal can nudge it out
        vwap = last
    quote_volume_usd = 10.0 ** (5.0 + random() * 4.0)  # 100 k .. 1 bn USD a day
    base_volume = round(quote_volume_usd / usd_price, 4)
    change = round(last - open_, digits)
    datetime = iso_ms(at_ms)
    return {
        "_id": draw.object_id(created_ms),
        "which": which,
        "symbol": symbol,
        "timestamp": at_ms,
        "datetime": datetime,
        "high": high,
        "low": low,
        "bid": bid,
        "bidVolume": round((100.0 + random() * 50_000.0) / usd_price, 4),
        "ask": ask,
        "askVolume": round((100.0 + random() * 50_000.0) / usd_price, 4),
        "vwap": vwap,
        "open": open_,
        "close": last,
        "last": last,
        "previousClose": previous_close,
        "change": change,
        "percentage": round(change / open_ * 100.0, 3),
        "average": round((open_ + last) / 2.0, digits + 1),
        "baseVolume": base_volume,
        "quoteVolume": round(base_volume * vwap, 2),
        "createdAt": iso_ms(created_ms),
        "updatedAt": datetime,
    }
