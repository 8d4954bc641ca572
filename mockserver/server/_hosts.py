"""The DNS-rebinding guard: only requests addressed to this machine by a name the developer chose are answered.

A web page can rebind its own name to 127.0.0.1 and then talk to the mock as a same-origin page; the browser
still sends that name in `Host`. So a request whose `Host` is not a loopback name, the bound address or a name
allowed with `--allowed-host` gets 403 on every path (REST, the Socket.IO handshake, `/_mock/`), as webpack's and
Vite's dev servers do. CORS stays open: a frontend on another port still sends `Host: 127.0.0.1:3030`.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import hdrs, web
from aiohttp.typedefs import Middleware

from mockserver.errors import Forbidden

__all__ = ["ALLOW_ANY_HOST", "HostCheck"]

ALLOW_ANY_HOST = frozenset({"all", "*"})  # `--allowed-host all` switches the check off (webpack's allowedHosts)
WILDCARD_ADDRESSES = frozenset({"0.0.0.0", "::", ""})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def host_name(value: str) -> str:
    """The name part of a `Host` header or an allowed-host entry, lower-cased, without port, brackets or final dot."""
    value = value.strip().lower()
    if value.startswith("["):  # [::1] or [::1]:3030
        return value[1 : value.find("]")] if "]" in value else value
    if value.count(":") == 1:  # name:port; a bare IPv6 address has several colons
        value = value.partition(":")[0]
    return value.rstrip(".")


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def is_loopback(name: str) -> bool:
    """localhost, *.localhost (browsers resolve these themselves), 127.0.0.0/8 and ::1."""
    if name == "localhost" or name.endswith(".localhost"):
        return True
    address = _ip(name)
    return address is not None and address.is_loopback


class HostCheck:
    """Which `Host` names a server answers; `allowed=["all"]` (or `"*"`) answers every name.

    An entry starting with a dot (`.example.test`) allows that domain and its subdomains. When the server is bound
    to a wildcard address (0.0.0.0, ::), any IP-literal Host is allowed too: a rebinding page always sends a name.
    """

    def __init__(self, bound_host: str, allowed: Iterable[str] = ()) -> None:
        entries = [entry.strip() for entry in allowed]
        for entry in entries:
            if not entry or any(c in entry for c in "/ \t\"'"):
                raise ValueError(f"allowed host must be a host name or address (or 'all'), got {entry!r}")
        self.any_host = any(entry.lower() in ALLOW_ANY_HOST for entry in entries)
        names = {host_name(entry) for entry in entries}
        self.domains = tuple(name for name in names if name.startswith("."))
        self.names = frozenset(name for name in names if not name.startswith("."))
        self.bound = host_name(bound_host)
        self.any_address = self.bound in WILDCARD_ADDRESSES

    def allows(self, host: str | None) -> bool:
        if self.any_host or host is None:  # no browser omits Host; an HTTP/1.0 tool may, and is no rebinding page
            return True
        name = host_name(host)
        if name in self.names or name == self.bound or is_loopback(name):
            return True
        if any(name == domain[1:] or name.endswith(domain) for domain in self.domains):
            return True
        return self.any_address and _ip(name) is not None

    def middleware(self, cors_headers: dict[str, str]) -> Middleware:
        """An aiohttp middleware that answers a disallowed Host with a Feathers Forbidden error before any route runs
        (so no Engine.IO session is ever created for it)."""

        @web.middleware
        async def check_host(request: web.Request, handler: Handler) -> web.StreamResponse:
            host = request.headers.get(hdrs.HOST)
            if self.allows(host):
                return await handler(request)
            name = host_name(host or "")
            error = Forbidden(
                f"Host '{host}' is not allowed: this mock server answers only loopback names (localhost, 127.0.0.1, "
                f"[::1]) and its bound address, to stop DNS-rebinding pages. To allow it, start it with "
                f"`--allowed-host {name}` (or MockServer(allowed_hosts=[{name!r}])); `--allowed-host all` turns "
                f"the check off."
            )
            return web.Response(
                text=json.dumps(error.to_json()), status=403, content_type="application/json", headers=cors_headers
            )

        return check_host
