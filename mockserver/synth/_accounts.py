"""Account records: users, authentication, API keys, messages and system events (§5, §10.2-10.4, 10.15-16).

Tokens are real HS256 JWTs with the mock's header and claims (D9), signed with a fixed synth-only secret, so
they decode like the server's own but never verify against it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

from mockserver.synth._draw import DAY_MS, EPOCH_MS, Draw, iso_ms

__all__ = [
    "SCOPES",
    "access_token",
    "api_key",
    "auth_request",
    "auth_result",
    "key_value",
    "message",
    "system_event",
    "user",
    "user_create",
    "user_patch",
]

SCOPES = (
    "read:strategies",
    "write:strategies",
    "read:exchanges",
    "write:exchanges",
    "read:traders",
    "write:traders",
    "read:portfolio",
    "read:insights",
    "read:models",
    "write:models",
)
_TOKEN_HEADER = "eyJhbGciOiJIUzI1NiIsInR5cCI6ImFjY2VzcyJ9"  # {"alg":"HS256","typ":"access"} (D9)
_SYNTH_SECRET = b"cryptorobot-mock synth tokens are not server tokens"
_TOKEN_LIFETIME_S = 7 * 24 * 3600
_PLANS = ("free", "pro", "pro", "enterprise")
_PASSWORD_WORDS = ("falcon", "orbit", "candle", "harbor", "ledger", "maple", "quartz", "tundra", "violet")
_KEY_NAMES = (
    "My Trading Bot",
    "Backtest Runner",
    "Portfolio Dashboard",
    "Grafana Exporter",
    "Telegram Alerts",
    "Tax Report Export",
    "Signal Relay",
)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def access_token(draw: Draw, user_id: str, *, issued_s: int | None = None) -> tuple[str, dict[str, Any]]:
    """A JWT shaped like the server's (D9) and its decoded claims, in the documented order."""
    iat = issued_s if issued_s is not None else EPOCH_MS // 1000 - draw.rng.randrange(0, 6 * 24 * 3600)
    claims = {
        "iat": iat,
        "exp": iat + _TOKEN_LIFETIME_S,
        "aud": "https://cryptorobot.ai",
        "sub": user_id,
        "jti": str(uuid.UUID(int=draw.rng.getrandbits(128), version=4)),
    }
    signing_input = f"{_TOKEN_HEADER}.{_b64url(json.dumps(claims, separators=(',', ':')).encode())}"
    signature = hmac.new(_SYNTH_SECRET, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}", claims


def password(draw: Draw) -> str:
    return f"{draw.choice(_PASSWORD_WORDS)}-{draw.choice(_PASSWORD_WORDS)}-{draw.rng.randrange(10, 100)}"


def user(
    draw: Draw,
    *,
    user_id: str | None = None,
    email: str | None = None,
    name: str | None = None,
    plan: str | None = None,
    verified: bool | None = None,
    created_ms: int | None = None,
) -> dict[str, Any]:
    """A user as the API returns it: never with `password`."""
    created = created_ms if created_ms is not None else draw.created_ms(365)
    if email is None or name is None:
        person_name, person_email = draw.person()
        email = email if email is not None else person_email
        name = name if name is not None else person_name
    return {
        "_id": user_id or draw.object_id(created),
        "email": email,
        "name": name,
        "plan": plan or draw.choice(_PLANS),
        "verified": draw.chance(0.8) if verified is None else verified,
        "createdAt": iso_ms(created),
        "updatedAt": iso_ms(draw.later_ms(created)),
    }


def user_create(draw: Draw) -> dict[str, Any]:
    """A sign-up request."""
    name, email = draw.person()
    request: dict[str, Any] = {"email": email, "password": password(draw)}
    if draw.chance(0.7):
        request["name"] = name
    return request


def user_patch(draw: Draw) -> dict[str, Any]:
    """A profile edit: a new display name, e-mail or password (plan and verified are server-managed)."""
    roll = draw.rng.random()
    if roll < 0.5:
        return {"name": draw.person()[0]}
    if roll < 0.8:
        return {"email": draw.person()[1]}
    return {"password": password(draw)}


def auth_request(draw: Draw) -> dict[str, Any]:
    """A login (`local`) or refresh (`jwt`) request (§5.2, §5.4)."""
    if draw.chance(0.6):
        return {"strategy": "local", "email": draw.person()[1], "password": password(draw)}
    return {"strategy": "jwt", "accessToken": access_token(draw, draw.object_id(draw.created_ms(365)))[0]}


