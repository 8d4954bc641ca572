"""Feathers error objects, shaped exactly as `@feathersjs/errors` serialises them.

The Feathers client rebuilds error classes from `name`, so every field here is part of the wire contract
(feathers-protocol.md §3). Key order on the wire: name, message, code, className, data?, errors?.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ERROR_CLASSES",
    "BadGateway",
    "BadRequest",
    "Conflict",
    "FeathersError",
    "Forbidden",
    "GeneralError",
    "MethodNotAllowed",
    "NotAuthenticated",
    "NotFound",
    "TooManyRequests",
    "Unavailable",
    "Unprocessable",
    "error_from_code",
]


class FeathersError(Exception):
    """An error that crosses the wire as a Feathers error object."""

    name: str = "GeneralError"
    code: int = 500
    class_name: str = "general-error"

    def __init__(self, message: str | None = None, *, data: Any = None, errors: Any = None) -> None:
        self.message = message if message is not None else "Error"
        self.data = data
        self.errors = errors
        super().__init__(self.message)

    def to_json(self) -> dict[str, Any]:
        """The wire form: the same keys, in the same order, as Feathers' `toJSON()`."""
        body: dict[str, Any] = {
            "name": self.name,
            "message": self.message,
            "code": self.code,
            "className": self.class_name,
        }
        if self.data is not None:
            body["data"] = self.data
        if self.errors is not None:
            body["errors"] = self.errors
        return body

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


def _define(name: str, code: int, class_name: str) -> type[FeathersError]:
    return type(name, (FeathersError,), {"name": name, "code": code, "class_name": class_name})


BadRequest = _define("BadRequest", 400, "bad-request")
NotAuthenticated = _define("NotAuthenticated", 401, "not-authenticated")
PaymentError = _define("PaymentError", 402, "payment-error")
Forbidden = _define("Forbidden", 403, "forbidden")
NotFound = _define("NotFound", 404, "not-found")
MethodNotAllowed = _define("MethodNotAllowed", 405, "method-not-allowed")
NotAcceptable = _define("NotAcceptable", 406, "not-acceptable")
Timeout = _define("Timeout", 408, "timeout")
Conflict = _define("Conflict", 409, "conflict")
Gone = _define("Gone", 410, "gone")
LengthRequired = _define("LengthRequired", 411, "length-required")
Unprocessable = _define("Unprocessable", 422, "unprocessable")
TooManyRequests = _define("TooManyRequests", 429, "too-many-requests")
GeneralError = _define("GeneralError", 500, "general-error")
NotImplemented_ = _define("NotImplemented", 501, "not-implemented")
BadGateway = _define("BadGateway", 502, "bad-gateway")
Unavailable = _define("Unavailable", 503, "unavailable")

ERROR_CLASSES: dict[int, type[FeathersError]] = {
    cls.code: cls
    for cls in (
        BadRequest,
        NotAuthenticated,
        PaymentError,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        NotAcceptable,
        Timeout,
        Conflict,
        Gone,
        LengthRequired,
        Unprocessable,
        TooManyRequests,
        GeneralError,
        NotImplemented_,
        BadGateway,
        Unavailable,
    )
}


def error_from_code(code: int, message: str | None = None, **extra: Any) -> FeathersError:
    """Build the Feathers error for an HTTP status (faults and scenarios name errors by code)."""
    try:
        cls = ERROR_CLASSES[code]
    except KeyError:
        raise ValueError(f"no Feathers error class for code {code!r}; known: {sorted(ERROR_CLASSES)}") from None
    return cls(message, **extra)
