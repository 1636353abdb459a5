"""A3: Kerberos across domains needs another mechanism (REQUIREMENTS.md section 2)."""

from lmready.catalogue import Case, Requirement, Severity, applies_only_if, check, warn
from lmready.delegation import kerberos_on_both_ends, rbcd_allows
from lmready.estate import PairView

REQUIREMENT = Requirement(
    ref="A3",
    synopsis="Kerberos across domains needs another mechanism",
    why="classic constrained delegation reaches only services of the account's own domain; across domains only resource-based delegation works",
    fix="grant the source's account on the destination's computer account (Set-ADComputer -PrincipalsAllowedToDelegateToAccount), or use CredSSP",
    links=(
        "https://learn.microsoft.com/en-us/windows-server/security/kerberos/kerberos-constrained-delegation-overview",
    ),
)


@check(
    "LMR-023",
    ref="A3",
    title="Kerberos delegation across domains: resource-based delegation",
    severity=Severity.LOW,
    area="delegation",
    directory="optional",
)
def test_cross_domain_kerberos(pair: PairView):
    kerberos_on_both_ends(pair)
    s, d = pair.src.facts.domain, pair.dst.facts.domain
    applies_only_if(s.lower() != d.lower(), "hosts in different domains", f"both in {s}")
    if pair.src.domain is not None and pair.dst.domain is not None and rbcd_allows(pair.src, pair.dst):
        return "resource-based constrained delegation covers this cross-domain pair"
    warn(
        observed=f"Kerberos from {s} to {d} without resource-based delegation of {pair.src} to {pair.dst}",
        expected="classic constrained delegation only reaches services in the account's own domain",
        fix="use resource-based constrained delegation (msDS-AllowedToActOnBehalfOfOtherIdentity on "
        f"{pair.dst} allowing {pair.src}; Windows Server 2012+ DCs on both sides) or CredSSP with "
        "migrations started on the source host",
    )


# The outcomes and messages a few facts give (tests/test_cases.py; the healthy defaults: tests/factory.py).
CASES = [
    Case("skip", "different domains"),
    Case("warn", "resource-based", dst={"domain": "rd.example.net"}),
]
