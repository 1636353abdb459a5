"""Findings: one per check and target, judged against the gate and the waivers.

Outcomes (REQUIREMENTS.md 3b): passed, fixed (by remediation, verified), failed, warning (an
advisory verdict that only some checks give), skipped (the check does not apply) and error (it
could not run: facts missing or unread). A failure ``blocks`` when its severity is at or above
the gate and no valid waiver covers it; below the gate or waived it stays a failure that does
not block.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from lmready.catalogue import CheckFailure, CheckMeta, CheckWarning, Severity
from lmready.inventory import Waiver
from lmready.text import printable_data
from lmready.values import Outcome, Target

OUTCOMES = tuple(Outcome)


@dataclass(slots=True)
class Finding:
    check: CheckMeta
    target: Target
    outcome: Outcome
    severity: Severity
    message: str = ""
    observed: str = ""
    expected: str = ""
    fix: str = ""
    waiver: Waiver | None = None
    blocking: bool = False  # a failure at or above the gate, not waived: the pair is not ready
    cause: str = ""  # for errors: the sentence that says why, shared by every check it stopped
    nodeid: str = ""
    duration: float = 0.0
    remediation: str = ""  # with --remediate: fixed, fix planned, fix failed, not fixable
    drift: str = ""  # with --baseline: new, fixed, still failing, unchanged (lmready.drift)
    # For errors that are a check's bug: the exception, for the traceback pytest shows.
    error: BaseException | None = None
    wanted: Any = None  # for failures: the check's expectation as data (CheckFailure.wanted), for its planner

    @property
    def hosts(self) -> tuple[str, ...]:
        return Target.parse(self.target).hosts

    def as_record(self) -> dict[str, Any]:
        record = {
            "check_id": self.check.id,
            "ref": self.check.ref,
            "title": self.check.title,
            "target": self.target,
            "outcome": self.outcome,
            "blocking": self.blocking,
            "severity": str(self.severity),
            "message": self.message,
        }
        if self.observed or self.expected:
            record |= {"observed": self.observed, "expected": self.expected, "fix": self.fix}
        record["fix_name"] = self.check.fix
        if self.remediation:
            record["remediation"] = self.remediation
        if self.drift:
            record["drift"] = self.drift
        if self.waiver is not None:
            record["waiver"] = {
                "justification": self.waiver.justification,
                "expires": self.waiver.expires.isoformat() if self.waiver.expires else None,
                "where": self.waiver.where,
            }
        return record


def matching_waiver(waivers: tuple[Waiver, ...], check_id: str, target: str, today: date) -> Waiver | None:
    """The first waiver for this check and target; an unexpired one wins over an expired one."""
    hits = [w for w in waivers if w.check == check_id and fnmatch.fnmatchcase(target, w.target)]
    hits.sort(key=lambda w: w.is_expired(today))
    return hits[0] if hits else None


def judge_failure(
    check: CheckMeta,
    target: str,
    failure: CheckFailure,
    gate: Severity,
    waivers: tuple[Waiver, ...],
    today: date,
) -> Finding:
    severity = failure.severity or check.severity
    message = f"{target}: {failure}"
    finding = Finding(
        check, target, Outcome.FAILED, severity, message, failure.observed, failure.expected, failure.fix
    )
    finding.wanted = failure.wanted
    if isinstance(failure, CheckWarning):
        finding.outcome = Outcome.WARNING  # advisory: never blocks, and nothing to waive
        return finding
    waiver = matching_waiver(waivers, check.id, target, today)
    if waiver is not None and not waiver.is_expired(today):
        finding.waiver = waiver
        finding.message = f"{message} [waived: {waiver.justification}]"
        return finding
    if waiver is not None:
        finding.message = (
            f"{message} [the waiver at {waiver.where} expired on {waiver.expires}; it no longer applies]"
        )
    finding.blocking = severity >= gate
    return finding


# How results are counted for people: failures split by whether they block.
COUNT_LABELS = (
    "passed",
    "fixed",
    "failed",
    "failed below the gate",
    "waived",
    "warning",
    "not applicable",
    "error",
)


def count_label(f: Finding) -> str:
    if f.outcome == "failed":
        if f.waiver is not None:
            return "waived"
        return "failed" if f.blocking else "failed below the gate"
    return "not applicable" if f.outcome == "skipped" else f.outcome


def counts(findings: list[Finding]) -> dict[str, int]:
    c = dict.fromkeys(COUNT_LABELS, 0)
    for f in findings:
        c[count_label(f)] += 1
    return c


def write_findings_json(path: Path, header: dict[str, Any], findings: list[Finding]) -> None:
    """The header's keys, then ``results``: one record per line, streamed (100,000 records as
    one list of dicts would cost the run hundreds of megabytes at its peak). Written beside
    the target and renamed, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        out.write(_json(header, indent=1)[:-1].rstrip() + ',\n "results": [\n')
        for i, finding in enumerate(findings):
            out.write(("," if i else "") + _json(finding.as_record()) + "\n")
        out.write("]}\n")
    tmp.replace(path)


def _json(data: dict[str, Any], indent: int | None = None) -> str:
    """ASCII JSON without lone surrogates (``"\\udc80"`` is an escape strict parsers reject).

    Facts and inventory text are already printable; this keeps anything else (a path given on
    the command line in a foreign encoding, say) from making the file unreadable. Only lines
    that hold a surrogate escape at all are looked at twice."""
    text = json.dumps(data, indent=indent)
    return json.dumps(printable_data(data), indent=indent) if "\\ud" in text else text
