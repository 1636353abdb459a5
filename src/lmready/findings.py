"""Findings: one per check and target, judged against the gate and the waivers.

Outcomes: passed, failed (at or above the gate severity), warning (below it), waived (a valid
waiver covers the failure), skipped (the check does not apply) and error (facts missing).
"""

from __future__ import annotations

import fnmatch
import json
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from lmready.catalogue import CheckFailure, CheckMeta, Severity
from lmready.inventory import Waiver
from lmready.text import printable_data

OUTCOMES = ("passed", "fixed", "failed", "warning", "waived", "skipped", "error")


@dataclass(slots=True)
class Finding:
    check: CheckMeta
    target: str
    outcome: str
    severity: Severity
    message: str = ""
    observed: str = ""
    expected: str = ""
    fix: str = ""
    waiver: Waiver | None = None
    nodeid: str = ""
    duration: float = 0.0
    remediation: str = ""  # with --remediate: fixed, fix planned, fix failed, not fixable

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(self.target.split("->"))

    def as_record(self) -> dict[str, Any]:
        record = {
            "check_id": self.check.id,
            "ref": self.check.ref,
            "title": self.check.title,
            "target": self.target,
            "outcome": self.outcome,
            "severity": str(self.severity),
            "message": self.message,
        }
        if self.observed or self.expected:
            record |= {"observed": self.observed, "expected": self.expected, "fix": self.fix}
        record["fix_name"] = self.check.fix
        if self.remediation:
            record["remediation"] = self.remediation
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
        check, target, "failed", severity, message, failure.observed, failure.expected, failure.fix
    )
    waiver = matching_waiver(waivers, check.id, target, today)
    if waiver is not None and not waiver.is_expired(today):
        finding.outcome = "waived"
        finding.waiver = waiver
        finding.message = f"{message} [waived: {waiver.justification}]"
        return finding
    if waiver is not None:
        finding.message = (
            f"{message} [the waiver at {waiver.where} expired on {waiver.expires}; it no longer applies]"
        )
    if severity < gate:
        finding.outcome = "warning"
    return finding


PAIR_STATES = ("ready", "not ready", "unknown")


@dataclass
class PairReadiness:
    src: str
    dst: str
    state: str
    blocking: list[Finding]


def pair_readiness(pairs: tuple[tuple[str, str], ...], findings: list[Finding]) -> list[PairReadiness]:
    """A pair is ready when neither its own checks nor either host's checks failed the gate.

    It is unknown when nothing failed but some check could not run (error)."""
    by_target: dict[str, list[Finding]] = {}
    judged: set[str] = set()
    for f in findings:
        judged.add(f.target)
        if f.outcome in ("failed", "error"):
            by_target.setdefault(f.target, []).append(f)
    out = []
    for src, dst in pairs:
        target = f"{src}->{dst}"
        bad = by_target.get(src, []) + by_target.get(dst, []) + by_target.get(target, [])
        if any(f.outcome == "failed" for f in bad):
            state = "not ready"
        elif bad or target not in judged:
            state = "unknown"  # a check could not run, or no pair check ran at all
        else:
            state = "ready"
        out.append(PairReadiness(src, dst, state, bad))
    return out


def counts(findings: list[Finding]) -> dict[str, int]:
    c = Counter(f.outcome for f in findings)
    return {o: c.get(o, 0) for o in OUTCOMES}


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
