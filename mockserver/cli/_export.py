"""`cryptorobot-mock schemas export`: the contract as an AsyncAPI 3.0 (Socket.IO) or OpenAPI 3.1 (REST) document."""

from __future__ import annotations

import json

import click

from mockserver.cli._contract import _contract, _dir_option, _InputProblem, schemas_group
from mockserver.contract import asyncapi_document, openapi_document

__all__ = ["export_command"]

_BUILDERS = {"asyncapi": asyncapi_document, "openapi": openapi_document}


@schemas_group.command("export")
@click.option(
    "--format",
    "document_format",
    required=True,
    type=click.Choice(sorted(_BUILDERS)),
    help="asyncapi: AsyncAPI 3.0 for the Socket.IO side; openapi: OpenAPI 3.1 for REST.",
)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
@_dir_option
@click.pass_context
def export_command(ctx: click.Context, document_format: str, output: str | None, schemas_dir: str | None) -> None:
    """Print the contract as an AsyncAPI or OpenAPI document (JSON, every schema inlined)."""
    document = _BUILDERS[document_format](_contract(ctx, schemas_dir))
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        with open(output, "w", encoding="utf-8") as stream:
            stream.write(text)
    except OSError as exc:
        raise _InputProblem(f"cannot write {output}: {exc.strerror or exc}") from None
