"""Tape commands of the CLI: `record` (from a live server) and `replay` (a tape, served as if live)."""

from __future__ import annotations

import asyncio
import math
import signal
import sys

import click

from mockserver.cli._serve import server_options

__all__ = ["record_command", "replay_command"]


@click.command("record")
@click.option("--url", required=True, help="The server to record from, e.g. https://api.cryptorobot.ai.")
@click.option("--email", required=True, help="The user to log in as.")
@click.option("--password", required=True, help="That user's password (never written to the tape).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True), help="Tape file.")
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Seconds to record (default: until Ctrl-C).",
)
def record_command(url: str, email: str, password: str, out: str, duration: float | None) -> None:
    """Log in to URL as the Feathers client does and record every event this user receives to a tape (JSON Lines,
    one flushed line per event, secrets redacted)."""
    from mockserver.contract import default_contract
    from mockserver.errors import FeathersError
    from mockserver.server import record_live

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        click.echo(f"recording events for {email} from {url} to {out}" + ("" if duration else "; Ctrl-C stops"))
        sys.stdout.flush()
        return await record_live(url, email, password, out, duration=duration, contract=default_contract(), stop=stop)

    try:
        frames = asyncio.run(main())
    except FeathersError as error:
        click.echo(f"error: {url} refused the login: {error.name}: {error.message}", err=True)
        sys.exit(1)
    except OSError as error:
        click.echo(f"error: cannot write {out}: {error.strerror or error}", err=True)
        sys.exit(1)
    except Exception as error:  # socketio's ConnectionError and timeouts: nobody answered at URL
        click.echo(f"error: cannot connect to {url}: {error or type(error).__name__}", err=True)
        sys.exit(1)
    click.echo(f"recorded {frames} events to {out}")


@click.command("replay")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--speed", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True, help="Time scale."
)
@click.option("--max-speed", is_flag=True, help="Send every frame as fast as possible (overrides --speed).")
@click.option("--loop", is_flag=True, help="Start again at the end, with fresh record ids.")
@click.option("--allow-invalid", is_flag=True, help="Replay frames that break the schemas too (reported either way).")
@server_options(
    seed_help="Seed of the demo data the clients log in to.",
    user_help="A user to log in as; repeatable. Give the recorded user's email to receive its events.",
)
def replay_command(
    file: str,
    speed: float,
    max_speed: bool,
    loop: bool,
    allow_invalid: bool,
    host: str,
    port: int,
    seed: int,
    users: tuple[str, ...],
) -> None:
    """Serve the mock and play FILE's events to every connected, authenticated client, with the recorded timing
    scaled, timestamps moved to now and (with --loop) fresh ids, so it looks live."""
    from mockserver.cli._serve import run_server
    from mockserver.scripting import TapeError, read_tape
    from mockserver.server import MockServer, parse_user
    from mockserver.server._replay import check_frames

    try:  # a bad tape, or the server's own checks (e.g. two users with one e-mail): a usage error, exit 2
        tape = read_tape(file)
        server = MockServer(
            seed=seed,
            users=[parse_user(user) for user in users] or None,
            host=host,
            port=port,
            replay=tape,
            replay_speed=math.inf if max_speed else speed,
            loop=loop,
            allow_invalid=allow_invalid,
        )
    except (TapeError, ValueError) as error:
        raise click.UsageError(str(error)) from None
    for warning in tape.warnings:
        click.echo(f"warning: {warning}", err=True)
    for problem in check_frames(server.contract, tape):
        verdict = "replayed anyway" if allow_invalid else "skipped"
        click.echo(f"{file}:{problem.line}: {problem.event}: {'; '.join(problem.problems)} ({verdict})", err=True)
    click.echo(f"replaying {len(tape.frames)} frames ({tape.duration:.1f} s as recorded) from {file}")
    run_server(server, host=host, port=port)
