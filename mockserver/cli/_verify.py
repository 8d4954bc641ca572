"""`cryptorobot-mock verify`: the contract checks against a live server, for CI (exit 0 clean, 1 drift, 2 no run)."""

from __future__ import annotations

import asyncio
import sys

import click

__all__ = ["verify_command"]


def _services(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = tuple(name.strip().strip("/") for name in value.split(",") if name.strip())
    if not names:
        raise click.BadParameter("name at least one service, e.g. strategies,traders", param_hint="'--services'")
    return names


@click.command("verify")
@click.option(
    "--url", required=True, help="The server's origin, e.g. https://api.example.com or http://127.0.0.1:3030."
)
@click.option("--email", required=True, help="The user to log in as (local strategy).")
@click.option("--password", required=True, help="That user's password.")
@click.option(
    "--junit", "junit_file", type=click.Path(dir_okay=False, writable=True), help="Also write JUnit XML here."
)
@click.option("--services", help="Comma-separated service paths to check (default: every service that offers find).")
@click.option(
    "--duration",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds to listen for events after the reads and writes.",
)
@click.option(
    "--writes",
    is_flag=True,
    help="Also create, patch and remove scratch strategies and traders (always removed again, even on failure).",
)
@click.option("--timeout", default=10.0, show_default=True, type=click.FloatRange(min=0.1), help="Seconds per call.")
def verify_command(
    url: str,
    email: str,
    password: str,
    junit_file: str | None,
    services: str | None,
    duration: float,
    writes: bool,
    timeout: float,
) -> None:
    """Check a live server against the contract, as the Feathers client sees it.

    Logs in, reads every service the user may read (socket and REST), provokes a 404, listens for events for
    --duration seconds and, with --writes, writes scratch records. Every answer, error and event is validated
    against the schemas. Prints a report and a last line with the verdict.

    Exit status: 0 clean, 1 drift from the contract, 2 could not run (bad URL, no answer, login refused).
    """
    from mockserver.verify import CannotVerify, VerifyOptions, render_junit, render_text, verify

    options = VerifyOptions(
        url=url,
        email=email,
        password=password,
        services=_services(services),
        duration=duration,
        writes=writes,
        timeout=timeout,
    )
    try:
        report = asyncio.run(verify(options))
    except CannotVerify as exc:
        click.echo(f"cannot verify: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("cannot verify: interrupted", err=True)
        sys.exit(2)
    click.echo(render_text(report))
    if junit_file is not None:
        try:
            with open(junit_file, "wb") as stream:
                stream.write(render_junit(report))
        except OSError as exc:
            click.echo(f"cannot verify: cannot write {junit_file}: {exc.strerror or exc}", err=True)
            sys.exit(2)
    click.echo(report.summary())
    sys.exit(0 if report.clean else 1)
