"""`cryptorobot-mock serve`: the mock for frontend development, alive out of the box."""

from __future__ import annotations

import asyncio
import errno
import re
import signal
import socket
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

if TYPE_CHECKING:
    from mockserver.scripting import ClockMode
    from mockserver.server import MockServer

__all__ = ["run_server", "serve_command"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(_ctx: click.Context, _param: click.Parameter, value: str) -> timedelta:
    """A click callback, so that click names the option in its error."""
    match = _DURATION.match(value)
    if match is None or float(match.group(1)) <= 0:
        raise click.BadParameter(f"expected a positive duration such as 30s, 15m, 2h or 7d, got {value!r}")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


F = TypeVar("F", bound=Callable[..., Any])


def server_options(*, seed_help: str, user_help: str) -> Callable[[F], F]:
    """`--host`, `--port`, `--seed` and `--user`, which every command that runs a server (serve, replay) takes."""

    def apply(command: F) -> F:
        for option in reversed(
            (
                click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind."),
                click.option(
                    "--port",
                    default=3030,
                    show_default=True,
                    type=click.IntRange(0, 65535),
                    help="Port; 0 picks a free one.",
                ),
                click.option("--seed", default=42, show_default=True, type=int, help=seed_help),
                click.option("--user", "users", multiple=True, metavar="EMAIL:PASSWORD", help=user_help),
            )
        ):
            command = option(command)
        return command

    return apply


@click.command("serve")
@server_options(
    seed_help="Seed of the demo data and the live activity.",
    user_help="A user with a seeded portfolio; repeatable. Replaces the default demo users.",
)
@click.option("--quiet-streams", is_flag=True, help="No live tickers, fills, signals, messages or system events.")
@click.option(
    "--ticker-interval",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds between ticker updates (0: off).",
)
@click.option(
    "--trade-interval",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Mean seconds between simulated fills (0: off).",
)
@click.option(
    "--signal-interval",
    default=15.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Mean seconds between model signals (0: off).",
)
@click.option(
    "--message-interval",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Mean seconds between notifications (0: off).",
)
@click.option(
    "--event-interval",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Mean seconds between system events (0: off).",
)
@click.option(
    "--token-lifetime",
    default="7d",
    show_default=True,
    callback=_duration,
    help="Access-token lifetime, e.g. 30s, 15m, 7d.",
)
@click.option(
    "--start-delay",
    default=0.5,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds a trader spends in starting/stopping.",
)
@click.option(
    "--rate-limits", is_flag=True, help="Enforce the per-plan rate and connection limits (429 + Retry-After)."
)
@click.option(
    "--oauth-redirect",
    default=None,
    metavar="URL",
    help="The app's OAuth callback: GET /oauth/google redirects there with #access_token=.",
)
@click.option("--exchange-connect-fails", is_flag=True, help="Exchange credentials answer 502 BadGateway.")
@click.option("--full-removed-strategy", is_flag=True, help="`strategies removed` carries the record, not just _id.")
@click.option("--deny-logged-out-tokens", is_flag=True, help="A token answers 401 once its session logged out.")
@click.option("--jwt-secret", default=None, help="HS256 secret (random by default), to verify tokens elsewhere.")
@click.option(
    "--record",
    "record",
    default=None,
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Record every event the server publishes to a tape (JSON Lines) for `replay`.",
)
@click.option(
    "--scenario",
    "scenarios",
    multiple=True,
    metavar="FILE",
    help="Run a scenario file (YAML) from the start; repeatable. Check one with `scenarios validate`.",
)
@click.option(
    "--control-token",
    default=None,
    metavar="TOKEN",
    help="Require `Authorization: Bearer TOKEN` on /_mock/ (which then also answers other hosts than loopback).",
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    metavar="NAME",
    help="Also answer requests whose Host is NAME (.NAME: its subdomains too; 'all': any); repeatable. "
    "Loopback names and the bound address always work; others get 403, against DNS rebinding.",
)
@click.option(
    "--ws-compression", is_flag=True, help="Compress websocket frames (permessage-deflate) when a client offers it."
)
@click.option(
    "--verbose",
    "-v",
    "verbose",
    count=True,
    help="Print a line per call (with its answer), connection, fault and contract violation; -vv adds events.",
)
@click.option(
    "--ping-interval",
    default=25,
    show_default=True,
    type=click.IntRange(min=1),
    help="Seconds between the server's pings (Engine.IO announces whole seconds).",
)
@click.option(
    "--ping-timeout",
    default=20.0,
    show_default=True,
    type=click.FloatRange(min=0.001),
    help="Seconds a client waits past the ping interval before it gives up with `ping timeout`.",
)
@click.option(
    "--clock",
    "clock_mode",
    type=click.Choice(["real", "scaled", "manual"]),
    default=None,
    help="Mock time: real (default), scaled (see --speed), or manual (stands still until advanced).",
)
@click.option(
    "--speed",
    default=None,
    type=click.FloatRange(min=0, min_open=True),
    help="Mock seconds per real second (a scaled clock): streams, trader settling and token expiry follow it.",
)
def serve_command(
    host: str,
    port: int,
    seed: int,
    users: tuple[str, ...],
    quiet_streams: bool,
    ticker_interval: float,
    trade_interval: float,
    signal_interval: float,
    message_interval: float,
    event_interval: float,
    token_lifetime: timedelta,
    start_delay: float,
    rate_limits: bool,
    oauth_redirect: str | None,
    exchange_connect_fails: bool,
    full_removed_strategy: bool,
    deny_logged_out_tokens: bool,
    jwt_secret: str | None,
    record: str | None,
    scenarios: tuple[str, ...],
    control_token: str | None,
    allowed_hosts: tuple[str, ...],
    ws_compression: bool,
    verbose: int,
    ping_interval: int,
    ping_timeout: float,
    clock_mode: str | None,
    speed: float | None,
) -> None:
    """Serve the mock API (REST and Socket.IO on one port) until SIGINT or SIGTERM."""
    from mockserver.server import ActivityOptions, MockServer, Options, parse_user

    if clock_mode == "manual" and speed is not None:
        raise click.UsageError("--speed needs a running clock: use --clock scaled (or leave --clock out)")
    if clock_mode == "real" and speed not in (None, 1.0):
        raise click.UsageError("--speed runs a scaled clock: use --clock scaled (or leave --clock out)")
    clock = clock_mode or ("scaled" if speed is not None else "real")
    activity = (
        None
        if quiet_streams
        else ActivityOptions(
            ticker_interval=ticker_interval,
            trade_interval=trade_interval,
            signal_interval=signal_interval,
            message_interval=message_interval,
            system_event_interval=event_interval,
        )
    )
    from mockserver.scripting import ScenarioError

    try:  # the server's own checks, reported as a usage error (exit 2) rather than a traceback
        options = Options(
            token_lifetime=token_lifetime,
            start_delay=start_delay,
            rate_limits=rate_limits,
            oauth_redirect=oauth_redirect,
            exchange_connect_fails=exchange_connect_fails,
            full_removed_strategy=full_removed_strategy,
            deny_logged_out_tokens=deny_logged_out_tokens,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
        )
        server = MockServer(
            seed=seed,
            users=[parse_user(user) for user in users] or None,
            host=host,
            port=port,
            options=options,
            activity=activity,
            jwt_secret=jwt_secret,
            clock=cast("ClockMode", clock),  # one of click.Choice's values
            speed=speed or 1.0,
            scenario=list(scenarios),
            control_token=control_token,
            allowed_hosts=allowed_hosts,
            ws_compression=ws_compression,
        )
    except ScenarioError as error:
        raise click.UsageError(f"scenario problems:\n{error}") from None
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    run_server(server, host=host, port=port, record=record, verbosity=verbose)


def run_server(
    server: MockServer, *, host: str, port: int, record: str | None = None, verbosity: int = 0
) -> None:
    """Serve until SIGINT or SIGTERM; a port that cannot be bound is a message and exit 1."""
    try:
        asyncio.run(_serve(server, record, verbosity))
    except OSError as error:
        if error.filename is not None:  # the tape file, not the socket
            click.echo(f"error: cannot write {error.filename}: {error.strerror or error}", err=True)
        else:
            reason = error.strerror or str(error)
            if isinstance(error, socket.gaierror) or error.errno == errno.EADDRNOTAVAIL:
                # not an address of this machine: the user's input, hence a usage error
                raise click.BadParameter(f"cannot listen on {host!r}: {reason}", param_hint="'--host'") from None
            click.echo(f"error: cannot listen on {host}:{port}: {reason}", err=True)
        sys.exit(1)


def _echo_traffic(server: MockServer, verbosity: int) -> None:
    """Print a line per call, connection, fault and contract violation (and per event at -vv) as they happen."""
    from mockserver.scripting import console_line

    def show(entry: dict[str, Any]) -> None:
        line = console_line(entry, events=verbosity > 1)
        if line is not None:
            click.echo(line)

    server.journal.subscribe(show)


async def _serve(server: MockServer, record: str | None, verbosity: int = 0) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):  # before the banner: a caller may signal as soon as it reads it
        loop.add_signal_handler(signum, stop.set)
    await server.start()
    try:
        if record is not None:
            server.record(record)
        click.echo(f"listening on {server.url}")
        key_ids = server.dataset.api_keys
        for email, password, keys in server.credentials():
            click.echo(f"  user {email}  password {password}")
            for key in keys:  # with its scopes: a key without `read:portfolio` gets 403 on /restricted/trades
                key_record = server.store.get("keys", key_ids[key]) or {}
                click.echo(f"    api key {key}  scopes {' '.join(key_record.get('scopes', [])) or '(none)'}")
        if server.clock.mode != "real":
            clock = server.clock.describe()
            click.echo(f"  clock {clock['mode']}, speed {clock['speed']:g}, now {clock['now']}")
        if record is not None:
            click.echo(f"recording events to {record}")
        click.echo("press Ctrl-C to stop")
        sys.stdout.flush()
        if verbosity:
            _echo_traffic(server, verbosity)
        await stop.wait()
    finally:
        await server.stop()
        click.echo("stopped")
