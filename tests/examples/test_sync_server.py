"""README example: the same core from sync code, on a background event-loop thread."""

import json
import urllib.request

from mockserver import MockServer


def test_sync_server_example() -> None:
    with MockServer(seed=42).running() as server:
        login = json.dumps({"strategy": "local", "email": "user@example.com", "password": "your-password"})
        request = urllib.request.Request(
            f"{server.url}/authentication", data=login.encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request) as response:
            assert response.status == 201
            token = json.load(response)["accessToken"]

        request = urllib.request.Request(
            f"{server.url}/trades?is_open=true&$sort[createdAt]=-1&$limit=5",
            headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request) as response:
            page = json.load(response)
        assert page["limit"] == 5
        assert all(trade["is_open"] is True for trade in page["data"])  # "true" was coerced to a boolean

        server.reset()  # back to the seeded dataset, connections dropped
