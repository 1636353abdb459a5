"""The NetSecurity module's cmdlets over a lab host's firewall: the live migration rule (the only
rule the lab models) and the three profiles. These are CIM cmdlets: their objects are CIM
instances of MSFT_NetFirewallRule and MSFT_NetFirewallProfile, with the module's enums."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import TYPE_CHECKING

from lmready.facts import FirewallRule, HostFacts
from lmready.lab.cmdlets import LabCmdlet, fail, table
from lmready.lab.powershell.binding import CmdletSpec, Param, unmodelled
from lmready.lab.powershell.errors import NotModelled
from lmready.lab.powershell.evaluator import Call
from lmready.lab.powershell.values import EnumValue, PSObject, enum_value, register_enum

if TYPE_CHECKING:
    from lmready.lab.model import HyperVHost

FIREWALL_RULE = "VIRT-MIGL-In-TCP-NoScope"
FIREWALL_DISPLAY_NAME = "Hyper-V (MIG-TCP-In)"
ENABLED = "Microsoft.PowerShell.Cmdletization.GeneratedTypes.NetSecurity.Enabled"
ACTION = "Microsoft.PowerShell.Cmdletization.GeneratedTypes.NetSecurity.Action"
DIRECTION = "Microsoft.PowerShell.Cmdletization.GeneratedTypes.NetSecurity.Direction"
STORE_TYPE = "Microsoft.PowerShell.Cmdletization.GeneratedTypes.NetSecurity.PolicyStoreType"
GPO_BOOLEAN = "Microsoft.PowerShell.Cmdletization.GeneratedTypes.NetSecurity.GpoBoolean"
register_enum(ENABLED, {"True": 1, "False": 2})
register_enum(ACTION, {"NotConfigured": 0, "Allow": 2, "Block": 4})
register_enum(DIRECTION, {"Inbound": 1, "Outbound": 2})
register_enum(
    STORE_TYPE,
    {"None": 0, "Local": 1, "GroupPolicy": 2, "Dynamic": 3, "Generated": 4, "Hardcoded": 5, "MDM": 6},
)
register_enum(GPO_BOOLEAN, {"False": 0, "True": 1, "NotConfigured": 2})
_CIM = "Microsoft.Management.Infrastructure.CimInstance#root/standardcimv2/{}"


def _spec(name: str, *params: Param, should_process: bool = True) -> CmdletSpec:
    # Cmdletization cmdlets: the binding error ids name the cmdlet itself.
    return CmdletSpec(name, params, name, should_process)


def rule_object(rule: FirewallRule) -> PSObject:
    return PSObject(
        _CIM.format("MSFT_NetFirewallRule"),
        {
            "Name": rule.name,
            "ID": rule.name,
            "DisplayName": FIREWALL_DISPLAY_NAME,
            "Group": "@%systemroot%\\system32\\vmms.exe,-251",
            "DisplayGroup": "Hyper-V",
            "Enabled": enum_value(ENABLED, str(rule.enabled)),
            "Direction": enum_value(DIRECTION, "Inbound"),
            "Action": enum_value(ACTION, rule.action),
            "PolicyStoreSourceType": enum_value(STORE_TYPE, rule.source) if rule.source else None,
            "PrimaryStatus": EnumValue(
                "Microsoft.PowerShell.Cmdletization.GeneratedTypes.NetSecurity.PrimaryStatus", "OK", 1
            ),
        },
    )


def _rule_selected(host: HyperVHost, call: Call, spec: CmdletSpec) -> bool:
    """Whether -Name/-DisplayName select the migration rule; the other values are not-found errors."""
    state = host.state
    names, display = call.params.get("Name"), call.params.get("DisplayName")
    if names is None and display is None:
        raise NotModelled(f"every firewall rule ({spec.name} without -Name or -DisplayName)")
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
            fail(
                call,
                spec,
                f"No MSFT_NetFirewallRule objects found with property '{prop}' equal to '{value}'.  "
                "Verify the value of the property and retry.",
                f"CmdletizationQuery_NotFound_{prop}",
                "ObjectNotFound",
                "Microsoft.Management.Infrastructure.CimException",
            )
    return selected


def _toggle(enabled: bool) -> Callable[[HyperVHost, Call], HostFacts | None]:
    def handler(host: HyperVHost, call: Call) -> HostFacts | None:
        spec = ENABLE_RULE if enabled else DISABLE_RULE
        if not _rule_selected(host, call, spec) or host.state.firewall_rule is None:
            return None
        rule = host.state.firewall_rule.model_copy(update={"enabled": enabled})
        call.passthru(rule_object(rule))
        return host.state.model_copy(update={"firewall_rule": rule})

    return handler


def _get_rule(host: HyperVHost, call: Call) -> None:
    store = call.params.get("PolicyStore")
    if store is not None and store.lower() not in ("activestore", "persistentstore"):
        raise NotModelled(f"the policy store '{store}'")
    if _rule_selected(host, call, GET_RULE) and host.state.firewall_rule is not None:
        call.write(rule_object(host.state.firewall_rule))


def _get_profiles(host: HyperVHost, call: Call) -> None:
    for profile in host.state.firewall_profiles:
        call.write(
            PSObject(
                _CIM.format("MSFT_NetFirewallProfile"),
                {
                    "Name": profile.name,
                    "Profile": profile.name,
                    "Enabled": enum_value(GPO_BOOLEAN, str(profile.enabled)),
                    "DefaultInboundAction": enum_value(ACTION, "NotConfigured"),
                    "DefaultOutboundAction": enum_value(ACTION, "NotConfigured"),
                },
            )
        )


_SELECT = (
    Param("Name", "strings", position=0, aliases=("ID",)),
    Param("DisplayName", "strings"),
    Param("PolicyStore", "string"),
)
_FILTERS = unmodelled(
    "All", "Description", "DisplayGroup", "Group", "Enabled", "Direction", "Action", "EdgeTraversalPolicy",
    "LooseSourceMapping", "LocalOnlyMapping", "Owner", "PrimaryStatus", "Status", "EnforcementStatus",
    "PolicyStoreSource", "PolicyStoreSourceType", "AssociatedNetFirewallAddressFilter",
    "AssociatedNetFirewallApplicationFilter", "AssociatedNetFirewallInterfaceFilter",
    "AssociatedNetFirewallInterfaceTypeFilter", "AssociatedNetFirewallPortFilter",
    "AssociatedNetFirewallSecurityFilter", "AssociatedNetFirewallServiceFilter",
    "AssociatedNetFirewallProfile", "InputObject", "GPOSession", "TracePolicyStore",
    "CimSession", "ThrottleLimit", "AsJob",
)  # fmt: skip
GET_RULE = _spec("Get-NetFirewallRule", *_SELECT, *_FILTERS, should_process=False)
ENABLE_RULE = _spec("Enable-NetFirewallRule", *_SELECT, Param("PassThru", "switch"), *_FILTERS)
DISABLE_RULE = _spec("Disable-NetFirewallRule", *_SELECT, Param("PassThru", "switch"), *_FILTERS)
GET_PROFILE = _spec(
    "Get-NetFirewallProfile",
    Param("PolicyStore", "string"),
    *unmodelled(
        "Name", "All", "AssociatedNetFirewallRule", "GPOSession", "CimSession", "ThrottleLimit", "AsJob"
    ),
    should_process=False,
)

CMDLETS = table(
    LabCmdlet(GET_RULE, _get_rule, "NetSecurity"),
    LabCmdlet(ENABLE_RULE, _toggle(True), "NetSecurity"),
    LabCmdlet(DISABLE_RULE, _toggle(False), "NetSecurity"),
    LabCmdlet(GET_PROFILE, _get_profiles, "NetSecurity"),
)
