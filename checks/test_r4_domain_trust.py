"""R4: same domain or domains that trust each other (REQUIREMENTS.md section 1)."""

from dataclasses import dataclass

from lmready.catalogue import Case, Requirement, Severity, check, fail, warn
from lmready.estate import FactsUnavailable, HostView, PairView
from lmready.facts import (
    TRUST_CROSS_ORGANIZATION,
    TRUST_FOREST_TRANSITIVE,
    TRUST_TWO_WAY,
    TRUST_WITHIN_FOREST,
    DomainFacts,
)

REQUIREMENT = Requirement(
    ref="R4",
    synopsis="same domain or domains that trust each other",
    why="Kerberos and CredSSP authenticate each host to the other only across a two-way (transitive) trust",
    fix="join both hosts to one domain, or create a two-way trust between their domains or forests",
    links=(
        "https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v/deploy/set-up-hosts-for-live-migration-without-failover-clustering",
        "https://learn.microsoft.com/en-us/previous-versions/windows/it-pro/windows-server-2003/cc773178(v=ws.10)",
    ),
)


@dataclass
class _Link:
    """What the trust objects read on either side say about one trust between two domains."""

    kind: str  # "forest trust" or "external trust"
    ends: tuple[str, str]
    direction: int = 0  # as seen from ends[0]: 1 inbound, 2 outbound, 3 both
    selective: bool = False


def _links(pair: PairView, a: str, b: str, root_a: str, root_b: str) -> list[_Link]:
    """The trusts that can join domain a to domain b, from every trust object read (MS-ADTS
    6.1.6.7.9; "How trust relationships work for forests in Active Directory"): a forest trust
    (FOREST_TRANSITIVE) exists between the two forest roots and joins every domain of both forests;
    an external trust joins only its two domains and is not transitive. Trusts do not chain across
    a third forest, so nothing else can join them."""
    forest = _Link("forest trust", (root_a, root_b))
    external = _Link("external trust", (a, b))
    for domain in pair.domains.values():
        here = domain.name.lower()
        for t in domain.trusts:
            there = t.partner.lower()
            if t.trust_type not in (1, 2) or t.attributes & TRUST_WITHIN_FOREST:
                continue  # MIT realms and trusts inside one forest cannot join two forests
            link = forest if t.attributes & TRUST_FOREST_TRANSITIVE else external
            if (here, there) == link.ends:
                link.direction |= t.direction & TRUST_TWO_WAY
            elif (there, here) == link.ends:
                # The other side's outbound trust is this side's inbound one, and the other way round.
                link.direction |= ((t.direction & 1) << 1) | ((t.direction & 2) >> 1)
            else:
                continue
            link.selective |= bool(t.attributes & TRUST_CROSS_ORGANIZATION)
    return [link for link in (forest, external) if link.direction]


def _directory_of(pair: PairView, end: HostView) -> DomainFacts:
    if end.domain is not None:
        return end.domain
    raise FactsUnavailable(
        f"{end}: its domain {end.facts.domain} has no entry under directory: in the inventory, so the "
        "trusts that join it to the other host's domain cannot be read; add it there."
    )


@check(
    "LMR-014",
    ref="R4",
    title="Both hosts in one domain, or in domains that trust each other",
    severity=Severity.CRITICAL,
    area="domain",
    directory="optional",
)
def test_domain_trust(pair: PairView):
    s, d = pair.src.facts, pair.dst.facts
    workgroup = [end for end in (pair.src, pair.dst) if not end.facts.part_of_domain]
    if workgroup:
        fail(
            observed=", ".join(f"{e} is not domain-joined (workgroup {e.facts.domain})" for e in workgroup),
            expected="both hosts in Active Directory domains",
            fix=f"join {' and '.join(str(e) for e in workgroup)} to a domain (Add-Computer): live migration "
            "without a domain exists only inside a failover cluster (workgroup clusters, Windows Server 2025)",
        )
    if s.domain.lower() == d.domain.lower():
        return
    da, db = _directory_of(pair, pair.src), _directory_of(pair, pair.dst)
    a, b = da.name.lower(), db.name.lower()
    root_a, root_b = da.forest_root.lower(), db.forest_root.lower()
    if root_a == root_b:
        return  # domains of one forest trust each other (parent-child and tree-root trusts)
    links = _links(pair, a, b, root_a, root_b)
    two_way = [link for link in links if link.direction == TRUST_TWO_WAY]
    if two_way:
        best = min(two_way, key=lambda link: link.selective)
        if not best.selective:
            return
        warn(
            observed=f"{best.kind} {best.ends[0]} <-> {best.ends[1]} uses selective authentication "
            "(CROSS_ORGANIZATION 0x10)",
            expected="each host's computer account allowed to authenticate to the other host",
            fix=f"grant 'Allowed to authenticate' on the computer object of {pair.dst} (in {d.domain}) to "
            f"{pair.src}'s computer account and the operators who start migrations, and on {pair.src} "
            f"(in {s.domain}) to {pair.dst}'s for migrations back (Security tab of each computer object)",
        )
    read = {n.lower() for n in pair.domains}
    if not links and root_a not in read and root_b not in read:
        raise FactsUnavailable(
            f"{pair}: {s.domain} and {d.domain} are in different forests ({root_a}, {root_b}) and a forest "
            f"trust is kept by the forest roots, whose trusts were not read; add {root_a} or {root_b} under "
            "directory: in the inventory, or fix the error its collection reported."
        )
    if links:
        seen = "; ".join(
            f"one-way {link.kind}: {link.ends[0]} "
            + ("trusts" if link.direction == 2 else "is trusted by")
            + f" {link.ends[1]} only"
            for link in links
        )
    else:
        seen = f"no forest trust between {root_a} and {root_b} and no external trust between {a} and {b}"
    fail(
        observed=f"{s.domain} (forest {root_a}) and {d.domain} (forest {root_b}): {seen}",
        expected="same domain, same forest, a two-way forest trust between the forest roots, or a two-way "
        "external trust between the two domains",
        fix=f"have the domain admins create a two-way trust (a forest trust between {root_a} and {root_b}, "
        f"or an external trust between {a} and {b}), or move the VM offline",
    )


# The outcomes and messages a few facts give (tests/test_cases.py; the healthy defaults: tests/factory.py).
CASES = [
    Case("pass"),
    Case("fail", "not domain-joined", dst={"part_of_domain": False, "domain": "WORKGROUP"}),
]
