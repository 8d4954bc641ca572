"""What both transports do with a call once they have resolved it: the checks Feathers makes, then the method.

REST and the socket share this, so a call answers the same over either (cryptorobot-api.md §2, §8.2).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from mockserver.errors import BadRequest, MethodNotAllowed
from mockserver.scripting import Expectations, Journal, redact
from mockserver.server._core import Caller, ServiceMethods
from mockserver.server.query import QueryLimits, check_depth, check_query

__all__ = ["answer_call", "call_method", "journal_outcome", "needs_authentication", "parse_authorization"]

SENSITIVE_RESULTS = frozenset({"authentication", "users", "keys"})  # results that may hold tokens or key secrets


def needs_authentication(path: str, method: str) -> bool:
    """Every call needs a user except login and sign-up (§5.8)."""
    return not (path == "authentication" or (path == "users" and method == "create"))


def parse_authorization(header: str | None) -> tuple[str, str] | None:
    """(scheme, credential) from an Authorization header: `Bearer t`, `JWT t`, `ApiKey k`, or a bare token."""
    if not header or not header.strip():
        return None
    parts = header.strip().split(None, 1)
    if len(parts) == 1:
        return "bearer", parts[0]
    scheme = parts[0].lower()
    return ("bearer" if scheme == "jwt" else scheme), parts[1].strip()


def _holds_non_finite(value: Any) -> bool:
    """NaN or ±Infinity anywhere in a decoded value: Python's json accepts them, JSON.parse (and Feathers) does not,
    and a stored one would make every later answer about the record unserialisable."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return True
        if isinstance(item, Mapping):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


async def call_method(
    service: ServiceMethods,
    caller: Caller,
    method: str,
    *,
    record_id: Any,
    data: Any,
    query: Any,
    limits: QueryLimits,
) -> Any:
    """Run one standard method after the argument checks both transports share.

    The query and body limits come first, before anything walks the values recursively (the engine does).
    """
    check_query(query, limits)
    check_depth(data, limits, "Request body")
    if _holds_non_finite(data) or _holds_non_finite(query) or _holds_non_finite(record_id):
        raise BadRequest("Invalid JSON: NaN and Infinity are not JSON values")
    if not isinstance(query, Mapping):
        raise BadRequest("Invalid query: expected an object", data={"query": query})
    if method in ("get", "patch", "remove"):
        if record_id is None:
            if method == "patch":
                raise MethodNotAllowed("Can not patch multiple entries")
            if method == "remove" and service.path != "authentication":
                raise MethodNotAllowed("Can not remove multiple entries")
        elif isinstance(record_id, bool) or not isinstance(record_id, str | int | float):
            raise BadRequest(f"Invalid id for .{method}: expected a string or a number")
    if method in ("create", "patch"):
        if isinstance(data, list) and method == "create":
            raise MethodNotAllowed("Can not create multiple entries")
        if not isinstance(data, Mapping):
            raise BadRequest(f"Invalid data for .{method}: expected an object")
    if method == "find":
        return await service.find(caller, query)
    if method == "get":
        return await service.get(caller, record_id, query)
    if method == "create":
        return await service.create(caller, data, query)
    if method == "patch":
        return await service.patch(caller, record_id, data, query)
    return await service.remove(caller, record_id, query)


async def answer_call(
    expectations: Expectations,
    service: ServiceMethods,
    caller: Caller,
    method: str,
    *,
    record_id: Any,
    data: Any,
    query: Any,
    limits: QueryLimits,
    transport: str | None,
) -> Any:
    """A call handler's answer if one fits the call (`server.expect`), else the method's own."""
    if expectations:
        call = {
            "service": service.path,
            "method": method,
            "id": record_id,
            "data": data,
            "query": query,
            "user": caller.user_id,
            "email": None if caller.user is None else caller.user.get("email"),
            "connection": caller.sid,
            "transport": transport,
        }
        handler = expectations.answer(call)
        if handler is not None:
            return handler.reply(call)
    return await call_method(service, caller, method, record_id=record_id, data=data, query=query, limits=limits)


def journal_outcome(
    journal: Journal,
    *,
    service: str | None,
    method: str,
    error: dict[str, Any] | None,
    result: Any = None,
    elapsed_ms: float,
    connection: str | None = None,
    user: str | None = None,
    email: str | None = None,
    **extra: Any,
) -> None:
    """The `ack` entry of a call, and a `violation` entry when the client's body broke the schema (D4)."""
    if error is None:
        shown = redact(result) if service in SENSITIVE_RESULTS else result
        journal.record(
            "ack",
            connection=connection,
            user=user,
            email=email,
            service=service,
            method=method,
            result=shown,
            elapsed_ms=elapsed_ms,
            **extra,
        )
        return
    journal.record(
        "ack",
        connection=connection,
        user=user,
        email=email,
        service=service,
        method=method,
        error=error,
        elapsed_ms=elapsed_ms,
        **extra,
    )
    if error.get("code") == 400 and error.get("message") == "Validation failed" and "errors" in error:
        journal.record(
            "violation",
            connection=connection,
            user=user,
            email=email,
            service=service,
            schema=method,
            problems=error["errors"],
        )
