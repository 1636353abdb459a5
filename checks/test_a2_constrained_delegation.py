"""A2: Kerberos needs constrained delegation (REQUIREMENTS.md section 2)."""

import base64
from dataclasses import dataclass

from lmready import security_descriptor as sd
from lmready.catalogue import Case, Fix, Requirement, Severity, check, fail, planner
from lmready.constants import DELEGATED_SERVICES, MIGRATION_SERVICE
from lmready.delegation import kerberos_on_both_ends, rbcd_allows
from lmready.estate import HostView, PairView
from lmready.facts import (
    UAC_TRUSTED_TO_AUTH_FOR_DELEGATION,
)
from lmready.remediation import directory_changes
from lmready.remediation.planners import Refused, directory_change, pair_of

REQUIREMENT = Requirement(
    ref="A2",
    synopsis="Kerberos needs constrained delegation",
    why="with Kerberos the source's account must be trusted to delegate to the destination's migration service and cifs, with any authentication protocol; otherwise 'No credentials are available in the security package'",
    fix="add the missing msDS-AllowedToDelegateTo values and 'use any authentication protocol' on the source's computer account (or resource-based delegation on the destination's), then klist purge -li 0x3e7 on both hosts",
    links=(
        "https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v/deploy/set-up-hosts-for-live-migration-without-failover-clustering",
        "https://learn.microsoft.com/en-us/windows-server/security/kerberos/kerberos-constrained-delegation-overview",
    ),
)


def dst_names(dst: HostView) -> tuple[str, str]:
    """(NetBIOS name, DNS name) of a destination for SPNs: from its AD account, which identity
    binding has compared with what the host reports; never an FQDN built from the NetBIOS name,
    which is cut to 15 characters."""
    account = dst.account
    if account is not None and account.dns_host_name:
        return account.netbios_name, account.dns_host_name
    return dst.facts.computer_name, dst.facts.fqdn


@dataclass(frozen=True)
class ClassicDelegation:
    """What src's account lacks for classic constrained delegation to dst's migration services:
    the failing A2's expectation, which its fix (add-constrained-delegation) adds as it is."""

    delegate_to: tuple[str, ...]  # missing msDS-AllowedToDelegateTo values, SERVICE/name
    protocol_transition: bool  # TRUSTED_TO_AUTH_FOR_DELEGATION ("use any authentication protocol") missing

    def __bool__(self) -> bool:
        return bool(self.delegate_to) or self.protocol_transition

    def __str__(self) -> str:
        missing = list(self.delegate_to)
        if self.protocol_transition:
            missing.append('"use any authentication protocol" (TRUSTED_TO_AUTH_FOR_DELEGATION)')
        return "; ".join(missing)


def classic_missing(src: HostView, dst: HostView) -> ClassicDelegation:
    """What src's account lacks for classic constrained delegation to dst's migration services."""
    account = src.account
    have = {v.lower() for v in account.allowed_to_delegate_to}
    return ClassicDelegation(
        tuple(
            f"{service}/{name}"
            for service in DELEGATED_SERVICES
            for name in dict.fromkeys(n for n in dst_names(dst) if n)
            if f"{service}/{name}".lower() not in have
        ),
        not account.user_account_control & UAC_TRUSTED_TO_AUTH_FOR_DELEGATION,
    )


def _cross_domain(pair: PairView) -> bool:
    return pair.src.facts.domain.lower() != pair.dst.facts.domain.lower()


def _rbcd_fix(src: HostView, dst: HostView) -> str:
    return (
        f"Set-ADComputer {dst_names(dst)[0]} -PrincipalsAllowedToDelegateToAccount {src.account.sam_account_name} "
        "(keeping the principals already there)"
    )


