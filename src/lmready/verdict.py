"""How a run is judged (REQUIREMENTS.md section 3b): pairs, the run's verdict and its exit code.

A pair is ready only when every check of the catalogue that applies to it and to both its hosts
ran and none blocks. A blocking failure makes it not ready; a result that is missing (the
run did not select it: -m, -k, -x, --lf, deselection) or could not run (an error) makes it
incomplete. The run is NOT READY when anything blocks, INCOMPLETE when something was not
judged, and READY only when every pair was judged in full and is ready.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

from lmready.catalogue import CheckMeta
from lmready.findings import Finding
from lmready.values import Scope, Target


class Verdict(StrEnum):
    READY = "READY"
    NOT_READY = "NOT READY"
    INCOMPLETE = "INCOMPLETE"


class ExitCode(IntEnum):
    """Stable exit codes; 2-5 keep pytest's meanings (README, "Exit codes")."""

    READY = 0
    NOT_READY = 1
    INTERRUPTED = 2
    INTERNAL_ERROR = 3
    USAGE_ERROR = 4
    NO_CHECKS = 5
    INCOMPLETE = 6


EXIT_CODES = {
    Verdict.READY: ExitCode.READY,
    Verdict.NOT_READY: ExitCode.NOT_READY,
    Verdict.INCOMPLETE: ExitCode.INCOMPLETE,
}


class PairState(StrEnum):
    READY = "ready"
    NOT_READY = "not ready"
    INCOMPLETE = "incomplete"


@dataclass
class PairReadiness:
    src: str
    dst: str
    state: PairState
    blocking: list[Finding] = field(default_factory=list)  # failures that block the pair
    errors: list[Finding] = field(default_factory=list)  # checks that could not run
    not_selected: list[tuple[str, str]] = field(default_factory=list)  # (check id, target) never run

    @property
    def target(self) -> str:
        return Target.pair(self.src, self.dst)


def expected_results(catalogue: Iterable[CheckMeta], src: str, dst: str) -> list[tuple[str, str]]:
    """(check id, target) of every catalogue check a pair needs: host checks on both ends, pair
    checks on the pair itself."""
    out = []
    for meta in catalogue:
        if meta.scope == Scope.VM:  # per VM, not per pair: the VM view of the report shows them
            continue
        targets = (src, dst) if meta.scope == Scope.HOST else (Target.pair(src, dst),)
        out += [(meta.id, t) for t in targets]
    return out


def pair_readiness(
    pairs: Iterable[tuple[str, str]], catalogue: list[CheckMeta], findings: Iterable[Finding]
) -> list[PairReadiness]:
    # A catalogue check is known by its ID and function name: a check of your own that reuses
    # an ID must not stand in for the catalogue's.
    ours = {(m.id, m.name) for m in catalogue}
    by_target: dict[str, list[Finding]] = {}
    judged: dict[str, set[str]] = {}
    for f in findings:
        by_target.setdefault(f.target, []).append(f)
        if (f.check.id, f.check.name) in ours:
            judged.setdefault(f.target, set()).add(f.check.id)
    out = []
    for src, dst in pairs:
        pair = Target.pair(src, dst)
        relevant = [f for t in (src, dst, pair) for f in by_target.get(t, [])]
        r = PairReadiness(src, dst, PairState.READY)
        r.blocking = [f for f in relevant if f.blocking]
        r.errors = [f for f in relevant if f.outcome == "error"]
        r.not_selected = [
            (check_id, target)
            for check_id, target in expected_results(catalogue, src, dst)
            if check_id not in judged.get(target, set())
        ]
        if r.blocking:
            r.state = PairState.NOT_READY
        elif r.errors or r.not_selected:
            r.state = PairState.INCOMPLETE
        out.append(r)
    return out


@dataclass
class RunVerdict:
    verdict: Verdict
    reasons: list[str]  # why not READY, in sentences

    @property
    def exit_code(self) -> ExitCode:
        return EXIT_CODES[self.verdict]


def run_verdict(
    readiness: list[PairReadiness], findings: list[Finding], unjudged_failures: Iterable[str] = ()
) -> RunVerdict:
    """``unjudged_failures``: node ids of tests in the run that failed without being a check
    lmready judged (a plain pytest test beside the suite): a failure all the same."""
    unjudged = list(unjudged_failures)
    blocking = [f for f in findings if f.blocking]
    if unjudged or blocking:
        why = []
        if blocking:
            pairs = sum(r.state is PairState.NOT_READY for r in readiness)
            why.append(
                f"{len(blocking)} failures at or above the gate; {pairs} of {len(readiness)} pairs not ready"
            )
        if unjudged:
            why.append(
                f"{len(unjudged)} tests of the run that are not lmready checks failed: {', '.join(unjudged[:5])}"
            )
        return RunVerdict(Verdict.NOT_READY, why)
    reasons = []
    if not readiness:
        reasons.append("the inventory names no pairs, so no migration direction was judged")
    incomplete = [r for r in readiness if r.state is PairState.INCOMPLETE]
    errors = [f for f in findings if f.outcome == "error"]
    if errors:
        reasons.append(f"{len(errors)} results could not run (see the causes)")
    missing = {key for r in incomplete for key in r.not_selected}
    if missing:
        reasons.append(
            f"{len(missing)} results the pairs need were not selected in this run (-m, -k, -x, --lf "
            "or deselection); run the whole catalogue for a verdict"
        )
    if incomplete:
        reasons.append(f"{len(incomplete)} of {len(readiness)} pairs were not judged in full")
    if reasons:
        return RunVerdict(Verdict.INCOMPLETE, reasons)
    return RunVerdict(Verdict.READY, [])


@dataclass
class Cause:
    """One reason checks could not run (a host unreachable, a fact unread), said once."""

    sentence: str
    findings: list[Finding]

    @property
    def targets(self) -> list[str]:
        return list(dict.fromkeys(f.target for f in self.findings))


def error_causes(findings: Iterable[Finding]) -> list[Cause]:
    """Errors grouped by their sentence: a wrong password is one cause, not fifty errors."""
    causes: dict[str, Cause] = {}
    for f in findings:
        if f.outcome == "error":
            key = f.cause or f.message
            causes.setdefault(key, Cause(key, [])).findings.append(f)
    return sorted(causes.values(), key=lambda c: -len(c.findings))
