"""Tapes: what a server sent, as JSON Lines, to play back later as if it were live.

A tape is a header line (format, version, seed, schema version, clock start, what was redacted, whose events) and
then one line per frame: `{"t": seconds since the start, "event": "traders patched", "payload": {...}}`. The
writer flushes every line, so a recorder killed mid-write leaves a tape that reads back up to its last whole line;
the reader skips a cut last line with a warning.

Nothing here knows a socket: the mock's recorder, the live recorder and the replayer (in the server layer) use
these pieces.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import IO, Any, Final

from mockserver.contract import Contract

__all__ = [
    "REDACTED_FIELDS",
    "TAPE_FORMAT",
    "TAPE_VERSION",
    "Frame",
    "Tape",
    "TapeError",
    "TapeHeader",
    "TapeWriter",
    "created_ids",
    "read_tape",
    "reanchor",
    "redact",
    "replace_ids",
    "schema_version",
]

log = logging.getLogger("mockserver.tape")

TAPE_FORMAT: Final = "cryptorobot-mock-tape"
TAPE_VERSION: Final = 1

REDACTED_FIELDS: Final = frozenset(
    {
        "password",
        "accessToken",
        "refreshToken",
        "token",
        "jwt_secret_key",
        "apiKey",
        "apiSecret",
        "secret",
        "privateKey",
        "key",  # an API key's secret (`keys created`)
    }
)
"""Field names whose string values never reach a tape (booleans such as `requiredCredentials.secret` stay)."""

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$")


class TapeError(ValueError):
    """A tape that cannot be read; the message names the file and line."""


def redact(value: Any) -> Any:
    """A copy of `value` with every secret string replaced (keys keep their `cr_live_` prefix, so they still look
    like keys and pass the schema)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for name, item in value.items():
            if name in REDACTED_FIELDS and isinstance(item, str):
                out[name] = "cr_live_REDACTED" if item.startswith("cr_live_") else "REDACTED"
            else:
                out[name] = redact(item)
        return out
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def schema_version(contract: Contract) -> str:
    """A short digest of every schema the contract checks with: two tapes with the same value were recorded
    against the same API."""
    digest = hashlib.sha256()
    for service in (*contract.services(), "error"):
        for kind in contract.kinds(service):
            digest.update(f"{service}\0{kind}\0".encode())
            digest.update(json.dumps(contract.schema(service, kind), sort_keys=True).encode())
    return "sha256:" + digest.hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class TapeHeader:
    """The first line of a tape."""

    clock_start: str  # ISO time of t=0 on the recording server's clock
    source: str  # "mock" or the URL recorded from
    seed: int | None = None
    schema_version: str | None = None
    users: Mapping[str, str] = field(default_factory=dict)  # recorded user id -> email, to map on replay
    redacted: tuple[str, ...] = tuple(sorted(REDACTED_FIELDS))
    version: int = TAPE_VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "format": TAPE_FORMAT,
            "version": self.version,
            "seed": self.seed,
            "schemaVersion": self.schema_version,
            "clockStart": self.clock_start,
            "source": self.source,
            "users": dict(self.users),
            "redacted": list(self.redacted),
        }

    @property
    def start_time(self) -> float:
        """`clock_start` as POSIX seconds."""
        return _parse_iso(self.clock_start).timestamp()

    @classmethod
    def from_json(cls, obj: Any) -> TapeHeader:
        if not isinstance(obj, dict) or obj.get("format") != TAPE_FORMAT:
            raise ValueError(f'not a tape header (expected "format": "{TAPE_FORMAT}")')
        version = obj.get("version")
        if version != TAPE_VERSION:
            raise ValueError(f"tape format version {version!r} is not supported (this mock reads {TAPE_VERSION})")
        start = obj.get("clockStart")
        if not isinstance(start, str) or not _ISO.match(start):
            raise ValueError(f"clockStart must be an ISO-8601 UTC time, got {start!r}")
        users = obj.get("users") or {}
        if not isinstance(users, dict) or not all(isinstance(v, str) for v in users.values()):
            raise ValueError("users must map user ids to emails")
        seed = obj.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise ValueError(f"seed must be an int or null, got {seed!r}")
        return cls(
            clock_start=start,
            source=str(obj.get("source", "")),
            seed=seed,
            schema_version=obj.get("schemaVersion"),
            users={str(k): v for k, v in users.items()},
            redacted=tuple(str(name) for name in obj.get("redacted") or ()),
            version=version,
        )


