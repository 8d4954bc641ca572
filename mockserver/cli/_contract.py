"""Contract commands of the CLI: `generate` (seeded records as JSON Lines) and the `schemas` group."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from mockserver.contract import Contract, ContractError, load_contract

__all__ = ["generate_command", "schemas_group"]

F = TypeVar("F", bound=Callable[..., Any])


@click.command("generate")
@click.argument("service")
@click.option("--count", "-n", default=1, show_default=True, type=click.IntRange(min=1), help="How many.")
@click.option("--seed", default=0, show_default=True, type=int, help="Same seed, same output, byte for byte.")
@click.option(
    "--kind",
    default=None,
    help="object (the default, where the service has records), create, patch, page, event:<event>, or a service's "
    "own (result:<command>, created, ...).",
)
def generate_command(service: str, count: int, seed: int, kind: str | None) -> None:
    """Print COUNT seeded, schema-valid SERVICE values as JSON Lines (one compact object per line)."""
    from mockserver.synth import Generator, kinds  # imported here so `--help` and other commands stay fast

    try:
        if kind is None:
            offered = kinds(service)
            if "object" not in offered:  # e.g. authentication: no records, only requests and results
                name = service.strip("/")
                raise _InputProblem(f"{name} has no records to generate; pick --kind, one of {', '.join(offered)}")
            kind = "object"
        values = Generator(seed).many(service, count, kind=kind)
    except ValueError as exc:  # unknown service or kind: the message lists the valid values
        raise _InputProblem(str(exc)) from None
    for value in values:
        click.echo(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


class _InputProblem(click.ClickException):
    """A usage problem the user can fix (unreadable file, not JSON, unknown service): one line, exit 2."""

    exit_code = 2


def _contract(ctx: click.Context, schemas_dir: str | None) -> Contract:
    try:
        return load_contract(schemas_dir if schemas_dir is not None else ctx.obj)
    except ContractError as exc:
        raise _InputProblem(str(exc)) from None


def _dir_option(command: F) -> F:
    """`--dir`, accepted before the subcommand (`schemas --dir X list`) and after it (`schemas list --dir X`)."""
    return click.option(
        "--dir",
        "schemas_dir",
        type=click.Path(file_okay=False),
        default=None,
        help="Schema directory to use instead of the bundled one (also: $CRYPTOROBOT_MOCK_SCHEMAS).",
    )(command)


@click.group("schemas")
@_dir_option
@click.pass_context
def schemas_group(ctx: click.Context, schemas_dir: str | None) -> None:
    """List the API's JSON Schemas and validate documents against them."""
    ctx.obj = schemas_dir


@schemas_group.command("list")
@_dir_option
@click.pass_context
def list_command(ctx: click.Context, schemas_dir: str | None) -> None:
    """One line per service: its path, its schema kinds and the events it publishes."""
    contract = _contract(ctx, schemas_dir)
    for service in (*contract.services(), "error"):
        events = [name for name in contract.events() if name.rpartition(" ")[0] == service]
        click.echo(f"{service}  kinds: {', '.join(contract.kinds(service))}  events: {', '.join(events) or '-'}")


@schemas_group.command("validate")
@click.argument("file", metavar="FILE")
@click.option("--service", "-s", required=True, help="Service path, e.g. traders (or error for error bodies).")
@click.option("--kind", "-k", default="object", show_default=True, help="Schema kind, e.g. create, patch, page.")
@_dir_option
@click.pass_context
def validate_command(ctx: click.Context, file: str, service: str, kind: str, schemas_dir: str | None) -> None:
    """Validate FILE (JSON, or JSON Lines with one document per line; - for stdin).

    Prints "<doc #>: valid" for every valid document and "<doc #>: <path>: <message>" for every problem.
    Exit status: 0 all valid, 1 some invalid, 2 the input or the options cannot be used.
    """
    contract = _contract(ctx, schemas_dir)
    try:
        contract.schema(service, kind)
    except KeyError as exc:
        raise _InputProblem(str(exc)) from None
    invalid = 0
    for number, document in enumerate(_documents(file), start=1):
        problems = contract.validate(service, kind, document)
        if not problems:
            click.echo(f"{number}: valid")
            continue
        invalid += 1
        for problem in problems:
            click.echo(f"{number}: {problem['path'] or '(root)'}: {problem['message']}")
    if invalid:
        ctx.exit(1)


def _documents(file: str) -> list[Any]:
    """The documents of a JSON file (one) or a JSON Lines file (one per non-blank line)."""
    name = "stdin" if file == "-" else file
    try:
        if file == "-":
            text = sys.stdin.read()
        else:
            with open(file, encoding="utf-8") as stream:
                text = stream.read()
    except OSError as exc:
        raise _InputProblem(f"cannot read {name}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise _InputProblem(f"cannot read {name}: not UTF-8 text") from None
    if not text.strip():
        raise _InputProblem(f"{name} is empty: expected JSON or JSON Lines")
    try:
        return [json.loads(text)]
    except json.JSONDecodeError as whole:
        documents: list[Any] = []
        for line_number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                documents.append(json.loads(line))
            except json.JSONDecodeError as exc:
                reason = whole if not documents else exc
                where = whole.lineno if not documents else line_number
                raise _InputProblem(f"{name} is neither JSON nor JSON Lines: line {where}: {reason.msg}") from None
        return documents
