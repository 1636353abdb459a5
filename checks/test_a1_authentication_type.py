"""A1."""

from lmready.catalogue import Severity, check, require
from lmready.estate import PairView


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
