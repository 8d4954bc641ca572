"""The `cryptorobot-mock` command line; the only module tree that imports click."""

from __future__ import annotations

import importlib

import click

# name -> (module, attribute). A subcommand's module is imported when that command runs (or --help lists it), so
# `serve` starts without the contract, tape, scenario and verify commands' imports. `schemas` comes from `_export`,
# whose import also registers `schemas export` on the group.
_COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("mockserver.cli._serve", "serve_command"),
    "schemas": ("mockserver.cli._export", "schemas_group"),
    "generate": ("mockserver.cli._contract", "generate_command"),
    "scenarios": ("mockserver.cli._scenarios", "scenarios_group"),
    "record": ("mockserver.cli._tapes", "record_command"),
    "replay": ("mockserver.cli._tapes", "replay_command"),
    "verify": ("mockserver.cli._verify", "verify_command"),
}


class _LazyGroup(click.Group):
    """click's documented lazy-loading group: `get_command` imports the subcommand's module on demand."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _COMMANDS:
            return super().get_command(ctx, cmd_name)
        module, attribute = _COMMANDS[cmd_name]
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module}.{attribute} is not a click command")
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cryptorobot-mock")
def main() -> None:
    """Mock server and contract toolkit for the Cryptorobot.ai realtime trading API."""


__all__ = ["main"]
