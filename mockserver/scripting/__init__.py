"""Scripting the bad day: one clock and scheduler for every timed thing in the mock, the journal of what happened
on the wire, faults, call handlers, tapes (record and replay) and scenarios (timed steps from Python or YAML).

This layer sits between the data layer and the server: the server's transports call into it, it never imports
the server, socketio or aiohttp. Scenarios and tapes load on first use (`serve` starts without them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mockserver._lazy import lazy_names
from mockserver.scripting._clock import MANUAL_EPOCH, Clock, ClockMode, Timer
from mockserver.scripting._console import console_line
from mockserver.scripting._expectations import Expectation, Expectations, parse_expectation
from mockserver.scripting._faults import ACTIONS, Applied, Fault, Faults, Target, error_from_json, parse_fault
from mockserver.scripting._journal import KINDS, Journal, JournalAssertionError, redact

if TYPE_CHECKING:
    from mockserver.scripting._scenario import Scenario, ScenarioError, ScenarioProblem, load_scenario
    from mockserver.scripting._tape import Frame, Tape, TapeError, TapeHeader, TapeWriter, read_tape

_LAZY = {
    **dict.fromkeys(
        ("Scenario", "ScenarioError", "ScenarioProblem", "load_scenario"), "mockserver.scripting._scenario"
    ),
    **dict.fromkeys(
        ("Frame", "Tape", "TapeError", "TapeHeader", "TapeWriter", "read_tape"), "mockserver.scripting._tape"
    ),
}


__getattr__ = lazy_names(__name__, _LAZY)


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
    "Frame",
    "Journal",
    "JournalAssertionError",
    "Scenario",
    "ScenarioError",
    "ScenarioProblem",
    "Tape",
    "TapeError",
    "TapeHeader",
    "TapeWriter",
    "Target",
    "Timer",
    "console_line",
    "error_from_json",
    "load_scenario",
    "parse_expectation",
    "parse_fault",
    "read_tape",
    "redact",
]
