"""`cryptorobot-mock generate`: seeded JSON Lines, and one-line errors for unknown services and kinds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mockserver.cli import main
from mockserver.contract import default_contract
from mockserver.synth import Generator


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, ["generate", *args])


def test_prints_one_compact_valid_object_per_line() -> None:
    result = _run("traders", "--count", "5", "--seed", "7")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 5
    contract = default_contract()
    for line in lines:
        value = json.loads(line)
        assert line == json.dumps(value, separators=(",", ":"), ensure_ascii=False)  # compact
        assert not contract.validate("traders", "object", value)
    assert lines == [json.dumps(v, separators=(",", ":")) for v in Generator(7).many("traders", 5)]


def test_deterministic_for_a_seed_and_seed_0_by_default() -> None:
    assert _run("trades", "-n", "3").stdout == _run("trades", "-n", "3", "--seed", "0").stdout
    assert _run("trades", "-n", "3", "--seed", "1").stdout == _run("trades", "-n", "3", "--seed", "1").stdout
    assert _run("trades", "-n", "3", "--seed", "1").stdout != _run("trades", "-n", "3", "--seed", "2").stdout


@pytest.mark.parametrize(
    ("service", "kind"),
    [
        ("traders", "event:patched"),
        ("exchanges/ticker", "page"),
        ("traders/pods", "result:profit"),
        ("keys", "created"),
    ],
)
def test_other_kinds(service: str, kind: str) -> None:
    result = _run(service, "--kind", kind, "--seed", "3")
    assert result.exit_code == 0, result.output
    assert not default_contract().validate(service, kind, json.loads(result.stdout))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["trader"], "Error: service must be one of authentication, users, keys, strategies, "),
        (["traders", "--kind", "put"], "Error: kind for traders must be one of object, create, patch, page, "),
    ],
)
def test_unknown_service_or_kind_exits_2_with_one_line(args: list[str], expected: str) -> None:
    result = _run(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(expected)
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.output


def test_count_must_be_positive() -> None:
    result = _run("traders", "--count", "0")
    assert result.exit_code == 2
    assert "--count" in result.stderr
    assert "x>=1" in result.stderr


def test_through_the_installed_entry_point() -> None:
    script = Path(sys.executable).with_name("cryptorobot-mock")
    if not script.exists():
        pytest.skip("the cryptorobot-mock script is not installed next to this interpreter")
    done = subprocess.run(
        [str(script), "generate", "exchanges/ticker", "--count", "2", "--seed", "4"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == _run("exchanges/ticker", "--count", "2", "--seed", "4").stdout
    missing = subprocess.run([str(script), "generate", "nope"], capture_output=True, text=True, check=False)
    assert missing.returncode == 2
    assert missing.stderr.startswith("Error: service must be one of ")
    assert "Traceback" not in missing.stderr
