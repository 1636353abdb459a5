"""N2: migration traffic isolated (REQUIREMENTS.md section 2)."""

import ipaddress

from lmready.catalogue import Case, Fix, Requirement, Severity, applies_only_if, check, planner, require
from lmready.estate import HostView
from lmready.remediation import host_changes
from lmready.remediation.planners import Refused, host_change, host_of

REQUIREMENT = Requirement(
    ref="N2",
    synopsis="migration traffic isolated",
    why="migration traffic is not encrypted: it belongs on networks set apart for it",
    fix="Add-VMMigrationNetwork <subnet> (not Set-VMMigrationNetwork), then Set-VMHost -UseAnyNetworkForMigration $false",
    links=(
        "https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v/deploy/set-up-hosts-for-live-migration-without-failover-clustering",
        "https://learn.microsoft.com/en-us/powershell/module/hyper-v/add-vmmigrationnetwork",
    ),
)


@check(
    "LMR-042",
    ref="N2",
    title="Migration traffic isolated on listed networks",
    severity=Severity.MEDIUM,
    area="network",
    fix="add-migration-network",
)
def test_migration_isolated(host: HostView):
    applies_only_if(
        host.policy.require_isolation, "policy require_isolation: true", "the policy does not require it"
    )
    m = host.facts.migration
    networks = [n.subnet for n in host.facts.migration_networks]
    problems = []
    if m.use_any_network:
        problems.append("UseAnyNetworkForMigration True")
    if not networks:
        problems.append("no migration network listed")
    require(
        not problems,
        observed="; ".join(problems),
        expected="UseAnyNetworkForMigration False with at least one migration network",
        fix=f"on {host}: Add-VMMigrationNetwork <subnet> (not Set-VMMigrationNetwork, which edits an "
        "existing entry), then Set-VMHost -UseAnyNetworkForMigration $false",
    )


FIX = Fix(
    "add-migration-network",
    "Add-VMMigrationNetwork <subnet>; Set-VMHost -UseAnyNetworkForMigration $false",
    True,
    "never removes an existing migration network",
)


@planner("add-migration-network")
def plan_add_network(finding, estate):
    view = host_of(finding, estate)
    have = [n.network for n in view.facts.migration_networks]
    adds = [s for s in view.policy.migration_networks if ipaddress.ip_network(s) not in have]
    if not have and not adds:
        raise Refused(
            f"the policy names no subnet for {view} to add with Add-VMMigrationNetwork; list the "
            "host's migration subnet under policy.migration_networks"
        )
    changes = [host_change(finding, view.name, host_changes.NETWORK, None, s) for s in adds]
    if view.facts.migration.use_any_network:
        changes.append(host_change(finding, view.name, host_changes.USE_ANY_NETWORK, True, False))
    return changes


# The outcomes and messages a few facts give (tests/test_cases.py; the healthy defaults: tests/factory.py).
CASES = [
    Case("pass"),
    Case("fail", "UseAnyNetworkForMigration True", host={"migration": {"use_any_network": True}}),
    Case("fail", "no migration network", host={"migration_networks": []}),
    Case("skip", "require_isolation", host={"migration_networks": []}, policy={"require_isolation": False}),
]