def auth_result(draw: Draw, *, user_record: dict[str, Any] | None = None) -> dict[str, Any]:
    """The login result `{accessToken, authentication, user}` with the decoded claims as `payload`."""
    user_record = user_record or user(draw)
    token, claims = access_token(draw, user_record["_id"])
    return {
        "accessToken": token,
        "authentication": {
            "strategy": "local" if draw.chance(0.7) else "jwt",
            "accessToken": token,
            "payload": claims,
        },
        "user": user_record,
    }


def key_value(draw: Draw) -> str:
    """An API key: `cr_live_` + 32 hex characters (§10.4)."""
    return f"cr_live_{draw.hex(32)}"


def _scopes(draw: Draw) -> list[str]:
    wanted = set(draw.rng.sample(SCOPES, draw.rng.randrange(1, 5)))
    return [scope for scope in SCOPES if scope in wanted]


def api_key(
    draw: Draw,
    *,
    user_id: str | None = None,
    name: str | None = None,
    scopes: list[str] | None = None,
    with_key: bool = False,
    created_ms: int | None = None,
) -> dict[str, Any]:
    """A key record; `key` only when `with_key` (the create result and its event, §10.4)."""
    created = created_ms if created_ms is not None else draw.created_ms(180)
    record: dict[str, Any] = {
        "_id": draw.object_id(created),
        "userId": user_id or draw.object_id(created - 30 * DAY_MS),
        "name": name or draw.choice(_KEY_NAMES),
    }
    if with_key:
        record["key"] = key_value(draw)
    record["scopes"] = scopes if scopes is not None else _scopes(draw)
    record["lastUsed"] = None if with_key or draw.chance(0.3) else iso_ms(draw.later_ms(created))
    record["createdAt"] = iso_ms(created)
    return record


def key_create(draw: Draw) -> dict[str, Any]:
    return {"name": draw.choice(_KEY_NAMES), "scopes": _scopes(draw)}


# (title, text with {trader}/{exchange}, level)
_MESSAGES = (
    ("Trader started", "{trader} is now running", "info"),
    ("Trader stopped", "{trader} has stopped", "info"),
    ("Trade closed", "{trader} closed a trade with a profit", "info"),
    ("Stop loss hit", "{trader} closed a trade at its stop loss", "warning"),
    ("Exchange connected", "Your {exchange} account is connected", "info"),
    ("Exchange unreachable", "{exchange} did not answer; {trader} will retry in 60 s", "warning"),
    ("Trader error", "{trader} stopped after an exchange error", "error"),
    ("API key created", "A new API key was created for your account", "info"),
)


def message(
    draw: Draw,
    *,
    user_id: str | None = None,
    trader_name: str | None = None,
    which: str | None = None,
    content: tuple[str, str, str] | None = None,
    created_ms: int | None = None,
) -> dict[str, Any]:
    """A notification (§10.15): `content` is (title, text, level), else a template naming trader/exchange."""
    created = created_ms if created_ms is not None else draw.created_ms(30)
    title, text, level = content or draw.choice(_MESSAGES)
    read = draw.chance(0.9 if EPOCH_MS - created > 3 * DAY_MS else 0.3)  # old news has mostly been read
    return {
        "_id": draw.object_id(created),
        "userId": user_id or draw.object_id(created - 30 * DAY_MS),
        "title": title,
        "text": text.format(
            trader=trader_name or f"Trader {draw.rng.randrange(1, 13)}",
            exchange=which or draw.choice(("binance", "kraken", "okx", "bybit")),
        ),
        "level": level,
        "read": read,
        "createdAt": iso_ms(created),
        "updatedAt": iso_ms(draw.later_ms(created) if read else created),
    }


_SYSTEM_EVENTS = (
    ("maintenance", "Scheduled maintenance at 02:00 UTC", "info"),
    ("maintenance", "Database upgrade on Sunday 04:00-04:30 UTC; pods keep running", "info"),
    ("exchange_status", "Kraken API is degraded; orders may be delayed", "warning"),
    ("exchange_status", "Market-data feed for okx interrupted; tickers are stale", "error"),
    ("release", "New strategy templates are available", "info"),
    ("stress_index", "Crypto Stress Index rose to 78: fragile market conditions", "warning"),
)


def system_event(draw: Draw, *, created_ms: int | None = None) -> dict[str, Any]:
    """A platform-wide event (§10.16), delivered to every authenticated connection."""
    created = created_ms if created_ms is not None else draw.created_ms(30)
    type_, text, severity = draw.choice(_SYSTEM_EVENTS)
    return {
        "_id": draw.object_id(created),
        "type": type_,
        "message": text,
        "severity": severity,
        "createdAt": iso_ms(created),
    }


def message_patch(draw: Draw) -> dict[str, Any]:
    return {"read": draw.chance(0.8)}
