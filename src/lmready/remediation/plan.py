"""What to change: from the failing findings, the facts and the policy to Change objects, and,
for every failing finding that lmready will not fix, why not (REQUIREMENTS.md section 4).

Planning reads only the estate; it never connects anywhere.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field, replace

from lmready import security_descriptor as sd
from lmready.estate import Estate, FactsUnavailable
from lmready.findings import Finding
from lmready.remediation import directory_changes, host_changes
from lmready.remediation.change import HOST, Change, Value
from lmready.remediation.fixes import registry
from lmready.remediation.planners import Refused

FAILING = ("failed", "warning")


@dataclass
class Plan:
    changes: list[Change]
    # (finding, why not): the precondition that does not hold, or the manual step and why
    # lmready does not take it.
    refused: list[tuple[Finding, str]]
    # (finding, the changes that fix it): what verify re-checks. A change may serve several.
    covered: list[tuple[Finding, list[Change]]] = field(default_factory=list)


def make_plan(findings: list[Finding], estate: Estate) -> Plan:
    """Changes for the failing findings ("failed" or "warning") whose check names a fix."""
    plan = Plan([], [])
    planned: dict[Change, None] = {}
    for finding in findings:
        if finding.outcome not in FAILING:
            continue
        try:
            changes = _changes_for(finding, estate)
            if not changes:
                raise Refused(f"nothing lmready may change would fix it; the manual step: {finding.fix}")
        except (Refused, FactsUnavailable) as why:
            plan.refused.append((finding, str(why)))
            continue
        planned.update(dict.fromkeys(changes))
        plan.covered.append((finding, changes))
    merged = _one_descriptor_change_per_account(list(planned))
    plan.changes = list(dict.fromkeys(merged.get(c, c) for c in planned))
    plan.covered = [(f, list(dict.fromkeys(merged.get(c, c) for c in cs))) for f, cs in plan.covered]
    return plan


def _one_descriptor_change_per_account(changes: list[Change]) -> dict[Change, Change]:
    """Several pairs towards one destination each add a SID to its descriptor from the same value
    read; applied one by one, the second would find the value changed. One change adds them all."""
    groups: dict[tuple, list[Change]] = {}
    for c in changes:
        if c.setting == directory_changes.ALLOWED_TO_ACT:
            groups.setdefault((c.target, (c.account_dn or "").lower(), c.before), []).append(c)
    merged: dict[Change, Change] = {}
    for (_, _, before), group in groups.items():
        if len(group) < 2:
            continue
        raw = base64.b64decode(str(before)) if before else None
        old = set(sd.parse(raw).allowed_sids()) if raw else set()
        for c in group:
            for sid in sd.allowed_sids_b64(str(c.after)):
                if sid not in old:
                    raw = sd.with_allowed(raw, sid)
        after = base64.b64encode(raw or b"").decode()
        one = replace(
            group[0],
            after=after,
            command=directory_changes.command(
                group[0].account_dn or "", directory_changes.ALLOWED_TO_ACT, before, after
            ),
        )
        merged.update({c: one for c in group})
    return merged


def _changes_for(finding: Finding, estate: Estate) -> list[Change]:
    name = finding.check.fix
    fix = registry().get(name) if name else None
    if fix is None:
        raise Refused(f"REQUIREMENTS.md section 4 leaves this to the admin; the manual step: {finding.fix}")
    if not fix.automatic:
        raise Refused(f"{fix.rule}; the manual step: {finding.fix}")
    if fix.planner is None:
        raise Refused(
            f"the fix {name} has no planner in the module of {finding.check.ref}; the manual step: {finding.fix}"
        )
    return fix.planner(finding, estate)


def inverse(change: Change, before: Value) -> Change:
    """The change that takes ``change.after`` (now read as ``before``) back to ``change.before``."""
    if change.kind == HOST:
        command = host_changes.command(change.setting, before, change.before)
    else:
        command = directory_changes.command(change.account_dn or "", change.setting, before, change.before)
    return replace(change, before=before, after=change.before, command=command)
