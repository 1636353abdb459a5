"""N3: migration subnets private or trusted (REQUIREMENTS.md section 2)."""

import ipaddress

from lmready.catalogue import Case, Requirement, Severity, applies_only_if, check, require
from lmready.estate import HostView

# RFC 1918 and IPv6 unique local addresses; ipaddress's is_private also admits other ranges.
PRIVATE = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")]

REQUIREMENT = Requirement(
    ref="N3",
    synopsis="migration subnets private or trusted",
    why="the memory of running VMs crosses the migration network in clear",
    fix="move migration traffic to a private, isolated network, or list a trusted subnet under policy.trusted_subnets",
    links=(
        "https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v/deploy/set-up-hosts-for-live-migration-without-failover-clustering",
        "https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v/manage/live-migration-overview",
    ),
)


def _within(inner, outer) -> bool:
    return inner.version == outer.version and inner.subnet_of(outer)


@check(
    "LMR-043",
    ref="N3",
    title="Migration subnets are private or trusted",
    severity=Severity.MEDIUM,
    area="network",
)
def test_migration_subnets_private(host: HostView):
    networks = host.facts.migration_networks
    applies_only_if(bool(networks), "a listed migration network", "none listed")
    trusted = [ipaddress.ip_network(t) for t in host.policy.trusted_subnets]
    public = [n.subnet for n in networks if not any(_within(n.network, r) for r in PRIVATE + trusted)]
    require(
        not public,
        observed=f"public subnet {', '.join(public)}",
        expected="RFC 1918 or fc00::/7 subnets, or subnets listed in policy.trusted_subnets",
        fix="migration traffic is not encrypted: move it to a private, isolated network, or list "
        "the subnet under policy.trusted_subnets if it is one",
    )


# The outcomes and messages a few facts give (tests/test_cases.py; the healthy defaults: tests/factory.py).
CASES = [
    Case("pass"),
    Case("pass", host={"migration_networks": [{"subnet": "fd00:10::/64"}]}),
    Case("fail", "2001:db8::/64", host={"migration_networks": [{"subnet": "2001:db8::/64"}]}),
    Case(
        "pass",
        host={"migration_networks": [{"subnet": "198.51.100.0/24"}]},
        policy={"trusted_subnets": ("198.51.0.0/16",)},
    ),
    Case("skip", "migration network", host={"migration_networks": None}),
]
