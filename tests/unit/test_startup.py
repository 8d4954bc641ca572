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
print(" ".join(name for name in ("jsonschema", "faker", "hypothesis") if name in sys.modules))
"""


def test_a_started_server_has_not_imported_jsonschema_faker_or_hypothesis() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True)
    loaded = done.stdout.split()
    assert "jsonschema" not in loaded  # validators are built on first validation
    assert "faker" not in loaded
    assert "hypothesis" not in loaded


def test_the_first_validation_imports_jsonschema_and_works() -> None:
    probe = (
        "import sys\nfrom mockserver.contract import load_contract\nc = load_contract()\n"
        "assert 'jsonschema' not in sys.modules\n"
        "print(c.validate('traders', 'patch', {'stoploss': 1}))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert "stoploss" in done.stdout
