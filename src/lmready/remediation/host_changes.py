"""Host changes: the cmdlet line of each setting, and one PowerShell round trip per host that
makes all of that host's changes (REQUIREMENTS.md section 4).

Every change is compare-and-set inside the script: the setting is read again on the host and
the cmdlet runs only if it still has the value the plan saw, so a change somebody made since
the plan is kept, not overwritten (the window is the few milliseconds between the read and the
cmdlet on the host, not the time between plan and apply). Change N writes ``'N set'`` when its
cmdlet ran, or ``'N kept'`` and the value it found. The script starts with
``$ErrorActionPreference = 'Stop'``, so the first failing read or cmdlet stops it: what came
back says exactly which changes were made.
"""

from __future__ import annotations

import ipaddress

from pypsrp.powershell import PowerShell

from lmready.constants import FIREWALL_RULE
from lmready.facts import HostFacts
from lmready.inventory import Host
from lmready.psrp import Session, explain, first_line
from lmready.pwsh import literal, quote
from lmready.remediation.change import APPLIED, FAILED, SKIPPED, UNKNOWN, Change, ChangeResult, Value, show
from lmready.text import printable

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
    """The exact cmdlet line the host runs to take ``setting`` from ``before`` to ``after``."""
    if setting == ENABLED:
        return f"{'Enable' if after else 'Disable'}-VMMigration"
    if setting in SET_VMHOST:
        return f"Set-VMHost -{setting} {literal(after)}"
    if setting == NETWORK:
        if after is not None:
            return f"Add-VMMigrationNetwork -Subnet {literal(after)}"
        return f"Remove-VMMigrationNetwork -Subnet {literal(before)}"
    if setting == FIREWALL:
        return f"{'Enable' if after else 'Disable'}-NetFirewallRule -Name {FIREWALL_RULE}"
    raise ValueError(f"no host command sets {setting}")


def read(setting: str, member: Value) -> str:
    """The expression that reads the setting on the host; [string] of it is the setting's text."""
    if setting == NETWORK:
        # Empty when the subnet is absent, whether or not Hyper-V calls "not found" an error.
        return f"(Get-VMMigrationNetwork -Subnet {literal(member)} -ErrorAction SilentlyContinue).Subnet"
    if setting == FIREWALL:
        return f"(Get-NetFirewallRule -Name {FIREWALL_RULE}).Enabled"
    return f"(Get-VMHost).{setting}"


def text(value: Value) -> str:
    """A value as [string] prints it on the host: absent is empty, booleans True/False."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def value_of(setting: str, printed: str) -> Value:
    """The inverse of text() for one setting."""
    if setting == NETWORK or printed == "":
        return printed or None
    if setting in (ENABLED, USE_ANY_NETWORK, FIREWALL) and printed.lower() in ("true", "false"):
        return printed.lower() == "true"
    if setting == SIMULTANEOUS and printed.isdigit():
        return int(printed)
    return printed


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
    lines = ["$ErrorActionPreference = 'Stop'"]
    for n, c in enumerate(changes, 1):
        get = f"[string]{read(c.setting, _member(c))}"
        lines.append(
            f"if ({get} -eq {quote(text(c.before))}) {{ {c.command}; '{n} set' }} else {{ '{n} kept'; {get} }}"
        )
    return "\n".join(lines)


def _member(change: Change) -> Value:
    return change.after if change.after is not None else change.before


def apply_host(host: Host, changes: list[Change], session: Session) -> list[ChangeResult]:
    """Run all of one host's changes in one script; an outcome per change, in order."""
    try:
        ps = PowerShell(session.pool)
        ps.add_script(script(changes))
        output = ps.invoke()
    except Exception as exc:
        reason = explain(host, exc, "the remediation script")
        return [
            ChangeResult(c, UNKNOWN, f"{reason} Whether it changed anything is unknown.") for c in changes
        ]
    error = (
        first_line(str(ps.streams.error[0]), "the pipeline failed")
        if ps.had_errors and ps.streams.error
        else ""
    )
    said = [printable(str(o)) for o in output]  # the host's words reach the terminal and the journal
    outcomes: list[ChangeResult] = []
    at = 0
    for n, change in enumerate(changes, 1):
        word = said[at] if at < len(said) else None
        if word == f"{n} set":
            outcomes.append(ChangeResult(change, APPLIED))
            at += 1
        elif word == f"{n} kept" and at + 1 < len(said):
            now = value_of(change.setting, said[at + 1])
            outcomes.append(
                ChangeResult(
                    change,
                    SKIPPED,
                    f"{host.name}: changed since the plan: {change.setting} is {show(now)}, the plan saw "
                    f"{show(change.before)}; left as is.",
                )
            )
            at += 2
        elif word is None and error and not any(o.status == FAILED for o in outcomes):
            outcomes.append(ChangeResult(change, FAILED, f"{host.name}: `{change.command}` failed: {error}."))
        elif word is None and error:
            outcomes.append(
                ChangeResult(change, FAILED, f"{host.name}: not run, because an earlier change failed.")
            )
        else:
            outcomes.append(
                ChangeResult(
                    change,
                    UNKNOWN,
                    f"{host.name}: the remediation script's answer ended before `{change.command}` said "
                    "whether it ran; whether it changed anything is unknown.",
                )
            )
            at = len(said)
    return outcomes
