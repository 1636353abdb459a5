"""Proof that a fix worked: the affected hosts and domains are collected again, each change is
read back, and the same check runs again on the fresh facts. "Fixed" means that check passed."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from lmready.catalogue import CheckFailure, CheckMeta, load_catalogue
from lmready.estate import Estate, FactsUnavailable, require_directory
from lmready.facts import HostFacts
from lmready.findings import Finding
from lmready.inventory import Inventory
from lmready.live import LiveCollector
from lmready.remediation import directory, hosts
from lmready.remediation.change import APPLIED, HOST, Change, Outcome, Value, show
from lmready.remediation.journal import VERIFIED, Journal
from lmready.remediation.plan import Plan
from lmready.vmview import split_target, vm_view

FIXED, FIX_FAILED = "fixed", "fix failed"

Collect = Callable[[Inventory], Estate]


@dataclass
class Verification:
    finding: Finding
    status: str  # FIXED | FIX_FAILED
    reason: str = ""


def verify(
    plan: Plan,
    outcomes: list[Outcome],
    estate: Estate,
    journal: Journal,
    *,
    collect: Collect | None = None,
) -> list[Verification]:
    """Re-collect what the plan touched and re-run its findings' checks, journaling each change
    as verified (read back as intended) or failed."""
    if not plan.covered:
        return []
    names = {h for finding, _ in plan.covered for h in finding.hosts}
    fresh = (collect or LiveCollector().collect)(affected(estate.inventory, names))
    for outcome in outcomes:
        if outcome.status == APPLIED:
            problem = differs(outcome.change, fresh)
            if problem:
                journal.record(outcome.change, "failed", problem)
            else:
                journal.record(outcome.change, VERIFIED)
    reasons = {o.change: o.reason for o in outcomes if o.status != APPLIED}
    checks = {meta.id: meta for meta in load_catalogue()}
    results = []
    for finding, changes in plan.covered:
        still = recheck(checks.get(finding.check.id, finding.check), finding.target, fresh)
        if still is None:
            results.append(Verification(finding, FIXED))
        else:
            why = [reasons[c] for c in changes if c in reasons]
            results.append(Verification(finding, FIX_FAILED, why[0] if why else still))
    return results


def affected(inventory: Inventory, names: set[str]) -> Inventory:
    """The inventory narrowed to ``names`` and the pairs between them."""
    return dataclasses.replace(
        inventory,
        hosts={n: h for n, h in inventory.hosts.items() if n in names},
        pairs=tuple(p for p in inventory.pairs if set(p) <= names),
    )


def read_back(change: Change, estate: Estate) -> Value:
    """The changed setting's value in ``estate``. Raises FactsUnavailable when it cannot be read."""
    member = change.after if change.after is not None else change.before
    if change.kind == HOST:
        facts = estate.hosts.get(change.target)
        if not isinstance(facts, HostFacts):
            raise facts or FactsUnavailable(f"{change.target}: no facts were collected for this host.")
        return hosts.current(change.setting, member, facts)
    domain = next((d for n, d in estate.domains.items() if n.lower() == change.target.lower()), None)
    if domain is None or isinstance(domain, FactsUnavailable):
        raise domain or FactsUnavailable(f"domain {change.target}: its facts were not read.")
    try:
        return directory.current(change.setting, member, change.account_dn or "", domain)
    except LookupError as exc:
        raise FactsUnavailable(f"domain {change.target}: {exc}.") from None


def differs(change: Change, estate: Estate) -> str | None:
    """Why ``change.after`` is not what ``estate`` shows, or None when it is."""
    try:
        value = read_back(change, estate)
    except FactsUnavailable as exc:
        return str(exc)
    if value == change.after:
        return None
    return f"{change.target}: {change.setting} reads {show(value)}, not {show(change.after)}."


def recheck(meta: CheckMeta, target: str, estate: Estate) -> str | None:
    """None when the check passes (or no longer applies) on ``estate``; else why not."""
    try:
        failure = check_failure(meta, target, estate)
    except FactsUnavailable as exc:
        return str(exc)
    return None if failure is None else f"{target}: {meta.id} still fails after the fix: {failure}."


def check_failure(meta: CheckMeta, target: str, estate: Estate) -> CheckFailure | None:
    """Run one check on one target as the plugin does: its failure, or None when it passes or
    does not apply. Raises FactsUnavailable when the facts it needs are missing."""
    names = target.split("->")
    with_directory = meta.directory != "none"
    if meta.scope == "host":
        view = estate.host_view(names[0], with_directory)
    elif meta.scope == "vm":
        view = vm_view(estate, *split_target(target), with_directory=with_directory)
    else:
        view = estate.pair_view(names[0], names[1], with_directory)
    try:
        if meta.applies is not None:  # before asking for the directory, as the plugin does
            meta.applies(view)
        if meta.directory == "required":
            require_directory(view)
        meta.func(view)
    except pytest.skip.Exception:
        return None
    except CheckFailure as failure:
        return failure
    return None
