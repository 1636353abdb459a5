"""P1."""

from lmready.catalogue import Severity, check, require
from lmready.estate import PairView


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
