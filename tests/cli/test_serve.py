"""`cryptorobot-mock serve` as a frontend developer runs it: a real process, real output, real signals."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest

from mockserver.client import FeathersSocketClient
from mockserver.contract import default_contract
from mockserver.errors import FeathersError

ROOT = Path(__file__).resolve().parents[2]
SERVE = [sys.executable, "-m", "mockserver.cli", "serve", "--port", "0"]


@contextmanager
def serving(*args: str) -> Iterator[tuple[subprocess.Popen[str], str, list[str]]]:
    """Start `serve`, read its banner up to the URL and the credential lines, stop it afterwards."""
    proc = subprocess.Popen(
        [*SERVE, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        assert first.startswith("listening on http://127.0.0.1:"), (first, proc.stderr and proc.stderr.read())
        url = first.removeprefix("listening on ")
        lines = []
        for line in proc.stdout:
            if line.startswith("press Ctrl-C"):
                break
            lines.append(line.rstrip("\n"))
        yield proc, url, lines
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)


def test_banner_lists_url_and_demo_credentials_and_sigterm_stops_cleanly() -> None:
    with serving("--quiet-streams") as (proc, _url, lines):
        assert "  user user@example.com  password your-password" in lines
        assert any("trader@example.com" in line for line in lines)
        assert all(line.startswith(("  user ", "    api key cr_live_")) for line in lines)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert proc.stdout is not None
        assert "stopped" in proc.stdout.read()


def test_sigint_stops_cleanly_without_a_traceback() -> None:
    with serving("--quiet-streams") as (proc, _url, _lines):
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
        assert proc.stderr is not None
        assert "Traceback" not in proc.stderr.read()


def test_user_option_replaces_the_demo_users() -> None:
    with serving("--quiet-streams", "--user", "ana@example.com:pw-ana", "--user", "bo@example.com:pw-bo") as (
        _proc,
        url,
        lines,
    ):
        users = [line.split()[1] for line in lines if line.startswith("  user ")]
        assert users == ["ana@example.com", "bo@example.com"]

        async def login() -> int:
            async with FeathersSocketClient(url) as client:
                await client.authenticate("ana@example.com", "pw-ana")
                page = await client.call("find", "traders", {})
                return int(page["total"])

        assert asyncio.run(login()) >= 5  # each user gets a seeded portfolio


def test_live_activity_streams_schema_valid_events() -> None:
    args = ["--ticker-interval", "0.05", "--trade-interval", "0.1", "--signal-interval", "0.1"]
    args += ["--message-interval", "0.1", "--event-interval", "0.1"]
    with serving(*args) as (_proc, url, _lines):

        async def watch() -> dict[str, list[object]]:
            async with FeathersSocketClient(url) as client:
                await client.authenticate("user@example.com", "your-password")
                await client.wait_for("exchanges/ticker patched", count=3, timeout=10)
                await client.wait_for("events created", count=1, timeout=10)
                await client.wait_for("trades created", count=1, timeout=15)
                await client.wait_for("traders/pods/events created", count=1, timeout=5)  # the fill's pod event
                return dict(client.events)

        events = asyncio.run(watch())
    contract = default_contract()
    checked = 0
    for name, payloads in events.items():
        for payload in payloads:
            assert contract.validate_event(name, payload) == [], (name, payload)
            checked += 1
    assert checked >= 5


def test_quiet_streams_sends_nothing_unprompted() -> None:
    with serving("--quiet-streams", "--ticker-interval", "0.05") as (_proc, url, _lines):

        async def watch() -> dict[str, list[object]]:
            async with FeathersSocketClient(url) as client:
                await client.authenticate("user@example.com", "your-password")
                await asyncio.sleep(0.5)
                return dict(client.events)

        assert asyncio.run(watch()) == {}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user", "not-an-email"], "expected EMAIL:PASSWORD"),
        (["--token-lifetime", "soon"], "positive duration"),
        (["--token-lifetime", "forever"], "Invalid value for '--token-lifetime': expected a positive duration"),
        (["--port", "70000"], "70000"),
        (["--ticker-interval", "-1"], "-1"),
        (["--allowed-host", "http://evil/"], "allowed host must be a host name"),
        (["--user", "a@b.c:pw", "--user", "a@b.c:other"], "two users with the same e-mail: 'a@b.c' and 'a@b.c'"),
        (["--user", "a@b.c:pw", "--user", "A@B.c:other"], "'a@b.c' and 'A@B.c' (case does not matter)"),
        (["--host", "999.1.1.1"], "Invalid value for '--host': cannot listen on '999.1.1.1'"),
        (["--ping-interval", "0"], "Invalid value for '--ping-interval'"),
        (["--ping-interval", "1.5"], "Invalid value for '--ping-interval'"),
        (["--ping-timeout", "0"], "Invalid value for '--ping-timeout'"),
        (["--speed", "0"], "Invalid value for '--speed'"),
        (["--clock", "sundial"], "Invalid value for '--clock'"),
        (["--clock", "manual", "--speed", "5"], "--speed needs a running clock"),
        (["--clock", "real", "--speed", "5"], "--speed runs a scaled clock"),
    ],
)
def test_bad_options_exit_2_with_a_message(args: list[str], message: str) -> None:
    done = subprocess.run([*SERVE, *args], cwd=ROOT, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_port_in_use_exits_1_with_a_message() -> None:
    with serving("--quiet-streams") as (_proc, url, _lines):
        port = url.rsplit(":", 1)[1]
        done = subprocess.run(
            [*SERVE[:-1], port, "--quiet-streams"], cwd=ROOT, capture_output=True, text=True, timeout=30, check=False
        )
        assert done.returncode == 1
        assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
        assert "Traceback" not in done.stderr


def test_optional_behaviour_flags_reach_the_server() -> None:
    flags = ["--quiet-streams", "--exchange-connect-fails", "--full-removed-strategy", "--deny-logged-out-tokens"]
    with serving(*flags) as (_proc, url, _lines):

        async def scenario() -> None:
            async with FeathersSocketClient(url) as client:
                auth = await client.authenticate("user@example.com", "your-password")
                exchange = await client.call("create", "exchanges", {}, {})
                await client.call("patch", "exchanges", exchange["_id"], {"which": "binance"}, {})
                with pytest.raises(FeathersError) as failed:
                    await client.call("patch", "exchanges", exchange["_id"], {"apiKey": "k", "secret": "s"}, {})
                assert failed.value.code == 502

                strategy = await client.call("create", "strategies", {"name": "gone soon"}, {})
                await client.call("remove", "strategies", strategy["_id"], {})
                removed = await client.wait_for("strategies removed")
                assert removed[0]["name"] == "gone soon"  # the whole record, not just {_id}

                await client.call("remove", "authentication", None, {})
                with pytest.raises(FeathersError) as denied:
                    await client.call(
                        "create", "authentication", {"strategy": "jwt", "accessToken": auth["accessToken"]}, {}
                    )
                assert denied.value.code == 401

        asyncio.run(scenario())


def test_help_lists_the_host_and_compression_options() -> None:
    done = subprocess.run([*SERVE, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=30, check=True)
    assert "--allowed-host NAME" in done.stdout
    assert "--ws-compression" in done.stdout


async def _host_status(url: str, host: str) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{url}/socket.io/?EIO=4&transport=polling", headers={"Host": host}) as response,
    ):
        return response.status


async def _offers_deflate(url: str) -> bool:
    """Whether the server accepts a browser's permessage-deflate offer in its websocket handshake."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(
        f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n".encode()
    )
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
    writer.close()
    assert head.startswith("http/1.1 101"), head
    return "sec-websocket-extensions: permessage-deflate" in head


