"""A5: no unconstrained delegation (REQUIREMENTS.md section 2)."""

from lmready.catalogue import Case, Requirement, Severity, applies_only_if, check, require
from lmready.estate import HostView
from lmready.facts import (
    UAC_TRUSTED_FOR_DELEGATION,
)

REQUIREMENT = Requirement(
    ref="A5",
    synopsis="no unconstrained delegation",
    why="an account trusted for unconstrained delegation hands any user's ticket to whoever controls the host",
    fix="replace unconstrained delegation with constrained delegation on the host accounts",
    links=(
        "https://learn.microsoft.com/en-us/windows-server/security/kerberos/kerberos-constrained-delegation-overview",
    ),
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


# The outcomes and messages a few facts give (tests/test_cases.py; the healthy defaults: tests/factory.py).
CASES = [
    Case("pass", domain={}),
    Case(
        "fail", "HV01$", "0x80000", domain={"accounts": {"hv01": {"user_account_control": 0x1000 | 0x80000}}}
    ),
    Case("skip", "directory entry"),
]
