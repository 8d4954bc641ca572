"""The REST transport on the same aiohttp app and port as Socket.IO (cryptorobot-api.md §2, feathers-protocol.md §10).

Query strings are parsed like `qs` and coerced by the service's schema, then the very same service methods run
as over the socket, so both transports answer identically.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import quote

from aiohttp import web

from mockserver.errors import (
    BadRequest,
    FeathersError,
    Forbidden,
    GeneralError,
    MethodNotAllowed,
    NotAuthenticated,
    NotFound,
)
from mockserver.scripting import Applied, Target, redact
from mockserver.server._core import Caller, Core, RateLimited, ServiceMethods
from mockserver.server._dispatch import answer_call, journal_outcome, needs_authentication, parse_authorization
from mockserver.server._limits import Decision
from mockserver.server.query import QueryLimits, check_query_string, parse_query_string, too_deep

__all__ = ["RestTransport"]

log = logging.getLogger("mockserver.rest")

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, PATCH, PUT, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, Accept",
    "Access-Control-Max-Age": "600",
}

MAX_BODY_BYTES: Final = 1_000_000  # the same buffer limit as engine.io's maxHttpBufferSize
RETRY_AFTER_CODES: Final = frozenset({429, 503})


def _restricted_scopes() -> dict[tuple[str, str], str]:
    """Scope needed for (service, method) under /restricted/<service> (§10.4, D14); others are not mounted."""
    scopes: dict[tuple[str, str], str] = {("traders/pods", "create"): "read:traders"}
    for service, reads, writes in (
        ("strategies", "read:strategies", "write:strategies"),
        ("strategies/templates", "read:strategies", None),
        ("exchanges", "read:exchanges", "write:exchanges"),
        ("exchanges/ticker", "read:exchanges", None),
        ("traders", "read:traders", "write:traders"),
        ("traders/pods/events", "read:traders", None),
        ("trades", "read:portfolio", None),
        ("models", "read:models", "write:models"),
        ("models/signals", "read:models", None),
    ):
        scopes.update({(service, method): reads for method in ("find", "get")})
        if writes is not None:
            scopes.update({(service, method): writes for method in ("create", "patch", "remove", "update")})
    return scopes


RESTRICTED_SCOPES: Final = MappingProxyType(_restricted_scopes())
RESTRICTED_PATHS: Final = frozenset(service for service, _ in RESTRICTED_SCOPES)

HTTP_METHODS = {
    "GET": ("find", "get"),
    "HEAD": ("find", "get"),
    "POST": ("create", None),
    "PATCH": ("patch", "patch"),
    "PUT": ("update", "update"),
    "DELETE": ("remove", "remove"),
}


def _json_response(body: Any, status: int, *, head: bool = False) -> web.Response:
    text = json.dumps(body, separators=(",", ":"), allow_nan=False)
    return web.Response(
        text=None if head else text, status=status, content_type="application/json", headers=CORS_HEADERS
    )


class RestTransport:
    """One catch-all route that resolves the longest registered service path (D15)."""

    def __init__(self, core: Core, app: web.Application) -> None:
        self.core = core
        app.router.add_route("*", "/{tail:.*}", self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.method == "OPTIONS":
            return web.Response(status=204, headers=CORS_HEADERS)
        if request.path.strip("/") == "oauth/google" and request.method == "GET":
            return self.oauth_google(request)
        if self.core.scripted:  # the journal is on, or faults or call handlers are set
            return await self.scripted(request)
        status, body, headers = await self.outcome(request)
        return self.response(request, status, body, headers)

    @staticmethod
    def response(request: web.Request, status: int, body: Any, headers: Mapping[str, str]) -> web.Response:
        response = _json_response(body, status, head=request.method == "HEAD")
        response.headers.update(headers)
        return response

    async def outcome(self, request: web.Request) -> tuple[int, Any, dict[str, str]]:
        """(status, body, extra headers) of a request, errors included."""
        limits: dict[str, Decision] = {}
        try:
            status, body = await self.serve(request, limits)
        except RateLimited as limited:
            limits["decision"] = limited.decision
            status, body = limited.code, limited.to_json()
        except FeathersError as error:
            status, body = error.code, error.to_json()
        except Exception:
            log.exception("unexpected error on %s %s", request.method, request.path)
            internal = GeneralError("Internal error in the mock server")
            status, body = internal.code, internal.to_json()
        return status, body, (limits["decision"].headers() if "decision" in limits else {})

    async def scripted(self, request: web.Request) -> web.StreamResponse:
        """A request with its journal entries and faults: an error with its status (and Retry-After for 429 and
        503), a late answer, no answer, or a connection closed before or after the call is applied."""
        core = self.core
        journal = core.journal
        started = core.clock.time()
        call = await self.describe(request)
        user, email = call.pop("user"), call.pop("email")
        if journal.enabled:
            journal.record(
                "call", user=user, email=email, transport="rest", http=f"{request.method} {request.path}", **call
            )
        target = Target(None, user, service=call["service"], method=call["method"], transport="rest")
        fired: list[Applied] = core.faults.for_call(target) if core.faults else []
        actions = {applied.action for applied in fired}
        if "disconnect-before-apply" in actions:
            self.abort(request)
            return web.Response(status=204)  # never reaches the client: the connection is gone
        error_fault = next((applied for applied in fired if applied.action == "error"), None)
        if error_fault is not None:
            error = error_fault.fault.feathers_error()
            status, body, headers = error.code, error.to_json(), {}
            if error.code in RETRY_AFTER_CODES:
                headers = {"Retry-After": str(_retry_after(error_fault))}
        else:
            status, body, headers = await self.outcome(request)
        delay = sum(applied.seconds for applied in fired)
        unsent = "disconnect-after-apply" in actions or "drop-ack" in actions
        if delay > 0 and not unsent:
            await core.clock.sleep(delay)
        if journal.enabled:
            elapsed = round((core.clock.time() - started) * 1000, 3)
            failed = body if status >= 400 else None
            extra: dict[str, Any] = {"sent": False} if unsent else {}
            journal_outcome(
                journal,
                service=call["service"],
                method=call["method"] or request.method,
                error=failed,
                result=None if failed else body,
                elapsed_ms=elapsed,
                user=user,
                email=email,
                transport="rest",
                status=status,
                **extra,
            )
            journal.record(
                "rest",
                user=user,
                email=email,
                http_method=request.method,
                path=request.path,
                status=status,
                elapsed_ms=elapsed,
                service=call["service"],
                **extra,
            )
        if "disconnect-after-apply" in actions:
            self.abort(request)
            return web.Response(status=204)
        if "drop-ack" in actions:
            await self.hold(request)
        return self.response(request, status, body, headers)

    @staticmethod
    def abort(request: web.Request) -> None:
        """Close the TCP connection without an answer, as a dropped network would."""
        if request.transport is not None:
            request.transport.close()

    @staticmethod
    async def hold(request: web.Request) -> None:
        """Never answer (drop-ack): wait until the client gives up and closes, or the server stops."""
        while request.transport is not None and not request.transport.is_closing():  # noqa: ASYNC110 (no event to wait on)
            await asyncio.sleep(0.05)

    async def describe(self, request: web.Request) -> dict[str, Any]:
        """What a request asks, for the journal and for matching faults; never raises (the real answer comes
        from `serve`)."""
        raw_path = request.path.strip("/")
        lookup = raw_path.removeprefix("restricted").strip("/") if raw_path.startswith("restricted") else raw_path
        service, record_id = self.resolve(lookup)
        methods = HTTP_METHODS.get(request.method, (None, None))
        method = methods[0] if record_id is None else methods[1]
        call: dict[str, Any] = {
            "service": None if service is None else service.path,
            "method": method,
            "id": record_id,
            "user": None,
            "email": None,
        }
        try:
            call["query"] = redact(parse_query_string(request.query_string))
        except FeathersError:
            call["query"] = request.query_string
        if method in ("create", "patch", "update"):
            try:
                call["data"] = redact(await self.body(request, self.core.options.query_limits))
            except FeathersError:
                call["data"] = None
        credentials = parse_authorization(request.headers.get("Authorization"))
        if credentials is not None and service is not None and service.path != "authentication":
            try:
                caller = self.caller(request, service.path, method or "find")
            except FeathersError:
                caller = None
            if caller is not None and caller.user is not None:
                call["user"], call["email"] = caller.user_id, caller.user.get("email")
        return call

    async def serve(self, request: web.Request, limits: dict[str, Decision]) -> tuple[int, Any]:
        raw_path = request.path.strip("/")
        restricted = raw_path == "restricted" or raw_path.startswith("restricted/")
        lookup = raw_path.removeprefix("restricted").strip("/") if restricted else raw_path
        service, record_id = self.resolve(lookup)
        if service is None or (restricted and service.path not in RESTRICTED_PATHS):
            raise NotFound(f"Path /{raw_path} not found")
        if request.method not in HTTP_METHODS:
            raise MethodNotAllowed(f"Method {request.method} not allowed")
        collection_method, item_method = HTTP_METHODS[request.method]
        method = collection_method if record_id is None else item_method
        if method is None or method not in service.spec.methods:
            raise MethodNotAllowed(f"Method `{method or 'create'}` is not supported by this endpoint.")
        caller = self.caller(request, service.path, method)
        decision = self.core.charge(caller, request.remote)
        if decision is not None:
            limits["decision"] = decision
        if restricted:
            self.check_scope(caller, service.path, method)
        query_limits = self.core.options.query_limits
        check_query_string(request.query_string, query_limits)
        query = parse_query_string(request.query_string)
        data = await self.body(request, query_limits) if method in ("create", "patch") else None
        result = await answer_call(
            self.core.expectations,
            service,
            caller,
            method,
            record_id=record_id,
            data=data,
            query=query,
            limits=query_limits,
            transport="rest",
        )
        return (201 if method == "create" else 200), result

    def oauth_google(self, request: web.Request) -> web.StreamResponse:
        """Google sign-in without Google (§5.6): straight back to the app with `#access_token=`, or `#error=`.

        The app's callback is `Options.oauth_redirect` plus Feathers' `?redirect=` suffix; `?email=` picks the
        signed-in user (default: the first seeded user), so a frontend can exercise its OAuth landing page.
        """
        target = (self.core.options.oauth_redirect or "") + request.query.get("redirect", "")
        if not target.startswith(("http://", "https://")):
            error = BadRequest("No OAuth redirect configured: start the mock with --oauth-redirect URL")
            return _json_response(error.to_json(), error.code)
        email = request.query.get("email")
        users = list(self.core.store.records("users"))
        user = self.core.store.user_by_email(email) if email else (users[0] if users else None)
        if user is None:
            fragment = "error=" + quote(f"No user with email {email}")
        else:
            token, _ = self.core.issue_token(str(user["_id"]))
            fragment = "access_token=" + token
        raise web.HTTPFound(location=f"{target}#{fragment}", headers=CORS_HEADERS)

    def resolve(self, path: str) -> tuple[ServiceMethods | None, str | None]:
        segments = [s for s in path.split("/") if s]
        for end in range(len(segments), 0, -1):
            service = self.core.services.get("/".join(segments[:end]))
            if service is None:
                continue
            remainder = segments[end:]
            if len(remainder) > 1:
                return None, None
            return service, (remainder[0] if remainder else None)
        return None, None

    def caller(self, request: web.Request, path: str, method: str) -> Caller:
        """Who is calling, from `Authorization: Bearer <jwt>` or `Authorization: ApiKey <key>` (§5).

        Worked out once per request: with the journal on, the request is described (for the journal and for
        fault matching) before it is served, and both need the caller."""
        found = request.get(_CALLERS)
        if found is None:
            found = request[_CALLERS] = {}
        known = found.get((path, method))
        if known is None:
            try:
                known = self._find_caller(request, path, method)
            except FeathersError as error:
                known = error
            found[path, method] = known
        if isinstance(known, FeathersError):
            raise known
        return known

    def _find_caller(self, request: web.Request, path: str, method: str) -> Caller:
        credentials = parse_authorization(request.headers.get("Authorization"))
        anonymous = Caller(provider="rest")
        if credentials is None or (path == "authentication" and method == "create"):
            if needs_authentication(path, method):
                raise NotAuthenticated("Not authenticated")
            return anonymous
        scheme, secret = credentials
        if scheme == "apikey":
            return self.api_key_caller(secret)
        if scheme != "bearer":
            raise NotAuthenticated(f"Unsupported authorization scheme '{scheme}'")
        _, user = self.core.authenticate_token(secret)
        return Caller(provider="rest", user=user, token=secret)

    def api_key_caller(self, secret: str) -> Caller:
        store = self.core.store
        key = store.get("keys", store.api_keys.get(secret, ""))
        user = None if key is None else self.core.user(str(key["userId"]))
        if key is None or user is None:
            raise NotAuthenticated("Invalid API key")
        key["lastUsed"] = self.core.clock.iso()  # bookkeeping: no event (D15)
        return Caller(provider="rest", user=user, api_key=key)

    @staticmethod
    def check_scope(caller: Caller, path: str, method: str) -> None:
        """Under /restricted a key needs the scope for the call; a login token acts for its user (D14, D15)."""
        if caller.api_key is None:
            return
        scope = RESTRICTED_SCOPES.get((path, method))
        if scope is not None and scope not in caller.api_key.get("scopes", ()):
            raise Forbidden(f"Missing scope '{scope}'", data={"scope": scope})

    @staticmethod
    async def body(request: web.Request, limits: QueryLimits) -> Any:
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge as too_large:
            raise BadRequest(f"Request body is larger than {MAX_BODY_BYTES} bytes") from too_large
        if not raw.strip():
            return {}
        try:
            return json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as bad:
            raise BadRequest(f"Invalid JSON in request body: {bad}") from None
        except RecursionError:  # nested past the interpreter's limit; shallower ones are refused by call_method
            raise too_deep("Request body", limits) from None


_CALLERS: Final = web.RequestKey("cryptorobot-mock callers", dict[tuple[str, str], "Caller | FeathersError"])
"""The request's caller by (service, method), once worked out (see RestTransport.caller)."""


def _retry_after(applied: Applied) -> int:
    """Seconds for Retry-After: the fault's `seconds`, else the error's `data.retryAfter`, else 1."""
    fault = applied.fault
    if fault.seconds is not None:
        return max(0, round(fault.seconds))
    data = (fault.error or {}).get("data")
    if isinstance(data, Mapping) and isinstance(data.get("retryAfter"), int | float):
        return max(0, round(float(data["retryAfter"])))
    return 1