@pytest.mark.parametrize("flags", [[], ["--allowed-host", "myapp.test", "--ws-compression"]])
def test_allowed_host_and_ws_compression_reach_the_server(flags: list[str]) -> None:
    with serving("--quiet-streams", *flags) as (_proc, url, _lines):
        port = urlsplit(url).port

        async def scenario() -> tuple[int, int, int, bool]:
            return (
                await _host_status(url, f"localhost:{port}"),
                await _host_status(url, f"myapp.test:{port}"),
                await _host_status(url, "rebind.attacker.example"),
                await _offers_deflate(url),
            )

        local, named, foreign, deflate = asyncio.run(scenario())
        assert (local, foreign) == (200, 403)
        assert named == (200 if flags else 403)
        assert deflate is bool(flags)


def test_banner_shows_each_api_key_with_its_scopes() -> None:
    with serving("--quiet-streams") as (_proc, url, lines):
        first = lines.index("  user user@example.com  password your-password")
        keys = []
        for line in lines[first + 1 :]:
            if not line.startswith("    api key "):
                break  # the next user
            keys.append(line.split())
        assert keys, lines
        by_scopes = {tuple(words[4:]): words[2] for words in keys if words[3] == "scopes"}
        assert len(by_scopes) == len(keys)
        # The banner tells which key may read /restricted/trades (read:portfolio) and which gets 403.
        allowed = next(key for scopes, key in by_scopes.items() if "read:portfolio" in scopes)
        refused = next(key for scopes, key in by_scopes.items() if "read:portfolio" not in scopes)

        async def statuses() -> tuple[int, int]:
            async with aiohttp.ClientSession() as session:
                codes = []
                for key in (allowed, refused):
                    async with session.get(
                        f"{url}/restricted/trades", headers={"Authorization": f"ApiKey {key}"}
                    ) as response:
                        codes.append(response.status)
                return codes[0], codes[1]

        assert asyncio.run(statuses()) == (200, 403)


