"""The verify report: drift kinds from schema rules, and the same checks as text and as JUnit XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from mockserver.contract import default_contract
from mockserver.verify import Drift, Report, render_junit, render_text
from mockserver.verify._report import drifts_from_problems


def test_schema_problems_become_the_drift_kinds_a_report_names() -> None:
    strategy = {"_id": "x", "userId": "y", "name": "n", "configured": "no", "timeinforce": "NOW", "stopLoss": -1}
    drifts = drifts_from_problems(default_contract().violations("strategies", "object", strategy), prefix="data.0")

    assert {(d.kind, d.path) for d in drifts} == {
        ("type drift", "data.0.configured"),
        ("enum drift", "data.0.timeinforce"),
        ("unknown field", "data.0.stopLoss"),
        ("missing required field", "data.0.createdAt"),
        ("missing required field", "data.0.updatedAt"),
    }
    assert default_contract().violations("strategies", "patch", {"stoploss": 2})[0]["rule"] == "maximum"
    (range_drift,) = drifts_from_problems(default_contract().violations("strategies", "patch", {"stoploss": 2}))
    assert str(range_drift) == "invalid value: stoploss: must be <= 0"


def test_text_and_junit_show_the_same_checks() -> None:
    report = Report("http://127.0.0.1:1")
    report.add("strategies", "socket find")
    report.add("strategies", "rest find", [Drift("wrong shape", "find answered a plain array")])
    report.add("keys", "socket find", skipped="not readable by this user: 403 Forbidden: nope")
    report.add("strategies created", "arrives after create", [Drift("missing event", "not received", "")])

    text = render_text(report)
    assert "FAIL strategies\n       rest find:\n         - wrong shape: find answered a plain array" in text
    assert "passed: socket find" in text
    assert "ok   keys\n       skipped socket find: not readable by this user: 403 Forbidden: nope" in text
    assert report.summary() == (
        "drift: 2 problems in 2 of 3 groups (strategies, strategies created) against http://127.0.0.1:1"
    )

    root = ET.fromstring(render_junit(report))
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("4", "2", "1")
    suites = {suite.get("name"): suite for suite in root.iter("testsuite")}
    assert list(suites) == ["strategies", "keys", "strategies created"]
    failure = suites["strategies"].find("testcase[@name='rest find']/failure")
    assert failure is not None
    assert failure.text == "wrong shape: find answered a plain array"
    assert suites["keys"].find("testcase/skipped") is not None


def test_a_clean_report_says_so() -> None:
    report = Report("http://127.0.0.1:1")
    report.add("traders", "socket find")
    report.add("keys", "socket find", skipped="no")

    assert report.clean
    assert report.summary() == "clean: 1 check passed against http://127.0.0.1:1"
    assert ET.fromstring(render_junit(report)).get("failures") == "0"
