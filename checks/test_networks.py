"""REQUIREMENTS.md section 2, networks: enabled, isolated, private, reachable (N1-N6)."""

import ipaddress

from lmready.catalogue import Severity, applies_only_if, check, fail, require
from lmready.constants import FIREWALL_RULE, MIGRATION_PORT
from lmready.estate import FactsUnavailable, HostView, PairView

# RFC 1918 and IPv6 unique local addresses; ipaddress's is_private also admits other ranges.
PRIVATE = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")]


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


def _within(inner, outer) -> bool:
    return inner.version == outer.version and inner.subnet_of(outer)


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


@check(
    "LMR-045",
    ref="N5",
    title="Destination accepts TCP 6600 from the source",
    severity=Severity.HIGH,
    area="network",
    fix="enable-migration-firewall-rule",
)
def test_migration_port(pair: PairView):
    # REQUIREMENTS.md N5: a live probe from the source decides when there is one; the rule of the
    # effective policy (Group Policy included, and the firewall profiles) decides otherwise, and
    # explains a closed port.
    probes = [p for p in pair.src.facts.probes if p.dst == pair.dst.name and p.port == MIGRATION_PORT]
    if any(p.open for p in probes):
        return  # whatever the rule says
    expected = f"TCP {MIGRATION_PORT} open from {pair.src} to a migration address of {pair.dst}"
    if probes:
        try:
            rule_state, rule_fix = _rule_state(pair.dst)
            why = f"; {rule_state}" + ("" if rule_fix else ", so something between the hosts blocks it")
        except FactsUnavailable as exc:  # the probe decided; only the explanation is missing
            rule_fix, why = "", f"; the firewall rule could not be read ({str(exc).rstrip('.')})"
        closed = ", ".join(f"{p.address} ({p.error})" if p.error else p.address for p in probes)
        fail(
            observed=f"TCP {MIGRATION_PORT} closed from {pair.src} to {closed}{why}",
            expected=expected,
            fix=rule_fix
            or "check the firewalls and routing between the hosts' migration networks (errors "
            "0x8007274D/0x8007274C, KB 4558514)",
        )
    rule_state, rule_fix = _rule_state(pair.dst)
    require(
        not rule_fix,
        observed=f"{rule_state} (no live probe from {pair.src})",
        expected=f"{FIREWALL_RULE} (Hyper-V (MIG-TCP-In)) enabled and allowing, or the firewall off, on {pair.dst}",
        fix=rule_fix,
    )


def _rule_state(dst: HostView) -> tuple[str, str]:
    """What the effective firewall policy of dst says about 6600, and the fix when it blocks."""
    profiles = dst.facts.firewall_profiles
    if profiles and not any(p.enabled for p in profiles):
        return f"the firewall of {dst} is off (every profile disabled)", ""
    rule = dst.facts.firewall_rule
    if rule is None:
        return f"firewall rule {FIREWALL_RULE} missing on {dst}", (
            f"on {dst}: reinstall the Hyper-V rule group or create an inbound allow rule for TCP "
            f"{MIGRATION_PORT} (Group Policy if the rules are managed there)"
        )
    where = " by Group Policy" if rule.source.lower() == "grouppolicy" else ""
    if rule.enabled and rule.action.lower() == "allow":
        return f"firewall rule {FIREWALL_RULE} on {dst} enabled{where}", ""
    state = "disabled" if not rule.enabled else f"set to {rule.action}"
    fix = (
        f"enable {FIREWALL_RULE} (Hyper-V (MIG-TCP-In)) in the Group Policy object that sets it for {dst}, "
        "then gpupdate /force"
        if where
        else f"on {dst}: Enable-NetFirewallRule -Name {FIREWALL_RULE}"
    )
    return f"firewall rule {FIREWALL_RULE} on {dst} {state}{where}", fix


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
