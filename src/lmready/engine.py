"""The engine: one check on one target over an estate, judged into a finding. No pytest here.

Everything that runs a check calls ``evaluate``: the pytest items (lmready.items), remediation
(planning what fails, verifying what was fixed) and the tests. The pytest adapter adds node
ids, reports and timing around it; nothing below the adapter knows pytest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from lmready.catalogue import CheckFailure, CheckMeta, NotApplicable, Severity
from lmready.estate import Estate, FactsUnavailable, HostView, PairView, require_directory
from lmready.findings import Finding, judge_failure
from lmready.inventory import Waiver
from lmready.values import Outcome, Scope, Target
from lmready.vmview import VmView, vm_targets, vm_view

SETUP, CALL = "setup", "call"  # where a result was decided: reading the facts, or the check itself


@dataclass(frozen=True)
class Judging:
    """What turns a check's failure into a verdict: the gate, the waivers, and today (for expiry)."""

    gate: Severity = Severity.HIGH
    waivers: tuple[Waiver, ...] = ()
    today: date = field(default_factory=date.today)


def targets(check: CheckMeta, estate: Estate) -> list[Target]:
    """Every target of ``check`` in the estate: each host, each ordered pair of the inventory, or
    each VM of each pair's source (known only once the facts are collected)."""
    inventory = estate.inventory
    if check.scope is Scope.HOST:
        return [Target.host(name) for name in inventory.hosts]
    if check.scope is Scope.VM:
        return [Target.pair(*t) for t in vm_targets(estate, list(inventory.pairs))]
    return [Target.pair(src, dst) for src, dst in inventory.pairs]


def view(check: CheckMeta, target: Target, estate: Estate) -> HostView | PairView | VmView:
    """The target's facts as the check sees them. Raises FactsUnavailable, or NotApplicable when
    the check's precondition does not hold (asked before directory facts are required)."""
    with_directory = check.directory != "none"
    hosts = target.hosts
    if check.scope is Scope.HOST:
        seen: HostView | PairView | VmView = estate.host_view(hosts[0], with_directory)
    elif check.scope is Scope.VM:
        seen = vm_view(estate, target.src, target.dst, target.vm, with_directory)
    else:
        seen = estate.pair_view(hosts[0], hosts[1], with_directory)
    if check.applies is not None:
        check.applies(seen)
    if check.directory == "required":
        require_directory(seen)
    return seen


def evaluate(check: CheckMeta, target: str, estate: Estate, judging: Judging | None = None) -> Finding:
    """Run ``check`` on ``target`` over ``estate`` and judge the result. Never raises for what a
    check or its facts do: a check's bug stays on its own finding, as an error."""
    target = Target.parse(target)
    phase, said = SETUP, None
    try:
        seen = view(check, target, estate)
        phase = CALL
        said = check.func(seen)  # a check may say how it passed (A2: which mechanism)
    except NotApplicable as skip:
        return judge(check, target, phase, None, str(skip), judging)
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as error:
        return judge(check, target, phase, error, "", judging)
    finding = judge(check, target, phase, None, "", judging)
    if isinstance(said, str):
        finding.message = f"{target}: {said}"
    return finding


def judge(
    check: CheckMeta,
    target: Target,
    phase: str,
    error: BaseException | None,
    skip_reason: str,
    judging: Judging | None = None,
) -> Finding:
    """The finding for what a check did on a target: passed, skipped with ``skip_reason``, or
    ``error`` judged (a failure against the gate and the waivers; anything else an error)."""
    judging = judging or Judging()
    if skip_reason:
        return Finding(check, target, Outcome.SKIPPED, check.severity, f"{target}: {skip_reason}")
    if error is None:
        return Finding(check, target, Outcome.PASSED, check.severity)
    if isinstance(error, CheckFailure):
        return judge_failure(check, target, error, judging.gate, judging.waivers, judging.today)
    if isinstance(error, AssertionError) and phase == CALL:
        # Your own checks assert the plain pytest way; the assertion is the observation.
        failure = CheckFailure(_first_line(error), "what the check asserts", f"see {check.name}")
        return judge_failure(check, target, failure, judging.gate, judging.waivers, judging.today)
    if isinstance(error, FactsUnavailable):
        return Finding(check, target, Outcome.ERROR, check.severity, str(error), cause=error.cause)
    message = (
        f"{target}: check {check.id} could not run in {phase}: {type(error).__name__}: {error} "
        "(a bug in lmready or facts it does not understand; please report it)"
    )
    return Finding(check, target, Outcome.ERROR, check.severity, message, cause=message, error=error)


def evaluate_all(
    checks: Iterable[CheckMeta], estate: Estate, judging: Judging | None = None
) -> list[Finding]:
    """Every check on every one of its targets in the estate's inventory."""
    return [evaluate(check, target, estate, judging) for check in checks for target in targets(check, estate)]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
