"""The servers of a test session and what happens to them around each test (reset, marker, violation check).

Imported by the plugin's fixtures only, so a test run that asks for no `cryptorobot_mock*` fixture never loads the
mock server.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from mockserver.contract import ContractViolation
from mockserver.scripting import ClockMode
from mockserver.server import MockServer, ServerThread
from pytest_plugin._handle import MockHandle

MARKER_KEYS = ("seed", "users", "scenario", "faults", "clock", "options", "expect_violations")
CLOCK_MODES = ("manual", "real", "scaled")


@dataclass
class Config:
    """How one test wants its server: the session's configuration fixtures with the marker applied."""

    seed: int
    users: Sequence[Any] | None = None
    scenario: Any = None
    options: Mapping[str, Any] = field(default_factory=dict)
    clock: ClockMode = "real"
    speed: float = 1.0
    faults: Sequence[Any] = ()
    expect_violations: bool = False

    def key(self) -> str:
        """Tests with the same key share a server (the clock and faults are set per test, so not in it)."""
        return json.dumps([self.seed, self.users, self.scenario, dict(self.options)], sort_keys=True, default=repr)

    def server(self) -> MockServer:
        return MockServer(
            seed=self.seed, users=self.users, scenario=self.scenario, clock=self.clock, speed=self.speed, **self.options
        )


def resolve(
    *,
    seed: int,
    users: Sequence[Any] | None,
    scenario: Any,
    options: Mapping[str, Any] | None,
    marker: Mapping[str, Any] | None,
) -> Config:
    """Merge the configuration fixtures and the test's `@pytest.mark.cryptorobot_mock(...)` into one Config."""
    marker = dict(marker or {})
    unknown = sorted(set(marker) - set(MARKER_KEYS))
    if unknown:
        raise TypeError(f"cryptorobot_mock marker: unknown argument(s) {unknown}; known: {', '.join(MARKER_KEYS)}")
    merged = dict(options or {})
    if "options" in marker:
        if not isinstance(marker["options"], Mapping):
            raise TypeError(
                f"cryptorobot_mock marker: options must be a dict of MockServer arguments, got {marker['options']!r}"
            )
        merged.update(marker["options"])
    clock = marker.get("clock", merged.pop("clock", "real"))
    speed = merged.pop("speed", 1.0)
    if clock not in CLOCK_MODES:
        raise ValueError(f"cryptorobot_mock marker: clock must be one of {', '.join(CLOCK_MODES)}, got {clock!r}")
    faults = marker.get("faults", ())
    if isinstance(faults, Mapping) or not isinstance(faults, Sequence):
        raise TypeError(f"cryptorobot_mock marker: faults must be a list of fault dicts, got {faults!r}")
    seed_value = marker.get("seed", seed)
    if not isinstance(seed_value, int) or isinstance(seed_value, bool):
        raise TypeError(f"cryptorobot_mock marker: seed must be an int, got {seed_value!r}")
    return Config(
        seed=seed_value,
        users=marker.get("users", users),
        scenario=marker.get("scenario", scenario),
        options=merged,
        clock=cast(ClockMode, clock),
        speed=speed,
        faults=list(faults),
        expect_violations=bool(marker.get("expect_violations", False)),
    )


class Pool:
    """The session's servers, one per distinct configuration, started on first use and stopped at the end."""

    def __init__(self) -> None:
        self.threads: dict[str, ServerThread] = {}

    def get(self, config: Config) -> ServerThread:
        key = config.key()
        thread = self.threads.get(key)
        if thread is None:
            thread = ServerThread(config.server())
            thread.start()
            self.threads[key] = thread
        return thread

    def close(self) -> None:
        threads, self.threads = list(self.threads.values()), {}
        for thread in threads:
            thread.stop()


def start(thread: ServerThread, config: Config) -> MockHandle:
    """Reset the server for a new test (one round trip to its loop) and hand out the test's handle."""
    thread.run(_reset(thread.server, config))
    return MockHandle(thread, expect_violations=config.expect_violations)


async def _reset(server: MockServer, config: Config) -> None:
    server.clock.configure(config.clock, speed=config.speed)  # `reset` below keeps this mode
    server.stop_recording()
    await server.reset()  # also forgets faults, call handlers, the journal and the clock's failures
    for spec in config.faults:
        server.faults.add(spec)


def problems_after(handle: MockHandle) -> list[BaseException]:
    """What the test leaves behind on the server: requests that broke the contract (unless expected) and
    exceptions raised by scheduled callbacks (scenario steps); taken on the server's loop."""
    return handle.thread.call(_problems, handle)


def _problems(handle: MockHandle) -> list[BaseException]:
    server = handle.server
    found: list[BaseException] = []
    journal = server.journal
    if not handle.expect_violations:
        entries = journal.entries("violation", since=handle.journal_start)
        if entries:
            found.append(violation_error(entries))
    found.extend(server.clock.failures)
    server.clock.failures.clear()
    return found


def violation_error(entries: Sequence[Mapping[str, Any]]) -> ContractViolation:
    """One ContractViolation naming every invalid request: service, method, field path and the rule broken."""
    lines = []
    for entry in entries:
        who = entry.get("email") or "an anonymous client"
        head = f"  {entry.get('service')}.{entry.get('schema') or entry.get('method')} from {who}"
        if entry.get("connection"):
            head += f" (connection {entry['connection']})"
        lines.append(head + ":")
        for problem in entry.get("problems") or []:
            lines.append(f"    {problem.get('path') or '(root)'}: {problem.get('message')}")
    first = entries[0]
    error = ContractViolation(
        service=str(first.get("service")),
        kind=str(first.get("schema") or first.get("method")),
        problems=[p for entry in entries for p in entry.get("problems") or []],
        instance=None,
    )
    count = len(entries)
    error.args = (
        f"the client sent {count} request{'s' if count != 1 else ''} the real API refuses with "
        f'BadRequest "Validation failed":\n' + "\n".join(lines) + "\n"
        "(mark the test @pytest.mark.cryptorobot_mock(expect_violations=True) if it sends them on purpose)",
    )
    error.entries = list(entries)  # type: ignore[attr-defined]
    return error
