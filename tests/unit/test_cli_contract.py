"""`cryptorobot-mock schemas list|validate`: real output, exit codes 0/1/2, one-line errors and no tracebacks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mockserver.cli._contract import schemas_group
from mockserver.contract import SERVICES

GOLDEN = Path(__file__).resolve().parents[2] / "fixtures" / "golden"
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def _run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(schemas_group, list(args), input=stdin)


def _assert_one_line_error(result: Result, text: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert text in lines[0]
    assert "Traceback" not in result.output


def test_list_prints_one_line_per_service_with_kinds_and_events() -> None:
    result = _run("list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == [*SERVICES, "error"]
    strategies = next(line for line in lines if line.startswith("strategies "))
    assert "kinds: object, create, patch, page, event:created, event:patched, event:removed" in strategies
    assert "events: strategies created, strategies patched, strategies removed" in strategies
    assert lines[0] == "authentication  kinds: request, create, result  events: -"


def test_validate_a_valid_json_file() -> None:
    result = _run("validate", str(GOLDEN / "traders.create-response.json"), "--service", "traders")
    assert result.exit_code == 0, result.output
    assert result.stdout == "1: valid\n"


def test_validate_with_kind() -> None:
    result = _run("validate", str(GOLDEN / "auth.result.json"), "-s", "authentication", "-k", "result")
    assert (result.exit_code, result.stdout) == (0, "1: valid\n")


def test_validate_json_lines_from_stdin_reports_each_document() -> None:
    stdin = '{"name": "ok"}\n\n{"stoploss": 0.5, "colour": "red"}\n{"name": "also ok"}\n'
    result = _run("validate", "-", "--service", "strategies", "--kind", "create", stdin=stdin)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "1: valid",
        "2: colour: is not a known field",
        "2: name: is a required property",
        "2: stoploss: must be <= 0",
        "3: valid",
    ]


def test_a_json_array_is_one_document() -> None:
    result = _run("validate", "-", "-s", "traders/pods", "-k", "result:status", stdin="[]\n")
    assert (result.exit_code, result.stdout) == (0, "1: valid\n")


def test_root_problem_is_shown_as_root() -> None:
    result = _run("validate", "-", "-s", "strategies", "-k", "patch", stdin="{}")
    assert result.exit_code == 1
    assert result.stdout == "1: (root): must set at least one field\n"


def test_unreadable_file_exits_2(tmp_path: Path) -> None:
    _assert_one_line_error(_run("validate", str(tmp_path / "missing.json"), "-s", "traders"), "cannot read")


def test_non_json_input_exits_2() -> None:
    result = _run("validate", "-", "-s", "traders", stdin='{"a": 1}\nnot json\n')
    _assert_one_line_error(result, "is neither JSON nor JSON Lines: line 2")


def test_empty_input_exits_2() -> None:
    _assert_one_line_error(_run("validate", "-", "-s", "traders", stdin="  \n"), "stdin is empty")


@pytest.mark.parametrize(
    ("options", "text"),
    [
        (["-s", "robots"], "unknown service 'robots'; known: authentication"),
        (["-s", "keys", "-k", "patch"], "service 'keys' has no kind 'patch'; its kinds: object"),
    ],
)
def test_unknown_service_or_kind_exits_2(options: list[str], text: str) -> None:
    _assert_one_line_error(_run("validate", str(GOLDEN / "keys.created.json"), *options), text)


def test_broken_schema_directory_exits_2(tmp_path: Path) -> None:
    shutil.copytree(SCHEMAS, tmp_path / "s")
    (tmp_path / "s" / "users.json").write_text("{")
    result = _run("--dir", str(tmp_path / "s"), "list")
    _assert_one_line_error(result, "users.json: not valid JSON")


def test_schema_directory_option_is_used(tmp_path: Path) -> None:
    shutil.copytree(SCHEMAS, tmp_path / "s")
    users = json.loads((tmp_path / "s" / "users.json").read_text())
    users["$defs"]["plan"]["enum"] = ["free"]
    (tmp_path / "s" / "users.json").write_text(json.dumps(users))
    args = ["-", "-s", "users", "-k", "patch"]
    assert _run("validate", *args, stdin='{"name": "x"}').exit_code == 0
    result = _run(
        "--dir",
        str(tmp_path / "s"),
        "validate",
        "-",
        "-s",
        "users",
        stdin=json.dumps(
            {
                "_id": "u",
                "email": "a@example.com",
                "name": "",
                "plan": "pro",
                "verified": False,
                "createdAt": "2024-01-15T10:00:00.000Z",
                "updatedAt": "2024-01-15T10:00:00.000Z",
            }
        ),
    )
    assert result.exit_code == 1
    assert result.stdout == '1: plan: must be one of "free"\n'


def test_schemas_is_a_command_of_the_main_cli() -> None:
    from mockserver.cli import main

    result = CliRunner().invoke(
        main,
        ["schemas", "validate", "-", "-s", "error"],
        input=json.dumps(
            {"name": "Conflict", "message": "Trader is not running", "code": 409, "className": "conflict"}
        ),
    )
    assert (result.exit_code, result.stdout) == (0, "1: valid\n")
