"""The control API: `/_mock/...` on the mock's own port, so tools in any language and a browser panel can script
the mock over HTTP.

Each endpoint calls the server's Python API, the one tests use; nothing here is a second implementation. Bodies are
checked against the small JSON Schemas in `control_schemas/`, and every answer that is not a success is a Feathers
error object, so a client handles them like the API's own errors. Only loopback clients may call it, unless the
server has a control token, which every client must then send as `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib.resources import files
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from mockserver.contract import ContractViolation, Scope, problems_from_errors, service_spec
from mockserver.errors import (
    BadRequest,
    Conflict,
    FeathersError,
    Forbidden,
    GeneralError,
    MethodNotAllowed,
    NotFound,
)
from mockserver.server._rest import CORS_HEADERS, MAX_BODY_BYTES
from mockserver.synth import generate_event

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

    from mockserver.scripting import Scenario
    from mockserver.server._app import MockServer
    from mockserver.server._panel import Page, Panel

__all__ = ["PREFIX", "ControlApi", "check_query_token", "check_token", "peer_is_loopback"]

log = logging.getLogger("mockserver.control")

PREFIX: Final = "/_mock"
MAX_DEPTH: Final = 64  # nesting of a body; deeper is refused before anything recurses through it
JOURNAL_LIMIT: Final = 1000  # entries per page when `limit` is not given
START_WAIT: Final = 0.5  # wall seconds a scenario or replay may take to start before the answer is 202 Accepted

Reply = tuple[int, Any]


@dataclass(frozen=True, slots=True)
class Call:
    """One control request, parsed and checked: its JSON body, query and the path parameter (a fault's id)."""

    body: Any
    query: Mapping[str, str]
    param: str = ""


Handler = Callable[[Call], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    handler: Handler
    schema: str | None = None  # the name of its body (or, for GET, query) schema in control_schemas/


def peer_is_loopback(request: web.BaseRequest) -> bool:
    """Whether the TCP peer is this machine. Judged by the socket's peer address, never by headers, which any client
    (or a proxy in front of the mock) could set."""
    transport = request.transport
    peer = transport.get_extra_info("peername") if transport is not None else None
    host = peer[0] if isinstance(peer, tuple) and peer else None
    if not isinstance(host, str):
        return False
    try:
        address = ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def check_token(header: str | None, token: str) -> bool:
    """Whether an Authorization header carries `Bearer <token>`, compared in constant time."""
    if header is None:
        return False
    scheme, _, given = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode("utf-8", "surrogatepass"), token.encode("utf-8"))


def check_query_token(given: str | None, token: str) -> bool:
    """Whether a `?token=` parameter is the token, compared in constant time (for EventSource, which cannot send
    headers)."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), token.encode("utf-8"))


def check_access(request: web.BaseRequest, token: str | None) -> None:
    """With a control token, everyone must send it; without one, only loopback clients get in."""
    if token is not None:
        if not check_token(request.headers.get("Authorization"), token):
            raise Forbidden("The control API needs `Authorization: Bearer <control token>`")
    elif not peer_is_loopback(request):
        raise Forbidden(
            "The control API answers loopback clients only; start the mock with a control token to allow others"
        )


def _load_validators() -> dict[str, Draft202012Validator]:
    """The body validators, built on the first control request (jsonschema is slow to import; `serve` starts
    without it)."""
    from jsonschema import Draft202012Validator

    folder = files("mockserver.server") / "control_schemas"
    validators = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".json"):
            schema = json.loads(entry.read_text(encoding="utf-8"))
            validators[entry.name.removesuffix(".json")] = Draft202012Validator(schema)
    return validators


def _problem(path: str, message: str, summary: str) -> BadRequest:
    """A BadRequest about one field, shaped like a failed validation (`errors: [{path, message}]`)."""
    return BadRequest(summary, errors=[{"path": path, "message": message}])


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _too_deep(value: Any) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)
    return False


async def _read_json(request: web.BaseRequest) -> Any:
    """The request's JSON body (`{}` when empty), or a BadRequest saying what is wrong with it."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise BadRequest(f"Request body is larger than {MAX_BODY_BYTES} bytes") from None
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as bad:  # JSONDecodeError, UnicodeDecodeError and huge integers are ValueErrors
        problem = str(bad) if not isinstance(bad, RecursionError) else "nested too deeply"
        raise _problem("", problem, f"Invalid JSON in request body: {problem}") from None
    if _too_deep(value):
        problem = f"nested deeper than {MAX_DEPTH} levels"
        raise _problem("", problem, f"Invalid request body: {problem}")
    return value


def _parse_yaml(text: str) -> Scenario:
    """A YAML scenario from a request body; its problems (with their lines) become the 400's message."""
    try:
        from mockserver.scripting._scenario import parse_scenario  # loads with the first scenario

        return parse_scenario(text, source="yaml")
    except RecursionError:
        raise _problem("yaml", "nested too deeply", "Invalid YAML: nested too deeply") from None


@contextlib.contextmanager
def _operation_errors() -> Iterator[None]:
    """What the Python API raises for bad arguments, as the Feathers errors a client expects: a ValueError or an
    OSError (a tape or scenario file) is the caller's mistake, a RuntimeError a clash with what is running."""
    try:
        yield
    except FeathersError:
        raise
    except (ValueError, OSError) as error:
        raise BadRequest(str(error) or type(error).__name__) from None
    except RuntimeError as error:
        raise Conflict(str(error) or type(error).__name__) from None


def _json_response(
    status: int, body: Any, *, head: bool = False, headers: Mapping[str, str] | None = None
) -> web.Response:
    text = None if status == 204 else json.dumps(body, separators=(",", ":"), allow_nan=False)
    return web.Response(
        text=None if head else text,
        status=status,
        content_type=None if text is None else "application/json",
        headers={**CORS_HEADERS, **(headers or {})},
    )


class ControlApi:
    """The `/_mock/` routes of one MockServer; registered before the REST catch-all, so they never reach it."""

    def __init__(self, server: MockServer, app: web.Application, *, token: str | None = None) -> None:
        self.server = server
        self.token = token
        self._validators: dict[str, Draft202012Validator] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._panel: Panel | None = None
        self.routes: dict[str, dict[str, Endpoint]] = {
            "": {"GET": Endpoint(self.index)},
            "clock": {"GET": Endpoint(self.get_clock), "POST": Endpoint(self.set_clock, "clock")},
            "emit": {"POST": Endpoint(self.emit, "emit")},
            "generate": {"GET": Endpoint(self.generate, "generate-query")},
            "validate": {"POST": Endpoint(self.validate, "validate")},
            "reset": {"POST": Endpoint(self.reset, "reset")},
            "connections": {"GET": Endpoint(self.connections)},
            "disconnect": {"POST": Endpoint(self.disconnect, "disconnect")},
            "tokens/expire": {"POST": Endpoint(self.expire_tokens, "tokens-expire")},
            "faults": {
                "GET": Endpoint(self.list_faults),
                "POST": Endpoint(self.add_fault, "fault"),
                "DELETE": Endpoint(self.clear_faults),
            },
            "faults/{id}": {"DELETE": Endpoint(self.remove_fault)},
            "journal": {"GET": Endpoint(self.journal, "journal-query")},
            "scenarios": {"POST": Endpoint(self.run_scenario, "scenarios")},
            "record": {
                "POST": Endpoint(self.record, "record"),
                "DELETE": Endpoint(self.stop_recording),
            },
            "replay": {"POST": Endpoint(self.replay, "replay")},
        }
        app.router.add_route("*", PREFIX, self.handle)
        app.router.add_route("*", PREFIX + r"/{tail:[\s\S]*}", self.handle)  # `.` would miss a decoded %0A

    # -- the framework ------------------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.method == "OPTIONS":  # CORS preflight: browsers send no credentials with it
            return web.Response(status=204, headers=CORS_HEADERS)
        head = request.method == "HEAD"
        headers: dict[str, str] = {}
        page = self.panel.page_for(request, request.match_info.get("tail", ""))
        try:
            if page is not None:
                self.check_page_access(request, page)
                return await page(request)
            status, body = await self.serve(request, headers)
        except FeathersError as error:
            status, body = error.code, error.to_json()
        except Exception as bug:  # never a traceback on the wire; tests assert this does not happen
            log.error("control API bug on %s %r: %s: %r", request.method, request.path, type(bug).__name__, bug)
            status, body = 500, GeneralError("Internal error in the mock's control API").to_json()
        return _json_response(status, body, head=head, headers=headers)

    async def serve(self, request: web.Request, headers: dict[str, str]) -> Reply:
        check_access(request, self.token)
        route, param = self.resolve(request.match_info.get("tail", ""))
        if route is None:
            raise NotFound(f"Path {request.path} not found")
        method = "GET" if request.method == "HEAD" else request.method
        endpoint = route.get(method)
        if endpoint is None:
            headers["Allow"] = ", ".join(route)
            raise MethodNotAllowed(
                f"Method {request.method} not allowed on {request.path}; allowed: {headers['Allow']}"
            )
        if method == "GET":
            body: Any = None
            query: Mapping[str, str] = {key: request.query.getone(key) for key in request.query}
            self.check(endpoint.schema, query, f"query of {method} {request.path}")
        else:
            body = await _read_json(request)
            query = {}
            self.check(endpoint.schema, body, f"body of {method} {request.path}")
        with _operation_errors():
            return await endpoint.handler(Call(body=body, query=query, param=param))

    @property
    def panel(self) -> Panel:
        """The panel's routes and live feed; its module loads with the first `/_mock/` request, not at start-up."""
        if self._panel is None:
            from mockserver.server._panel import Panel

            self._panel = Panel(self.server)
        return self._panel

    def close_panels(self) -> None:
        """End open panels' streams (the server is stopping), so the runner does not wait for them."""
        if self._panel is not None:
            self._panel.feed.close()

    def reset_panels(self) -> None:
        """The server went back to its seeded state: open panels start over."""
        if self._panel is not None:
            self._panel.feed.reset()

    def check_page_access(self, request: web.BaseRequest, page: Page) -> None:
        """The control API's rule for the panel, with two differences. With a token, the page and its files are
        served to anyone: they hold nothing but the form that asks for the token. The live feed takes the token as
        `?token=` too, since a browser's EventSource cannot send headers."""
        if self.token is None:
            check_access(request, None)
        elif page == self.panel.events and not check_query_token(request.query.get("token"), self.token):
            check_access(request, self.token)

    def resolve(self, tail: str) -> tuple[dict[str, Endpoint] | None, str]:
        segments = [segment for segment in tail.split("/") if segment]
        key = "/".join(segments)
        if key in self.routes:
            return self.routes[key], ""
        if len(segments) == 2 and segments[0] == "faults":
            return self.routes["faults/{id}"], segments[1]
        return None, ""

    def check(self, schema: str | None, value: Any, what: str) -> None:
        """Validate against a control schema; every problem goes into the BadRequest's `errors` and its message."""
        if schema is None:
            return
        if self._validators is None:
            self._validators = _load_validators()
        problems = problems_from_errors(self._validators[schema].iter_errors(value))
        if problems:
            summary = "; ".join(f"{p['path'] or '(root)'}: {p['message']}" for p in problems)
            raise BadRequest(f"Invalid {what}: {summary}", errors=[dict(problem) for problem in problems])

    def user_id(self, email: str, field: str = "email") -> str:
        user = self.server.store.user_by_email(email)
        if user is None:
            raise _problem(field, "is not a user's email", f"No user with email '{email}'")
        return str(user["_id"])

    async def started(self, awaitable: Awaitable[Any]) -> tuple[bool, Any]:
        """Start something that may run on (a scenario, a replay): (True, result) if it finished or failed at once,
        (False, None) if it is still running after START_WAIT, in which case it goes on in the background."""
        task = asyncio.ensure_future(awaitable)
        done, _ = await asyncio.wait({task}, timeout=START_WAIT)
        if done:
            return True, task.result()
        self._background.add(task)
        task.add_done_callback(self._finished)
        return False, None

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("control API background task failed: %s", task.exception())

    # -- endpoints that exist in every build --------------------------------------------------------------------
    async def index(self, call: Call) -> Reply:
        """Every endpoint, so a tool can tell a typo from a missing feature."""
        endpoints = [
            {"method": method, "path": f"{PREFIX}/{key}"}
            for key, route in self.routes.items()
            if key
            for method in route
        ]
        return 200, {"endpoints": endpoints}

    async def get_clock(self, call: Call) -> Reply:
        return 200, self.server.clock.describe()

    async def set_clock(self, call: Call) -> Reply:
        body = call.body
        clock = self.server.clock
        mode, speed = body.get("mode"), body.get("speed")
        if mode == "manual" and speed is not None:
            raise _problem("speed", "must be left out with mode manual", "A manual clock has no speed")
        if mode == "scaled" and speed is None:
            raise _problem("speed", "is required with mode scaled", "A scaled clock needs a speed")
        if mode == "real" and speed not in (None, 1):
            raise _problem("speed", "must be 1 with mode real", "A real clock runs at speed 1")
        if mode == "manual":
            clock.freeze()
        elif speed is not None or mode == "real":
            clock.set_speed(1.0 if speed is None else speed)
        if "advance" in body:
            await clock.advance(body["advance"])
        return 200, clock.describe()

    async def reset(self, call: Call) -> Reply:
        await self.server.reset(disconnect=call.body.get("disconnect", True))
        return 200, {"reset": True}

    async def connections(self, call: Call) -> Reply:
        return 200, self.server.connections()

    def generated(self, path: str, name: str, user_id: str | None, seed: int | None) -> Any:
        """A payload made from the event's schema; with `user_id`, a made-up record of the user it goes to. The
        seed is drawn from the server's seeded randomness, so the same calls after a reset repeat it."""
        payload = generate_event(name, seed=self.server.core.rng.getrandbits(32) if seed is None else seed)
        if user_id is not None and isinstance(payload, dict):
            owner_field = "_id" if service_spec(path).scope is Scope.SELF else "userId"
            if owner_field in payload:
                payload[owner_field] = user_id
        return payload

    def event_name(self, name: str, field: str = "event") -> str:
        if name not in self.server.contract.events():
            raise _problem(field, "is not an event of the API", f"'{name}' is not an event of the API")
        return name

    async def generate(self, call: Call) -> Reply:
        """A payload to start from (the panel's emit form is prefilled with it)."""
        name = self.event_name(call.query["event"])
        user_id = None if "email" not in call.query else self.user_id(call.query["email"])
        seed = int(call.query["seed"]) if "seed" in call.query else None
        path = name.rpartition(" ")[0]
        return 200, {"event": name, "payload": self.generated(path, name, user_id, seed)}

    async def validate(self, call: Call) -> Reply:
        """Every problem of a payload against its event's schema, without sending it."""
        name = self.event_name(call.body["event"])
        problems = [dict(problem) for problem in self.server.contract.validate_event(name, call.body["payload"])]
        return 200, {"valid": not problems, "problems": problems}

    async def emit(self, call: Call) -> Reply:
        body = call.body
        path = body["path"].strip("/")
        name = f"{path} {body['event']}"
        if name not in self.server.contract.events():
            raise _problem("path", f"has no event '{body['event']}'", f"'{name}' is not an event of the API")
        user_id = None if "email" not in body else self.user_id(body["email"])
        payload = body["payload"] if "payload" in body else self.generated(path, name, user_id, body.get("seed"))
        if "overrides" in body:
            if not isinstance(payload, dict):
                raise _problem("overrides", "needs an object payload", "overrides need an object payload")
            payload = {**payload, **body["overrides"]}
        validate = body.get("validate", True)
        if user_id is None and not validate:
            self.check_audience(path, payload)
        try:
            delivered = self.server.emit(path, body["event"], payload, user_id=user_id, validate=validate)
        except ContractViolation as violation:
            problems = [
                {"path": "payload" + (f".{p['path']}" if p["path"] else ""), "message": p["message"]}
                for p in violation.problems
            ]
            raise BadRequest(f"The payload breaks the schema of '{name}'", errors=problems) from None
        return 200, {"payload": payload, "delivered": sorted(delivered)}

    @staticmethod
    def check_audience(path: str, payload: Any) -> None:
        """An unchecked payload must still say whom it is for, unless `email` names the user."""
        if not isinstance(payload, dict):
            message = "must be an object to find its audience (or give an email)"
            raise _problem("payload", message, f"payload {message}")
        if service_spec(path).scope is Scope.SELF and "_id" not in payload:
            message = "is required to find the event's user (or give an email)"
            raise _problem("payload._id", message, f"payload._id {message}")

    # -- disconnects, faults, journal, scenarios and tapes -----------------------------------------------------------
    async def disconnect(self, call: Call) -> Reply:
        body = call.body
        if "email" in body:
            self.user_id(body["email"])
        connection = body.get("connection")
        if connection is not None and connection not in self.server.sockets.sessions:
            raise _problem("connection", "is not an open connection", f"No connection '{connection}'")
        ids = await self.server.disconnect(
            email=body.get("email"), connection=connection, mode=body.get("mode", "server")
        )
        return 200, {"disconnected": list(ids)}

    async def expire_tokens(self, call: Call) -> Reply:
        email = call.body.get("email")
        if email is not None:
            self.user_id(email)
        expired = await self.server.expire_tokens(email=email)
        return 200, {"expired": list(expired)}

    async def list_faults(self, call: Call) -> Reply:
        return 200, [fault.to_json() for fault in self.server.faults.list()]

    async def add_fault(self, call: Call) -> Reply:
        fault = self.server.faults.add(call.body)
        return 201, fault.to_json()

    async def remove_fault(self, call: Call) -> Reply:
        faults = self.server.faults
        found = next((fault.to_json() for fault in faults.list() if fault.to_json().get("id") == call.param), None)
        if found is None:
            raise NotFound(f"No fault with id '{call.param}'")
        faults.remove(call.param)
        return 200, found

    async def clear_faults(self, call: Call) -> Reply:
        faults = self.server.faults
        removed = [fault.to_json() for fault in faults.list()]
        faults.clear()
        return 200, removed

    async def journal(self, call: Call) -> Reply:
        """Entries after `since` (exclusive), oldest first; `next` is what to pass as `since` to get the rest."""
        query = dict(call.query)
        since = int(query.pop("since")) if "since" in query else None
        limit = int(query.pop("limit", JOURNAL_LIMIT))
        # One more than asked for, and `seq > since` here: a full page whether the journal's `since` is inclusive
        # or not.
        entries = self.server.journal.entries(since=since, limit=limit + 1, **query)
        entries = [entry for entry in entries if since is None or entry["seq"] > since][:limit]
        last = entries[-1]["seq"] if entries else (since or 0)
        return 200, {"entries": entries, "next": last}

    async def run_scenario(self, call: Call) -> Reply:
        """201 once the scenario is checked and its steps are scheduled on the mock clock; `ran`/`done` say how far
        it got (under a manual clock nothing runs before the next advance)."""
        body = call.body
        spec = body["scenario"] if "scenario" in body else _parse_yaml(body["yaml"])
        scenario_run = await self.server.run_scenario(spec)
        return 201, {"steps": scenario_run.total, "ran": scenario_run.ran, "done": scenario_run.done}

    async def record(self, call: Call) -> Reply:
        path = call.body["path"]
        self.server.record(path)
        return 201, {"recording": path}

    async def stop_recording(self, call: Call) -> Reply:
        self.server.stop_recording()
        return 200, {"recording": None}

    async def replay(self, call: Call) -> Reply:
        body = call.body
        options = {"speed": body.get("speed", 1.0), "loop": body.get("loop", False)}
        replay = self.server.replay(
            body["path"], speed=options["speed"], loop=options["loop"], allow_invalid=body.get("allowInvalid", False)
        )
        await self.started(replay)
        return 200, {"replaying": body["path"], **options}
