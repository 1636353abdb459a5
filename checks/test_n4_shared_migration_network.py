"""N4: source has an address on a destination migration network (REQUIREMENTS.md section 2)."""

from lmready.catalogue import Case, Requirement, Severity, applies_only_if, check, require
from lmready.estate import PairView

REQUIREMENT = Requirement(
    ref="N4",
    synopsis="source has an address on a destination migration network",
    why="a destination that accepts migrations only on listed networks is unreachable from a source with no address on them",
    fix="give the source an address on one of the destination's migration subnets, or add a network both share",
    links=(
        "https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v/deploy/set-up-hosts-for-live-migration-without-failover-clustering",
        "https://learn.microsoft.com/en-us/powershell/module/hyper-v/add-vmmigrationnetwork",
    ),
)


@check(
    "LMR-044",
    ref="N4",
    title="Source has an address on a destination migration network",
    severity=Severity.HIGH,
    area="network",
)
def test_shared_migration_network(pair: PairView):
    dst = pair.dst.facts
    applies_only_if(
        not dst.migration.use_any_network and bool(dst.migration_networks),
        f"{pair.dst} restricted to listed migration networks",
        "it uses any network",
    )
    subnets = [n.network for n in dst.migration_networks]
    ours = [a.ip for a in pair.src.facts.addresses]
    require(
        any(ip in net for ip in ours for net in subnets),
        observed=f"{pair.src} addresses {', '.join(str(ip) for ip in ours) or 'none'}",
        expected=f"an address in {', '.join(str(n) for n in subnets)}",
        fix=f"give {pair.src} an address on {subnets[0]}, or add a network both hosts share with "
        f"Add-VMMigrationNetwork on {pair.dst}",
    )


# The outcomes and messages a few facts give (tests/test_cases.py; the healthy defaults: tests/factory.py).
CASES = [
    Case("pass"),
    Case(
        "fail",
        "192.168.1.11",
        "10.10.0.0/24",
        src={"addresses": [{"address": "192.168.1.11", "prefix_length": 24}]},
    ),
    Case("skip", "any network", dst={"migration": {"use_any_network": True}}),
]
