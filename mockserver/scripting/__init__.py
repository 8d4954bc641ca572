"""Scripting the bad day: one clock and scheduler for every timed thing in the mock (and, as they land, faults,
the journal, scenarios and tapes).

This layer sits between the data layer and the server: the server's transports call into it, it never imports
the server, socketio or aiohttp.
"""

from mockserver.scripting._clock import MANUAL_EPOCH, Clock, ClockMode, Timer

__all__ = ["MANUAL_EPOCH", "Clock", "ClockMode", "Timer"]
