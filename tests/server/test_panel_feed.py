"""The control panel's server side: its page and files at `/_mock/`, the live feed at `/_mock/events` (server-sent
events), `/_mock/generate` and `/_mock/validate`, and the access rule. The page itself is driven in a browser by
tests/browser/."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from unittest import mock

import aiohttp
import pytest
from aiohttp.test_utils import make_mocked_request
from crmock_support import SEED, USER, assert_error, logged_in, rest, run

from mockserver.server import MockServer, ServerThread
from mockserver.server._panel import Stream, to_json

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}  # what Chromium sends


class Feed:
    """An SSE client: reads `event:`/`data:` messages off `GET /_mock/events` as (event, parsed data)."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def next(self) -> tuple[str, Any]:
        event, data = "message", ""
        while True:
            line = (await asyncio.wait_for(self.response.content.readline(), 5.0)).decode()
            if line == "":
                raise EOFError("the stream ended")
            line = line.rstrip("\n")
            if not line:
                if data:
                    return event, json.loads(data)
                continue
            field, _, value = line.partition(": ")
            if field == "event":
                event = value
            elif field == "data":
                data = value

    async def until(self, event: str, predicate: Any = lambda data: True) -> Any:
        while True:
            name, data = await self.next()
            if name == event and predicate(data):
                return data


async def open_feed(session: aiohttp.ClientSession, url: str, query: str = "") -> AsyncIterator[Feed]:
    async with session.get(url + "/_mock/events" + query) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/event-stream"
        yield Feed(response)


def test_a_browser_gets_the_panel_and_a_tool_the_endpoint_list(crmock: ServerThread) -> None:
    async def page() -> tuple[int, Any, str]:
        async with aiohttp.ClientSession() as session, session.get(crmock.url + "/_mock/", headers=HTML) as response:
            return response.status, response.headers, await response.text()

    status, headers, html = run(page())
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert '<script src="/_mock/panel.js" defer></script>' in html
    assert "default-src 'self'" in headers["Content-Security-Policy"]  # nothing from elsewhere: works offline
    for tool in ({}, {"Accept": "application/json"}, {"Accept": "*/*"}):
        status, _, body = run(rest("GET", crmock.url, "/_mock", headers=tool))
        assert status == 200
        assert ("GET", "/_mock/generate") in {(entry["method"], entry["path"]) for entry in body["endpoints"]}


@pytest.mark.parametrize(
    ("name", "kind", "text"), [("panel.css", "text/css", ":root"), ("panel.js", "text/javascript", "EventSource")]
)
def test_the_panel_files_are_served_from_the_package(crmock: ServerThread, name: str, kind: str, text: str) -> None:
    async def get() -> tuple[int, str, str]:
        async with aiohttp.ClientSession() as session, session.get(f"{crmock.url}/_mock/{name}") as response:
            return response.status, response.headers["Content-Type"], await response.text()

    status, content_type, body = run(get())
    assert (status, content_type) == (200, f"{kind}; charset=utf-8")
    assert text in body


def test_generate_makes_a_valid_payload_for_a_user_and_validate_lists_problems(crmock: ServerThread) -> None:
    user_id = crmock.server.store.user_by_email(USER[0])["_id"]
    query = f"/_mock/generate?event=traders%20patched&email={USER[0]}&seed=7"
    status, _, body = run(rest("GET", crmock.url, query))
    assert status == 200, body
    assert body["event"] == "traders patched"
    assert body["payload"]["userId"] == user_id
    assert run(rest("GET", crmock.url, query))[2] == body  # the seed makes it repeatable
    status, _, checked = run(rest("POST", crmock.url, "/_mock/validate", json_body=body))
    assert (status, checked) == (200, {"valid": True, "problems": []})

    broken = {**body["payload"], "status": "flying"}
    del broken["dry_run"]
    status, _, checked = run(
        rest("POST", crmock.url, "/_mock/validate", json_body={"event": "traders patched", "payload": broken})
    )
    assert status == 200
    assert checked["valid"] is False
    paths = {problem["path"] for problem in checked["problems"]}
    assert {"status", "dry_run"} <= paths
    assert crmock.server.journal.entries("event") == []  # nothing was sent

    status, _, error = run(rest("GET", crmock.url, "/_mock/generate?event=traders%20flew"))
    assert status == 400
    assert_error(error, "BadRequest", 400)
    assert error["errors"] == [{"path": "event", "message": "is not an event of the API"}]
    status, _, error = run(rest("POST", crmock.url, "/_mock/validate", json_body={"event": "traders patched"}))
    assert status == 400
    assert error["errors"][0]["path"] == "payload"


