"""A1: same authentication type on both ends, as the policy expects (REQUIREMENTS.md section 2)."""

from lmready.catalogue import Case, Fix, Requirement, Severity, check, planner, require
from lmready.estate import PairView
from lmready.remediation import host_changes
from lmready.remediation.planners import policy_setting

REQUIREMENT = Requirement(
    ref="A1",
    synopsis="same authentication type on both ends, as the policy expects",
    why="both ends must authenticate migrations the same way; a mismatch fails with 0x8009030D",
    fix="Set-VMHost -VirtualMachineMigrationAuthenticationType <policy> on the host that differs",
    links=(
        "https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v/deploy/set-up-hosts-for-live-migration-without-failover-clustering",
        "https://learn.microsoft.com/en-us/powershell/module/hyper-v/set-vmhost",
    ),
)


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


FIX = Fix(
    "set-migration-authentication",
    "Set-VMHost -VirtualMachineMigrationAuthenticationType <policy>",
    True,
    "the value comes from the inventory policy",
)

plan_authentication = planner("set-migration-authentication")(
    policy_setting(
        host_changes.AUTHENTICATION,
        lambda end: str(end.facts.migration.authentication_type),
        lambda end: str(end.policy.authentication),
    )
)


# The outcomes and messages a few facts give (tests/test_cases.py; the healthy defaults: tests/factory.py).
CASES = [
    Case("pass"),
    Case("fail", "hv02 CredSSP", dst={"migration": {"authentication_type": 0}}),
]
