"""The coherent demo dataset the server seeds its store from (and resets to before every test).

Per user: connected exchanges, three strategies (one configured from tmpl-1), five traders in mixed states,
fifty trades, the pod events those traders produced, API keys, messages and signals of subscribed models.
Shared: the two templates, the model catalogue, system events and a ticker for every (exchange, pair) in use.
Each user's records come from a seed derived from (seed, email), so adding a user changes nobody else's data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mockserver.synth._accounts import api_key, key_value, message, system_event, user
from mockserver.synth._catalogue import MODELS, seeded_templates
from mockserver.synth._draw import DAY_MS, EPOCH_MS, HOUR_MS, Draw, iso_ms, ms_of
from mockserver.synth._market import EXCHANGE_IDS, EXCHANGES, MarketLevel, split_pair
from mockserver.synth._ticker import ticker
from mockserver.synth._trading import exchange, model, pod_event, signal, strategy, trade, trader

__all__ = ["DEFAULT_USERS", "Dataset", "UserSeed", "dataset"]

Record = dict[str, Any]


@dataclass(frozen=True, slots=True)
class UserSeed:
    """Who to seed: the login credentials and profile of one user. `_id` None derives one from the seed."""

    email: str
    password: str
    name: str = ""
    plan: str = "pro"
    _id: str | None = None
    verified: bool = True


DEFAULT_USERS: tuple[UserSeed, ...] = (
    # The golden login of §5.2.
    UserSeed("user@example.com", "your-password", "John Doe", "pro", "507f1f77bcf86cd799439011"),
    # A second owner for ownership tests (D8).
    UserSeed("trader@example.com", "second-password", "Jane Roe", "pro", "507f191e810c19729de860ea"),
)

# Record order per service in `Dataset.records`, and the services a dataset always has (possibly empty).
SERVICE_ORDER = (
    "users",
    "keys",
    "strategies",
    "strategies/templates",
    "exchanges",
    "exchanges/ticker",
    "traders",
    "traders/pods/events",
    "trades",
    "models",
    "models/signals",
    "messages",
    "events",
)


@dataclass(frozen=True)
class Dataset:
    """Records per service path, plus the secrets that stored records never contain.

    Passwords are kept in plain text (`passwords`, email -> password) rather than hashed: the mock is a test
    double, its users are fixtures, and hashing would cost milliseconds on every reset. Likewise `api_keys`
    maps each plaintext key (`cr_live_...`) to its key record's `_id`, because stored key records leave `key`
    out. `subscriptions` maps a user `_id` to the model ids it subscribes to; the server computes each
    model's `subscribed` from it (stored models say `false`).

    Treat `records` as read-only; `fresh_records()` gives a deep copy for a store to own and mutate.
    """

    seed: int
    records: dict[str, list[Record]]
    passwords: Mapping[str, str]
    api_keys: Mapping[str, str]
    subscriptions: Mapping[str, frozenset[str]]
    users: tuple[UserSeed, ...] = field(default=DEFAULT_USERS)

    def fresh_records(self) -> dict[str, list[Record]]:
        """A deep copy of `records` (JSON values only, so a hand-rolled copy is ~10x faster than deepcopy)."""
        return {path: [_copy(record) for record in items] for path, items in self.records.items()}

    def user_id(self, email: str) -> str:
        """The `_id` of the seeded user with `email`."""
        for record in self.records["users"]:
            if record["email"] == email:
                return str(record["_id"])
        raise KeyError(f"no seeded user with email {email!r}")


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def user_seed(seed: int, email: str) -> int:
    """A per-user seed from (seed, email): stable, and independent of the other users."""
    digest = hashlib.blake2b(f"{seed}\x00{email}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def dataset(seed: int, users: Sequence[UserSeed] | None = None) -> Dataset:
    """The demo dataset for `seed`; `users` defaults to the golden login user and a second user."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int; got {seed!r}")
    users = tuple(DEFAULT_USERS if users is None else users)
    if not users:
        raise ValueError("users must name at least one UserSeed (or be None for the defaults)")
    emails = [u.email for u in users]
    if len(set(emails)) != len(emails):
        raise ValueError(f"users must have distinct e-mails; got {emails}")
    shared = Draw(seed)
    market = MarketLevel(shared)
    records: dict[str, list[Record]] = {path: [] for path in SERVICE_ORDER}
    records["strategies/templates"] = seeded_templates()
    models = [model(shared, index=i, subscribed=False) for i in range(len(MODELS))]
    records["models"] = models
    records["events"] = sorted(
        (system_event(shared, created_ms=EPOCH_MS - shared.rng.randrange(HOUR_MS, 20 * DAY_MS)) for _ in range(3)),
        key=lambda r: str(r["createdAt"]),
    )
    api_keys: dict[str, str] = {}
    subscriptions: dict[str, frozenset[str]] = {}
    in_use: set[tuple[str, str]] = set()
    for index, seed_user in enumerate(users):
        portfolio = _Portfolio(Draw(user_seed(seed, seed_user.email)), seed_user, market, models, golden=index == 0)
        portfolio.build()
        for path, items in portfolio.records.items():
            records[path].extend(items)
        api_keys.update(portfolio.api_keys)
        subscriptions[portfolio.user_id] = frozenset(portfolio.subscribed)
        in_use |= portfolio.pairs_in_use
    records["exchanges/ticker"] = [
        ticker(
            shared,
            which=which,
            symbol=pair,
            last=market.price(pair),
            usd_price=market.usd(split_pair(pair)[0]),
            at_ms=EPOCH_MS - shared.rng.randrange(1000, 60_000),
        )
        for which, pair in sorted(in_use)
    ]
    return Dataset(
        seed=seed,
        records=records,
        passwords={u.email: u.password for u in users},
        api_keys=api_keys,
        subscriptions=subscriptions,
        users=users,
    )