def test_ping_options_reach_the_socket_handshake() -> None:
    with serving("--quiet-streams", "--ping-interval", "2", "--ping-timeout", "0.75") as (_proc, url, _lines):

        async def opening() -> str:
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"{url}/socket.io/?EIO=4&transport=polling") as r,
            ):
                return await r.text()

        text = asyncio.run(opening())
        assert '"pingInterval":2000' in text
        assert '"pingTimeout":750' in text


def test_speed_runs_a_scaled_clock_that_the_banner_shows() -> None:
    with serving("--quiet-streams", "--speed", "7200", "--token-lifetime", "2h") as (_proc, url, lines):
        assert any(line.startswith("  clock scaled, speed 7200, now ") for line in lines), lines

        async def expired_after_a_few_seconds() -> int:
            async with FeathersSocketClient(url) as client:
                auth = await client.authenticate("user@example.com", "your-password")
            await asyncio.sleep(1.25)  # 1.25 real seconds = 2.5 mock hours: past the 2 h lifetime
            async with aiohttp.ClientSession() as session:
                headers = {"Authorization": f"Bearer {auth['accessToken']}"}
                async with session.get(f"{url}/traders", headers=headers) as response:
                    return response.status

        assert asyncio.run(expired_after_a_few_seconds()) == 401


def test_manual_clock_stands_still() -> None:
    with serving("--quiet-streams", "--clock", "manual") as (_proc, _url, lines):
        assert "  clock manual, speed 0, now 2024-01-15T10:00:00.000Z" in lines


def test_verbose_prints_each_call_with_its_answer_connections_and_faults() -> None:
    """The journal's console face: what a developer watching the terminal beside their app sees."""
    with serving("--quiet-streams", "--verbose") as (proc, url, _lines):

        async def traffic() -> None:
            async with aiohttp.ClientSession() as session:
                fault = {"match": {"service": "strategies", "method": "create"}, "action": "delay-ack", "seconds": 0.01}
                async with session.post(f"{url}/_mock/faults", json=fault) as response:
                    assert response.status == 201
            async with FeathersSocketClient(url) as client:
                await client.authenticate("user@example.com", "your-password")
                await client.call("find", "traders", {})
                await client.call("create", "strategies", {"name": "From the console test"})
                with pytest.raises(FeathersError):
                    await client.call("get", "traders", "nope")

        asyncio.run(traffic())
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
    lines = out.splitlines()
    assert any((" + " in line and " websocket " in line) or " polling " in line for line in lines), out
    assert any("user@example.com  find traders -> ok" in line for line in lines), out
    assert any("user@example.com  get traders -> NotFound 404" in line for line in lines), out
    assert any("! fault delay-ack 0.01s on create strategies for user@example.com" in line for line in lines), out
    assert any(" - " in line and "user@example.com" in line for line in lines), out
    assert not any("traders patched" in line for line in lines)  # events only at -vv
