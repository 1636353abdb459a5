"""A4: CredSSP limits (REQUIREMENTS.md section 2)."""

from lmready.catalogue import Case, Requirement, Severity, applies_only_if, check, fail, warn
from lmready.estate import HostView
from lmready.facts import (
    AuthenticationType,
)
from lmready.windows import WINDOWS_SERVER_2025, os_name

REQUIREMENT = Requirement(
    ref="A4",
    synopsis="CredSSP limits",
    why="CredSSP works only from a session on the source host, and Credential Guard on the source breaks it",
    fix="start CredSSP migrations on the source host, or move to Kerberos with constrained delegation (Credential Guard is on by default on Windows Server 2025)",
    links=(
        "https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v/deploy/set-up-hosts-for-live-migration-without-failover-clustering",
        "https://learn.microsoft.com/en-us/windows/security/identity-protection/credential-guard/considerations-known-issues",
    ),
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


# The outcomes and messages a few facts give (tests/test_cases.py; the healthy defaults: tests/factory.py).
CASES = [
    Case("skip", "needs CredSSP"),
    Case(
        "warn",
        "source host",
        host={"migration": {"authentication_type": "CredSSP"}, "credential_guard_running": False},
    ),
]
