"""The wheel ships the schemas inside the package, and an installed copy finds them there."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    (built,) = out.glob("cryptorobot_mock-*.whl")
    return built


def test_the_wheel_holds_every_schema_file_and_the_typing_marker(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {Path(name).name for name in names if name.startswith("mockserver/schemas/")}
    assert shipped == {path.name for path in (ROOT / "schemas").glob("*.json")}
    assert "mockserver/py.typed" in names
    assert "mockserver/scripting/scenario.schema.json" in names  # scenario files' own schema
    control = {Path(name).name for name in names if name.startswith("mockserver/server/control_schemas/")}
    assert control == {path.name for path in (ROOT / "mockserver" / "server" / "control_schemas").glob("*.json")}
    panel = {Path(name).name for name in names if name.startswith("mockserver/server/panel/")}
    assert panel == {"index.html", "panel.css", "panel.js"}  # the control panel works from the wheel alone
    assert not any(name.startswith(("tests/", "fixtures/")) for name in names)


def test_an_installed_copy_loads_its_schemas_through_importlib_resources(wheel: Path, tmp_path: Path) -> None:
    zipfile.ZipFile(wheel).extractall(tmp_path)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "import mockserver.contract as c\n"
        "contract = c.load_contract()\n"
        "assert c.__file__.startswith(sys.argv[1]), c.__file__\n"
        "print(contract.source)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / "mockserver" / "schemas")
