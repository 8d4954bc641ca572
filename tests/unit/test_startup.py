"""What `serve` and `MockServer` import before they answer: the heavy optional pieces wait for their first use."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import asyncio, sys
import mockserver.cli, mockserver.cli._serve
from mockserver import MockServer

async def main():
    async with MockServer(seed=1):
        pass

asyncio.run(main())
deferred = ("jsonschema", "referencing", "faker", "hypothesis", "jwt", "mockserver.cli._contract",
            "mockserver.cli._export", "mockserver.cli._scenarios", "mockserver.cli._tapes", "mockserver.cli._verify",
            "mockserver.scripting._scenario", "mockserver.scripting._tape", "mockserver.server._scenarios",
            "mockserver.server._recorder", "mockserver.server._replay", "mockserver.contract._export",
            "mockserver.server._panel")
print(" ".join(name for name in deferred if name in sys.modules))
"""


def test_a_started_server_has_not_imported_what_it_does_not_use_yet() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True)
    loaded = done.stdout.split()
    assert "jsonschema" not in loaded  # validators are built on first validation
    assert "faker" not in loaded
    assert "hypothesis" not in loaded
    assert "jwt" not in loaded  # PyJWT loads with the first login
    assert "referencing" not in loaded  # the shipped schemas' registry is built on first validation
    # the other subcommands' modules load when their command runs (mockserver.cli is a lazy click group)
    assert not [name for name in loaded if name.startswith("mockserver.cli.")]
    # scenarios and tapes load when a server is given one, or asked to record or replay; the panel with the first
    # /_mock/ request
    assert not [name for name in loaded if name.startswith(("mockserver.scripting.", "mockserver.server."))]
    assert "mockserver.contract._export" not in loaded  # the AsyncAPI/OpenAPI builders


def test_the_lazy_command_line_still_lists_and_runs_every_subcommand() -> None:
    probe = (
        "from click.testing import CliRunner\nfrom mockserver.cli import main\nr = CliRunner()\n"
        "print(r.invoke(main, ['--help']).output)\nprint(r.invoke(main, ['schemas', 'export', '--help']).output)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    for command in ("generate", "record", "replay", "scenarios", "schemas", "serve", "verify"):
        assert f"\n  {command} " in done.stdout
    assert "AsyncAPI" in done.stdout  # `schemas export` is registered when `schemas` loads


def test_scenario_and_tape_names_load_on_first_use() -> None:
    probe = (
        "import sys\nimport mockserver.scripting as s, mockserver.server as v\n"
        "assert 'mockserver.scripting._scenario' not in sys.modules\n"
        "print(s.Scenario.__module__, s.read_tape.__module__, v.Replay.__module__, v.record_live.__module__)\n"
        "s.no_such_name\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == [
        "mockserver.scripting._scenario",
        "mockserver.scripting._tape",
        "mockserver.server._replay",
        "mockserver.server._recorder",
    ]
    assert "AttributeError: module 'mockserver.scripting' has no attribute 'no_such_name'" in done.stderr


def test_the_first_validation_imports_jsonschema_and_works() -> None:
    probe = (
        "import sys\nfrom mockserver.contract import load_contract\nc = load_contract()\n"
        "assert 'jsonschema' not in sys.modules\n"
        "print(c.validate('traders', 'patch', {'stoploss': 1}))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert "stoploss" in done.stdout
