"""The live streams of `serve`, driven fast: schema-valid, owner-scoped, and bounded in memory."""

from __future__ import annotations

import asyncio

import pytest
from crmock_support import OTHER_ID, USER, USER_ID, run

from mockserver.client import FeathersSocketClient
from mockserver.contract import default_contract
from mockserver.server import ActivityOptions, MockServer

FAST = ActivityOptions(
    ticker_interval=0.02,
    trade_interval=0.01,
    signal_interval=0.02,
    message_interval=0.02,
    system_event_interval=0.02,
    max_records=40,
)
GROWING = ("trades", "traders/pods/events", "models/signals", "messages", "events")


def test_streams_are_valid_owner_scoped_and_bounded() -> None:
    async def scenario() -> None:
        async with MockServer(seed=9, activity=FAST) as server, FeathersSocketClient(server.url) as client:
            await client.authenticate(*USER)
            await client.wait_for("trades created", count=5, timeout=10)
            await asyncio.sleep(0.5)
            sizes = {path: len(server.store.table(path)) for path in GROWING}
            events = dict(client.events)
        assert all(size <= 40 for size in sizes.values()), sizes
        contract = default_contract()
        for name, payloads in events.items():
            for payload in payloads:
                contract.assert_event(name, payload)
                assert payload.get("userId", USER_ID) == USER_ID  # never another user's records
        assert OTHER_ID not in {p.get("userId") for ps in events.values() for p in ps}

    run(scenario())


def test_activity_options_are_checked_up_front() -> None:
    with pytest.raises(ValueError, match="ticker_interval must be a number of seconds >= 0"):
        ActivityOptions(ticker_interval=-1)
    with pytest.raises(ValueError, match="max_records must be an int >= 1"):
        ActivityOptions(max_records=0)
