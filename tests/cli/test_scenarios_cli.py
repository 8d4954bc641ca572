"""`scenarios validate` and `serve --scenario` through the real entry point."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from test_record_replay import USER, serving

from mockserver.client import FeathersSocketClient

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "mockserver.cli"]
SCENARIOS = sorted((ROOT / "fixtures" / "scenarios").glob("*.yaml"))


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=ROOT, capture_output=True, text=True, timeout=30, check=False)


def test_validate_accepts_the_shipped_scenarios() -> None:
    assert len(SCENARIOS) >= 3
    done = cli("scenarios", "validate", *map(str, SCENARIOS))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(": ok (") == len(SCENARIOS)


def test_validate_reports_a_typo_as_file_line_path_message_and_exits_1(tmp_path: Path) -> None:
    typo = tmp_path / "typo.yaml"
    typo.write_text("name: t\nsteps:\n  - at: 1\n    emit: {event: traders patched, feilds: {}}\n")
    done = cli("scenarios", "validate", str(typo), str(SCENARIOS[0]))
    assert done.returncode == 1
    assert f"{typo}:4: steps[0].emit.feilds: unknown field 'feilds'" in done.stdout
    assert f"{SCENARIOS[0]}: ok" in done.stdout
    assert "Traceback" not in done.stderr


def test_validate_exits_2_on_an_unreadable_file(tmp_path: Path) -> None:
    done = cli("scenarios", "validate", str(tmp_path / "missing.yaml"))
    assert done.returncode == 2
    assert "missing.yaml: (file): cannot read" in done.stderr


def test_schema_prints_the_scenario_json_schema() -> None:
    done = cli("scenarios", "schema")
    assert done.returncode == 0
    assert json.loads(done.stdout)["title"] == "cryptorobot-mock scenario"


def test_serve_runs_a_scenario_and_refuses_a_bad_one(tmp_path: Path) -> None:
    async def watch(url: str) -> list[dict[str, object]]:
        async with FeathersSocketClient(url) as client:
            await client.authenticate(*USER)
            return await client.wait_for("traders created", timeout=10)

    bots_life = str(ROOT / "fixtures" / "scenarios" / "bots-life.yaml")
    with serving("serve", "--quiet-streams", "--scenario", bots_life) as (_proc, url):
        (created,) = asyncio.run(watch(url))
    assert created["name"] == "Scenario bot"
    typo = tmp_path / "typo.yaml"
    typo.write_text("steps:\n  - at: 1\n")
    done = cli("serve", "--port", "0", "--scenario", str(typo))
    assert done.returncode == 2
    assert f"{typo}:2: steps[0]: a step needs exactly one action" in done.stderr
