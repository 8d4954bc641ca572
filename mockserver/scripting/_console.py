"""The journal's console face: one short line per thing that happened, for `serve --verbose`.

A frontend developer watching the terminal beside their app wants to see each call and how it was answered, who
connected and why they left, and what the scripted bad day did — not payloads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["console_line"]


def _who(entry: Mapping[str, Any]) -> str:
    if entry.get("email"):
        return str(entry["email"])
    connection = entry.get("connection")
    return f"anonymous {str(connection)[:8]}" if connection else "anonymous"


def _clock(entry: Mapping[str, Any]) -> str:
    return str(entry.get("time", ""))[11:23]  # HH:MM:SS.mmm of the mock clock


def _call(entry: Mapping[str, Any]) -> str:
    method = entry.get("method") or "?"
    service = entry.get("service") or "?"
    return f"{method} {service}"


def _outcome(entry: Mapping[str, Any]) -> str:
    error = entry.get("error")
    if isinstance(error, Mapping):
        text = f"{error.get('name', 'Error')} {error.get('code', '')} {str(error.get('message', ''))[:80]!r}"
    else:
        text = f"{entry['status']}" if "status" in entry else "ok"
    if entry.get("sent") is False:
        text += " (not sent: the fault held the answer back)"
    return f"{text} {entry.get('elapsed_ms', 0):.1f} ms"


def console_line(entry: Mapping[str, Any], *, events: bool = False) -> str | None:
    """The line for a journal entry, or None for entries the console leaves out (calls show with their answer;
    events only when `events` is asked for, since tickers alone send several a second)."""
    kind = entry.get("kind")
    stamp = _clock(entry)
    if kind == "ack":
        transport = "REST " if entry.get("transport") == "rest" else ""
        return f"{stamp}  {_who(entry)}  {transport}{_call(entry)} -> {_outcome(entry)}"
    if kind == "connect":
        auth = " (handshake token)" if entry.get("auth") else ""
        return f"{stamp}  + {entry.get('connection')} {entry.get('transport', '')} from {entry.get('address')}{auth}"
    if kind == "disconnect":
        return f"{stamp}  - {entry.get('connection')} {_who(entry)}: {entry.get('reason') or 'closed'}"
    if kind == "fault":
        what = entry.get("event") or _call(entry)
        seconds = f" {entry['seconds']:g}s" if entry.get("seconds") else ""
        return f"{stamp}  ! fault {entry.get('action')}{seconds} on {what} for {_who(entry)}"
    if kind == "violation":
        problems = "; ".join(f"{p.get('path') or '(root)'}: {p.get('message')}" for p in entry.get("problems", []))
        contract = f"{entry.get('service')} {entry.get('schema')}"
        return f"{stamp}  ! {_who(entry)} broke the contract of {contract}: {problems}"
    if kind == "event" and events:
        reached = entry.get("to") or []
        return f"{stamp}  > {entry.get('event')} to {len(reached)} connection{'s' if len(reached) != 1 else ''}"
    return None
