"""Contract commands of the CLI: `generate` (seeded records as JSON Lines) and the `schemas` group."""

from __future__ import annotations

import json

import click

__all__ = ["generate_command"]  # the schemas CLI adds "schemas_group"


@click.command("generate")
@click.argument("service")
@click.option("--count", "-n", default=1, show_default=True, type=click.IntRange(min=1), help="How many.")
@click.option("--seed", default=0, show_default=True, type=int, help="Same seed, same output, byte for byte.")
@click.option(
    "--kind",
    default="object",
    show_default=True,
    help="object, create, patch, page, event:<event>, or a service's own (result:<command>, created, ...).",
)
def generate_command(service: str, count: int, seed: int, kind: str) -> None:
    """Print COUNT seeded, schema-valid SERVICE values as JSON Lines (one compact object per line)."""
    from mockserver.synth import Generator  # imported here so `--help` and other commands stay fast

    try:
        values = Generator(seed).many(service, count, kind=kind)
    except ValueError as exc:  # unknown service or kind: the message lists the valid values
        click.echo(f"Error: {exc}", err=True)
        click.get_current_context().exit(2)
    for value in values:
        click.echo(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


# `schemas_group` (the `schemas` command group) is defined below by the contract CLI.
