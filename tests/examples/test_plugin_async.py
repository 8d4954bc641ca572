"""README example (pytest plugin): an async test on its own loop (pytest-asyncio) talking to the session's mock."""

import pytest

from mockserver.client import FeathersSocketClient

pytest.importorskip("pytest_asyncio", reason="the async example runs on pytest-asyncio (in the test extras)")


@pytest.mark.asyncio
async def test_an_async_client_hears_pushed_events(cryptorobot_mock, cryptorobot_mock_users):
    user = cryptorobot_mock_users[0]
    async with FeathersSocketClient(cryptorobot_mock.url) as client:
        await client.authenticate(user.email, user.password)
        trader = (await client.call("find", "traders", {"$limit": 1}))["data"][0]
        await cryptorobot_mock.aio.emit("traders", "patched", {**trader, "status": "running", "running": True})
        (pushed,) = await client.wait_for("traders patched")
    assert pushed["status"] == "running"


@pytest.mark.asyncio
@pytest.mark.cryptorobot_mock(clock="manual")
async def test_mock_time_moves_only_when_told(cryptorobot_mock):
    assert cryptorobot_mock.clock.iso() == "2024-01-15T10:00:00.000Z"  # a manual clock starts at the data's epoch
    await cryptorobot_mock.aio.clock.advance(90)
    assert cryptorobot_mock.clock.iso() == "2024-01-15T10:01:30.000Z"
