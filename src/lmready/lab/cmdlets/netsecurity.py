"""The NetSecurity module's cmdlets over a lab host's firewall: the live migration rule (the only
rule the lab models) and the three profiles. These are CIM cmdlets: their objects are CIM
instances of MSFT_NetFirewallRule and MSFT_NetFirewallProfile, with the module's enums."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import TYPE_CHECKING

from lmready.constants import FIREWALL_RULE
from lmready.facts import FirewallRule, HostFacts
from lmready.lab.cmdlets import cmdlet, table
from lmready.lab.cmdlets.shapes import shaped
from lmready.lab.powershell.errors import NotModelled
from lmready.lab.powershell.evaluator import Call
from lmready.lab.powershell.values import PSObject

if TYPE_CHECKING:
    from lmready.lab.model import HyperVHost

FIREWALL_DISPLAY_NAME = "Hyper-V (MIG-TCP-In)"
_CIM = "Microsoft.Management.Infrastructure.CimInstance#root/StandardCimv2/{}"


def rule_object(rule: FirewallRule) -> PSObject:
    return shaped(
        _CIM.format("MSFT_NetFirewallRule"),
        {
            "Name": rule.name,
            "ID": rule.name,
            "DisplayName": FIREWALL_DISPLAY_NAME,
            "Group": "@%systemroot%\\system32\\vmms.exe,-251",
            "DisplayGroup": "Hyper-V",
            "Enabled": str(rule.enabled),
            "Direction": "Inbound",
            "Action": rule.action,
            "PolicyStoreSourceType": rule.source or None,
            "PrimaryStatus": "OK",
        },
    )


def _rule_selected(host: HyperVHost, call: Call) -> bool:
    """Whether -Name/-DisplayName select the migration rule; the other values are not-found errors."""
    state = host.state
    names, display = call.params.get("Name"), call.params.get("DisplayName")
    if names is None and display is None:
        raise NotModelled(f"every firewall rule ({call.info.name} without -Name or -DisplayName)")
    prop, wanted, actual = (
        ("Name", names, FIREWALL_RULE)
        if names is not None
        else ("DisplayName", display, FIREWALL_DISPLAY_NAME)
    )
    selected = False
    for value in wanted:
        if state.firewall_rule is not None and fnmatch.fnmatchcase(actual.lower(), value.lower()):
            selected = True
        elif not any(ch in value for ch in "*?["):
            call.fail(
                f"No MSFT_NetFirewallRule objects found with property '{prop}' equal to '{value}'.  "
                "Verify the value of the property and retry.",
                f"CmdletizationQuery_NotFound_{prop}",
                "ObjectNotFound",
                "Microsoft.Management.Infrastructure.CimException",
            )
    return selected


def _toggle(enabled: bool) -> Callable[[HyperVHost, Call], HostFacts | None]:
    def handler(host: HyperVHost, call: Call) -> HostFacts | None:
        if not _rule_selected(host, call) or host.state.firewall_rule is None:
            return None
        rule = host.state.firewall_rule.model_copy(update={"enabled": enabled})
        call.passthru(rule_object(rule))
        return host.state.model_copy(update={"firewall_rule": rule})

    return handler


def _get_rule(host: HyperVHost, call: Call) -> None:
    store = call.params.get("PolicyStore")
    if store is not None and store.lower() not in ("activestore", "persistentstore"):
        raise NotModelled(f"the policy store '{store}'")
    if _rule_selected(host, call) and host.state.firewall_rule is not None:
        call.write(rule_object(host.state.firewall_rule))


def _get_profiles(host: HyperVHost, call: Call) -> None:
    for profile in host.state.firewall_profiles:
        call.write(
            shaped(
                _CIM.format("MSFT_NetFirewallProfile"),
                {
                    "Name": profile.name,
                    "Enabled": str(profile.enabled),
                    "DefaultInboundAction": "NotConfigured",
                    "DefaultOutboundAction": "NotConfigured",
                },
            )
        )


_SELECT = ("Name", "DisplayName", "PolicyStore")
CMDLETS = table(
    cmdlet("Get-NetFirewallRule", _get_rule, *_SELECT),
    cmdlet("Enable-NetFirewallRule", _toggle(True), *_SELECT, "PassThru"),
    cmdlet("Disable-NetFirewallRule", _toggle(False), *_SELECT, "PassThru"),
    cmdlet("Get-NetFirewallProfile", _get_profiles, "PolicyStore"),
)
