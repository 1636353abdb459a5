"""N6."""

from lmready.catalogue import Severity, check, require
from lmready.estate import HostView


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
