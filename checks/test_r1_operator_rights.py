"""R1: operator may run migrations (Administrators or Hyper-V Administrators) (REQUIREMENTS.md section 1)."""

from lmready.catalogue import Case, Requirement, Severity, check, require
from lmready.estate import FactsUnavailable, HostView
from lmready.facts import (
    UAC_NOT_DELEGATED,
)

ADMINISTRATORS = "S-1-5-32-544"

REQUIREMENT = Requirement(
    ref="R1",
    synopsis="operator may run migrations (Administrators or Hyper-V Administrators)",
    why="the operator account runs Hyper-V cmdlets on both hosts, and Kerberos must be able to delegate its credentials",
    fix="add the operator to Administrators or Hyper-V Administrators on both hosts; take it out of Protected Users and clear 'Account is sensitive and cannot be delegated'",
    links=(
        "https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v/deploy/set-up-hosts-for-live-migration-without-failover-clustering",
        "https://learn.microsoft.com/en-us/windows-server/security/credentials-protection-and-management/protected-users-security-group",
    ),
)


HYPERV_ADMINISTRATORS = "S-1-5-32-578"


@check(
    "LMR-011",
    ref="R1",
    title="Operator is an administrator or Hyper-V administrator, and can be delegated",
    severity=Severity.HIGH,
    area="rights",
    directory="optional",
)
def test_operator_rights(host: HostView):
    user = host.facts.session.user
    sids = {s.upper() for s in host.facts.session.group_sids}
    require(
        ADMINISTRATORS in sids or HYPERV_ADMINISTRATORS in sids,
        observed=f"{user} is in neither group",
        expected=f"member of Administrators ({ADMINISTRATORS}) or Hyper-V Administrators "
        f"({HYPERV_ADMINISTRATORS})",
        fix=f"add {user} to the local Hyper-V Administrators group on {host}",
    )
    # REQUIREMENTS.md A2 (operator part): a migration delegates the operator's credentials, which
    # Kerberos refuses for Protected Users and for accounts marked NOT_DELEGATED ("Protected Users
    # security group", "Account is sensitive and cannot be delegated"). Judged where the operator's
    # domain is the host's and is under directory: (an operator of another domain is not at hand).
    domain = host.domain
    netbios, _, name = user.partition("\\")
    if domain is None or not name or netbios.lower() != domain.netbios_name.lower():
        return
    account = next((a for a in domain.operators if a.name.lower() == user.lower()), None)
    if account is None:
        raise FactsUnavailable(
            f"{host}: the operator {user} was not found in {domain.name}, so whether it can be delegated "
            "is unknown; check the account name the hosts report (whoami) and the directory's read rights."
        )
    problems, fixes = [], []
    if account.protected_user:
        problems.append(f"{user} is in Protected Users")
        fixes.append(f"remove {user} from Protected Users")
    if account.user_account_control & UAC_NOT_DELEGATED:
        problems.append(
            f"{user} is marked 'Account is sensitive and cannot be delegated' (NOT_DELEGATED 0x100000)"
        )
        fixes.append("clear 'Account is sensitive and cannot be delegated' on its Account tab")
    require(
        not problems,
        observed="; ".join(problems),
        expected="an operator account Kerberos may delegate",
        fix=" and ".join(fixes)
        + ", or start migrations with another administrator account that can be delegated",
    )


# The outcomes and messages a few facts give (tests/test_cases.py; the healthy defaults: tests/factory.py).
CASES = [
    Case("pass"),
    Case("pass", host={"session": {"group_sids": ["S-1-5-32-578"]}}),
    Case("fail", "Hyper-V Administrators", host={"session": {"group_sids": ["S-1-5-32-545"]}}),
]
