"""Scenario commands of the CLI: `scenarios validate` and `scenarios schema`."""

from __future__ import annotations

import json

import click

__all__ = ["scenarios_group"]


@click.group("scenarios")
def scenarios_group() -> None:
    """Check scenario files (timed steps for `serve --scenario`)."""


@scenarios_group.command("validate")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
def validate_command(files: tuple[str, ...]) -> None:
    """Check each scenario FILE against the scenario schema and the API (events, services, saved names).

    Prints "FILE: ok" for a good file and "FILE:LINE: PATH: MESSAGE" for every problem. Exit status: 0 all good,
    1 some file has problems, 2 some file cannot be read.
    """
    from mockserver.scripting import ScenarioError, load_scenario

    status = 0
    for file in files:
        try:
            scenario = load_scenario(file)
        except ScenarioError as error:
            unreadable = any(problem.path == "(file)" for problem in error.problems)
            status = max(status, 2 if unreadable else 1)
            for problem in error.problems:
                click.echo(str(problem), err=unreadable)
            continue
        click.echo(f"{file}: ok ({len(scenario.raw_steps)} steps)")
    click.get_current_context().exit(status)


@scenarios_group.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of scenario files (for an editor's YAML support)."""
    from mockserver.scripting._scenario import scenario_schema

    click.echo(json.dumps(scenario_schema(), indent=2))
