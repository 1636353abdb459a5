"""N6: simultaneous live migrations as the policy says (REQUIREMENTS.md section 2)."""

from lmready.catalogue import Case, Fix, Requirement, Severity, check, planner, require
from lmready.estate import HostView
from lmready.remediation import host_changes
from lmready.remediation.planners import policy_setting

REQUIREMENT = Requirement(
    ref="N6",
    synopsis="simultaneous live migrations as the policy says",
    why="the number of simultaneous live migrations is the admin's choice; 0 blocks them all, and the limit shows as event 21501",
    fix="Set-VMHost -MaximumVirtualMachineMigrations <policy>",
    links=(
        "https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v/deploy/set-up-hosts-for-live-migration-without-failover-clustering",
        "https://learn.microsoft.com/en-us/powershell/module/hyper-v/set-vmhost",
    ),
)


@check(
    "LMR-046",
    ref="N6",
    title="Simultaneous live migrations set to the policy value",
    severity=Severity.MEDIUM,
    area="network",
    fix="set-simultaneous-migrations",
)
def test_simultaneous_migrations(host: HostView):
    observed = host.facts.migration.maximum_migrations
    expected = host.policy.simultaneous_migrations
    require(
        observed == expected,
        observed=f"{observed}",
        expected=f"{expected}",
        fix=f"on {host}: Set-VMHost -MaximumVirtualMachineMigrations {expected}",
        severity=Severity.HIGH if observed < 1 else None,
    )


FIX = Fix(
    "set-simultaneous-migrations",
    "Set-VMHost -MaximumVirtualMachineMigrations <policy>",
    True,
    "the value comes from the inventory policy",
)

plan_simultaneous = planner("set-simultaneous-migrations")(
    policy_setting(
        host_changes.SIMULTANEOUS,
        lambda end: end.facts.migration.maximum_migrations,
        lambda end: end.policy.simultaneous_migrations,
    )
)


# The outcomes and messages a few facts give (tests/test_cases.py; the healthy defaults: tests/factory.py).
CASES = [
    Case("pass"),
    Case("fail", "observed 4", "expected 2", host={"migration": {"maximum_migrations": 4}}),
]
