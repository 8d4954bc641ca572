"""`server.emit` checks every payload, also when the same one is emitted again (it remembers valid ones by value)."""

from __future__ import annotations

import copy

import pytest

from mockserver.contract import ContractViolation
from mockserver.server import ServerThread


def test_a_payload_made_invalid_after_a_valid_emit_is_still_refused(crmock: ServerThread) -> None:
    ticker = copy.deepcopy(next(iter(crmock.server.store.tables["exchanges/ticker"].values())))
    for _ in range(3):
        crmock.emit("exchanges/ticker", "patched", ticker)
    ticker["last"] = "not a number"  # the same object, now breaking the schema
    with pytest.raises(ContractViolation) as broken:
        crmock.emit("exchanges/ticker", "patched", ticker)
    assert [problem["path"] for problem in broken.value.problems] == ["last"]
    del ticker["bid"]
    ticker["last"] = 1.5
    with pytest.raises(ContractViolation, match="bid"):
        crmock.emit("exchanges/ticker", "patched", ticker)


def test_a_valid_payload_under_another_event_is_checked_against_that_event(crmock: ServerThread) -> None:
    ticker = copy.deepcopy(next(iter(crmock.server.store.tables["exchanges/ticker"].values())))
    crmock.emit("exchanges/ticker", "patched", ticker)
    with pytest.raises(ContractViolation):
        crmock.emit("traders", "patched", ticker)
