"""What to change: from the failing findings, the facts and the policy to Change objects, and,
for every failing finding that lmready will not fix, why not (REQUIREMENTS.md section 4).

Planning reads only the estate; it never connects anywhere.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from lmready.estate import Estate, FactsUnavailable, HostView, PairView
from lmready.facts import UAC_TRUSTED_TO_AUTH_FOR_DELEGATION
from lmready.findings import Finding
from lmready.fixes import FIXES
from lmready.remediation import directory, hosts
from lmready.remediation.change import DIRECTORY, HOST, Change, Value

FAILING = ("failed", "warning")
MIGRATION_SERVICE = "Microsoft Virtual System Migration Service"


@dataclass
class Plan:
    changes: list[Change]
    # (finding, why not): the precondition that does not hold, or the manual step and why
    # lmready does not take it.
    refused: list[tuple[Finding, str]]
    # (finding, the changes that fix it): what verify re-checks. A change may serve several.
    covered: list[tuple[Finding, list[Change]]] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The plan as a terminal or report shows it."""
        if not self.changes:
            return ["nothing to change"]
        return [str(c) for c in self.changes]


class _Refused(Exception):
    """Why a finding's fix is not planned: one clause."""


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
                raise _Refused(f"nothing lmready may change would fix it; the manual step: {finding.fix}")
        except (_Refused, FactsUnavailable) as why:
            plan.refused.append((finding, str(why)))
            continue
        planned.update(dict.fromkeys(changes))
        plan.covered.append((finding, changes))
    plan.changes = list(planned)
    return plan


def _changes_for(finding: Finding, estate: Estate) -> list[Change]:
    name = finding.check.fix
    fix = FIXES.get(name) if name else None
    if fix is None:
        raise _Refused(f"REQUIREMENTS.md section 4 leaves this to the admin; the manual step: {finding.fix}")
    if not fix.automatic:
        raise _Refused(f"{fix.rule}; the manual step: {finding.fix}")
    return _PLANNERS[fix.name](finding, estate)


def _host_change(finding: Finding, host: str, setting: str, before: Value, after: Value) -> Change:
    meta = finding.check
    return Change(
        meta.id, meta.fix, host, HOST, setting, before, after, hosts.command(setting, before, after)
    )


def _host(finding: Finding, estate: Estate) -> HostView:
    return estate.host_view(finding.hosts[0])


def _pair(finding: Finding, estate: Estate, with_directory: bool = False) -> PairView:
    src, dst = finding.hosts
    return estate.pair_view(src, dst, with_directory)


def _enable_migration(finding: Finding, estate: Estate) -> list[Change]:
    view = _host(finding, estate)
    facts = view.facts
    if not facts.part_of_domain:
        raise _Refused(
            f"{view} is not domain-joined (workgroup {facts.domain}) and Enable-VMMigration works only "
            "on a domain member; join it to the domain first"
        )
    if facts.migration.enabled:
        return []
    return [_host_change(finding, view.name, hosts.ENABLED, False, True)]


def _policy_setting(setting: str, read: Callable[[HostView], Value], wanted: Callable[[HostView], Value]):
    """A planner for a Set-VMHost value that the policy gives, on each end that differs."""

    def planner(finding: Finding, estate: Estate) -> list[Change]:
        ends = [estate.host_view(name) for name in finding.hosts]
        return [
            _host_change(finding, end.name, setting, read(end), wanted(end))
            for end in ends
            if read(end) != wanted(end)
        ]

    return planner


def _add_network(finding: Finding, estate: Estate) -> list[Change]:
    view = _host(finding, estate)
    have = [n.network for n in view.facts.migration_networks]
    adds = [s for s in view.policy.migration_networks if ipaddress.ip_network(s) not in have]
    if not have and not adds:
        raise _Refused(
            f"the policy names no subnet for {view} to add with Add-VMMigrationNetwork; list the "
            "host's migration subnet under policy.migration_networks"
        )
    changes = [_host_change(finding, view.name, hosts.NETWORK, None, s) for s in adds]
    if view.facts.migration.use_any_network:
        changes.append(_host_change(finding, view.name, hosts.USE_ANY_NETWORK, True, False))
    return changes