# status of Trader 1..5: the last one was never configured (no exchangeId/strategyId).
_TRADER_STATES = (
    ("running", True),
    ("stopped", True),
    ("running", True),
    ("error", True),
    ("stopped", False),
)
_TRADES_PER_STATE = {"running": 15, "stopped": 10, "error": 10}
_OPEN_PER_RUNNING_TRADER = 3


class _Portfolio:
    """One user's records, built in creation order so every reference points backwards in time."""

    def __init__(
        self, draw: Draw, seed_user: UserSeed, market: MarketLevel, models: list[Record], *, golden: bool
    ) -> None:
        self.draw = draw
        self.seed_user = seed_user
        self.market = market
        self.models = models
        self.golden = golden
        self.records: dict[str, list[Record]] = {}
        self.api_keys: dict[str, str] = {}
        self.subscribed: list[str] = []
        self.pairs_in_use: set[tuple[str, str]] = set()
        self.user_id = ""

    def _add(self, path: str, record: Record) -> Record:
        self.records.setdefault(path, []).append(record)
        return record

    def build(self) -> None:
        draw, rng, seed_user = self.draw, self.draw.rng, self.seed_user
        joined = EPOCH_MS - 180 * DAY_MS + rng.randrange(0, 30 * DAY_MS)
        person = self._add(
            "users",
            user(
                draw,
                user_id=seed_user._id or draw.object_id(joined),
                email=seed_user.email,
                name=seed_user.name,
                plan=seed_user.plan,
                verified=seed_user.verified,
                created_ms=joined,
            ),
        )
        self.user_id = person["_id"]
        exchanges = self._exchanges(joined)
        strategies = self._strategies(joined)
        traders = self._traders(joined, exchanges, strategies)
        self._trades(traders, exchanges, strategies)
        self._keys(joined)
        self._messages(traders, exchanges)
        self._signals()
        for path in ("traders/pods/events", "trades"):
            self.records.get(path, []).sort(key=lambda r: str(r["createdAt"]))

    def _exchanges(self, joined: int) -> list[Record]:
        draw, rng = self.draw, self.draw.rng
        count = 2 + rng.randrange(0, 2)
        chosen = rng.sample(EXCHANGE_IDS, count)
        if self.golden and "binance" not in chosen:
            chosen[0] = "binance"  # the docs' own exchange, for the golden user
        result = []
        for which in chosen:
            bases = [b for b in EXCHANGES[which].bases if b not in EXCHANGES[which].default_blacklist]
            whitelist = tuple(sorted(rng.sample(bases, 4))) if draw.chance(0.5) else ()
            record = exchange(
                draw,
                user_id=self.user_id,
                which=which,
                stage="connected",
                whitelist=whitelist,
                created_ms=joined + rng.randrange(HOUR_MS, 10 * DAY_MS),
            )
            record["active"] = True
            result.append(self._add("exchanges", record))
        return result

    def _strategies(self, joined: int) -> list[Record]:
        draw, rng = self.draw, self.draw.rng
        tmpl_1, tmpl_2 = seeded_templates()
        plans: list[tuple[Record | None, bool]] = [(tmpl_1, True), (tmpl_2, True), (None, False)]
        if draw.chance(0.5):
            plans[1] = (None, False)
        result: list[Record] = []
        for template, configured in plans:
            record = strategy(
                draw,
                user_id=self.user_id,
                template=template,
                configured=configured,
                created_ms=joined + rng.randrange(HOUR_MS, 20 * DAY_MS),
            )
            while any(record["name"] == other["name"] for other in result):  # names a user can tell apart
                record["name"] = strategy(draw, template=template, configured=configured)["name"]
            result.append(self._add("strategies", record))
        return result

    def _traders(self, joined: int, exchanges: list[Record], strategies: list[Record]) -> list[Record]:
        draw, rng = self.draw, self.draw.rng
        configured_strategies = [s for s in strategies if s["configured"]] or strategies
        created = joined + 25 * DAY_MS
        result = []
        for number, (status, configured) in enumerate(_TRADER_STATES, start=1):
            created += rng.randrange(HOUR_MS, 12 * DAY_MS)
            record = trader(
                draw,
                user_id=self.user_id,
                number=number,
                exchange_record=exchanges[(number - 1) % len(exchanges)] if configured else None,
                strategy_id=draw.choice(configured_strategies)["_id"] if configured else None,
                status=status,
                configured=configured,
                created_ms=created,
            )
            result.append(self._add("traders", record))
        return result

    def _pairs_for(self, trader_record: Record, exchange_record: Record) -> tuple[str, ...]:
        info = EXCHANGES[exchange_record["which"]]
        pairs = info.pairs(trader_record["stake_currency"])
        blacklist = {item["left"] for item in exchange_record["blacklist"]}
        whitelist = {item["left"] for item in exchange_record["whitelist"]}
        allowed = tuple(p for p in pairs if split_pair(p)[0] not in blacklist)
        preferred = tuple(p for p in allowed if split_pair(p)[0] in whitelist)
        return preferred or allowed or pairs

    def _trades(self, traders: list[Record], exchanges: list[Record], strategies: list[Record]) -> None:
        draw, rng = self.draw, self.draw.rng
        by_id = {r["_id"]: r for r in (*exchanges, *strategies)}
        for trader_record in traders:
            if "exchangeId" not in trader_record:
                continue
            exchange_record = by_id[trader_record["exchangeId"]]
            which = exchange_record["which"]
            stoploss = by_id[trader_record["strategyId"]].get("stoploss", -0.05)
            started = ms_of(trader_record["createdAt"]) + HOUR_MS
            self._add(
                "traders/pods/events",
                pod_event(draw, trader_record=trader_record, event_type="started", at_ms=started),
            )
            pairs = self._pairs_for(trader_record, exchange_record)
            stake = trader_record["stake_amount"]
            if stake == "unlimited":
                stake = trader_record["dry_run_wallet"] / draw.choice((4, 5, 8))
            count = _TRADES_PER_STATE[trader_record["status"]]
            opened = sorted(rng.randrange(started + HOUR_MS, EPOCH_MS - HOUR_MS) for _ in range(count))
            open_from = count - _OPEN_PER_RUNNING_TRADER if trader_record["status"] == "running" else count
            last_ms = started
            open_pairs: set[str] = set()
            for position, opened_ms in enumerate(opened):
                is_open = position >= open_from
                # freqtrade holds at most one open trade per pair
                pair = (
                    draw.choice([p for p in pairs if p not in open_pairs] or pairs) if is_open else draw.choice(pairs)
                )
                if is_open:
                    open_pairs.add(pair)
                self.pairs_in_use.add((which, pair))
                drift = 1.0 + (rng.random() - 0.5) * 0.2 * (EPOCH_MS - opened_ms) / (60 * DAY_MS)
                record = self._add(
                    "trades",
                    trade(
                        draw,
                        user_id=self.user_id,
                        trader_id=trader_record["_id"],
                        exchange_id=exchange_record["_id"],
                        which=which,
                        pair=pair,
                        price=self.market.price(pair) * drift,
                        stake_amount=float(stake),
                        is_open=is_open,
                        stoploss=stoploss,
                        opened_ms=opened_ms,
                    ),
                )
                self._trade_events(trader_record, record)
                last_ms = max(last_ms, ms_of(record["updatedAt"]))
            if trader_record["status"] in ("stopped", "error"):
                event_type = "stopped" if trader_record["status"] == "stopped" else "error"
                ended = min(last_ms + rng.randrange(60_000, DAY_MS), EPOCH_MS)
                self._add(
                    "traders/pods/events",
                    pod_event(draw, trader_record=trader_record, event_type=event_type, at_ms=ended),
                )
                trader_record["updatedAt"] = iso_ms(ended)
            elif ms_of(trader_record["updatedAt"]) < started:
                trader_record["updatedAt"] = iso_ms(started)

    def _trade_events(self, trader_record: Record, trade_record: Record) -> None:
        draw = self.draw
        bought = dict(trade_record, is_open=True)
        self._add(
            "traders/pods/events",
            pod_event(
                draw,
                trader_record=trader_record,
                event_type="trade_executed",
                trade_record=bought,
                at_ms=ms_of(trade_record["open_date"]),
            ),
        )
        if not trade_record["is_open"]:
            self._add(
                "traders/pods/events",
                pod_event(
                    draw,
                    trader_record=trader_record,
                    event_type="trade_executed",
                    trade_record=trade_record,
                    at_ms=ms_of(trade_record["close_date"]),
                ),
            )

    def _keys(self, joined: int) -> None:
        draw, rng = self.draw, self.draw.rng
        for name, scopes in (
            ("My Trading Bot", ["read:strategies", "read:exchanges", "write:traders"]),  # the docs' example
            ("Backtest Runner", ["read:strategies", "read:portfolio"]),
        ):
            record = api_key(
                draw,
                user_id=self.user_id,
                name=name,
                scopes=scopes,
                created_ms=joined + rng.randrange(DAY_MS, 60 * DAY_MS),
            )
            self._add("keys", record)
            self.api_keys[key_value(draw)] = record["_id"]

    def _messages(self, traders: list[Record], exchanges: list[Record]) -> None:
        """Notifications about what actually happened to this user's exchanges, traders and trades."""
        draw = self.draw
        notes: list[tuple[int, tuple[str, str, str]]] = [
            (
                ms_of(e["createdAt"]) + HOUR_MS,
                ("Exchange connected", f"Your {e['which']} account is connected", "info"),
            )
            for e in exchanges
        ]
        for t in traders:
            name, status, changed = t["name"], t["status"], ms_of(t["updatedAt"])
            if status == "running":
                notes.append((ms_of(t["createdAt"]) + HOUR_MS, ("Trader started", f"{name} is now running", "info")))
            elif status == "error":
                text = f"{name} stopped after an exchange error"
                notes.append((changed, ("Trader error", text, "error")))
            elif "exchangeId" in t:
                notes.append((changed, ("Trader stopped", f"{name} has stopped", "info")))
        by_trader = {t["_id"]: t["name"] for t in traders}
        stop_losses = [t for t in self.records.get("trades", []) if t["exit_reason"] == "stop_loss"]
        for trade_record in sorted(stop_losses, key=lambda t: str(t["close_date"]))[-2:]:  # the latest two
            text = f"{by_trader[trade_record['traderId']]} sold {trade_record['pair']} at its stop loss"
            notes.append((ms_of(trade_record["close_date"]), ("Stop loss hit", text, "warning")))
        for created, content in sorted(notes, key=lambda note: note[0]):
            self._add("messages", message(draw, user_id=self.user_id, content=content, created_ms=created))

    def _signals(self) -> None:
        draw, rng = self.draw, self.draw.rng
        picks = rng.sample(range(len(self.models)), 1 + rng.randrange(0, 3))
        if self.golden and 0 not in picks:
            picks[0] = 0  # the golden user follows the "BTC Trend Model"
        for index in sorted(picks):
            model_record = self.models[index]
            self.subscribed.append(model_record["_id"])
            for _ in range(3):
                self._add(
                    "models/signals",
                    signal(
                        draw,
                        user_id=self.user_id,
                        model_record=model_record,
                        market=self.market,
                        at_ms=EPOCH_MS - rng.randrange(HOUR_MS, 7 * DAY_MS),
                    ),
                )
