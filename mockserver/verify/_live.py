"""`verify`: check a live Cryptorobot.ai-shaped server against the contract, as the Feathers client sees it.

It logs in over Socket.IO (and over REST), reads every service the user may read on both transports, provokes a
404 to check the error shape and status, optionally writes scratch records (always removed again), and listens for
events. Everything that comes back is validated against the schemas; what differs becomes a `Drift` in a `Report`.
Problems that stop the run before anything could be checked (bad URL, nobody answering, login refused) raise
`CannotVerify` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import socketio

from mockserver.client import FeathersSocketClient
from mockserver.contract import SERVICES, Contract, default_contract
from mockserver.verify._report import Drift, Report, drifts_from_problems

__all__ = ["SCRATCH_RECORDS", "CannotVerify", "VerifyOptions", "verify"]

MISSING_ID = "000000000000000000000000"
"""An id no record has (ObjectId-shaped, so a server that checks id formats still answers 404)."""

SCRATCH_RECORDS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "strategies": (
        {
            "name": "cryptorobot-mock verify scratch",
            "interval": "1m",
            "stoploss": -0.05,
            "exit_profit_only": False,
            "exit_profit_offset": 0,
            "exit_sell_signal": True,
        },
        {"stoploss": -0.1},
    ),
    "traders": ({"name": "cryptorobot-mock verify scratch"}, {"name": "cryptorobot-mock verify scratch (patched)"}),
}
"""The create and patch bodies of the records `--writes` makes: (create, patch) by service."""


class CannotVerify(Exception):
    """The run could not start or go on (bad URL, nobody answering, login refused); the message is one line."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyOptions:
    url: str
    email: str
    password: str
    services: tuple[str, ...] | None = None
    """Service paths to check; None checks every service that offers `find`."""
    duration: float = 5.0
    """Seconds to listen for events after the reads (and writes)."""
    writes: bool = False
    """Create, patch and remove scratch records of the services in `SCRATCH_RECORDS` (removed even on failure)."""
    timeout: float = 10.0
    """Seconds one call may take."""
    event_wait: float = 3.0
    """Seconds an event caused by a write may take to arrive before it counts as missing."""


async def verify(options: VerifyOptions, contract: Contract | None = None) -> Report:
    """Run every check against `options.url` and return the report; raise `CannotVerify` if it could not run."""
    contract = contract or default_contract()
    services = _selected(options.services)
    _check_url(options.url)
    run = _Run(options, contract, Report(options.url))
    client = FeathersSocketClient(options.url, timeout=options.timeout)
    try:
        await client.connect()
    except Exception as exc:  # socketio raises its own ConnectionError and plain timeouts: nobody answered
        await _close_quietly(client)
        raise CannotVerify(f"cannot connect to {options.url}: {_reason(exc)}") from None
    try:
        await run.login(client)
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=options.timeout),
            headers={"Authorization": f"Bearer {run.token}", "Accept": "application/json"},
        ) as http:
            run.http = http
            await run.rest_login()
            for path in services:
                await run.read(client, path)
            if options.writes:
                for path in services:
                    if path in SCRATCH_RECORDS:
                        await run.write(client, path)
        await asyncio.sleep(options.duration)
        run.check_events(client, services)
    except CannotVerify as exc:
        if run.leftovers:
            raise CannotVerify(f"{exc}; scratch records left behind: {', '.join(run.leftovers)}") from None
        raise
    finally:
        await client.close()
    return run.report


async def _close_quietly(client: FeathersSocketClient) -> None:
    """Close what a failed connect left open (python-socketio keeps its HTTP session), so nothing warns on exit."""
    with contextlib.suppress(Exception):
        await client.close()
    http = getattr(client.sio.eio, "http", None)
    if http is not None and not http.closed:
        await http.close()


