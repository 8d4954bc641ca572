"""Access tokens as Feathers signs them (D9), with the jsonwebtoken error texts clients already handle."""

from __future__ import annotations

import base64
import binascii
import json
import math
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from mockserver.errors import NotAuthenticated

__all__ = ["AUDIENCE", "TokenIssuer", "iso_millis"]

AUDIENCE = "https://cryptorobot.ai"
_JWT_ERROR = {"name": "JsonWebTokenError"}


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parses_in_javascript(segment: str) -> bool:
    """Whether a base64url segment holds JSON that JavaScript's JSON.parse accepts.

    Python's json (and so PyJWT) reads `NaN`, `Infinity` and `-Infinity`; JSON.parse refuses them.
    """
    try:
        json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)), parse_constant=_refuse_constant)
    except (ValueError, binascii.Error, RecursionError):
        return False
    return True


def iso_millis(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds, the only timestamp form on the wire (D7)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True, slots=True)
class TokenIssuer:
    """Signs and verifies HS256 access tokens; `lifetime` is configurable because expiry is a test scenario."""

    secret: str
    lifetime: timedelta = timedelta(days=7)
    audience: str = AUDIENCE

    @classmethod
    def random(cls, *, lifetime: timedelta = timedelta(days=7)) -> TokenIssuer:
        return cls(secret=secrets.token_hex(32), lifetime=lifetime)

    def issue(self, user_id: str, *, now: datetime | None = None, jti: str | None = None) -> tuple[str, dict[str, Any]]:
        """A fresh token (new iat, exp and jti every time, D9) and its claims in Feathers' order.

        The server passes its clock's `now` and a seeded `jti`, so tokens follow mock time and a seeded run
        issues the same tokens."""
        issued = int((now or datetime.now(UTC)).timestamp())
        payload: dict[str, Any] = {
            "iat": issued,
            "exp": issued + max(int(self.lifetime.total_seconds()), 1),
            "aud": self.audience,
            "sub": str(user_id),
            "jti": jti or str(uuid.uuid4()),
        }
        import jwt  # PyJWT (with urllib and http.client) loads with the first login, not at start-up

        token = jwt.encode(payload, self.secret, algorithm="HS256", headers={"typ": "access"})
        return token, payload

    def verify(self, token: Any, *, now: datetime | None = None) -> dict[str, Any]:
        """The claims of a valid token, or NotAuthenticated with the message jsonwebtoken would give.

        Expiry is judged at `now` (the server's clock), so a test that advances the clock expires tokens.
        """
        if not isinstance(token, str) or not token:
            raise NotAuthenticated("No access token")
        if token.count(".") != 2:
            raise NotAuthenticated("jwt malformed", data=dict(_JWT_ERROR))
        if token.endswith("."):  # an unsigned (alg: none) token
            raise NotAuthenticated("jwt signature is required", data=dict(_JWT_ERROR))
        import jwt

        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.secret,
                algorithms=["HS256"],
                audience=self.audience,
                # jsonwebtoken (Feathers) does not refuse an `iat` in the future; PyJWT would, which breaks tokens
                # issued while the server's clock is advanced.
                options={"require": ["exp", "sub"], "verify_iat": False, "verify_exp": False},
            )
        except jwt.InvalidSignatureError:
            raise NotAuthenticated("invalid signature", data=dict(_JWT_ERROR)) from None
        except jwt.InvalidAudienceError:
            raise NotAuthenticated(f"jwt audience invalid. expected: {self.audience}", data=dict(_JWT_ERROR)) from None
        except jwt.InvalidAlgorithmError:
            raise NotAuthenticated("invalid algorithm", data=dict(_JWT_ERROR)) from None
        except (jwt.PyJWTError, RecursionError):  # RecursionError: a header or payload nested past the limit
            raise NotAuthenticated("invalid token", data=dict(_JWT_ERROR)) from None
        header, payload, _ = token.split(".")
        if not _parses_in_javascript(header):  # jws.decode finds no header: jsonwebtoken says "invalid token"
            raise NotAuthenticated("invalid token", data=dict(_JWT_ERROR))
        if not _parses_in_javascript(payload):
            # jsonwebtoken keeps a payload JSON.parse refuses (`"exp": NaN`) as a string, whose claims are all
            # undefined: expiry is not checked, and the audience check Feathers always asks for fails.
            raise NotAuthenticated(f"jwt audience invalid. expected: {self.audience}", data=dict(_JWT_ERROR))
        expires = claims["exp"]
        if isinstance(expires, bool) or not isinstance(expires, int | float):
            raise NotAuthenticated("invalid exp value", data=dict(_JWT_ERROR))
        if not math.isfinite(expires):
            # `"exp": 1e400` is Infinity to JavaScript too, and jsonwebtoken lets it live for ever; the mock refuses
            # it rather than accept a token that never expires (and answer with an `exp` JSON cannot carry).
            raise NotAuthenticated("invalid exp value", data=dict(_JWT_ERROR))
        if (now or datetime.now(UTC)).timestamp() >= expires:  # jsonwebtoken: expired from `exp` on
            expired_at = iso_millis(datetime.fromtimestamp(float(expires), UTC))
            raise NotAuthenticated("jwt expired", data={"name": "TokenExpiredError", "expiredAt": expired_at})
        return claims