@dataclass(frozen=True, slots=True)
class Frame:
    """One event the server sent, `t` seconds after the tape's start."""

    t: float
    event: str
    payload: Any

    def to_json(self) -> dict[str, Any]:
        return {"t": round(self.t, 6), "event": self.event, "payload": self.payload}

    @classmethod
    def from_json(cls, obj: Any) -> Frame:
        if not isinstance(obj, dict):
            raise ValueError("a frame must be a JSON object")
        t, event = obj.get("t"), obj.get("event")
        if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t) or t < 0:
            raise ValueError(f"frame time t must be a number of seconds >= 0, got {t!r}")
        if not isinstance(event, str) or " " not in event:
            raise ValueError(f'frame event must be "<service path> <event>", got {event!r}')
        if "payload" not in obj:
            raise ValueError("frame has no payload")
        return cls(t=float(t), event=event, payload=obj["payload"])


class TapeWriter:
    """Writes a tape line by line, each flushed at once (a SIGKILL loses at most the line being written)."""

    def __init__(self, path: str | os.PathLike[str], header: TapeHeader) -> None:
        self.path = os.fspath(path)
        self.header = header
        self.frames = 0
        self._stream: IO[str] | None = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 (closed by close())
        self._line(header.to_json())

    def _line(self, obj: Mapping[str, Any]) -> None:
        if self._stream is None:
            raise ValueError(f"the tape {self.path} is closed")
        self._stream.write(json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n")
        self._stream.flush()

    def write(self, t: float, event: str, payload: Any) -> None:
        """Append one frame; the payload is redacted on the way."""
        self._line(Frame(t=max(t, 0.0), event=event, payload=redact(payload)).to_json())
        self.frames += 1

    @property
    def closed(self) -> bool:
        return self._stream is None

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None


@dataclass(frozen=True, slots=True)
class Tape:
    """A tape read back: its header, its frames in order, and what was wrong but could be skipped."""

    header: TapeHeader
    frames: tuple[Frame, ...]
    warnings: tuple[str, ...] = ()

    @property
    def duration(self) -> float:
        return self.frames[-1].t if self.frames else 0.0


def read_tape(path: str | os.PathLike[str]) -> Tape:
    """Read a tape; a cut last line (a recorder killed mid-write) is skipped with a warning, anything else that is
    not a valid line raises TapeError naming the file and line."""
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as stream:
            text = stream.read()
    except OSError as exc:
        raise TapeError(f"cannot read {name}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise TapeError(f"cannot read {name}: not UTF-8 text") from None
    lines = text.split("\n")
    cut_last = not text.endswith("\n")  # a whole tape ends with a newline: the writer adds one to every line
    numbered = [(number, line) for number, line in enumerate(lines, start=1) if line.strip()]
    if not numbered:
        raise TapeError(f"{name}: empty file, expected a tape header on line 1")
    warnings: list[str] = []
    header: TapeHeader | None = None
    frames: list[Frame] = []
    last_number = numbered[-1][0]
    for number, line in numbered:
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            if cut_last and number == last_number and header is not None:
                message = f"{name}:{number}: the last line is cut short (recording interrupted?); skipped it"
                log.warning("%s", message)
                warnings.append(message)
                break
            raise TapeError(f"{name}:{number}: not JSON: {exc.msg}") from None
        try:
            if header is None:
                header = TapeHeader.from_json(obj)
            else:
                frames.append(Frame.from_json(obj))
        except ValueError as exc:
            raise TapeError(f"{name}:{number}: {exc}") from None
    if header is None:
        raise TapeError(f"{name}:1: the header line is cut short")
    return Tape(header=header, frames=tuple(frames), warnings=tuple(warnings))


def _parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def reanchor(value: Any, shift: float) -> Any:
    """A copy of `value` with every ISO timestamp (and every `timestamp` in epoch milliseconds, as tickers carry)
    moved by `shift` seconds: recorded times become times near now."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for name, item in value.items():
            if name == "timestamp" and isinstance(item, int) and not isinstance(item, bool):
                out[name] = item + round(shift * 1000)
            else:
                out[name] = reanchor(item, shift)
        return out
    if isinstance(value, list):
        return [reanchor(item, shift) for item in value]
    if isinstance(value, str) and _ISO.match(value):
        return _iso(_parse_iso(value) + timedelta(seconds=shift))
    return value


def replace_ids(value: Any, mapping: Mapping[str, str]) -> Any:
    """A copy of `value` with every string equal to a key of `mapping` replaced by its value (record ids and
    their references alike)."""
    if not mapping:
        return value
    if isinstance(value, dict):
        return {name: replace_ids(item, mapping) for name, item in value.items()}
    if isinstance(value, list):
        return [replace_ids(item, mapping) for item in value]
    if isinstance(value, str):
        return mapping.get(value, value)
    return value


def created_ids(frames: Iterable[Frame]) -> list[str]:
    """The `_id`s of the records the tape's `created` events bring into being (what `--loop` renews)."""
    ids: list[str] = []
    for frame in frames:
        if frame.event.endswith(" created") and isinstance(frame.payload, dict):
            record_id = frame.payload.get("_id")
            if isinstance(record_id, str) and record_id not in ids:
                ids.append(record_id)
    return ids
