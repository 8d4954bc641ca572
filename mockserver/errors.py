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
    "Gone",
    "LengthRequired",
    "MethodNotAllowed",
    "NotAcceptable",
    "NotAuthenticated",
    "NotFound",
    "NotImplemented_",
    "PaymentError",
    "Timeout",
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


class BadRequest(FeathersError):
    name = "BadRequest"
    code = 400
    class_name = "bad-request"


class NotAuthenticated(FeathersError):
    name = "NotAuthenticated"
    code = 401
    class_name = "not-authenticated"


class PaymentError(FeathersError):
    name = "PaymentError"
    code = 402
    class_name = "payment-error"


class Forbidden(FeathersError):
    name = "Forbidden"
    code = 403
    class_name = "forbidden"


class NotFound(FeathersError):
    name = "NotFound"
    code = 404
    class_name = "not-found"


class MethodNotAllowed(FeathersError):
    name = "MethodNotAllowed"
    code = 405
    class_name = "method-not-allowed"


class NotAcceptable(FeathersError):
    name = "NotAcceptable"
    code = 406
    class_name = "not-acceptable"


class Timeout(FeathersError):
    name = "Timeout"
    code = 408
    class_name = "timeout"


class Conflict(FeathersError):
    name = "Conflict"
    code = 409
    class_name = "conflict"


class Gone(FeathersError):
    name = "Gone"
    code = 410
    class_name = "gone"


class LengthRequired(FeathersError):
    name = "LengthRequired"
    code = 411
    class_name = "length-required"


class Unprocessable(FeathersError):
    name = "Unprocessable"
    code = 422
    class_name = "unprocessable"


class TooManyRequests(FeathersError):
    name = "TooManyRequests"
    code = 429
    class_name = "too-many-requests"


class GeneralError(FeathersError):
    name = "GeneralError"
    code = 500
    class_name = "general-error"


class NotImplemented_(FeathersError):
    """`NotImplemented` on the wire; the trailing underscore avoids shadowing the Python builtin."""

    name = "NotImplemented"
    code = 501
    class_name = "not-implemented"


class BadGateway(FeathersError):
    name = "BadGateway"
    code = 502
    class_name = "bad-gateway"


class Unavailable(FeathersError):
    name = "Unavailable"
    code = 503
    class_name = "unavailable"


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
