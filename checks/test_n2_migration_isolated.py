"""N2."""

from lmready.catalogue import Severity, applies_only_if, check, require
from lmready.estate import HostView


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
