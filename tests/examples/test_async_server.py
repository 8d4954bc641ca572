"""README example: run the mock in an async test and talk to it like a Feathers client."""

import asyncio

from mockserver import MockServer
from mockserver.client import FeathersSocketClient


async def scenario() -> None:
    async with MockServer(seed=42) as server, FeathersSocketClient(server.url) as client:  # 127.0.0.1, free port
        await client.authenticate("user@example.com", "your-password")
        page = await client.call("find", "traders", {"$limit": 2, "$sort": {"name": 1}})
        trader = await client.call("create", "traders", {}, {})
        created = await client.wait_for("traders created")

    assert (page["total"], page["limit"], page["skip"]) == (5, 2, 0)
    assert [t["name"] for t in page["data"]] == ["Trader 1", "Trader 2"]
    assert trader["name"] == "Trader 6"  # "Trader N": the caller's trader count + 1
    assert created == [trader]  # the owner's socket got the event


def test_async_server_example() -> None:
    asyncio.run(scenario())
