"""Host changes: the cmdlet line of each setting, and one PowerShell round trip per host that
makes all of that host's changes (REQUIREMENTS.md section 4).

The script starts with ``$ErrorActionPreference = 'Stop'``, so the first failing cmdlet stops
it, and every cmdlet runs with -Passthru, so it emits exactly one object when it succeeds: the
number of objects that come back says how many changes were made, even when one failed.
"""

from __future__ import annotations

import ipaddress

from pypsrp.powershell import PowerShell

from lmready.facts import HostFacts
from lmready.inventory import Host
from lmready.psrp import Session, explain, first_line
from lmready.remediation.change import APPLIED, FAILED, Change, Outcome, Value

FIREWALL_RULE = "VIRT-MIGL-In-TCP-NoScope"

# Settings: Get-VMHost property names, plus the two that are not Get-VMHost properties.
ENABLED = "VirtualMachineMigrationEnabled"
AUTHENTICATION = "VirtualMachineMigrationAuthenticationType"
PERFORMANCE = "VirtualMachineMigrationPerformanceOption"
SIMULTANEOUS = "MaximumVirtualMachineMigrations"
USE_ANY_NETWORK = "UseAnyNetworkForMigration"
NETWORK = "VMMigrationNetwork"  # multi-valued: one subnet per change, None = absent
FIREWALL = f"NetFirewallRule {FIREWALL_RULE} Enabled"
SET_VMHOST = (AUTHENTICATION, PERFORMANCE, SIMULTANEOUS, USE_ANY_NETWORK)


def command(setting: str, before: Value, after: Value) -> str:
    """The exact line the host runs to take ``setting`` from ``before`` to ``after``."""
    if setting == ENABLED:
        return f"{'Enable' if after else 'Disable'}-VMMigration -Passthru"
    if setting in SET_VMHOST:
        return f"Set-VMHost -{setting} {_literal(after)} -Passthru"
    if setting == NETWORK:
        if after is not None:
            return f"Add-VMMigrationNetwork -Subnet {_literal(after)} -Passthru"
        return f"Remove-VMMigrationNetwork -Subnet {_literal(before)} -Passthru"
    if setting == FIREWALL:
        return f"{'Enable' if after else 'Disable'}-NetFirewallRule -Name {FIREWALL_RULE} -PassThru"
    raise ValueError(f"no host command sets {setting}")


def _literal(value: Value) -> str:
    if isinstance(value, bool):
        return "$true" if value else "$false"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def current(setting: str, member: Value, facts: HostFacts) -> Value:
    """The setting's value in freshly collected facts; for NETWORK, ``member`` or None."""
    m = facts.migration
    if setting == NETWORK:
        wanted = ipaddress.ip_network(str(member), strict=False)
        present = any(n.network == wanted for n in facts.migration_networks)
        return member if present else None
    if setting == FIREWALL:
        return None if facts.firewall_rule is None else facts.firewall_rule.enabled
    values = {
        ENABLED: m.enabled,
        AUTHENTICATION: str(m.authentication_type),
        PERFORMANCE: str(m.performance_option),
        SIMULTANEOUS: m.maximum_migrations,
        USE_ANY_NETWORK: m.use_any_network,
    }
    return values[setting]


def script(changes: list[Change]) -> str:
    return "\n".join(["$ErrorActionPreference = 'Stop'", *(c.command for c in changes)])


def apply_host(host: Host, changes: list[Change], session: Session) -> list[Outcome]:
    """Run all of one host's changes in one script; an outcome per change, in order."""
    try:
        ps = PowerShell(session.pool)
        ps.add_script(script(changes))
        output = ps.invoke()
    except Exception as exc:
        reason = explain(host, exc, "the remediation script")
        return [
            Outcome(c, FAILED, f"{reason} Whether it changed anything is unknown: audit again.")
            for c in changes
        ]
    done = len(output)
    error = (
        first_line(str(ps.streams.error[0]), "the pipeline failed")
        if ps.had_errors and ps.streams.error
        else ""
    )
    outcomes = []
    for i, change in enumerate(changes):
        if i < done:
            outcomes.append(Outcome(change, APPLIED))
        elif i == done and error:
            outcomes.append(Outcome(change, FAILED, f"{host.name}: `{change.command}` failed: {error}."))
        elif error:
            outcomes.append(
                Outcome(change, FAILED, f"{host.name}: not run, because an earlier change failed.")
            )
        else:
            outcomes.append(
                Outcome(change, FAILED, f"{host.name}: `{change.command}` returned nothing; audit again.")
            )
    return outcomes
