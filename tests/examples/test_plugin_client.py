"""README example (pytest plugin): the bundled Python Feathers client, logged in as the first demo user."""

import pytest

from mockserver.errors import BadRequest


def test_create_a_strategy_and_hear_about_it(cryptorobot_mock_client):
    created = cryptorobot_mock_client.create("strategies", {"name": "BTC Momentum", "stoploss": -0.1})
    assert cryptorobot_mock_client.wait_for("strategies created") == [created]


def test_patched_events_pushed_by_the_mock(cryptorobot_mock, cryptorobot_mock_client):
    trader = cryptorobot_mock_client.find("traders", {"$limit": 1})["data"][0]
    cryptorobot_mock.emit("traders", "patched", {**trader, "status": "running", "running": True})
    (pushed,) = cryptorobot_mock_client.wait_for("traders patched")
    assert pushed["status"] == "running"


@pytest.mark.cryptorobot_mock(expect_violations=True)  # this test sends a bad body on purpose
def test_a_bad_body_gets_the_real_bad_request(cryptorobot_mock_client):
    with pytest.raises(BadRequest) as caught:
        cryptorobot_mock_client.create("strategies", {"name": "BTC Momentum", "stoploss": 0.5})
    assert caught.value.errors == [{"path": "stoploss", "message": "must be <= 0"}]
