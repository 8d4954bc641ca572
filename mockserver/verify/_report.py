"""What `verify` found: checks grouped by service or event, each with its drifts, as text and as JUnit XML.

A CI job reads the JUnit file (one testsuite per group, one testcase per check); a person reads the text. Both
come from the same `Report`, so they cannot disagree.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field

from mockserver.contract import RuledProblem

__all__ = ["Check", "Drift", "Report", "drifts_from_problems", "render_junit", "render_text"]

# The kinds of drift the issue names, from the schema rule that failed.
_KIND_BY_RULE = {
    "required": "missing required field",
    "dependentRequired": "missing required field",
    "additionalProperties": "unknown field",
    "unevaluatedProperties": "unknown field",
    "type": "type drift",
    "enum": "enum drift",
    "const": "enum drift",
}


@dataclass(frozen=True, slots=True)
class Drift:
    """One way the server's answer differs from the contract."""

    kind: str
    """missing required field, unknown field, type drift, enum drift, invalid value, unknown event, missing event,
    wrong shape, wrong status, error shape, call failed, cleanup failed."""
    message: str
    path: str = ""

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.kind}: {where}{self.message}"


@dataclass(slots=True)
class Check:
    """One thing verified (`socket find`, `event payloads`, ...) in one group (a service path or an event name)."""

    group: str
    name: str
    drifts: list[Drift] = field(default_factory=list)
    skipped: str | None = None
    """Why the check did not run (the user may not read the service, no record to get); not a failure."""
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.drifts


@dataclass(slots=True)
class Report:
    url: str
    checks: list[Check] = field(default_factory=list)

    def add(self, group: str, name: str, drifts: Iterable[Drift] = (), *, skipped: str | None = None) -> Check:
        check = Check(group, name, list(drifts), skipped)
        self.checks.append(check)
        return check

    @property
    def drifts(self) -> list[tuple[Check, Drift]]:
        return [(check, drift) for check in self.checks for drift in check.drifts]

    @property
    def clean(self) -> bool:
        return not self.drifts

    def groups(self) -> dict[str, list[Check]]:
        """Checks by group, in the order the groups were first checked."""
        grouped: dict[str, list[Check]] = {}
        for check in self.checks:
            grouped.setdefault(check.group, []).append(check)
        return grouped

    def summary(self) -> str:
        """The one-line verdict the CLI prints last."""
        ran = sum(1 for check in self.checks if check.skipped is None)
        if self.clean:
            return f"clean: {ran} check{'' if ran == 1 else 's'} passed against {self.url}"
        failed_groups = sorted({check.group for check, _ in self.drifts})
        return (
            f"drift: {len(self.drifts)} problems in {len(failed_groups)} of {len(self.groups())} groups "
            f"({', '.join(failed_groups)}) against {self.url}"
        )


def drifts_from_problems(problems: Iterable[RuledProblem], *, prefix: str = "") -> list[Drift]:
    """Schema problems as drifts; `prefix` is put before each path (e.g. `data.0` for a page's first record)."""
    drifts = []
    for problem in problems:
        path = ".".join(part for part in (prefix, problem["path"]) if part)
        drifts.append(Drift(_KIND_BY_RULE.get(problem["rule"], "invalid value"), problem["message"], path))
    return drifts


def render_text(report: Report) -> str:
    """A readable report: every group, its failed checks with their drifts; passed checks on one line."""
    lines = [f"verify {report.url}"]
    for group, checks in report.groups().items():
        failed = [check for check in checks if check.drifts]
        passed = [check for check in checks if check.passed and check.skipped is None]
        skipped = [check for check in checks if check.skipped is not None]
        status = "FAIL" if failed else "ok"
        lines.append(f"{status:4} {group}")
        for check in failed:
            lines.append(f"       {check.name}:")
            lines.extend(f"         - {drift}" for drift in check.drifts)
        if passed:
            lines.append(f"       passed: {', '.join(check.name for check in passed)}")
        lines.extend(f"       skipped {check.name}: {check.skipped}" for check in skipped)
    return "\n".join(lines)


def render_junit(report: Report) -> bytes:
    """JUnit XML: one testsuite per group, one testcase per check, one failure per failed check listing its drifts."""
    suites = ET.Element("testsuites", name="cryptorobot-mock verify")
    total = failures = skips = 0
    for group, checks in report.groups().items():
        failed = sum(1 for check in checks if check.drifts)
        skipped = sum(1 for check in checks if check.skipped is not None)
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=group,
            tests=str(len(checks)),
            failures=str(failed),
            errors="0",
            skipped=str(skipped),
            time=f"{sum(check.seconds for check in checks):.3f}",
        )
        for check in checks:
            case = ET.SubElement(
                suite, "testcase", classname=f"verify.{group}", name=check.name, time=f"{check.seconds:.3f}"
            )
            if check.skipped is not None:
                ET.SubElement(case, "skipped", message=check.skipped)
            elif check.drifts:
                kinds = sorted({drift.kind for drift in check.drifts})
                failure = ET.SubElement(
                    case, "failure", message=f"{len(check.drifts)} drift(s): {', '.join(kinds)}", type="drift"
                )
                failure.text = "\n".join(str(drift) for drift in check.drifts)
        total += len(checks)
        failures += failed
        skips += skipped
    suites.set("tests", str(total))
    suites.set("failures", str(failures))
    suites.set("errors", "0")
    suites.set("skipped", str(skips))
    ET.indent(suites)
    document: bytes = ET.tostring(suites, encoding="utf-8", xml_declaration=True)
    return document + b"\n"