def test_the_feed_starts_with_the_state_then_streams_entries_and_connection_changes(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            async for feed in open_feed(session, crmock.url):
                hello = await feed.until("hello")
                assert hello["connections"] == []
                assert "traders patched" in hello["events"]
                assert hello["clock"]["mode"] == "real"
                async with logged_in(crmock.url) as client:
                    connections = await feed.until("connections", lambda data: data and data[0]["email"])
                    [connection] = connections
                    assert connection["email"] == USER[0]
                    assert connection["lastActivity"] >= connection["connectedAt"]
                    await client.call("find", "strategies", {})
                    entry = await feed.until(
                        "entry", lambda data: data["kind"] == "call" and data["service"] == "strategies"
                    )
                    assert entry["connection"] == connection["id"]
                await feed.until("connections", lambda data: data == [])
                break

    run(scenario())


def test_a_reset_tells_open_panels_to_start_over_and_stop_ends_the_stream_at_once() -> None:
    async def scenario() -> float:
        server = await MockServer(seed=SEED).start()
        async with aiohttp.ClientSession() as session:
            async for feed in open_feed(session, server.url):
                await feed.until("hello")
                await server.reset()
                fresh = await feed.until("reset")
                assert fresh["journal"] == []
                started = time.monotonic()
                await server.stop()
                stopped = time.monotonic() - started
                with pytest.raises((EOFError, aiohttp.ClientError)):
                    await feed.until("never sent")
                return stopped
        raise AssertionError("unreachable")

    assert run(scenario()) < 5.0  # no hanging shutdown with a panel open (generous: normally milliseconds)


def test_a_slow_panel_loses_its_oldest_messages_and_is_told_how_many() -> None:
    async def fill() -> tuple[list[tuple[str, str]], int]:
        stream = Stream(limit=3)
        for seq in range(10):
            stream.push("entry", str(seq))
        return stream.take()

    batch, dropped = asyncio.run(fill())
    assert [data for _, data in batch] == ["7", "8", "9"]
    assert dropped == 7


def test_values_a_browser_cannot_parse_are_sent_as_strings() -> None:
    assert json.loads(to_json({"x": [float("nan"), float("inf"), 1.5]})) == {"x": ["nan", "inf", 1.5]}


# -- who may open it --------------------------------------------------------------------------------------------
def remote(path: str, headers: dict[str, str] | None = None) -> Any:
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        ("203.0.113.9", 40000) if name == "peername" else default
    )
    tail = path.removeprefix("/_mock").lstrip("/")
    request = make_mocked_request("GET", path, headers=headers or {}, transport=transport, match_info={"tail": tail})
    return request


@pytest.mark.parametrize("path", ["/_mock/", "/_mock/panel.js", "/_mock/events", "/_mock/clock"])
def test_a_remote_client_without_a_token_is_refused_the_panel_and_the_api(crmock: ServerThread, path: str) -> None:
    async def handle() -> tuple[int, Any]:
        response = await crmock.server.control.handle(remote(path, HTML))
        return response.status, json.loads(response.text or "")

    status, body = crmock.run(handle())
    assert status == 403
    assert_error(body, "Forbidden", 403)


def test_with_a_token_the_page_loads_for_anyone_but_the_feed_and_api_need_the_token() -> None:
    server = MockServer(seed=SEED, control_token="panel-t0ken")

    async def status_of(path: str, headers: dict[str, str] | None = None) -> int:
        response = await server.control.handle(remote(path, {**HTML, **(headers or {})}))
        return response.status

    async def scenario() -> dict[str, int]:
        return {
            "page": await status_of("/_mock/"),
            "js": await status_of("/_mock/panel.js"),
            "feed": await status_of("/_mock/events"),
            "feed, wrong token": await status_of("/_mock/events?token=nope"),
            "api": await status_of("/_mock/clock"),
            "api, query token": await status_of("/_mock/clock?token=panel-t0ken"),  # only the feed takes it
            "api, header": await status_of("/_mock/clock", {"Authorization": "Bearer panel-t0ken"}),
        }

    assert asyncio.run(scenario()) == {
        "page": 200,
        "js": 200,
        "feed": 403,
        "feed, wrong token": 403,
        "api": 403,
        "api, query token": 403,
        "api, header": 200,
    }


def test_the_feed_takes_the_token_as_a_query_parameter() -> None:
    async def scenario() -> list[int]:
        server = await MockServer(seed=SEED, control_token="panel-t0ken").start()
        try:
            async with aiohttp.ClientSession() as session:
                statuses = []
                for query in ("", "?token=panel-t0kem", "?token=panel-t0ken"):
                    async with session.get(server.url + "/_mock/events" + query) as response:
                        statuses.append(response.status)
                return statuses
        finally:
            await server.stop()

    assert asyncio.run(scenario()) == [403, 403, 200]


def test_an_entry_journaled_off_the_servers_loop_still_reaches_the_panel(crmock: ServerThread) -> None:
    async def scenario() -> dict[str, Any]:
        async with aiohttp.ClientSession() as session:
            async for feed in open_feed(session, crmock.url):
                await feed.until("hello")
                crmock.server.journal.record("rest", method="GET", path="/from-a-test-thread")  # not the server's loop
                entry: dict[str, Any] = await feed.until("entry")
                return entry
        raise AssertionError("unreachable")

    assert run(scenario())["path"] == "/from-a-test-thread"
