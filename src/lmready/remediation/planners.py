"""What each automatic fix changes: one planner per fix of REQUIREMENTS.md section 4, from the
failing finding (and the expectation its check returned), the facts and the policy to Change
objects. A planner raises Refused with one clause when it will not plan; it never connects.

A fix is registered with its planner in lmready.remediation.fixes.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Callable

from lmready import security_descriptor as sd
from lmready.estate import Estate, HostView, PairView
from lmready.facts import UAC_TRUSTED_TO_AUTH_FOR_DELEGATION
from lmready.findings import Finding
from lmready.remediation import directory_changes, host_changes
from lmready.remediation.change import DIRECTORY, HOST, Change, Value

Planner = Callable[[Finding, Estate], list[Change]]


class Refused(Exception):
    """Why a finding's fix is not planned: one clause."""


def _host_change(finding: Finding, host: str, setting: str, before: Value, after: Value) -> Change:
    meta = finding.check
    return Change(
        meta.id, meta.fix, host, HOST, setting, before, after, host_changes.command(setting, before, after)
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
        raise Refused(
            f"{view} is not domain-joined (workgroup {facts.domain}) and Enable-VMMigration works only "
            "on a domain member; join it to the domain first"
        )
    if facts.migration.enabled:
        return []
    return [_host_change(finding, view.name, host_changes.ENABLED, False, True)]


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
        raise Refused(
            f"the policy names no subnet for {view} to add with Add-VMMigrationNetwork; list the "
            "host's migration subnet under policy.migration_networks"
        )
    changes = [_host_change(finding, view.name, host_changes.NETWORK, None, s) for s in adds]
    if view.facts.migration.use_any_network:
        changes.append(_host_change(finding, view.name, host_changes.USE_ANY_NETWORK, True, False))
    return changes


def _enable_firewall_rule(finding: Finding, estate: Estate) -> list[Change]:
    dst = _pair(finding, estate).dst
    rule = dst.facts.firewall_rule
    if rule is None:
        raise Refused(
            f"the firewall rule {host_changes.FIREWALL_RULE} does not exist on {dst}; it comes with the "
            "Hyper-V role, so check the role there (lmready does not create firewall rules)"
        )
    if rule.enabled:
        raise Refused(f"the rule is enabled on {dst}, so TCP 6600 is blocked elsewhere: {finding.fix}")
    return [_host_change(finding, dst.name, host_changes.FIREWALL, False, True)]


def _add_delegation(finding: Finding, estate: Estate) -> list[Change]:
    """A2 for src -> dst: only the source's delegation to the destination (per direction).
    The pair view holds only hosts whose identity was bound to their inventory entry and their
    account (estate.bind_identity), so every account and every SPN name here is a verified host's."""
    pair = _pair(finding, estate, with_directory=True)
    src, dst = pair.src, pair.dst
    for end in (src, dst):
        if end.domain is None:
            raise Refused(
                f"{end}'s domain {end.facts.domain} has no entry under directory: in the inventory, "
                "so lmready cannot read or change its computer account"
            )
        if end.account is None:
            raise Refused(f"{end} has no computer account in {end.domain.name}")
        if end.account.is_domain_controller:
            raise Refused(f"{end.account.dn} is a domain controller's account, which lmready never changes")
    cross = src.facts.domain.lower() != dst.facts.domain.lower()
    if cross or src.policy.delegation == "rbcd":
        return _allow_to_act(finding, src, dst)
    # What is missing is the check's expectation (A2's ClassicDelegation): the SPNs name the
    # destination by its account's names, which identity binding verified.
    wanted = finding.wanted
    if wanted is None or not hasattr(wanted, "delegate_to"):
        raise Refused(f"the check gave no delegation to add from {src} to {dst}")
    account = src.account
    changes = [
        _directory_change(finding, src, account.dn, directory_changes.DELEGATE_TO, None, value)
        for value in wanted.delegate_to
    ]
    uac = account.user_account_control
    if wanted.protocol_transition and not uac & UAC_TRUSTED_TO_AUTH_FOR_DELEGATION:
        after = uac | UAC_TRUSTED_TO_AUTH_FOR_DELEGATION
        changes.append(_directory_change(finding, src, account.dn, directory_changes.UAC, uac, after))
    return changes


def _allow_to_act(finding: Finding, src: HostView, dst: HostView) -> list[Change]:
    """Resource-based delegation: src's SID added to dst's descriptor, every existing ACE kept."""
    account, peer = src.account, dst.account
    if not account.sid:
        raise Refused(f"the objectSid of {account.dn} was not read, so it cannot be allowed on {dst}")
    before = peer.allowed_to_act_descriptor or None
    raw = base64.b64decode(before) if before else None
    if raw and any(a.sid == account.sid and a.type == sd.ACCESS_DENIED for a in sd.parse(raw).aces):
        raise Refused(
            f"{dst}'s msDS-AllowedToActOnBehalfOfOtherIdentity denies {src} explicitly; somebody chose that, "
            "so lmready leaves it to the admin"
        )
    after = base64.b64encode(sd.with_allowed(raw, account.sid)).decode()
    if after == before:
        return []
    return [_directory_change(finding, dst, peer.dn, directory_changes.ALLOWED_TO_ACT, before, after)]


def _directory_change(
    finding: Finding, host: HostView, dn: str, setting: str, before: Value, after: Value
) -> Change:
    meta, domain = finding.check, host.domain.name
    command = directory_changes.command(dn, setting, before, after)
    return Change(meta.id, meta.fix, domain, DIRECTORY, setting, before, after, command, dn)


enable_migration = _enable_migration
add_network = _add_network
enable_firewall_rule = _enable_firewall_rule
add_delegation = _add_delegation
set_authentication = _policy_setting(
    host_changes.AUTHENTICATION,
    lambda end: str(end.facts.migration.authentication_type),
    lambda end: str(end.policy.authentication),
)
set_performance = _policy_setting(
    host_changes.PERFORMANCE,
    lambda end: str(end.facts.migration.performance_option),
    lambda end: str(end.policy.performance),
)
set_simultaneous = _policy_setting(
    host_changes.SIMULTANEOUS,
    lambda end: end.facts.migration.maximum_migrations,
    lambda end: end.policy.simultaneous_migrations,
)