def _enable_firewall_rule(finding: Finding, estate: Estate) -> list[Change]:
    dst = _pair(finding, estate).dst
    rule = dst.facts.firewall_rule
    if rule is None:
        raise _Refused(
            f"the firewall rule {hosts.FIREWALL_RULE} does not exist on {dst}; it comes with the "
            "Hyper-V role, so check the role there (lmready does not create firewall rules)"
        )
    if rule.enabled:
        raise _Refused(f"the rule is enabled on {dst}, so TCP 6600 is blocked elsewhere: {finding.fix}")
    return [_host_change(finding, dst.name, hosts.FIREWALL, False, True)]


def _add_delegation(finding: Finding, estate: Estate) -> list[Change]:
    pair = _pair(finding, estate, with_directory=True)
    changes = []
    for frm, to in ((pair.src, pair.dst), (pair.dst, pair.src)):
        if frm.domain is None:
            raise _Refused(
                f"{frm}'s domain {frm.facts.domain} has no entry under directory: in the inventory, "
                "so lmready cannot change its computer account"
            )
        if frm.facts.domain.lower() != to.facts.domain.lower():
            raise _Refused(
                f"classic constrained delegation only reaches services in {frm}'s own domain "
                f"({frm.facts.domain}), not {to} in {to.facts.domain}; use resource-based delegation "
                "or CredSSP (A3)"
            )
        account = frm.account
        if account is None:
            raise _Refused(f"{frm} has no computer account in {frm.domain.name}")
        have = {v.lower() for v in account.allowed_to_delegate_to}
        for service in (MIGRATION_SERVICE, "cifs"):
            for name in dict.fromkeys((to.facts.computer_name, to.facts.fqdn)):
                value = f"{service}/{name}"
                if value.lower() not in have:
                    changes.append(
                        _directory_change(finding, frm, account.dn, directory.DELEGATE_TO, None, value)
                    )
        uac = account.user_account_control
        if not uac & UAC_TRUSTED_TO_AUTH_FOR_DELEGATION:
            after = uac | UAC_TRUSTED_TO_AUTH_FOR_DELEGATION
            changes.append(_directory_change(finding, frm, account.dn, directory.UAC, uac, after))
    return changes


def _directory_change(
    finding: Finding, host: HostView, dn: str, setting: str, before: Value, after: Value
) -> Change:
    meta, domain = finding.check, host.domain.name
    command = directory.command(dn, setting, before, after)
    return Change(meta.id, meta.fix, domain, DIRECTORY, setting, before, after, command, dn)


def inverse(change: Change, before: Value) -> Change:
    """The change that takes ``change.after`` (now read as ``before``) back to ``change.before``."""
    if change.kind == HOST:
        command = hosts.command(change.setting, before, change.before)
    else:
        command = directory.command(change.account_dn or "", change.setting, before, change.before)
    return replace(change, before=before, after=change.before, command=command)


_PLANNERS: dict[str, Callable[[Finding, Estate], list[Change]]] = {
    "enable-vm-migration": _enable_migration,
    "set-migration-authentication": _policy_setting(
        hosts.AUTHENTICATION,
        lambda end: str(end.facts.migration.authentication_type),
        lambda end: str(end.policy.authentication),
    ),
    "set-migration-performance": _policy_setting(
        hosts.PERFORMANCE,
        lambda end: str(end.facts.migration.performance_option),
        lambda end: str(end.policy.performance),
    ),
    "set-simultaneous-migrations": _policy_setting(
        hosts.SIMULTANEOUS,
        lambda end: end.facts.migration.maximum_migrations,
        lambda end: end.policy.simultaneous_migrations,
    ),
    "add-migration-network": _add_network,
    "enable-migration-firewall-rule": _enable_firewall_rule,
    "add-constrained-delegation": _add_delegation,
}
