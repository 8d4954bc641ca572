"""README example (pytest plugin): replay a recorded session to a client, on mock time."""

from pathlib import Path

import pytest

TAPE = Path(__file__).parents[2] / "fixtures" / "tapes" / "bots-life.tape.jsonl"


@pytest.mark.cryptorobot_mock(clock="manual")
def test_a_bot_starts_runs_and_stops(cryptorobot_mock, cryptorobot_mock_client):
    cryptorobot_mock.replay(TAPE)
    cryptorobot_mock.clock.advance(30)  # the tape spans 20.5 s; nothing arrives until mock time moves
    statuses = [t["status"] for t in cryptorobot_mock_client.wait_for("traders patched", count=5)]
    assert statuses == ["stopped", "starting", "running", "stopping", "stopped"]