@check(
    "LMR-022",
    ref="A2",
    title="Kerberos delegation from the source's account to the destination's services",
    severity=Severity.HIGH,
    area="delegation",
    fix="add-constrained-delegation",
    directory="required",
    applies=kerberos_on_both_ends,
)
def test_constrained_delegation(pair: PairView):
    # Per direction: src -> dst needs only src's delegation to dst's services (the reverse pair
    # checks the other account). Either mechanism passes: resource-based (dst's descriptor grants
    # src's SID) or classic (src's msDS-AllowedToDelegateTo and protocol transition).
    src, dst = pair.src, pair.dst
    if src.account is None:
        fail(
            observed=f"{src} has no computer account in {src.domain.name}",
            expected=f"{src}'s computer account delegates to {dst}",
            fix=f"join {src} to {src.domain.name}, or fix its entry in the inventory",
        )
    if rbcd_allows(src, dst):
        return f"passed through resource-based constrained delegation: {dst}'s account allows {src}'s SID"
    purge = "; then klist purge -li 0x3e7 on both hosts"
    if _cross_domain(pair):
        fail(
            observed=f"{src} ({src.facts.domain}) -> {dst} ({dst.facts.domain}): classic constrained "
            "delegation cannot cross domains; use resource-based, and "
            f"{dst}'s msDS-AllowedToActOnBehalfOfOtherIdentity does not allow {src}",
            expected=f"{dst}'s account allows {src}'s account by resource-based constrained delegation",
            fix=_rbcd_fix(src, dst) + purge,
        )
    missing = classic_missing(src, dst)
    if not missing:
        return f"passed through classic constrained delegation on {src}'s account, with any protocol"
    rbcd = src.policy.delegation == "rbcd"
    fail(
        observed=f"{src} lacks {missing}, and {dst} does not allow {src} by resource-based delegation",
        expected=f"{src}'s account delegates {MIGRATION_SERVICE} and cifs to {dst} (NetBIOS and DNS names) with "
        f"any authentication protocol, or {dst}'s account allows {src} (resource-based)",
        fix=(
            _rbcd_fix(src, dst)
            if rbcd
            else f"in Active Directory Users and Computers, Delegation tab of {src}, add the missing services "
            "with 'Use any authentication protocol'"
        )
        + purge,
        wanted=missing,
    )


FIX = Fix(
    "add-constrained-delegation",
    "LDAP: add the missing msDS-AllowedToDelegateTo values, set TRUSTED_TO_AUTH_FOR_DELEGATION",
    True,
    "adds only missing values; needs Domain Admins; then klist purge -li 0x3e7 on both hosts",
)


@planner("add-constrained-delegation")
def plan_add_delegation(finding, estate):
    """A2 for src -> dst: only the source's delegation to the destination (per direction).
    The pair view holds only hosts whose identity was bound to their inventory entry and their
    account (estate.bind_identity), so every account and every SPN name here is a verified host's."""
    pair = pair_of(finding, estate, with_directory=True)
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
    # What is missing is the check's expectation (its ClassicDelegation): the SPNs name the
    # destination by its account's names, which identity binding verified.
    wanted = finding.wanted
    if not isinstance(wanted, ClassicDelegation):
        raise Refused(f"the check gave no delegation to add from {src} to {dst}")
    account = src.account
    changes = [
        directory_change(finding, src, account.dn, directory_changes.DELEGATE_TO, None, value)
        for value in wanted.delegate_to
    ]
    uac = account.user_account_control
    if wanted.protocol_transition and not uac & UAC_TRUSTED_TO_AUTH_FOR_DELEGATION:
        after = uac | UAC_TRUSTED_TO_AUTH_FOR_DELEGATION
        changes.append(directory_change(finding, src, account.dn, directory_changes.UAC, uac, after))
    return changes


def _allow_to_act(finding, src: HostView, dst: HostView):
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
    return [directory_change(finding, dst, peer.dn, directory_changes.ALLOWED_TO_ACT, before, after)]


# The outcomes and messages a few facts give (tests/test_cases.py; the healthy defaults: tests/factory.py).
CASES = [
    Case("pass", domains=[{}]),
    Case(
        "fail",
        'hv01 lacks "use any authentication protocol"',
        domains=[{"accounts": {"hv01": {"user_account_control": 0x1000}}}],
    ),
    Case(
        "skip",
        "needs Kerberos on both hosts",
        "CredSSP",
        src={"migration": {"authentication_type": "CredSSP"}},
        domains=[{}],
    ),
]
