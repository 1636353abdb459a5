"""N1: live migrations enabled (REQUIREMENTS.md section 2)."""

from lmready.catalogue import Case, Fix, Requirement, Severity, check, planner, require
from lmready.estate import HostView
from lmready.remediation import host_changes
from lmready.remediation.planners import Refused, host_change, host_of

REQUIREMENT = Requirement(
    ref="N1",
    synopsis="live migrations enabled",
    why="a host with live migrations disabled neither sends nor accepts them",
    fix="Enable-VMMigration",
    links=(
        "https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v/deploy/set-up-hosts-for-live-migration-without-failover-clustering",
        "https://learn.microsoft.com/en-us/powershell/module/hyper-v/enable-vmmigration",
    ),
)


@check(
    "LMR-041",
    ref="N1",
    title="Incoming and outgoing live migrations enabled",
    severity=Severity.HIGH,
    area="network",
    fix="enable-vm-migration",
)
def test_migration_enabled(host: HostView):
    require(
        host.facts.migration.enabled,
        observed="live migrations disabled",
        expected="VirtualMachineMigrationEnabled True",
        fix=f"on {host}: Enable-VMMigration",
    )


FIX = Fix("enable-vm-migration", "Enable-VMMigration", True, "only on a domain-joined host")


@planner("enable-vm-migration")
def plan_enable_migration(finding, estate):
    view = host_of(finding, estate)
    facts = view.facts
    if not facts.part_of_domain:
        raise Refused(
            f"{view} is not domain-joined (workgroup {facts.domain}) and Enable-VMMigration works only "
            "on a domain member; join it to the domain first"
        )
    if facts.migration.enabled:
        return []
    return [host_change(finding, view.name, host_changes.ENABLED, False, True)]


# The outcomes and messages a few facts give (tests/test_cases.py; the healthy defaults: tests/factory.py).
CASES = [
    Case("pass"),
    Case("fail", "live migrations disabled", "Enable-VMMigration", host={"migration": {"enabled": False}}),
]
