"""Market reference data: the exchanges of §10.7, the pairs they list, and plausible prices.

Immutable tables only. Prices come from one "market level" per draw, so cross pairs agree with the USD
legs (ETH/BTC stays near 0.05 when BTC and ETH move together), and every price is rounded to the tick size a
trading UI would show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType

from mockserver.synth._draw import Draw

__all__ = [
    "ASSET_USD",
    "EXCHANGES",
    "EXCHANGE_IDS",
    "ExchangeInfo",
    "MarketLevel",
    "price_digits",
    "split_pair",
]

# USD price range of each asset over 2021-2024, low and high.
ASSET_USD: MappingProxyType[str, tuple[float, float]] = MappingProxyType(
    {
        "BTC": (30_000.0, 100_000.0),
        "ETH": (1_500.0, 5_000.0),
        "SOL": (20.0, 250.0),
        "BNB": (200.0, 700.0),
        "XRP": (0.3, 3.0),
        "ADA": (0.25, 1.2),
        "DOGE": (0.06, 0.4),
        "AVAX": (10.0, 60.0),
        "DOT": (4.0, 12.0),
        "LINK": (6.0, 25.0),
        "LTC": (50.0, 120.0),
        "USDT": (0.999, 1.001),
        "USDC": (0.999, 1.001),
        "BUSD": (0.999, 1.001),
        "USD": (1.0, 1.0),
        "EUR": (1.05, 1.12),
    }
)

# Which bases trade against each quote (stake) currency on the exchanges that offer that quote.
_MAJORS = ("BTC", "ETH", "SOL", "BNB", "XRP", "ADA", "DOGE", "AVAX", "DOT", "LINK", "LTC")
_QUOTE_BASES: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {
        "USDT": _MAJORS,
        "USDC": ("BTC", "ETH", "SOL", "XRP", "AVAX", "LINK"),
        "BUSD": ("BTC", "ETH", "BNB", "SOL", "XRP"),
        "USD": ("BTC", "ETH", "SOL", "XRP", "ADA", "DOGE", "AVAX", "DOT", "LINK", "LTC"),
        "EUR": ("BTC", "ETH", "SOL", "XRP", "ADA", "DOT", "LINK", "LTC"),
        "BTC": ("ETH", "SOL", "BNB", "XRP", "ADA", "DOGE", "DOT", "LINK", "LTC"),
        "ETH": ("BNB", "SOL", "LINK", "ADA", "DOT"),
        "BNB": ("SOL", "XRP", "ADA", "DOT", "LINK"),
    }
)


@dataclass(frozen=True, slots=True)
class ExchangeInfo:
    """What `PATCH /exchanges/:id {"which": ...}` fills in, plus the pairs the exchange lists."""

    which: str
    stake_currencies: tuple[str, ...]
    popular_stake_currency: str
    credentials: tuple[str, ...]
    default_blacklist: tuple[str, ...]
    bases: tuple[str, ...]
    listed: MappingProxyType[str, tuple[str, ...]]  # quote -> pairs; "" -> every pair

    def pairs(self, quote: str | None = None) -> tuple[str, ...]:
        """Listed pairs, all of them or those quoted in `quote` (precomputed: the ticker path calls this)."""
        return self.listed.get(quote or "", ())


def _exchange(
    which: str, stakes: str, popular: str, credentials: str, blacklist: str, without: str = ""
) -> ExchangeInfo:
    excluded = set(without.split())
    bases = tuple(base for base in _MAJORS if base not in excluded)
    listed = {
        quote: tuple(f"{base}/{quote}" for base in _QUOTE_BASES[quote] if base in bases and base != quote)
        for quote in stakes.split()
    }
    listed[""] = tuple(pair for pairs in listed.values() for pair in pairs)
    return ExchangeInfo(
        which=which,
        stake_currencies=tuple(stakes.split()),
        popular_stake_currency=popular,
        credentials=tuple(credentials.split()),
        default_blacklist=tuple(blacklist.split()),
        bases=bases,
        listed=MappingProxyType(listed),
    )


EXCHANGES: MappingProxyType[str, ExchangeInfo] = MappingProxyType(
    {
        info.which: info
        for info in (
            # binance's stake currencies and BNB blacklist are the docs' own example (§10.7).
            _exchange("binance", "BTC ETH USDT BUSD BNB", "USDT", "apiKey secret", "BNB"),
            _exchange("bybit", "USDT USDC BTC ETH", "USDT", "apiKey secret", ""),
            _exchange("okx", "USDT USDC BTC ETH", "USDT", "apiKey secret password", "OKB"),
            _exchange("coinbase", "USD USDC USDT BTC ETH", "USD", "apiKey secret", "", without="BNB"),
            _exchange("kraken", "USD EUR USDT BTC ETH", "USD", "apiKey secret", "", without="BNB"),
            _exchange("kucoin", "USDT USDC BTC ETH", "USDT", "apiKey secret password", "KCS"),
            _exchange("gateio", "USDT BTC ETH", "USDT", "apiKey secret", "GT"),
        )
    }
)
EXCHANGE_IDS: tuple[str, ...] = tuple(EXCHANGES)

_SPLIT: MappingProxyType[str, tuple[str, str]] = MappingProxyType(
    {pair: (pair.split("/")[0], pair.split("/")[1]) for info in EXCHANGES.values() for pair in info.pairs()}
)


def split_pair(pair: str) -> tuple[str, str]:
    """BASE/QUOTE -> (BASE, QUOTE), from a table for the listed pairs."""
    split = _SPLIT.get(pair)
    if split is None:
        base, _, quote = pair.partition("/")
        return base, quote
    return split


def price_digits(price: float) -> int:
    """Decimals a UI shows: about six significant figures, at least 2 and at most 8 (BTC 2, XRP 5)."""
    if price <= 0:
        return 8
    return min(8, max(2, 4 - math.floor(math.log10(price))))


class MarketLevel:
    """One market snapshot: every asset sits at the same relative point of its range, plus a little noise.

    `level` in [0, 1] places all assets between their lows and highs together, which keeps cross pairs sane.
    """

    __slots__ = ("_cache", "_draw", "level")

    def __init__(self, draw: Draw, level: float | None = None) -> None:
        self._draw = draw
        self.level = draw.rng.random() if level is None else level
        self._cache: dict[str, float] = {}

    def usd(self, asset: str) -> float:
        """The asset's USD price in this snapshot (stable for the snapshot's lifetime)."""
        price = self._cache.get(asset)
        if price is None:
            low, high = ASSET_USD.get(asset, (1.0, 10.0))
            price = low * (high / low) ** self.level
            if high > 1.5 * low:  # crypto assets wander a little; stablecoins and fiat do not
                price *= 1.0 + (self._draw.rng.random() - 0.5) * 0.1
            self._cache[asset] = price
        return price

    def price(self, pair: str) -> float:
        base, quote = split_pair(pair)
        return self.usd(base) / self.usd(quote)
