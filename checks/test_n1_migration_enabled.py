"""N1."""

from lmready.catalogue import Severity, check, require
from lmready.estate import HostView


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