def _selected(services: tuple[str, ...] | None) -> list[str]:
    readable = [path for path, spec in SERVICES.items() if "find" in spec.methods]
    if services is None:
        return readable
    unknown = [path for path in services if path not in readable]
    if unknown:
        raise CannotVerify(f"unknown or unreadable service(s) {', '.join(unknown)}; known: {', '.join(readable)}")
    return list(dict.fromkeys(services))


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CannotVerify(f"bad URL {url!r}: expected http://host:port or https://host")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class _Run:
    """The state of one run: the report so far, the token, the scratch records still to remove."""

    def __init__(self, options: VerifyOptions, contract: Contract, report: Report) -> None:
        self.options = options
        self.contract = contract
        self.report = report
        self.base = options.url.rstrip("/")
        self.token = ""
        self.http: aiohttp.ClientSession | None = None
        self.leftovers: list[str] = []
        """Scratch records that could not be removed, as `<path> <id>`."""

    # -- logging in ----------------------------------------------------------------------------------------------
    async def login(self, client: FeathersSocketClient) -> None:
        body = {"strategy": "local", "email": self.options.email, "password": self.options.password}
        start = time.monotonic()
        error, result = await self._call(client, "create", "authentication", body, {})
        if isinstance(error, _NoAnswer):
            raise CannotVerify(f"{self.options.url} did not answer the login: {error.reason}")
        if error is not None:
            message = error.get("message") if isinstance(error, dict) else json.dumps(error)[:120]
            raise CannotVerify(f"login refused by {self.options.url}: {message}")
        if not isinstance(result, dict) or not isinstance(result.get("accessToken"), str):
            raise CannotVerify(f"login answered without an accessToken: {json.dumps(result)[:200]}")
        self.token = result["accessToken"]
        check = self.report.add(
            "authentication",
            "socket login",
            drifts_from_problems(self.contract.violations("authentication", "result", result)),
        )
        check.seconds = time.monotonic() - start

    async def rest_login(self) -> None:
        body = {"strategy": "local", "email": self.options.email, "password": self.options.password}
        await self._rest_check(
            "authentication", "rest login", "POST", "/authentication", 201, ("authentication", "result"), body
        )

    # -- reading ---------------------------------------------------------------------------------------------------
    async def read(self, client: FeathersSocketClient, path: str) -> None:
        spec = SERVICES[path]
        start = time.monotonic()
        error, result = await self._call(client, "find", path, {})
        if error is not None and _code(error) in (401, 403):
            self.report.add(path, "socket find", skipped=f"not readable by this user: {_error_line(error)}")
            return
        check = self.report.add(path, "socket find", self._error_drifts(error) if error is not None else [])
        first_id = None
        if error is None:
            check.drifts.extend(self._page_drifts(path, result))
            first_id = _first_id(result)
        check.seconds = time.monotonic() - start

        if "get" in spec.methods:
            if first_id is None:
                self.report.add(path, "socket get", skipped="find returned no record to get")
            else:
                await self._socket_check(client, path, "socket get", "get", (first_id, {}), (path, "object"))
            await self._missing_check(path, "socket get of a missing id", self._socket_get_missing(client, path))

        status, body = await self._rest_check(path, "rest find", "GET", f"/{path}", 200, None)
        if status == 200 and not isinstance(body, _NoAnswer):
            self.report.checks[-1].drifts.extend(self._page_drifts(path, body))
        if "get" in spec.methods and first_id is not None:
            await self._rest_check(
                path, "rest get", "GET", f"/{path}/{quote(str(first_id), safe='')}", 200, (path, "object")
            )
        if "get" in spec.methods:
            await self._missing_check(path, "rest get of a missing id", self._rest_raw("GET", f"/{path}/{MISSING_ID}"))

    def _page_drifts(self, path: str, result: Any) -> list[Drift]:
        if isinstance(result, list):  # `paginate: false` on the server: the client gets no total to page with
            drifts = [Drift("wrong shape", "find answered a plain array, not a page {total, limit, skip, data}")]
            for index, item in enumerate(result[:25]):
                drifts.extend(drifts_from_problems(self.contract.violations(path, "object", item), prefix=f"{index}"))
            return _collapse_items(drifts)
        return _collapse_items(drifts_from_problems(self.contract.violations(path, "page", result)))

    async def _socket_get_missing(self, client: FeathersSocketClient, path: str) -> tuple[int | None, Any]:
        error, result = await self._call(client, "get", path, MISSING_ID, {})
        if error is None:
            return None, result
        return None, error if isinstance(error, _NoAnswer) else _Failed(error)

    async def _missing_check(self, path: str, name: str, answer: Awaitable[tuple[int | None, Any]]) -> None:
        """A get of an id no record has must fail with 404 NotFound in the error shape (over REST: status 404)."""
        start = time.monotonic()
        status, body = await answer
        drifts: list[Drift] = []
        if isinstance(body, _NoAnswer):
            drifts.append(Drift("call failed", body.reason))
        elif (status is not None and status < 400) or (status is None and not isinstance(body, _Failed)):
            drifts.append(Drift("wrong status", f"answered {json.dumps(body)[:120]} instead of 404 NotFound"))
        else:
            error = body.error if isinstance(body, _Failed) else body
            drifts.extend(self._error_shape(error))
            if _code(error) != 404 or status not in (None, 404):
                where = "" if status is None else f"HTTP {status}, "
                drifts.append(Drift("wrong status", f"expected 404 NotFound, got {where}{_error_line(error)}"))
        self.report.add(path, name, drifts).seconds = time.monotonic() - start

    # -- writing ---------------------------------------------------------------------------------------------------
    async def write(self, client: FeathersSocketClient, path: str) -> None:
        """Create, patch and remove one scratch record; whatever was created is removed, even after a failure."""
        create_body, patch_body = SCRATCH_RECORDS[path]
        created: list[Any] = []
        try:
            record_id = await self._write_step(client, path, "create", created, None, create_body, {})
            if record_id is None:
                return
            if await self._write_step(client, path, "patch", created, record_id, patch_body, {}) is None:
                return
            if await self._write_step(client, path, "remove", created, record_id, {}) is not None:
                created.remove(record_id)
        finally:
            await self._clean_up(client, path, created)

    async def _write_step(
        self, client: FeathersSocketClient, path: str, method: str, created: list[Any], record_id: Any, *args: Any
    ) -> Any:
        """One write call and its event; the record's id when the call succeeded, None when it did not."""
        start = time.monotonic()
        call_args = args if record_id is None else (record_id, *args)
        error, result = await self._call(client, method, path, *call_args)
        check = self.report.add(path, f"socket {method}")
        if error is not None:
            check.drifts.append(Drift("call failed", f"{method} answered {_error_line(error)}"))
            check.drifts.extend(self._error_shape(error) if not isinstance(error, _NoAnswer) else [])
            check.seconds = time.monotonic() - start
            return None
        check.drifts.extend(_unique(drifts_from_problems(self.contract.violations(path, "object", result))))
        result_id = result.get("_id") if isinstance(result, dict) else None
        if result_id is None:
            check.drifts.append(Drift("missing required field", f"the {method} result has no _id", "_id"))
            check.seconds = time.monotonic() - start
            return None
        if method == "create":
            created.append(result_id)  # tracked at once: the clean-up must find it whatever happens next
        check.seconds = time.monotonic() - start
        event = {"create": "created", "patch": "patched", "remove": "removed"}[method]
        if event in SERVICES[path].events:
            await self._expect_event(client, f"{path} {event}", result_id, method)
        return result_id

    async def _expect_event(self, client: FeathersSocketClient, name: str, record_id: Any, method: str) -> None:
        start = time.monotonic()
        deadline = start + self.options.event_wait
        while True:
            if any(isinstance(p, dict) and p.get("_id") == record_id for p in client.events.get(name, ())):
                self.report.add(name, f"arrives after {method}").seconds = time.monotonic() - start
                return
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.02)
        drift = Drift(
            "missing event", f"not received within {self.options.event_wait:g} s of the {method} of {record_id}"
        )
        self.report.add(name, f"arrives after {method}", [drift]).seconds = time.monotonic() - start

    async def _clean_up(self, client: FeathersSocketClient, path: str, created: list[Any]) -> None:
        if not created:
            return
        drifts = []
        for record_id in created:
            try:
                error, _ = await self._call(client, "remove", path, record_id, {})
            except CannotVerify as exc:  # the connection is gone: say what is left, let the first problem stand
                error = _NoAnswer(str(exc))
            if error is not None and _code(error) != 404:
                self.leftovers.append(f"{path} {record_id}")
                drifts.append(
                    Drift("cleanup failed", f"could not remove scratch record {record_id}: {_error_line(error)}")
                )
        self.report.add(path, "clean-up of scratch records", drifts)

    # -- events ----------------------------------------------------------------------------------------------------
    def check_events(self, client: FeathersSocketClient, services: list[str]) -> None:
        known = set(self.contract.events())
        for name, payloads in sorted(client.events.items()):
            if name not in known:
                drift = Drift("unknown event", f"{len(payloads)} payload(s) of an event the contract does not know")
                self.report.add("unknown events", name, [drift])
                continue
            if name.rpartition(" ")[0] not in services:
                continue
            counted: dict[Drift, int] = {}
            for payload in payloads:
                service, kind = self.contract.event_kind(name)
                for drift in _unique(drifts_from_problems(self.contract.violations(service, kind, payload))):
                    counted[drift] = counted.get(drift, 0) + 1
            drifts = [
                Drift(d.kind, f"{d.message} (in {count} of {len(payloads)} payloads)", d.path)
                for d, count in counted.items()
            ]
            self.report.add(name, f"payloads ({len(payloads)} received)", drifts)

    # -- calls -----------------------------------------------------------------------------------------------------
    async def _call(self, client: FeathersSocketClient, method: str, path: str, *args: Any) -> tuple[Any, Any]:
        """(error body, None) or (None, result) of one socket call, as the ack carried them."""
        try:
            reply = await client.sio.call(method, (path, *args), timeout=self.options.timeout)
        except (TimeoutError, socketio.exceptions.TimeoutError):
            return _NoAnswer(f"no answer to {method} {path} within {self.options.timeout:g} s"), None
        except Exception as exc:  # the connection went away
            raise CannotVerify(f"the socket connection failed during {method} {path}: {_reason(exc)}") from None
        if isinstance(reply, list | tuple):
            error, result = [*reply, None, None][:2]
        else:
            error, result = reply, None
        return (error, None) if error else (None, result)

    async def _socket_check(
        self,
        client: FeathersSocketClient,
        group: str,
        name: str,
        method: str,
        args: tuple[Any, ...],
        kind: tuple[str, str],
    ) -> None:
        start = time.monotonic()
        error, result = await self._call(client, method, group, *args)
        drifts = (
            self._error_drifts(error)
            if error is not None
            else drifts_from_problems(self.contract.violations(*kind, result))
        )
        self.report.add(group, name, _unique(drifts)).seconds = time.monotonic() - start

    async def _rest_raw(self, verb: str, target: str, body: Any = None) -> tuple[int, Any]:
        assert self.http is not None
        try:
            async with self.http.request(verb, self.base + target, json=body) as response:
                text = await response.text()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            return 0, _NoAnswer(f"{verb} {target} failed: {_reason(exc) or type(exc).__name__}")
        try:
            return status, json.loads(text)
        except json.JSONDecodeError:
            return status, _NoAnswer(f"{verb} {target} answered {status} with a body that is not JSON: {text[:80]!r}")

    async def _rest_check(
        self,
        group: str,
        name: str,
        verb: str,
        target: str,
        expected: int,
        kind: tuple[str, str] | None,
        body: Any = None,
    ) -> tuple[int, Any]:
        start = time.monotonic()
        status, payload = await self._rest_raw(verb, target, body)
        check = self.report.add(group, name)
        if isinstance(payload, _NoAnswer):
            check.drifts.append(Drift("call failed", payload.reason))
        elif status != expected:
            check.drifts.append(Drift("wrong status", f"{verb} {target} answered {status}, expected {expected}"))
            if status >= 400:
                check.drifts.extend(self._error_shape(payload))
        elif kind is not None:
            check.drifts.extend(_unique(drifts_from_problems(self.contract.violations(*kind, payload))))
        check.seconds = time.monotonic() - start
        return status, payload

    def _error_drifts(self, error: Any) -> list[Drift]:
        if isinstance(error, _NoAnswer):
            return [Drift("call failed", error.reason)]
        return [Drift("call failed", f"answered {_error_line(error)}"), *self._error_shape(error)]

    def _error_shape(self, error: Any) -> list[Drift]:
        problems = self.contract.violations("error", "object", error)
        return [Drift("error shape", d.message, d.path or "(root)") for d in drifts_from_problems(problems)]


