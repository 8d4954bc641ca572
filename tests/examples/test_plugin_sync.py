"""README example (pytest plugin): a sync test against the session's mock, over REST, with a pushed event."""

import json
import urllib.request


def test_login_and_list_my_traders(cryptorobot_mock, cryptorobot_mock_users):
    user = cryptorobot_mock_users[0]  # email, password, id, api_key of the first demo user
    request = urllib.request.Request(
        f"{cryptorobot_mock.url}/traders?$limit=2",
        headers={"Authorization": f"ApiKey {user.api_key}"},
    )
    with urllib.request.urlopen(request) as response:
        page = json.load(response)
    assert page["total"] == 5
    assert all(trader["userId"] == user.id for trader in page["data"])


def test_each_test_starts_from_the_seeded_data(cryptorobot_mock, cryptorobot_mock_users):
    user = cryptorobot_mock_users[0]
    cryptorobot_mock.store.tables["traders"].clear()  # gone for this test only: the next one gets them back
    assert len(cryptorobot_mock.store.tables["traders"]) == 0
    assert user.email == "user@example.com"
