"""N4."""

from lmready.catalogue import Severity, applies_only_if, check, require
from lmready.estate import PairView


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