@dataclass(frozen=True, slots=True)
class _Failed:
    """A socket call answered with an error (its body)."""

    error: Any


@dataclass(frozen=True, slots=True)
class _NoAnswer:
    """A call or request that got no usable answer (refused, timed out, not JSON)."""

    reason: str


def _code(error: Any) -> int | None:
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, int) else None


def _error_line(error: Any) -> str:
    if isinstance(error, _NoAnswer):
        return error.reason
    if isinstance(error, dict):
        return f"{error.get('code')} {error.get('name')}: {error.get('message')}"
    return json.dumps(error)[:120]


def _first_id(result: Any) -> Any:
    items = result if isinstance(result, list) else result.get("data") if isinstance(result, dict) else None
    if isinstance(items, list) and items and isinstance(items[0], dict):
        return items[0].get("_id")
    return None


def _collapse_items(drifts: list[Drift]) -> list[Drift]:
    """One drift per field of a page's records (`data.*.stopLoss`), not one per record."""
    return _unique([Drift(d.kind, d.message, _ITEM_INDEX.sub(r"\1*", d.path)) for d in drifts])


_ITEM_INDEX = re.compile(r"^(data\.)?\d+(?=\.|$)")


def _unique(drifts: list[Drift]) -> list[Drift]:
    return list(dict.fromkeys(drifts))
