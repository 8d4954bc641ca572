"""Domain behaviour of the services (cryptorobot-api.md §10, D2, D5, D12, D13, D15), checked against the contract.

Every result and every event a test sees is validated against the JSON Schemas, so a shape regression fails here
even where the test's own assertions are about behaviour.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from crmock_support import (
    OTHER,
    OTHER_ID,
    USER,
    USER_ID,
    RawSocket,
    assert_error,
    assert_events_valid,
    assert_valid,
    logged_in,
    run,
)

from mockserver.client import FeathersSocketClient
from mockserver.errors import FeathersError
from mockserver.server import MockServer, Options, ServerThread

OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
MILLIS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
TEMPLATE_FIELDS = ("stoploss", "interval", "timeinforce", "exit_profit_only", "exit_profit_offset", "exit_sell_signal")
RSI = {
    "_id": "ta.rsi",
    "alias": "rsi",
    "name": "RSI",
    "group": "Momentum Indicators",
    "description": "Relative Strength Index",
    "optInputs": [{"name": "optInTimePeriod"}],
}


async def expect_error(call: Awaitable[Any], name: str, code: int, message: str | None = None) -> dict[str, Any]:
    with pytest.raises(FeathersError) as caught:
        await call
    body = caught.value.to_json()
    assert_error(body, name, code, message)
    return body


async def quiet(crmock: ServerThread, *clients: FeathersSocketClient) -> None:
    """Wait until everything sent to `clients` so far has arrived: a ticker published now comes after it."""
    counts = {id(c): len(c.events["exchanges/ticker patched"]) for c in clients}
    ticker = crmock.call(lambda: dict(next(iter(crmock.server.store.tables["exchanges/ticker"].values()))))
    crmock.emit("exchanges/ticker", "patched", ticker)
    for client in clients:
        await client.wait_for("exchanges/ticker patched", count=counts[id(client)] + 1)


def domain_events(client: FeathersSocketClient) -> dict[str, list[Any]]:
    return {k: v for k, v in client.events.items() if k != "exchanges/ticker patched"}


def snapshot(crmock: ServerThread, path: str, record_id: str) -> dict[str, Any] | None:
    return crmock.call(lambda: crmock.server.store.get(path, record_id))


def with_client(crmock: ServerThread, body: Callable[[FeathersSocketClient], Awaitable[None]]) -> None:
    async def scenario() -> None:
        async with logged_in(crmock.url) as client:
            await body(client)
            assert_events_valid(crmock.server.contract, client.events)

    run(scenario())


async def configured_trader(client: FeathersSocketClient) -> dict[str, Any]:
    trader = await client.call("create", "traders", {}, {})
    exchanges = await client.call("find", "exchanges", {"$limit": 1})
    strategies = await client.call("find", "strategies", {"$limit": 1})
    configure = {
        "exchangeId": exchanges["data"][0]["_id"],
        "strategyId": strategies["data"][0]["_id"],
        "handling": "VolumePairList",
        "plugins": {"sortByPerformance": True, "ignoreLowValue": True, "removeRecentlyListed": True},
    }
    configured: dict[str, Any] = await client.call("patch", "traders", trader["_id"], configure, {})
    return configured


# -- traders ------------------------------------------------------------------------------------------------------
def test_trader_create_defaults(crmock: ServerThread) -> None:
    async def body(client: FeathersSocketClient) -> None:
        contract = crmock.server.contract
        trader = await client.call("create", "traders", {}, {})
        assert OBJECT_ID.match(trader["_id"])
        assert trader["userId"] == USER_ID
        assert trader["name"] == "Trader 6"  # the user has five seeded traders
        expected = {
            "dry_run": True,
            "dry_run_wallet": 10000,
            "stake_currency": "USDT",
            "stake_amount": "unlimited",
            "fiat_display_currency": "USD",
            "cancel_open_orders_on_exit": True,
            "unfilledtimeout": {"entry": 10, "exit": 10},
            "stressShield": {"enabled": True},
            "running": False,
            "status": "stopped",
        }
        assert {k: trader[k] for k in expected} == expected
        assert trader["webhook"] == {
            "enabled": True,
            "format": "json",
            "url": f"https://api.cryptorobot.ai/webhooks/{trader['_id']}",
        }
        api = trader["api_server"]
        assert {k: api[k] for k in ("enabled", "listen_ip_address", "listen_port", "verbosity")} == {
            "enabled": True,
            "listen_ip_address": "0.0.0.0",
            "listen_port": 8080,
            "verbosity": "error",
        }
        assert all(isinstance(api[k], str) and api[k] for k in ("jwt_secret_key", "username", "password"))
        assert MILLIS.match(trader["createdAt"])
        assert trader["createdAt"] == trader["updatedAt"]
        assert "exchangeId" not in trader
        assert_valid(contract, "traders", "object", trader)
        assert await client.wait_for("traders created") == [trader]

        second = await client.call("create", "traders", {"name": "Named", "dry_run": False}, {})
        assert (second["name"], second["dry_run"]) == ("Named", False)
        third = await client.call("create", "traders", {}, {})
        assert third["name"] == "Trader 8"
        assert third["api_server"]["jwt_secret_key"] != trader["api_server"]["jwt_secret_key"]

    with_client(crmock, body)


def test_running_without_exchange_and_strategy_is_unprocessable_and_silent(crmock: ServerThread) -> None:
    async def body(client: FeathersSocketClient) -> None:
        trader = await client.call("create", "traders", {}, {})
        await client.wait_for("traders created")
        before = snapshot(crmock, "traders", trader["_id"])
        error = await expect_error(
            client.call("patch", "traders", trader["_id"], {"running": True}, {}), "Unprocessable", 422
        )
        assert {e["path"] for e in error["errors"]} == {"exchangeId", "strategyId"}
        exchange = (await client.call("find", "exchanges", {"$limit": 1}))["data"][0]
        half = {"running": True, "exchangeId": exchange["_id"]}
        error = await expect_error(client.call("patch", "traders", trader["_id"], half, {}), "Unprocessable", 422)
        assert [e["path"] for e in error["errors"]] == ["strategyId"]
        await quiet(crmock, client)
        assert set(domain_events(client)) == {"traders created"}
        assert snapshot(crmock, "traders", trader["_id"]) == before

    with_client(crmock, body)


def test_references_must_name_the_callers_own_records(crmock: ServerThread) -> None:
    async def body(client: FeathersSocketClient) -> None:
        trader = await client.call("create", "traders", {}, {})
        others = crmock.call(lambda: next(iter(crmock.server.store.owned_by("exchanges", OTHER_ID))))
        mine = (await client.call("find", "strategies", {"$limit": 1}))["data"][0]
        for exchange_id in (others["_id"], "ffffffffffffffffffffffff"):
            patch = {"running": True, "exchangeId": exchange_id, "strategyId": mine["_id"]}
            error = await expect_error(client.call("patch", "traders", trader["_id"], patch, {}), "Unprocessable", 422)
            assert [e["path"] for e in error["errors"]] == ["exchangeId"]
        assert snapshot(crmock, "traders", trader["_id"])["status"] == "stopped"

    with_client(crmock, body)


LIFECYCLE = ((True, ("starting", "running"), "started"), (False, ("stopping", "stopped"), "stopped"))


def test_start_and_stop_lifecycle_events_in_order(crmock: ServerThread) -> None:
    async def scenario() -> None:
        contract = crmock.server.contract
        async with logged_in(crmock.url) as setup:
            trader = await configured_trader(setup)
        sock = await RawSocket.open(crmock.url)
        async with sock:
            login = {"strategy": "local", "email": USER[0], "password": USER[1]}
            assert (await sock.call_json("create", "authentication", login, {}))[0] is None
            for wanted, steps, pod_type in (
                (True, ("starting", "running"), "started"),
                (False, ("stopping", "stopped"), "stopped"),
            ):
                sock.frames.clear()
                ack = await sock.call_json("patch", "traders", trader["_id"], {"running": wanted}, {})
                assert ack[0] is None, ack
                assert (ack[1]["running"], ack[1]["status"]) == (wanted, steps[0])
                while not any(name == "traders/pods/events created" for name, _ in sock.events()):
                    assert await sock.next_packet(5) is not None
                events = sock.events()
                assert [(name, p.get("status") if name == "traders patched" else p["type"]) for name, p in events] == [
                    ("traders patched", steps[0]),
                    ("traders patched", steps[1]),
                    ("traders/pods/events created", pod_type),
                ]
                assert events[0][1] == ack[1]
                assert events[1][1]["running"] is wanted
                pod_event = events[2][1]
                assert pod_event["traderId"] == trader["_id"]
                assert pod_event["podId"] == f"pod-{trader['_id']}"
                assert pod_event["userId"] == USER_ID
                for name, payload in events:
                    assert contract.validate_event(name, payload) == [], (name, payload)
                stored = snapshot(crmock, "traders", trader["_id"])
                assert (stored["running"], stored["status"]) == (wanted, steps[1])
                stored_event = snapshot(crmock, "traders/pods/events", pod_event["_id"])
                assert stored_event == pod_event

    run(scenario())


def test_idempotent_run_state_patches_emit_nothing(crmock: ServerThread) -> None:
    async def body(client: FeathersSocketClient) -> None:
        traders = (await client.call("find", "traders", {}))["data"]
        running = next(t for t in traders if t["status"] == "running")
        stopped = next(t for t in traders if t["status"] == "stopped")
        same_running = await client.call("patch", "traders", running["_id"], {"running": True}, {})
        same_stopped = await client.call("patch", "traders", stopped["_id"], {"running": False}, {})
        assert same_running == running
        assert same_stopped == stopped
        await quiet(crmock, client)
        assert domain_events(client) == {}
        renamed = await client.call("patch", "traders", running["_id"], {"running": True, "name": "Renamed"}, {})
        assert (renamed["name"], renamed["status"]) == ("Renamed", "running")
        assert await client.wait_for("traders patched") == [renamed]

    with_client(crmock, body)


def test_starting_while_stopping_is_a_conflict_and_error_restarts(crmock: ServerThread) -> None:
    async def body(client: FeathersSocketClient) -> None:
        trader = await configured_trader(client)
        store = crmock.server.store
        crmock.call(lambda: store.get("traders", trader["_id"]).update(running=False, status="stopping"))
        await expect_error(client.call("patch", "traders", trader["_id"], {"running": True}, {}), "Conflict", 409)
        assert snapshot(crmock, "traders", trader["_id"])["status"] == "stopping"

        crmock.call(lambda: store.get("traders", trader["_id"]).update(running=True, status="error"))
        restarted = await client.call("patch", "traders", trader["_id"], {"running": True}, {})
        assert restarted["status"] == "starting"
        await client.wait_for("traders/pods/events created")
        assert snapshot(crmock, "traders", trader["_id"])["status"] == "running"

    with_client(crmock, body)


@pytest.mark.parametrize("status", ["running", "stopped", "error"])
def test_status_is_server_managed(crmock: ServerThread, status: str) -> None:
    async def body(client: FeathersSocketClient) -> None:
        trader = (await client.call("find", "traders", {"$limit": 1}))["data"][0]
        error = await expect_error(
            client.call("patch", "traders", trader["_id"], {"status": status}, {}),
            "BadRequest",
            400,
            "Validation failed",
        )
        assert [e["path"] for e in error["errors"]] == ["status"]
        assert snapshot(crmock, "traders", trader["_id"]) == {k: v for k, v in trader.items()}

    with_client(crmock, body)


def test_removing_a_trader_that_is_not_stopped_is_a_conflict(crmock: ServerThread) -> None:
    async def body(client: FeathersSocketClient) -> None:
        traders = (await client.call("find", "traders", {}))["data"]
        running = next(t for t in traders if t["status"] == "running")
        await expect_error(client.call("remove", "traders", running["_id"], {}), "Conflict", 409)
        assert snapshot(crmock, "traders", running["_id"]) is not None
        failed = next(t for t in traders if t["status"] == "error")
        removed = await client.call("remove", "traders", failed["_id"], {})
        assert removed == failed
        assert await client.wait_for("traders removed") == [failed]  # full object: D2 is for strategies only

    with_client(crmock, body)


# -- strategies and templates -------------------------------------------------------------------------------------
def test_template_values_are_copied_on_the_first_templated_patch_only(crmock: ServerThread) -> None:
    async def body(client: FeathersSocketClient) -> None:
        templates = {t["_id"]: t for t in (await client.call("find", "strategies/templates", {}))["data"]}
        strategy = await client.call("create", "strategies", {"name": "Templated", "stoploss": -0.3}, {})
        assert strategy["configured"] is False

        first = await client.call("patch", "strategies", strategy["_id"], {"templateId": "tmpl-1"}, {})
        assert {k: first[k] for k in TEMPLATE_FIELDS} == templates["tmpl-1"]["values"]
        assert first["templateId"] == "tmpl-1"
        assert first["configured"] is False  # no indicators yet
        assert "templateApplied" not in first

        second = await client.call("patch", "strategies", strategy["_id"], {"templateId": "tmpl-2"}, {})
        assert {k: second[k] for k in TEMPLATE_FIELDS} == templates["tmpl-1"]["values"]
        assert second["templateId"] == "tmpl-2"

        configured = await client.call(
            "patch", "strategies", strategy["_id"], {"templateId": "tmpl-2", "indicators": [RSI]}, {}
        )
        assert configured["configured"] is True
        assert configured["indicators"] == [RSI]
        assert {k: configured[k] for k in TEMPLATE_FIELDS} == templates["tmpl-1"]["values"]
        patched = await client.wait_for("strategies patched", count=3)
        assert patched == [first, second, configured]
        assert_valid(crmock.server.contract, "strategies", "object", configured)

    with_client(crmock, body)


def test_explicit_fields_win_over_the_template(crmock: ServerThread) -> None:
    async def body(client: FeathersSocketClient) -> None:
        strategy = await client.call("create", "strategies", {"name": "Mine wins"}, {})
        patch = {"templateId": "tmpl-2", "stoploss": -0.2, "interval": "4h"}
        patched = await client.call("patch", "strategies", strategy["_id"], patch, {})
        assert (patched["stoploss"], patched["interval"]) == (-0.2, "4h")
        assert (patched["timeinforce"], patched["exit_profit_offset"]) == ("GTC", 10)

    with_client(crmock, body)


def test_an_unknown_template_is_a_validation_error_and_does_not_use_up_the_first_patch(crmock: ServerThread) -> None:
    async def body(client: FeathersSocketClient) -> None:
        strategy = await client.call("create", "strategies", {"name": "Typo"}, {})
        error = await expect_error(
            client.call("patch", "strategies", strategy["_id"], {"templateId": "tmpl-404"}, {}), "BadRequest", 400
        )
        assert [e["path"] for e in error["errors"]] == ["templateId"]
        assert snapshot(crmock, "strategies", strategy["_id"]) == strategy
        patched = await client.call("patch", "strategies", strategy["_id"], {"templateId": "tmpl-1"}, {})
        assert patched["stoploss"] == -0.077

    with_client(crmock, body)


def test_strategies_removed_carries_only_the_id_but_the_result_is_full(crmock: ServerThread) -> None:
    async def body(client: FeathersSocketClient) -> None:
        strategy = await client.call("create", "strategies", {"name": "Short-lived"}, {})
        removed = await client.call("remove", "strategies", strategy["_id"], {})
        assert removed == strategy
        assert await client.wait_for("strategies removed") == [{"_id": strategy["_id"]}]
        await expect_error(client.call("get", "strategies", strategy["_id"], {}), "NotFound", 404)

    with_client(crmock, body)


def test_full_removed_strategy_option() -> None:
    async def scenario() -> None:
        async with MockServer(seed=3, options=Options(start_delay=0.0, full_removed_strategy=True)) as server:
            email, password, _ = server.credentials()[0]
            # the `strategies removed` event schema is `{_id}`; with this option the payload is the object kind
            async with logged_in(server.url, (email, password), check_events=False) as client:
                strategy = await client.call("create", "strategies", {"name": "Whole"}, {})
                await client.call("remove", "strategies", strategy["_id"], {})
                assert await client.wait_for("strategies removed") == [strategy]
                assert_valid(server.contract, "strategies", "object", client.events["strategies removed"][0])

    run(scenario())


def test_ownership_is_enforced(crmock: ServerThread) -> None:
    async def body(client: FeathersSocketClient) -> None:
        theirs = crmock.call(lambda: dict(next(iter(crmock.server.store.owned_by("strategies", OTHER_ID)))))
        message = "You do not own this resource"
        await expect_error(client.call("get", "strategies", theirs["_id"], {}), "Forbidden", 403, message)
        await expect_error(client.call("patch", "strategies", theirs["_id"], {"name": "x"}, {}), "Forbidden", 403)
        await expect_error(client.call("remove", "strategies", theirs["_id"], {}), "Forbidden", 403)
        assert snapshot(crmock, "strategies", theirs["_id"]) == theirs
        for path in ("strategies", "exchanges", "traders", "trades", "messages", "keys", "traders/pods/events"):
            page = await client.call("find", path, {"$limit": 100})
            assert page["data"], path
            assert {r["userId"] for r in page["data"]} == {USER_ID}, path
            assert_valid(crmock.server.contract, path, "page", page)
        forged = await client.call("create", "strategies", {"name": "x", "userId": OTHER_ID, "_id": "abc"}, {})
        assert forged["userId"] == USER_ID
        assert forged["_id"] != "abc"

    with_client(crmock, body)


# -- exchanges ----------------------------------------------------------------------------------------------------
def test_exchange_connection_flow(crmock: ServerThread) -> None:
    async def body(client: FeathersSocketClient) -> None:
        contract = crmock.server.contract
        exchange = await client.call("create", "exchanges", {}, {})
        assert {k: exchange[k] for k in ("connected", "avatar", "whitelist", "blacklist", "ccxt_config")} == {
            "connected": False,
            "avatar": "",
            "whitelist": [],
            "blacklist": [],
            "ccxt_config": {},
        }
        assert exchange["ccxt_async_config"] == {}
        assert exchange["userId"] == USER_ID
        assert_valid(contract, "exchanges", "object", exchange)

        credentials = {"apiKey": "my-key", "secret": "my-secret"}
        error = await expect_error(
            client.call("patch", "exchanges", exchange["_id"], credentials, {}), "Unprocessable", 422
        )
        assert [e["path"] for e in error["errors"]] == ["which"]
        assert snapshot(crmock, "exchanges", exchange["_id"]) == exchange

        chosen = await client.call("patch", "exchanges", exchange["_id"], {"which": "binance"}, {})
        assert chosen["which"] == "binance"
        assert chosen["requiredCredentials"] == {"apiKey": True, "secret": True}
        assert chosen["stakeCurrencies"]
        assert chosen["popularStakeCurrency"] in chosen["stakeCurrencies"]
        assert chosen["blacklist"]
        assert all(isinstance(item["left"], str) for item in chosen["blacklist"])
        assert chosen["connected"] is False

        connected = await client.call("patch", "exchanges", exchange["_id"], credentials, {})
        assert connected["connected"] is True
        got = await client.call("get", "exchanges", exchange["_id"], {})
        stored = snapshot(crmock, "exchanges", exchange["_id"])
        events = await client.wait_for("exchanges patched", count=2)
        for seen in (connected, got, stored, *events, *await client.wait_for("exchanges created")):
            assert "apiKey" not in seen
            assert "secret" not in seen
            assert "my-secret" not in str(seen)
        await expect_error(
            client.call("patch", "exchanges", exchange["_id"], {"which": "mtgox"}, {}), "BadRequest", 400
        )

    with_client(crmock, body)


def test_exchange_connectivity_failure_option() -> None:
    async def scenario() -> None:
        async with MockServer(seed=3, options=Options(start_delay=0.0, exchange_connect_fails=True)) as server:
            email, password, _ = server.credentials()[0]
            async with logged_in(server.url, (email, password)) as client:
                exchange = await client.call("create", "exchanges", {"which": "kraken"}, {})
                await expect_error(
                    client.call("patch", "exchanges", exchange["_id"], {"apiKey": "k", "secret": "s"}, {}),
                    "BadGateway",
                    502,
                )
                assert server.store.get("exchanges", exchange["_id"])["connected"] is False

    run(scenario())


# -- pod commands -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["ping", "status", "balance", "profit"])
def test_pod_commands_on_a_running_trader(crmock: ServerThread, command: str) -> None:
    async def body(client: FeathersSocketClient) -> None:
        traders = (await client.call("find", "traders", {"status": "running"}))["data"]
        assert traders
        tables_before = crmock.call(lambda: {p: len(t) for p, t in crmock.server.store.tables.items()})
        for trader in traders:
            result = await client.call("create", "traders/pods", {"traderId": trader["_id"], "command": command}, {})
            assert_valid(crmock.server.contract, "traders/pods", f"result:{command}", result)
            if command == "ping":
                assert result == {"status": "pong"}
        params = {"traderId": traders[0]["_id"], "command": command, "params": {}}
        assert_valid(crmock.server.contract, "traders/pods", "create", params)
        await client.call("create", "traders/pods", params, {})
        await quiet(crmock, client)
        assert domain_events(client) == {}  # a command is answered by its ack, never an event (D13)
        assert crmock.call(lambda: {p: len(t) for p, t in crmock.server.store.tables.items()}) == tables_before

    with_client(crmock, body)


def test_pod_command_errors(crmock: ServerThread) -> None:
    async def body(client: FeathersSocketClient) -> None:
        traders = (await client.call("find", "traders", {}))["data"]
        for status in ("stopped", "error"):
            trader = next(t for t in traders if t["status"] == status)
            await expect_error(
                client.call("create", "traders/pods", {"traderId": trader["_id"], "command": "ping"}, {}),
                "Conflict",
                409,
                "Trader is not running",
            )
        starting = await configured_trader(client)
        crmock.call(lambda: crmock.server.store.get("traders", starting["_id"]).update(status="starting"))
        await expect_error(
            client.call("create", "traders/pods", {"traderId": starting["_id"], "command": "ping"}, {}), "Conflict", 409
        )
        await expect_error(
            client.call("create", "traders/pods", {"traderId": "ffffffffffffffffffffffff", "command": "ping"}, {}),
            "NotFound",
            404,
            "No record found for id 'ffffffffffffffffffffffff'",
        )
        theirs = crmock.call(
            lambda: next(t for t in crmock.server.store.owned_by("traders", OTHER_ID) if t["status"] == "running")
        )
        await expect_error(
            client.call("create", "traders/pods", {"traderId": theirs["_id"], "command": "ping"}, {}), "Forbidden", 403
        )
        running = next(t for t in traders if t["status"] == "running")
        error = await expect_error(
            client.call("create", "traders/pods", {"traderId": running["_id"], "command": "forceexit"}, {}),
            "BadRequest",
            400,
        )
        assert [e["path"] for e in error["errors"]] == ["command"]

    with_client(crmock, body)


# -- keys ---------------------------------------------------------------------------------------------------------
def test_api_key_is_shown_once(crmock: ServerThread) -> None:
    async def body(client: FeathersSocketClient) -> None:
        contract = crmock.server.contract
        request = {"name": "My Trading Bot", "scopes": ["read:strategies", "read:exchanges", "write:traders"]}
        created = await client.call("create", "keys", request, {})
        assert re.fullmatch(r"cr_live_[0-9a-f]{32}", created["key"])
        assert (created["name"], created["scopes"], created["lastUsed"]) == (request["name"], request["scopes"], None)
        assert created["userId"] == USER_ID
        assert MILLIS.match(created["createdAt"])
        assert "updatedAt" not in created
        assert_valid(contract, "keys", "created", created)
        assert await client.wait_for("keys created") == [created]

        without_key = {k: v for k, v in created.items() if k != "key"}
        assert await client.call("get", "keys", created["_id"], {}) == without_key
        listed = (await client.call("find", "keys", {}))["data"]
        assert without_key in listed
        assert all("key" not in k for k in listed)
        assert "key" not in str(snapshot(crmock, "keys", created["_id"]))
        removed = await client.call("remove", "keys", created["_id"], {})
        assert removed == without_key
        assert await client.wait_for("keys removed") == [without_key]
        for bad in ({"name": "", "scopes": ["read:traders"]}, {"name": "x", "scopes": ["read:everything"]}, {}):
            await expect_error(client.call("create", "keys", bad, {}), "BadRequest", 400, "Validation failed")

    with_client(crmock, body)


# -- models, users, messages --------------------------------------------------------------------------------------
def test_model_subscription_is_per_user(crmock: ServerThread) -> None:
    async def scenario() -> None:
        contract = crmock.server.contract
        async with logged_in(crmock.url, USER) as a, logged_in(crmock.url, OTHER) as b:
            mine = {m["_id"]: m["subscribed"] for m in (await a.call("find", "models", {}))["data"]}
            theirs = {m["_id"]: m["subscribed"] for m in (await b.call("find", "models", {}))["data"]}
            model_id = next(i for i, subscribed in mine.items() if not subscribed)
            stored_before = dict(crmock.server.store.tables["models"][model_id])
            patched = await a.call("patch", "models", model_id, {"subscribed": True}, {})
            assert patched["subscribed"] is True
            assert crmock.server.store.tables["models"][model_id] == stored_before  # the shared record is untouched
            assert_valid(contract, "models", "object", patched)
            assert await a.wait_for("models patched") == [patched]
            after_a = {m["_id"]: m["subscribed"] for m in (await a.call("find", "models", {}))["data"]}
            after_b = {m["_id"]: m["subscribed"] for m in (await b.call("find", "models", {}))["data"]}
            assert after_a == {**mine, model_id: True}
            assert after_b == theirs
            assert (await b.call("get", "models", model_id, {}))["subscribed"] is theirs[model_id]
            await quiet(crmock, a, b)
            assert domain_events(b) == {}

            unsubscribed = await a.call("patch", "models", model_id, {"subscribed": False}, {})
            assert unsubscribed["subscribed"] is False
            await expect_error(a.call("patch", "models", model_id, {"name": "x"}, {}), "BadRequest", 400)
            assert_events_valid(contract, a.events)

    run(scenario())


def test_users_see_only_themselves(crmock: ServerThread) -> None:
    async def body(client: FeathersSocketClient) -> None:
        page = await client.call("find", "users", {})
        assert (page["total"], [u["_id"] for u in page["data"]]) == (1, [USER_ID])
        assert "password" not in page["data"][0]
        assert_valid(crmock.server.contract, "users", "page", page)
        assert (await client.call("find", "users", {"email": OTHER[0]}))["total"] == 0
        await expect_error(client.call("get", "users", OTHER_ID, {}), "Forbidden", 403)
        await expect_error(client.call("patch", "users", OTHER_ID, {"name": "x"}, {}), "Forbidden", 403)
        await expect_error(client.call("remove", "users", OTHER_ID, {}), "Forbidden", 403)
        me = await client.call("get", "users", USER_ID, {})
        assert me == page["data"][0]

    with_client(crmock, body)


def test_a_refused_user_patch_keeps_the_old_password(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with logged_in(crmock.url) as client:
            patch = {"email": OTHER[0], "password": "brand-new-password"}
            await expect_error(client.call("patch", "users", USER_ID, patch, {}), "Conflict", 409)
            assert (await client.call("get", "users", USER_ID, {}))["email"] == USER[0]
        async with logged_in(crmock.url, USER) as again:  # the old password still works
            assert (await again.call("find", "users", {}))["total"] == 1
        await expect_error(logged_in(crmock.url, (USER[0], "brand-new-password")).__aenter__(), "NotAuthenticated", 401)

    run(scenario())


def test_sign_up_then_log_in(crmock: ServerThread) -> None:
    async def scenario() -> None:
        async with logged_in(crmock.url, None) as anonymous:
            user = await anonymous.call("create", "users", {"email": "new@example.com", "password": "s3cret-pw"}, {})
            assert OBJECT_ID.match(user["_id"])
            assert (user["name"], user["plan"], user["verified"]) == ("", "free", False)
            assert "password" not in user
            assert_valid(crmock.server.contract, "users", "object", user)
            await expect_error(
                anonymous.call("create", "users", {"email": "NEW@example.com", "password": "x-123456"}, {}),
                "Conflict",
                409,
            )
        async with logged_in(crmock.url, ("new@example.com", "s3cret-pw")) as client:
            assert (await client.call("find", "strategies", {}))["total"] == 0
            trader = await client.call("create", "traders", {}, {})
            assert trader["name"] == "Trader 1"

    run(scenario())


def test_messages_can_be_marked_read(crmock: ServerThread) -> None:
    async def body(client: FeathersSocketClient) -> None:
        unread = (await client.call("find", "messages", {"read": False, "$limit": 1}))["data"][0]
        patched = await client.call("patch", "messages", unread["_id"], {"read": True}, {})
        assert patched["read"] is True
        assert patched["updatedAt"] >= unread["updatedAt"]
        assert await client.wait_for("messages patched") == [patched]
        removed = await client.call("remove", "messages", unread["_id"], {})
        assert removed == patched
        assert await client.wait_for("messages removed") == [patched]

    with_client(crmock, body)


def test_read_only_services_refuse_writes(crmock: ServerThread) -> None:
    async def body(client: FeathersSocketClient) -> None:
        for method, path, args in (
            ("create", "trades", [{}, {}]),
            ("patch", "exchanges/ticker", ["x", {}, {}]),
            ("create", "events", [{}, {}]),
            ("remove", "models/signals", ["x", {}]),
        ):
            await expect_error(client.call(method, path, *args), "MethodNotAllowed", 405)

    with_client(crmock, body)


def test_every_service_answers_find_with_a_valid_page(crmock: ServerThread) -> None:
    async def body(client: FeathersSocketClient) -> None:
        contract = crmock.server.contract
        for path in contract.services():
            if "page" not in contract.kinds(path):
                continue
            page = await client.call("find", path, {"$limit": 100})
            assert list(page) == ["total", "limit", "skip", "data"], path
            assert_valid(contract, path, "page", page)
            if page["data"]:
                one = await client.call("get", path, page["data"][0]["_id"], {})
                assert one == page["data"][0], path
                assert_valid(contract, path, "object", one)

    with_client(crmock, body)


def test_timers_settle_after_a_delay_with_the_default_options() -> None:
    """With the default start delay the `starting` step is observable over REST and the socket alike."""

    async def scenario() -> None:
        async with MockServer(seed=42, options=Options(start_delay=0.3)) as server:
            async with logged_in(server.url) as client:
                trader = await configured_trader(client)
                started = await client.call("patch", "traders", trader["_id"], {"running": True}, {})
                assert started["status"] == "starting"
                assert (await client.call("get", "traders", trader["_id"], {}))["status"] == "starting"
                await client.wait_for("traders/pods/events created", timeout=3)
                assert (await client.call("get", "traders", trader["_id"], {}))["status"] == "running"
            await asyncio.sleep(0)

    run(scenario())
