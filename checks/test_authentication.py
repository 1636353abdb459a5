"""REQUIREMENTS.md section 2, authentication: Kerberos with constrained delegation, or CredSSP
(A1-A5)."""

from dataclasses import dataclass

from lmready.catalogue import Severity, applies_only_if, check, fail, require, warn
from lmready.constants import DELEGATED_SERVICES, MIGRATION_SERVICE
from lmready.estate import HostView, PairView
from lmready.facts import (
    UAC_TRUSTED_FOR_DELEGATION,
    UAC_TRUSTED_TO_AUTH_FOR_DELEGATION,
    AuthenticationType,
)
from lmready.windows import WINDOWS_SERVER_2025, os_name


@check(
    "LMR-021",
    ref="A1",
    title="Both ends use the policy's migration authentication type",
    severity=Severity.HIGH,
    area="auth",
    fix="set-migration-authentication",
)
def test_authentication_type(pair: PairView):
    wrong = [
        end
        for end in (pair.src, pair.dst)
        if end.facts.migration.authentication_type != end.policy.authentication
    ]
    expected = pair.src.policy.authentication
    require(
        not wrong,
        observed=", ".join(f"{end} {end.facts.migration.authentication_type}" for end in wrong),
        expected=f"{expected} on both hosts",
        fix=f"Set-VMHost -VirtualMachineMigrationAuthenticationType {expected} on "
        + " and ".join(end.name for end in wrong),
    )


def _kerberos_pair(pair: PairView) -> None:
    auth = {str(e.facts.migration.authentication_type) for e in (pair.src, pair.dst)}
    applies_only_if(auth == {"Kerberos"}, "Kerberos on both hosts", f"{'/'.join(sorted(auth))}")


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


def rbcd_allows(src: HostView, dst: HostView) -> bool:
    """dst's msDS-AllowedToActOnBehalfOfOtherIdentity grants src's account, by SID."""
    s, d = src.account, dst.account
    return bool(s and d and s.sid and s.sid in d.allowed_to_act)


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
    applies=_kerberos_pair,
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


@check(
    "LMR-023",
    ref="A3",
    title="Kerberos delegation across domains: resource-based delegation",
    severity=Severity.LOW,
    area="delegation",
    directory="optional",
)
def test_cross_domain_kerberos(pair: PairView):
    _kerberos_pair(pair)
    s, d = pair.src.facts.domain, pair.dst.facts.domain
    applies_only_if(s.lower() != d.lower(), "hosts in different domains", f"both in {s}")
    if pair.src.domain is not None and pair.dst.domain is not None and rbcd_allows(pair.src, pair.dst):
        return "resource-based constrained delegation covers this cross-domain pair"
    warn(
        observed=f"Kerberos from {s} to {d} without resource-based delegation of {pair.src} to {pair.dst}",
        expected="classic constrained delegation only reaches services in the account's own domain",
        fix="use resource-based constrained delegation (msDS-AllowedToActOnBehalfOfOtherIdentity on "
        f"{pair.dst} allowing {pair.src}; Windows Server 2012+ DCs on both sides) or CredSSP with "
        "migrations started on the source host",
    )


@check(
    "LMR-024",
    ref="A4",
    title="CredSSP limits: start on the source host; broken by Credential Guard",
    severity=Severity.LOW,
    area="auth",
)
def test_credssp_limits(host: HostView):
    auth = host.facts.migration.authentication_type
    applies_only_if(auth == AuthenticationType.CREDSSP, "CredSSP", f"{auth}")
    # Credential Guard "considerations and known issues": CredSSP cannot delegate credentials
    # while Credential Guard runs, on any version; Windows Server 2025 turns it on by default on
    # domain-joined servers that are not DCs.
    raw = host.facts.raw if hasattr(host.facts, "raw") else host.facts
    build = host.facts.os.build
    guard = None if "credential_guard_running" in raw.unread else raw.credential_guard_running
    if guard is None and build < WINDOWS_SERVER_2025:
        guard = host.facts.credential_guard_running  # unread: an error naming the reason
    kerberos = (
        f"Set-VMHost -VirtualMachineMigrationAuthenticationType Kerberos on {host} and configure "
        "constrained delegation"
    )
    if guard:
        fail(
            observed=f"CredSSP with Credential Guard running on {host} ({os_name(build)})",
            expected="Kerberos with constrained delegation (CredSSP cannot delegate credentials while "
            "Credential Guard runs)",
            fix=kerberos,
            severity=Severity.HIGH,
        )
    if guard is None and build >= WINDOWS_SERVER_2025:
        reason = raw.unread.get("credential_guard_running", "not reported")
        warn(
            observed=f"CredSSP on {os_name(build)}, which turns Credential Guard on by default; its "
            f"state on {host} is unknown ({reason})",
            expected="Kerberos with constrained delegation, or Credential Guard known to be off",
            fix=kerberos,
        )
    pending = (
        None if "isolated_credentials_root_secret" in raw.unread else raw.isolated_credentials_root_secret
    )
    if pending:
        warn(
            observed=f"CredSSP on {host}, where IsolatedCredentialsRootSecret is present under "
            "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Lsa\\MSV1_0: Credential Guard will likely run after "
            "an upgrade (a heuristic: Microsoft documents this value for client upgrades)",
            expected="Kerberos with constrained delegation before upgrading the host",
            fix=kerberos,
        )
    warn(
        observed="CredSSP",
        expected="migrations started from a session on the source host (remote starts fail with 0x8009030E)",
        fix="start migrations on the source host itself, or switch to Kerberos with constrained delegation",
    )


@check(
    "LMR-025",
    ref="A5",
    title="No unconstrained Kerberos delegation on the host account",
    severity=Severity.MEDIUM,
    area="delegation",
    directory="optional",
)
def test_no_unconstrained_delegation(host: HostView):
    applies_only_if(
        host.domain is not None, "a directory entry for the host's domain", f"none for {host.facts.domain}"
    )
    account = host.account
    applies_only_if(account is not None, "a computer account", "none found")
    require(
        not account.user_account_control & UAC_TRUSTED_FOR_DELEGATION,
        observed=f"{account.sam_account_name} trusted for delegation to any service (0x80000)",
        expected="no unconstrained delegation",
        fix="switch the account to constrained delegation ('Trust this computer for delegation to "
        "specified services only')",
    )
