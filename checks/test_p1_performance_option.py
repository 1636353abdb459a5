"""P1: performance option as the policy expects, on both ends (REQUIREMENTS.md section 2)."""

from lmready.catalogue import Case, Fix, Requirement, Severity, check, planner, require
from lmready.estate import PairView
from lmready.remediation import host_changes
from lmready.remediation.planners import policy_setting

REQUIREMENT = Requirement(
    ref="P1",
    synopsis="performance option as the policy expects, on both ends",
    why="both ends must use the same transport; the article's SMBTransport does not exist (TCPIP, Compression, SMB)",
    fix="Set-VMHost -VirtualMachineMigrationPerformanceOption <policy> on the host that differs",
    links=(
        "https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v/deploy/set-up-hosts-for-live-migration-without-failover-clustering",
        "https://learn.microsoft.com/en-us/powershell/module/hyper-v/set-vmhost",
    ),
)


@check(
    "LMR-031",
    ref="P1",
    title="Both ends use the policy's migration performance option",
    severity=Severity.MEDIUM,
    area="performance",
    fix="set-migration-performance",
)
def test_performance_option(pair: PairView):
    wrong = [
        end
        for end in (pair.src, pair.dst)
        if end.facts.migration.performance_option != end.policy.performance
    ]
    expected = pair.src.policy.performance
    require(
        not wrong,
        observed=", ".join(f"{e} {e.facts.migration.performance_option}" for e in wrong),
        expected=f"{expected} on both hosts",
        fix=f"Set-VMHost -VirtualMachineMigrationPerformanceOption {expected} on "
        + " and ".join(str(e) for e in wrong),
    )


FIX = Fix(
    "set-migration-performance",
    "Set-VMHost -VirtualMachineMigrationPerformanceOption <policy>",
    True,
    "the value comes from the inventory policy; SMB, never SMBTransport",
)

plan_performance = planner("set-migration-performance")(
    policy_setting(
        host_changes.PERFORMANCE,
        lambda end: str(end.facts.migration.performance_option),
        lambda end: str(end.policy.performance),
    )
)


# The outcomes and messages a few facts give (tests/test_cases.py; the healthy defaults: tests/factory.py).
CASES = [
    Case("pass"),
    Case("fail", "hv02 SMB", dst={"migration": {"performance_option": 2}}),
]
