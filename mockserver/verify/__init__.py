"""Contract checks against a live server, for CI: `verify(VerifyOptions(url=..., email=..., password=...))`.

The client side of the contract: it talks to a server as the Feathers client does (python-socketio and aiohttp,
never the mock's own code), validates every answer and event against `mockserver.contract`, and returns a
`Report` that renders as text (`render_text`) and as JUnit XML (`render_junit`). `cryptorobot-mock verify` is
its command line.
"""

from __future__ import annotations

from mockserver.verify._live import SCRATCH_RECORDS, CannotVerify, VerifyOptions, verify
from mockserver.verify._report import Check, Drift, Report, render_junit, render_text

__all__ = [
    "SCRATCH_RECORDS",
    "CannotVerify",
    "Check",
    "Drift",
    "Report",
    "VerifyOptions",
    "render_junit",
    "render_text",
    "verify",
]
