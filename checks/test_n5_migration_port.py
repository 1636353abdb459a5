"""N5: destination accepts TCP 6600 (REQUIREMENTS.md section 2)."""

from lmready.catalogue import Case, Fix, Requirement, Severity, check, fail, planner, require
from lmready.constants import FIREWALL_RULE, MIGRATION_PORT
from lmready.estate import FactsUnavailable, HostView, PairView
from lmready.remediation import host_changes
from lmready.remediation.planners import Refused, host_change, pair_of

REQUIREMENT = Requirement(
    ref="N5",
    synopsis="destination accepts TCP 6600",
    why="migrations connect to TCP 6600 on the destination; blocked, they fail with 0x8007274D or 0x8007274C",
    fix="Enable-NetFirewallRule -Name VIRT-MIGL-In-TCP-NoScope on the destination (or in the Group Policy that manages it)",
    links=(
        "https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v/deploy/set-up-hosts-for-live-migration-without-failover-clustering",
        "https://learn.microsoft.com/en-us/powershell/module/netsecurity/enable-netfirewallrule",
    ),
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


FIX = Fix("enable-migration-firewall-rule", f"Enable-NetFirewallRule -Name {FIREWALL_RULE}", True)


@planner("enable-migration-firewall-rule")
def plan_enable_firewall_rule(finding, estate):
    dst = pair_of(finding, estate).dst
    rule = dst.facts.firewall_rule
    if rule is None:
        raise Refused(
            f"the firewall rule {FIREWALL_RULE} does not exist on {dst}; it comes with the "
            "Hyper-V role, so check the role there (lmready does not create firewall rules)"
        )
    if rule.enabled:
        raise Refused(
            f"the rule is enabled on {dst}, so TCP {MIGRATION_PORT} is blocked elsewhere: {finding.fix}"
        )
    return [host_change(finding, dst.name, host_changes.FIREWALL, False, True)]


# The outcomes and messages a few facts give (tests/test_cases.py; the healthy defaults: tests/factory.py).
CASES = [
    Case("pass"),
    Case("fail", "disabled", dst={"firewall_rule": {"enabled": False}}),
    Case("fail", "missing", dst={"firewall_rule": None}),
]
