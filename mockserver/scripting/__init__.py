"""Scripting the bad day: one clock and scheduler for every timed thing in the mock, the journal of what happened
on the wire, faults, and call handlers (and, as they land, scenarios and tapes).

This layer sits between the data layer and the server: the server's transports call into it, it never imports
the server, socketio or aiohttp.
"""

from mockserver.scripting._clock import MANUAL_EPOCH, Clock, ClockMode, Timer
from mockserver.scripting._expectations import Expectation, Expectations, parse_expectation
from mockserver.scripting._faults import ACTIONS, Applied, Fault, Faults, Target, error_from_json, parse_fault
from mockserver.scripting._journal import KINDS, Journal, JournalAssertionError, redact

__all__ = [
    "ACTIONS",
    "KINDS",
    "MANUAL_EPOCH",
    "Applied",
    "Clock",
    "ClockMode",
    "Expectation",
    "Expectations",
    "Fault",
    "Faults",
    "Journal",
    "JournalAssertionError",
    "Target",
    "Timer",
    "error_from_json",
    "parse_expectation",
    "parse_fault",
    "redact",
]
