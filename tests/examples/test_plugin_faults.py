"""README example (pytest plugin): a fault for one test, and the journal to check what the client did."""

import pytest

from mockserver.errors import Unavailable

UNAVAILABLE_ONCE = {
    "match": {"service": "strategies", "method": "create"},
    "action": "error",
    "error": {"name": "Unavailable", "code": 503, "message": "Try again later"},
    "times": 1,
}


@pytest.mark.cryptorobot_mock(faults=[UNAVAILABLE_ONCE])
def test_a_client_retries_after_a_503(cryptorobot_mock, cryptorobot_mock_client):
    body = {"name": "BTC Momentum", "stoploss": -0.1}
    with pytest.raises(Unavailable):
        cryptorobot_mock_client.create("strategies", body)
    created = cryptorobot_mock_client.create("strategies", body)  # the fault fired once; the retry goes through
    cryptorobot_mock.journal.assert_called("strategies", "create", times=2)
    cryptorobot_mock.journal.assert_emitted("strategies created", to="user@example.com")
    assert created["name"] == "BTC Momentum"
