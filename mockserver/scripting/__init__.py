"""Scripting the bad day: one clock and scheduler for every timed thing in the mock, tapes (record and replay)
and scenarios (timed steps from Python or a YAML file).

This layer sits between the data layer and the server: the server's transports call into it, it never imports
the server, socketio or aiohttp.
"""

from mockserver.scripting._clock import MANUAL_EPOCH, Clock, ClockMode, Timer
from mockserver.scripting._scenario import Scenario, ScenarioError, ScenarioProblem, load_scenario
from mockserver.scripting._tape import Frame, Tape, TapeError, TapeHeader, TapeWriter, read_tape

__all__ = [
    "MANUAL_EPOCH",
    "Clock",
    "ClockMode",
    "Frame",
    "Scenario",
    "ScenarioError",
    "ScenarioProblem",
    "Tape",
    "TapeError",
    "TapeHeader",
    "TapeWriter",
    "Timer",
    "load_scenario",
    "read_tape",
]
