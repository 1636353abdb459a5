"""A modelled Hyper-V host: it answers lmready's scripts as Windows PowerShell 5.1 on Windows
Server would, and applies remediation cmdlets to its state. LabNetwork answers the TCP probes
between the hosts of one lab.

Messages marked "wording not verified" are plausible Hyper-V texts that could not be checked
against a real host; every other message is the one Windows prints.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lmready import pwsh, wire
from lmready.explain import EVENTS_MARKER
from lmready.facts import AuthenticationType, FirewallRule, HostFacts, MigrationNetwork, PerformanceOption
from lmready.lab import pslang
from lmready.lab.compare_vm import paths_answer, per_vm_answer
from lmready.lab.events import events_answer
from lmready.lab.pslang import (
    CmdletSpec,
    Enum,
    Hashtable,
    NotModelled,
    Param,
    StatementError,
    convert_to_json,
    not_recognized,
    unmodelled,
)
from lmready.lab.result import ScriptResult
from lmready.per_vm import PATHS_MARKER, PER_VM_MARKER

MIGRATION_PORT = 6600
SMB_PORT = 445
FIREWALL_RULE = "VIRT-MIGL-In-TCP-NoScope"
FIREWALL_DISPLAY_NAME = "Hyper-V (MIG-TCP-In)"
# Get-VMHostSupportedVersion and the Win32_DeviceGuard class arrived with Windows Server 2016.
BUILD_2016 = 14393

# --- what the host says about itself ----------------------------------------------------------


def env_computername(state: HostFacts) -> str:
    """$env:COMPUTERNAME is the NetBIOS name: upper case, at most 15 characters."""
    return state.computer_name.upper()[:15]


def dns_host_name(state: HostFacts) -> str:
    """Win32_ComputerSystem.DNSHostName: the full host label, as set (scenarios that give none
    have a computer name short enough to be both)."""
    return state.dns_host_name or state.computer_name


def hyperv_failure(state: HostFacts, cmdlet: str) -> tuple[bool, str] | None:
    """Why a Hyper-V cmdlet fails here: (is the command known at all, Windows' message), or None."""
    if not state.hyperv.powershell_module:
        return False, not_recognized(cmdlet)
    if cmdlet == "Get-VMHostSupportedVersion" and state.os.build < BUILD_2016:
        return False, not_recognized(cmdlet)
    name = env_computername(state)
    if not state.hyperv.feature_installed:
        return True, (
            f"The Hyper-V Management Tools could not access an expected WMI class on computer '{name}'. "
            "This may indicate that the Hyper-V Platform is not installed on the computer or that the "
            "version of the Hyper-V Platform is incompatible with these management tools."
        )
    if state.hyperv.vmms_status != "Running":
        return True, (
            f"Hyper-V encountered an error trying to access an object on computer '{name}' because the "
            "object was not found. The object might have been deleted, or you might not have permission "
            "to perform the task. Verify that the Virtual Machine Management service on the computer is "
            "running. If the service is running, try to perform the task again by using Run as "
            "Administrator."
        )
    return None


def _vmms_missing(state: HostFacts) -> str | None:
    if state.hyperv.vmms_status in ("", "NotFound"):
        return "Cannot find any service with service name 'vmms'."
    return None


def vmhost_object(state: HostFacts) -> dict[str, Any]:
    """Get-VMHost's live migration properties."""
    m = state.migration
    return {
        "VirtualMachineMigrationEnabled": m.enabled,
        "VirtualMachineMigrationAuthenticationType": m.authentication_type.value,
        "VirtualMachineMigrationPerformanceOption": m.performance_option.value,
        "UseAnyNetworkForMigration": m.use_any_network,
        "MaximumVirtualMachineMigrations": m.maximum_migrations,
    }


def _network_object(network: MigrationNetwork) -> dict[str, Any]:
    return {"Subnet": network.subnet, "Priority": network.priority}


def _rule_object(rule: FirewallRule) -> dict[str, Any]:
    return {"Name": rule.name, "DisplayName": FIREWALL_DISPLAY_NAME, "Enabled": str(rule.enabled)}


def round_trip(moment: datetime) -> str:
    """[DateTime]::UtcNow.ToString('o'): seven fractional digits and Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def collection_document(
    state: HostFacts, now: datetime, denied: dict[str, str] | None = None
) -> dict[str, Any]:
    """The [ordered] dictionary collect_host.ps1 builds, filled as Windows Server would fill it.

    ``denied`` maps a command (``Get-VM``, ``Get-NetFirewallRule``...) to the error it throws
    here, as on a host where the operator lacks a right."""
    problems: list[Hashtable] = []
    denied = denied or {}

    def read(fact: str, what: str, failure: str | None, value: Callable[[], Any]) -> Any:
        """Read-Fact: a failing block adds a problem and yields $null."""
        failure = denied.get(what.split()[0], failure)
        if failure is None:
            return value()
        problems.append(Hashtable(fact=fact, reason=f"{what}: {failure}"))
        return None

    def hyperv(cmdlet: str) -> str | None:
        failure = hyperv_failure(state, cmdlet)
        return failure[1] if failure else None

    doc: dict[str, Any] = {"wire": wire.WIRE_VERSION, "clock_utc": round_trip(now)}
    doc["computer_name"] = env_computername(state)
    doc["dns_host_name"] = dns_host_name(state)
    doc["domain"] = state.domain
    doc["part_of_domain"] = state.part_of_domain
    doc["os"] = Hashtable(caption=state.os.caption, build=str(state.os.build))
    doc["free_memory_bytes"] = state.free_memory_bytes // 1024 * 1024  # FreePhysicalMemory is in KiB
    doc["features"] = [
        Hashtable(name="Hyper-V", installed=state.hyperv.feature_installed),
        Hashtable(name="Hyper-V-PowerShell", installed=state.hyperv.powershell_module),
    ]
    # A missing vmms service is ObjectNotFound, which the script reports as NotFound.
    vmms = "NotFound" if _vmms_missing(state) else state.hyperv.vmms_status
    doc["vmms_status"] = read("vmms", "Get-Service vmms", None, lambda: vmms) or ""
    vmhost = read("vmhost", "Get-VMHost", hyperv("Get-VMHost"), lambda: vmhost_object(state))
    if vmhost:
        doc["vmhost"] = Hashtable(vmhost)
    doc["migration_networks"] = (
        read(
            "migration_networks",
            "Get-VMMigrationNetwork",
            hyperv("Get-VMMigrationNetwork"),
            lambda: [Hashtable(subnet=n.subnet, priority=n.priority) for n in state.migration_networks],
        )
        or []
    )
    doc["supported_versions"] = (
        read(
            "supported_versions",
            "Get-VMHostSupportedVersion",
            hyperv("Get-VMHostSupportedVersion"),
            lambda: list(state.supported_versions),
        )
        or []
    )
    doc["addresses"] = [Hashtable(address=a.address, prefix_length=a.prefix_length) for a in state.addresses]
    # [string] of NetSecurity's Enabled enum gives its name: "True" or "False". A rule that
    # does not exist is ObjectNotFound, which the script leaves out without a problem.
    rule = read("firewall_rule", "Get-NetFirewallRule", None, lambda: state.firewall_rule)
    if rule is not None:
        doc["firewall_rule"] = Hashtable(
            name=rule.name, enabled=str(rule.enabled), action=rule.action, source=rule.source
        )
    doc["firewall_profiles"] = (
        read(
            "firewall_profiles",
            "Get-NetFirewallProfile",
            None,
            lambda: [Hashtable(name=p.name, enabled=str(p.enabled)) for p in state.firewall_profiles],
        )
        or []
    )
    doc["rdma_enabled"] = state.smb.rdma_enabled
    doc["smb_multichannel"] = state.smb.multichannel_enabled
    doc["vms"] = (
        read(
            "vms",
            "Get-VM",
            hyperv("Get-VM"),
            lambda: [
                Hashtable(
                    name=vm.name,
                    state=vm.state,
                    version=vm.version,
                    memory_bytes=vm.memory_bytes,
                    switches=[s for s in vm.switches if s],  # Where-Object { $_ } drops unconnected adapters
                    processor_compatibility=vm.processor_compatibility,
                )
                for vm in state.vms
            ],
        )
        or []
    )
    doc["switches"] = (
        read(
            "switches",
            "Get-VMSwitch",
            hyperv("Get-VMSwitch"),
            lambda: [Hashtable(name=s.name, switch_type=s.switch_type) for s in state.switches],
        )
        or []
    )
    doc["cpu"] = Hashtable(vendor=state.cpu.vendor, model=state.cpu.model)
    doc["session"] = Hashtable(user=state.session.user, group_sids=list(state.session.group_sids))
    # Before Windows Server 2016 the DeviceGuard WMI namespace does not exist, which the script
    # reports as false (no Credential Guard), not as a problem.
    if state.os.build < BUILD_2016 and "Win32_DeviceGuard" not in denied:
        doc["credential_guard_running"] = False
    else:
        guard = read("credential_guard", "Win32_DeviceGuard", None, lambda: state.credential_guard_running)
        if guard is not None:
            doc["credential_guard_running"] = guard
    doc["isolated_credentials_root_secret"] = read(
        "credential_guard_upgrade",
        "IsolatedCredentialsRootSecret",
        None,
        lambda: state.isolated_credentials_root_secret,
    )
    doc["problems"] = problems
    return doc


# --- the pair round ---------------------------------------------------------------------------

_TARGETS = re.compile(r"ConvertFrom-Json\s+-InputObject\s+(?=[" + pwsh.SINGLE_QUOTES + "])")


def _int32(value: Any) -> int:
    """[int]$t.port as PowerShell converts a JSON value."""
    if value is None or isinstance(value, bool):
        return int(bool(value))
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    raise ValueError(
        f'Cannot convert value "{value}" to type "System.Int32". Error: "Input string was not in a correct format."'
    )


_TIMEOUT = re.compile(r"WaitAll\([^,]+,\s*(\d+)\)")
# probe_ports.ps1 makes each TcpClient for its target's address family; a script that does not
# (new TcpClient() is IPv4 only) fails on the first IPv6 target, as Windows would.
_FAMILY_CLIENT = re.compile(r"TcpClient\s+-ArgumentList\s+\$ip\.AddressFamily")


def probe_answer(script: str, network: LabNetwork) -> ScriptResult:
    """What probe_ports.ps1 prints: one JSON list, an entry per target, whatever their number;
    each target's failure is its own entry's error, worded as .NET words it."""
    match = _TARGETS.search(script)
    if match is None:
        return ScriptResult([], terminating=str(NotModelled("a probe script without its targets")))
    try:
        payload, _ = pslang.single_quoted(script, match.end())
    except pslang.ParseError as exc:
        return ScriptResult([], terminating=str(exc))
    try:
        targets = json.loads(payload)
    except json.JSONDecodeError:
        return ScriptResult([], terminating=f"Invalid JSON primitive: {payload[:40]}.")
    timeout = _TIMEOUT.search(script)
    family_aware = _FAMILY_CLIENT.search(script) is not None
    results = []
    for target in targets if isinstance(targets, list) else [targets]:
        t = target if isinstance(target, dict) else {}
        address = "" if t.get("address") is None else str(t["address"])
        ip = _ip(address)
        try:
            port = _int32(t.get("port"))
            error = ""
            if ip is None:
                error = (
                    'Exception calling "Parse" with "1" argument(s): "An invalid IP address was specified."'
                )
            elif not 0 < port < 65536:
                error = (
                    'Exception calling "ConnectAsync" with "2" argument(s): "Specified argument was out of '
                    'the range of valid values.\r\nParameter name: port"'
                )
        except ValueError as exc:
            port, error = 0, str(exc)
        if ip is not None and ip.version == 6 and not family_aware:
            return ScriptResult(
                [],
                terminating='Exception calling "ConnectAsync" with "2" argument(s): "An address incompatible '
                'with the requested protocol was used"',
            )
        is_open = not error and network.is_open(address, port)
        if not error and not is_open:
            # The Windows firewall drops what it blocks: the connect never answers (0x8007274C).
            error = f"no answer within {timeout.group(1) if timeout else '?'} ms"
        results.append(
            Hashtable(
                dst="" if t.get("dst") is None else str(t["dst"]),
                address=address,
                port=port,
                open=is_open,
                error=error,
            )
        )
    return ScriptResult([convert_to_json(results)])


# --- remediation cmdlets ----------------------------------------------------------------------


class _Stopped(Exception):
    """An error that -ErrorAction Stop or $ErrorActionPreference = 'Stop' made terminating."""


@dataclass
class _Run:
    result: ScriptResult
    preference: str = "Continue"  # $ErrorActionPreference


@dataclass
class _Invocation:
    """One cmdlet call: its bound parameters, and where its output and errors go."""

    params: dict[str, Any]
    run: _Run
    out: list[object]

    def error(self, message: str) -> None:
        """A non-terminating error, handled as -ErrorAction or $ErrorActionPreference says."""
        action = self.params.get("ErrorAction", self.run.preference)
        if action == "Stop":
            raise _Stopped(message)
        if action in ("Inquire", "Suspend"):
            raise NotModelled(f"-ErrorAction {action}")
        if action == "Continue":
            self.run.result.errors.append(message)

    def passthru(self, obj: dict[str, Any]) -> None:
        if any(k.lower() == "passthru" and v for k, v in self.params.items()):
            self.out.append(obj)


Handler = Callable[[HostFacts, _Invocation], HostFacts]


def _with_migration(state: HostFacts, **changes: Any) -> HostFacts:
    return state.model_copy(update={"migration": state.migration.model_copy(update=changes)})


def _set_vmhost(state: HostFacts, inv: _Invocation) -> HostFacts:
    p, changes = inv.params, {}
    if "VirtualMachineMigrationAuthenticationType" in p:
        changes["authentication_type"] = AuthenticationType(p["VirtualMachineMigrationAuthenticationType"])
    if "VirtualMachineMigrationPerformanceOption" in p:
        changes["performance_option"] = PerformanceOption(p["VirtualMachineMigrationPerformanceOption"])
    if "MaximumVirtualMachineMigrations" in p:
        changes["maximum_migrations"] = p["MaximumVirtualMachineMigrations"]
    if "UseAnyNetworkForMigration" in p:
        changes["use_any_network"] = p["UseAnyNetworkForMigration"]
    state = _with_migration(state, **changes)
    inv.passthru(vmhost_object(state))
    return state


def _get_vmhost(state: HostFacts, inv: _Invocation) -> HostFacts:
    inv.out.append(vmhost_object(state))
    return state


def _enable_migration(state: HostFacts, inv: _Invocation) -> HostFacts:
    if not state.part_of_domain:
        # Wording not verified.
        inv.error(
            "Failed to modify service settings: live migration cannot be enabled because computer "
            f"'{env_computername(state)}' is not a member of a domain."
        )
        return state
    state = _with_migration(state, enabled=True)
    inv.passthru(vmhost_object(state))
    return state


def _disable_migration(state: HostFacts, inv: _Invocation) -> HostFacts:
    state = _with_migration(state, enabled=False)
    inv.passthru(vmhost_object(state))
    return state


def _invalid_subnet(subnet: str) -> str | None:
    try:
        ipaddress.ip_network(subnet, strict=False)
    except ValueError:
        return f"The subnet '{subnet}' is not a valid IPv4 or IPv6 subnet."  # wording not verified
    return None


def _same_network(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_network(a, strict=False) == ipaddress.ip_network(b, strict=False)
    except ValueError:
        return a.lower() == b.lower()


def _select_networks(state: HostFacts, inv: _Invocation, pattern: str | None) -> list[int]:
    """Indexes of the networks -Subnet names (wildcards allowed); a literal that matches none is an error."""
    networks = state.migration_networks
    if pattern is None:
        return list(range(len(networks)))
    if any(ch in pattern for ch in "*?["):
        return [i for i, n in enumerate(networks) if fnmatch.fnmatchcase(n.subnet.lower(), pattern.lower())]
    found = [i for i, n in enumerate(networks) if _same_network(n.subnet, pattern)]
    if not found:
        inv.error(f'Hyper-V was unable to find a migration network with subnet "{pattern}".')  # not verified
    return found


def _add_network(state: HostFacts, inv: _Invocation) -> HostFacts:
    subnet = inv.params["Subnet"]
    problem = _invalid_subnet(subnet)
    if problem is None and any(_same_network(n.subnet, subnet) for n in state.migration_networks):
        problem = f"The migration network '{subnet}' already exists."  # wording not verified
    if problem:
        inv.error(problem)
        return state
    network = MigrationNetwork(subnet=subnet, priority=inv.params.get("Priority", 0))
    inv.passthru(_network_object(network))
    return state.model_copy(update={"migration_networks": [*state.migration_networks, network]})


def _remove_network(state: HostFacts, inv: _Invocation) -> HostFacts:
    drop = set(_select_networks(state, inv, inv.params["Subnet"]))
    for i in sorted(drop):
        inv.passthru(_network_object(state.migration_networks[i]))
    kept = [n for i, n in enumerate(state.migration_networks) if i not in drop]
    return state.model_copy(update={"migration_networks": kept})


def _set_network(state: HostFacts, inv: _Invocation) -> HostFacts:
    new_subnet = inv.params.get("NewSubnet")
    if new_subnet is not None and (problem := _invalid_subnet(new_subnet)):
        inv.error(problem)
        return state
    chosen = set(_select_networks(state, inv, inv.params["Subnet"]))
    networks = list(state.migration_networks)
    for i in sorted(chosen):
        changes = {"subnet": new_subnet} if new_subnet is not None else {}
        if "NewPriority" in inv.params:
            changes["priority"] = inv.params["NewPriority"]
        networks[i] = networks[i].model_copy(update=changes)
        inv.passthru(_network_object(networks[i]))
    return state.model_copy(update={"migration_networks": networks})


def _get_networks(state: HostFacts, inv: _Invocation) -> HostFacts:
    pattern = inv.params.get("Subnet")
    for n in state.migration_networks:
        if pattern is None or fnmatch.fnmatchcase(n.subnet.lower(), pattern.lower()):
            inv.out.append(_network_object(n))
    return state


def _rule_selected(state: HostFacts, inv: _Invocation) -> bool:
    """Whether -Name/-DisplayName select the migration rule; the other values are not-found errors."""
    names, display = inv.params.get("Name"), inv.params.get("DisplayName")
    if names is None and display is None:
        raise StatementError(
            "Cannot process command because of one or more missing mandatory parameters: Name."
        )
    if names is not None and display is not None:
        raise StatementError("Parameter set cannot be resolved using the specified named parameters.")
    prop, wanted, actual = (
        ("Name", names, FIREWALL_RULE)
        if names is not None
        else ("DisplayName", display, FIREWALL_DISPLAY_NAME)
    )
    selected = False
    for value in wanted:
        if state.firewall_rule is not None and fnmatch.fnmatchcase(actual.lower(), value.lower()):
            selected = True
        else:
            inv.error(
                f"No MSFT_NetFirewallRule objects found with property '{prop}' equal to '{value}'.  "
                "Verify the value of the property and retry."
            )
    return selected


def _toggle_rule(enabled: bool) -> Handler:
    def handler(state: HostFacts, inv: _Invocation) -> HostFacts:
        if not _rule_selected(state, inv) or state.firewall_rule is None:
            return state
        rule = state.firewall_rule.model_copy(update={"enabled": enabled})
        inv.passthru(_rule_object(rule))
        return state.model_copy(update={"firewall_rule": rule})

    return handler


def _get_rule(state: HostFacts, inv: _Invocation) -> HostFacts:
    if "Name" not in inv.params and "DisplayName" not in inv.params:
        raise NotModelled("listing every firewall rule (Get-NetFirewallRule without -Name or -DisplayName)")
    if _rule_selected(state, inv) and state.firewall_rule is not None:
        inv.out.append(_rule_object(state.firewall_rule))
    return state


_SERVICE_NAMES = {
    "vmms": "Hyper-V Virtual Machine Management",
    "winrm": "Windows Remote Management (WS-Management)",
}


def _get_service(state: HostFacts, inv: _Invocation) -> HostFacts:
    if "Name" not in inv.params:
        raise NotModelled("listing every service (Get-Service without -Name)")
    for name in inv.params["Name"]:
        key = name.lower()
        if key not in _SERVICE_NAMES:
            raise NotModelled(f"the service '{name}' (only vmms and WinRM are)")
        if key == "vmms" and (missing := _vmms_missing(state)):
            inv.error(missing.replace("'vmms'", f"'{name}'"))
            continue
        status = state.hyperv.vmms_status if key == "vmms" else "Running"
        inv.out.append(
            {"Name": key if key == "vmms" else "WinRM", "DisplayName": _SERVICE_NAMES[key], "Status": status}
        )
    return state


AUTH_TYPE = Enum("Microsoft.HyperV.PowerShell.MigrationAuthenticationType", ("CredSSP", "Kerberos"))
PERFORMANCE = Enum("Microsoft.HyperV.PowerShell.VMMigrationPerformance", ("TCPIP", "Compression", "SMB"))
# Parameters as the Windows Server 2022 help lists them; unmodelled ones make an error, not a no-op.
_HOST_TARGET = (
    Param("ComputerName", "strings", position=0),
    Param("Credential", "string", position=1, modelled=False),
    *unmodelled("CimSession"),
)
_NETWORK_TARGET = (Param("ComputerName", "strings"), *unmodelled("Credential", "CimSession"))
_FIREWALL_FILTERS = unmodelled(
    "All", "Description", "DisplayGroup", "Group", "Enabled", "Direction", "Action", "EdgeTraversalPolicy",
    "LooseSourceMapping", "LocalOnlyMapping", "Owner", "PrimaryStatus", "Status", "EnforcementStatus",
    "PolicyStoreSource", "PolicyStoreSourceType", "AssociatedNetFirewallAddressFilter",
    "AssociatedNetFirewallApplicationFilter", "AssociatedNetFirewallInterfaceFilter",
    "AssociatedNetFirewallInterfaceTypeFilter", "AssociatedNetFirewallPortFilter",
    "AssociatedNetFirewallSecurityFilter", "AssociatedNetFirewallServiceFilter",
    "AssociatedNetFirewallProfile", "InputObject", "PolicyStore", "GPOSession", "TracePolicyStore",
    "CimSession", "ThrottleLimit", "AsJob",
)  # fmt: skip
_VMHOST_SETTINGS = unmodelled(
    "MaximumStorageMigrations", "ResourceMeteringSaveInterval", "VirtualHardDiskPath", "VirtualMachinePath",
    "MacAddressMaximum", "MacAddressMinimum", "FibreChannelWwnn", "FibreChannelWwpnMaximum",
    "FibreChannelWwpnMinimum", "NumaSpanningEnabled", "EnableEnhancedSessionMode",
)  # fmt: skip
_FIREWALL_SELECT = (Param("Name", "strings", position=0, aliases=("ID",)), Param("DisplayName", "strings"))
_MIGRATION_SWITCH = (Param("Passthru", "switch"), *_HOST_TARGET)

# name -> (parameters, handler, is it a Hyper-V module cmdlet)
_CMDLETS: dict[str, tuple[CmdletSpec, Handler, bool]] = {
    spec.name.lower(): (spec, handler, hyperv)
    for spec, handler, hyperv in (
        (
            CmdletSpec(
                "Set-VMHost",
                (
                    *_HOST_TARGET,
                    Param("MaximumVirtualMachineMigrations", "uint32"),
                    Param("VirtualMachineMigrationAuthenticationType", AUTH_TYPE),
                    Param("UseAnyNetworkForMigration", "bool"),
                    Param("VirtualMachineMigrationPerformanceOption", PERFORMANCE),
                    *_VMHOST_SETTINGS,
                    Param("Passthru", "switch"),
                ),
            ),
            _set_vmhost,
            True,
        ),
        (CmdletSpec("Get-VMHost", _HOST_TARGET, should_process=False), _get_vmhost, True),
        (CmdletSpec("Enable-VMMigration", _MIGRATION_SWITCH), _enable_migration, True),
        (CmdletSpec("Disable-VMMigration", _MIGRATION_SWITCH), _disable_migration, True),
        (
            CmdletSpec(
                "Add-VMMigrationNetwork",
                (
                    Param("Subnet", "string", position=0, mandatory=True),
                    Param("Priority", "uint32", position=1),
                    Param("Passthru", "switch"),
                    *_NETWORK_TARGET,
                ),
            ),
            _add_network,
            True,
        ),
        (
            CmdletSpec(
                "Remove-VMMigrationNetwork",
                (
                    Param("Subnet", "string", position=0, mandatory=True),
                    Param("Passthru", "switch"),
                    *_NETWORK_TARGET,
                ),
            ),
            _remove_network,
            True,
        ),
        (
            CmdletSpec(
                "Set-VMMigrationNetwork",
                (
                    Param("Subnet", "string", position=0, mandatory=True),
                    Param("NewSubnet", "string", position=1),
                    Param("NewPriority", "uint32"),
                    Param("Passthru", "switch"),
                    *_NETWORK_TARGET,
                ),
            ),
            _set_network,
            True,
        ),
        (
            CmdletSpec(
                "Get-VMMigrationNetwork",
                (Param("Subnet", "string", position=0), *_NETWORK_TARGET),
                should_process=False,
            ),
            _get_networks,
            True,
        ),
        (
            CmdletSpec(
                "Enable-NetFirewallRule", (*_FIREWALL_SELECT, Param("PassThru", "switch"), *_FIREWALL_FILTERS)
            ),
            _toggle_rule(True),
            False,
        ),
        (
            CmdletSpec(
                "Disable-NetFirewallRule",
                (*_FIREWALL_SELECT, Param("PassThru", "switch"), *_FIREWALL_FILTERS),
            ),
            _toggle_rule(False),
            False,
        ),
        (
            CmdletSpec("Get-NetFirewallRule", (*_FIREWALL_SELECT, *_FIREWALL_FILTERS), should_process=False),
            _get_rule,
            False,
        ),
        (
            CmdletSpec(
                "Get-Service",
                (
                    Param("Name", "strings", position=0, aliases=("ServiceName",)),
                    Param("ComputerName", "strings", modelled=False, aliases=("Cn",)),
                    Param("DependentServices", "switch", modelled=False, aliases=("DS",)),
                    Param(
                        "RequiredServices", "switch", modelled=False, aliases=("SDO", "ServicesDependedOn")
                    ),
                    *unmodelled("DisplayName", "Include", "Exclude", "InputObject"),
                ),
                should_process=False,
            ),
            _get_service,
            False,
        ),
    )
}

# --- native commands --------------------------------------------------------------------------

LOGON_ID = "0x5f1a3"  # the remote session's logon, as klist prints it


def _hostname(state: HostFacts, args: list[str]) -> list[object]:
    if args:
        raise NotModelled("hostname with arguments")
    return [state.computer_name]


def _klist(state: HostFacts, args: list[str]) -> list[object]:
    lowered = [a.lower() for a in args]
    if lowered == ["purge"]:
        target = None
    elif len(args) == 3 and lowered[0] == "purge" and lowered[1] == "-li":
        target = args[2]
    elif len(args) == 3 and lowered[0] == "-li" and lowered[2] == "purge":
        target = args[1]
    else:
        raise NotModelled(f"klist {' '.join(args)} (only klist purge [-li <logon id>] is)")
    lines = ["", f"Current LogonId is 0:{LOGON_ID}"]
    if target is not None:
        lines.append(f"Targeted LogonId is 0:{target}")
    return [*lines, "\tDeleting all tickets:", "\tTicket(s) purged!"]


_NATIVE: dict[str, Callable[[HostFacts, list[str]], list[object]]] = {"hostname": _hostname, "klist": _klist}


def _native_args(command: pslang.Command) -> list[str]:
    """Arguments as a native program receives them: the text as written, without quotes."""
    args = []
    for element in command.elements:
        if isinstance(element, pslang.Parameter):
            args.append("-" + element.name + (":" if element.colon else ""))
        elif isinstance(element.value, list):
            raise NotModelled(f"a list argument to {command.name}")
        else:
            args.append(element.value if isinstance(element.value, str) else element.text)
    return args


def _refuse_other_computers(state: HostFacts, names: list[str] | None) -> None:
    this = {
        "localhost",
        ".",
        env_computername(state).lower(),
        dns_host_name(state).lower(),
        f"{dns_host_name(state)}.{state.domain}".lower(),
        *(a.address for a in state.addresses),
    }
    for name in names or []:
        if name.lower() not in this:
            raise NotModelled(f"-ComputerName {name}: a lab host only manages itself")


# --- the host ---------------------------------------------------------------------------------


class HyperVHost:
    """One lab host. ``state`` is its current HostFacts; remediation cmdlets replace it."""

    def __init__(self, facts: HostFacts, network: LabNetwork, *, malformed_json: bool = False):
        self._lock = threading.RLock()
        self._state = facts
        self.network = network
        self.malformed_json = malformed_json
        # Commands that fail here with the given message (an operator without some right):
        # "Get-VM", "Get-NetFirewallRule", ... in the collection, "probe" for the port probe round.
        self.denied: dict[str, str] = {}
        self.events: list[dict[str, Any]] = []  # its VMMS-Admin log (lmready.lab.events)

    @property
    def state(self) -> HostFacts:
        with self._lock:
            return self._state

    @state.setter
    def state(self, facts: HostFacts) -> None:
        with self._lock:
            self._state = facts

    def run_script(self, script: str) -> ScriptResult:
        first = script.lstrip("\ufeff").split("\n", 1)[0].strip()
        if first == wire.COLLECT_MARKER:
            text = convert_to_json(collection_document(self.state, datetime.now(UTC), self.denied))
            if self.malformed_json:
                text = text[: len(text) // 2]  # cut short, as by a host that died mid-answer
            return ScriptResult([text])
        if first == wire.PROBE_MARKER:
            if "probe" in self.denied:
                return ScriptResult([], terminating=self.denied["probe"])
            # Not under our lock: the network reads the other hosts' states.
            return probe_answer(script, self.network)
        per_vm = self._per_vm(first, script)
        if per_vm is not None:
            return per_vm
        return self._interpret(script)

    def _per_vm(self, first: str, script: str) -> ScriptResult | None:
        """lmready's per-VM, path and event scripts (lmready.lab.compare_vm, lmready.lab.events)."""
        if first == PER_VM_MARKER:
            # Not under our lock: Compare-VM reads the destinations' states.
            return per_vm_answer(script, self.state, self.network.states())
        if first == PATHS_MARKER:
            return paths_answer(script, self.state)
        if first == EVENTS_MARKER:
            return events_answer(script, self.events)
        return None

    def _interpret(self, script: str) -> ScriptResult:
        result = ScriptResult(output=[])
        try:
            statements = pslang.parse(script)
        except (pslang.ParseError, NotModelled) as exc:
            result.terminating = str(exc)
            return result
        run = _Run(result)
        with self._lock:
            try:
                self._statements(statements, run)
            except (_Stopped, NotModelled) as exc:
                result.terminating = str(exc)
        return result

    def _statements(self, statements: Sequence[pslang.Statement], run: _Run) -> None:
        for statement in statements:
            try:
                self._statement(statement, run)
            except StatementError as exc:
                if run.preference == "Stop":
                    raise _Stopped(str(exc)) from None
                if run.preference == "Continue":
                    run.result.errors.append(str(exc))

    def _statement(self, statement: pslang.Statement, run: _Run) -> None:
        if isinstance(statement, pslang.Assignment):
            _assign(statement, run)
        elif isinstance(statement, pslang.If):
            chosen = statement.then if self._condition(statement.condition, run) else statement.otherwise
            self._statements(chosen, run)
        elif isinstance(statement, pslang.Member):
            # A property of $null is $null, and it is output.
            run.result.output.extend(self._properties(statement, run) or [None])
        elif isinstance(statement, pslang.Output):
            run.result.output.append(self._evaluate(statement.value, run))
        else:
            self._command(statement, run, run.result.output)

    def _properties(self, member: pslang.Member, run: _Run) -> list[object]:
        found: list[object] = []
        self._command(member.command, run, found)
        return [_property(obj, member) for obj in found]

    def _evaluate(self, expression: pslang.Expression, run: _Run) -> object:
        if isinstance(expression, pslang.Literal):
            return expression.value
        if isinstance(expression, pslang.Member):
            values = self._properties(expression, run)
            # One object gives its value, none gives $null, several an array (member enumeration).
            return values[0] if len(values) == 1 else (values or None)
        return _to_string(self._evaluate(expression.operand, run))

    def _condition(self, condition: pslang.Comparison, run: _Run) -> bool:
        left, right = self._evaluate(condition.left, run), condition.right.value
        if left is None:
            equal = right is None
        elif isinstance(left, str) and not isinstance(right, list):
            # A string on the left: the right side is converted to a string, compared ignoring case.
            equal = right is not None and left.lower() == _to_string(right).lower()
        else:
            raise NotModelled(
                f"-{condition.operator} with a {type(left).__name__} on its left (cast it to [string])"
            )
        return equal if condition.operator == "eq" else not equal

    def _command(self, command: pslang.Command, run: _Run, out: list[object]) -> None:
        native = _NATIVE.get(command.name.lower().removesuffix(".exe"))
        if native is not None:
            out.extend(native(self._state, _native_args(command)))
            return
        entry = _CMDLETS.get(command.name.lower())
        if entry is None:
            raise StatementError(not_recognized(command.name))
        spec, handler, is_hyperv = entry
        failure = hyperv_failure(self._state, spec.name) if is_hyperv else None
        if failure and not failure[0]:
            raise StatementError(failure[1])
        params = pslang.bind(spec, command.elements)
        _refuse_other_computers(self._state, params.get("ComputerName"))
        if params.get("Confirm"):
            raise NotModelled("confirmation prompts (-Confirm)")
        invocation = _Invocation(params, run, out)
        if failure:
            invocation.error(failure[1])
            return
        changed = handler(self._state, invocation)
        if not params.get("WhatIf"):
            self._state = changed


def _assign(statement: pslang.Assignment, run: _Run) -> None:
    try:
        value = pslang.ACTION_PREFERENCE.convert(statement.value.value)
    except ValueError as exc:
        raise StatementError(
            f'Cannot convert value "{statement.value.value}" to type '
            f'"{pslang.ACTION_PREFERENCE.type_name}". Error: "{exc}"'
        ) from None
    if statement.variable.lower() == "erroractionpreference":
        if value not in ("Stop", "Continue", "SilentlyContinue"):
            raise NotModelled(f"$ErrorActionPreference = '{value}'")
        run.preference = value


def _to_string(value: object) -> str:
    """[string] of a value: $null is empty, booleans are True/False, an array is joined by spaces."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int | str):
        return str(value)
    if isinstance(value, list):
        return " ".join(_to_string(v) for v in value)
    raise NotModelled(f"[string] of a {type(value).__name__}")


def _property(obj: object, member: pslang.Member) -> object:
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key.lower() == member.property.lower():
                return value
    raise NotModelled(f"the property {member.property} of what {member.command.name} outputs")


# --- the lab network --------------------------------------------------------------------------


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return None


class LabNetwork:
    """The hosts of one lab, and which of their TCP ports answer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hosts: list[HyperVHost] = []

    def add(self, host: HyperVHost) -> None:
        with self._lock:
            self._hosts.append(host)

    def owner(self, address: str) -> HyperVHost | None:
        wanted = _ip(address)
        with self._lock:
            hosts = list(self._hosts)
        for host in hosts:
            if wanted is not None and any(_ip(a.address) == wanted for a in host.state.addresses):
                return host
        return None

    def states(self) -> list[HostFacts]:
        with self._lock:
            return [host.state for host in self._hosts]

    def is_open(self, address: str, port: int) -> bool:
        """445 answers on every lab host (IPv4 or IPv6 address); 6600 where the effective migration
        firewall rule allows it, or where every firewall profile is off."""
        host = self.owner(address)
        if host is None:
            return False
        if port == SMB_PORT:
            return True
        state = host.state
        rule = state.firewall_rule
        firewall_off = bool(state.firewall_profiles) and not any(p.enabled for p in state.firewall_profiles)
        allowed = rule is not None and rule.enabled and rule.action.lower() == "allow"
        return port == MIGRATION_PORT and (firewall_off or allowed)
