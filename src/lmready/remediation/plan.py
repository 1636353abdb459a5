"""What to change: from the failing findings, the facts and the policy to Change objects, and,
for every failing finding that lmready will not fix, why not (REQUIREMENTS.md section 4).

Planning reads only the estate; it never connects anywhere.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from lmready import security_descriptor as sd
from lmready.constants import DELEGATED_SERVICES
from lmready.estate import Estate, FactsUnavailable, HostView, PairView
from lmready.facts import UAC_TRUSTED_TO_AUTH_FOR_DELEGATION
from lmready.findings import Finding
from lmready.fixes import FIXES
from lmready.remediation import directory, hosts
from lmready.remediation.change import DIRECTORY, HOST, Change, Value

FAILING = ("failed", "warning")


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
    merged = _one_descriptor_change_per_account(list(planned))
    plan.changes = list(dict.fromkeys(merged.get(c, c) for c in planned))
    plan.covered = [(f, list(dict.fromkeys(merged.get(c, c) for c in cs))) for f, cs in plan.covered]
    return plan


def _one_descriptor_change_per_account(changes: list[Change]) -> dict[Change, Change]:
    """Several pairs towards one destination each add a SID to its descriptor from the same value
    read; applied one by one, the second would find the value changed. One change adds them all."""
    groups: dict[tuple, list[Change]] = {}
    for c in changes:
        if c.setting == directory.ALLOWED_TO_ACT:
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
            command=directory.command(group[0].account_dn or "", directory.ALLOWED_TO_ACT, before, after),
        )
        merged.update({c: one for c in group})
    return merged


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
    """A2 for src -> dst: only the source's delegation to the destination (per direction).
    The pair view holds only hosts whose identity was bound to their inventory entry and their
    account (estate.bind_identity), so every account and every SPN name here is a verified host's."""
    pair = _pair(finding, estate, with_directory=True)
    src, dst = pair.src, pair.dst
    for end in (src, dst):
        if end.domain is None:
            raise _Refused(
                f"{end}'s domain {end.facts.domain} has no entry under directory: in the inventory, "
                "so lmready cannot read or change its computer account"
            )
        if end.account is None:
            raise _Refused(f"{end} has no computer account in {end.domain.name}")
        if end.account.is_domain_controller:
            raise _Refused(f"{end.account.dn} is a domain controller's account, which lmready never changes")
    cross = src.facts.domain.lower() != dst.facts.domain.lower()
    if cross or src.policy.delegation == "rbcd":
        return _allow_to_act(finding, src, dst)
    account = src.account
    peer = dst.account
    have = {v.lower() for v in account.allowed_to_delegate_to}
    changes = []
    for service in DELEGATED_SERVICES:
        # The destination's names from its account: never an FQDN built from the NetBIOS name.
        for name in dict.fromkeys((peer.netbios_name, peer.dns_host_name)):
            value = f"{service}/{name}"
            if name and value.lower() not in have:
                changes.append(
                    _directory_change(finding, src, account.dn, directory.DELEGATE_TO, None, value)
                )
    uac = account.user_account_control
    if not uac & UAC_TRUSTED_TO_AUTH_FOR_DELEGATION:
        after = uac | UAC_TRUSTED_TO_AUTH_FOR_DELEGATION
        changes.append(_directory_change(finding, src, account.dn, directory.UAC, uac, after))
    return changes


def _allow_to_act(finding: Finding, src: HostView, dst: HostView) -> list[Change]:
    """Resource-based delegation: src's SID added to dst's descriptor, every existing ACE kept."""
    account, peer = src.account, dst.account
    if not account.sid:
        raise _Refused(f"the objectSid of {account.dn} was not read, so it cannot be allowed on {dst}")
    before = peer.allowed_to_act_descriptor or None
    raw = base64.b64decode(before) if before else None
    if raw and any(a.sid == account.sid and a.type == sd.ACCESS_DENIED for a in sd.parse(raw).aces):
        raise _Refused(
            f"{dst}'s msDS-AllowedToActOnBehalfOfOtherIdentity denies {src} explicitly; somebody chose that, "
            "so lmready leaves it to the admin"
        )
    after = base64.b64encode(sd.with_allowed(raw, account.sid)).decode()
    if after == before:
        return []
    return [_directory_change(finding, dst, peer.dn, directory.ALLOWED_TO_ACT, before, after)]


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
