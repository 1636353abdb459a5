"""Remediation inside an audit run (`--remediate plan|apply`).

It runs between collecting the facts and reporting the checks: every selected check is judged
once on the collected facts, the failures with a fix are planned, and with ``apply`` made,
journaled and verified; the facts are then collected again so that every report judges the
estate as it now is, and each finding carries what remediation did for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmready.catalogue import CheckMeta
from lmready.engine import Judging, evaluate
from lmready.estate import Estate
from lmready.findings import Finding
from lmready.remediation.apply import apply_plan, purge_advice
from lmready.remediation.change import ChangeResult
from lmready.remediation.journal import Journal
from lmready.remediation.plan import Plan, make_plan
from lmready.remediation.verify import FIXED, Verification, verify
from lmready.values import Outcome

PLANNED, NOT_FIXABLE = "fix planned", "not fixable"


@dataclass
class Remediation:
    mode: str  # "plan" or "apply"
    plan: Plan
    outcomes: list[ChangeResult] = field(default_factory=list)
    verifications: list[Verification] = field(default_factory=list)
    journal: Path | None = None
    advice: str | None = None
    # (check id, target) -> (status, what was done or why not)
    status: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)

    def annotate(self, finding: Finding) -> None:
        """Say on the finding what remediation did for it."""
        status = self.status.get((finding.check.id, finding.target))
        if status is None:
            return
        what, detail = status
        if what == FIXED and finding.outcome == Outcome.PASSED:
            finding.outcome, finding.remediation = Outcome.FIXED, FIXED
            finding.message = f"{finding.target}: fixed: {detail}"
        elif finding.outcome in (Outcome.FAILED, Outcome.WARNING):
            finding.remediation = what
            finding.message = f"{finding.message} [{what}: {detail}]"

    def as_record(self) -> dict[str, Any]:
        """The plan and what became of it, for findings.json: each change with the results it
        fixes and, after apply, its outcome; the failures with no automatic fix and why; and
        the verification of each result a change was meant to fix."""
        serves: dict[int, list[dict[str, str]]] = {}
        for finding, changes in self.plan.covered:
            for change in changes:
                serves.setdefault(id(change), []).append(
                    {"check_id": finding.check.id, "target": finding.target}
                )
        outcomes = self.outcomes or [None] * len(self.plan.changes)
        return {
            "mode": self.mode,
            "changes": [
                {
                    "check_id": change.check_id,
                    "fix": change.fix,
                    "target": change.target,
                    "kind": change.kind,
                    "setting": change.setting,
                    "before": change.before,
                    "after": change.after,
                    "command": change.command,
                    "account_dn": change.account_dn,
                    "for": serves.get(id(change), []),
                    # plan: "planned"; apply: applied, failed, refused, skipped or unknown
                    "status": outcome.status if outcome else "planned",
                    "reason": outcome.reason if outcome else "",
                }
                for change, outcome in zip(self.plan.changes, outcomes, strict=True)
            ],
            "not_fixable": [
                {"check_id": f.check.id, "target": f.target, "reason": why} for f, why in self.plan.refused
            ],
            "verified": [
                {
                    "check_id": v.finding.check.id,
                    "target": v.finding.target,
                    "status": v.status,
                    "reason": v.reason,
                }
                for v in self.verifications
            ],
            "journal": str(self.journal) if self.journal else None,
            "advice": self.advice,
        }

    def lines(self) -> list[str]:
        """The plan and what became of it, for the terminal and the report."""
        out = [f"remediation ({self.mode}): {len(self.plan.changes)} changes"]
        outcomes = self.outcomes or [None] * len(self.plan.changes)  # apply_plan keeps plan order
        for change, outcome in zip(self.plan.changes, outcomes, strict=True):
            suffix = (
                f" [{outcome.status}{': ' + outcome.reason if outcome.reason else ''}]" if outcome else ""
            )
            out.append(f"  {change}{suffix}")
        out += [f"  not fixable: {f.check.id} {f.target}: {why}" for f, why in self.plan.refused]
        if self.journal is not None:
            out.append(f"  journal: {self.journal}")
        if self.advice:
            out.append(f"  {self.advice}")
        return out


def failing_findings(
    targets: Iterable[tuple[CheckMeta, str]], estate: Estate, judging: Judging
) -> list[Finding]:
    """Every check judged once on the collected facts: the failures and warnings (a waived
    failure is the admin's decision and is left alone; a check that cannot run has no fix)."""
    findings = (evaluate(meta, target, estate, judging) for meta, target in targets)
    return [f for f in findings if f.outcome in (Outcome.FAILED, Outcome.WARNING) and f.waiver is None]


def remediate(
    mode: str,
    findings: list[Finding],
    estate: Estate,
    journal_dir: Path,
    operator: str,
    collect: Callable[..., Estate] | None = None,
) -> Remediation:
    plan = make_plan(findings, estate)
    run = Remediation(mode, plan)
    for finding, why in plan.refused:
        run.status[(finding.check.id, finding.target)] = (NOT_FIXABLE, why)
    if mode == "plan" or not plan.changes:
        for finding, changes in plan.covered:
            run.status[(finding.check.id, finding.target)] = (PLANNED, "; ".join(c.command for c in changes))
        return run
    journal = Journal.create(journal_dir, operator=operator)
    try:
        run.outcomes = apply_plan(plan, estate, journal)
        run.verifications = verify(
            plan, run.outcomes, estate, journal, **({"collect": collect} if collect else {})
        )
    finally:
        journal.close()
    run.journal = journal.path
    run.advice = purge_advice(plan, run.outcomes)
    commands = {id(f): "; ".join(c.command for c in changes) for f, changes in plan.covered}
    for v in run.verifications:
        detail = commands.get(id(v.finding), "") if v.status == FIXED else v.reason
        run.status[(v.finding.check.id, v.finding.target)] = (v.status, detail)
    return run
