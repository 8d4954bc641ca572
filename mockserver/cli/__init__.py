"""The `cryptorobot-mock` command line; the only module tree that imports click."""

from __future__ import annotations

import click

from mockserver.cli._contract import generate_command, schemas_group
from mockserver.cli._export import export_command
from mockserver.cli._scenarios import scenarios_group
from mockserver.cli._serve import serve_command
from mockserver.cli._tapes import record_command, replay_command
from mockserver.cli._verify import verify_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cryptorobot-mock")
def main() -> None:
    """Mock server and contract toolkit for the Cryptorobot.ai realtime trading API."""


main.add_command(serve_command)
main.add_command(schemas_group)
main.add_command(generate_command)
main.add_command(scenarios_group)
main.add_command(record_command)
main.add_command(replay_command)
main.add_command(verify_command)

__all__ = ["export_command", "main"]
