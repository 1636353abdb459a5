"""The Hyper-V module's cmdlets over a lab host's state: Get-VMHost and Set-VMHost, live
migration on and off, migration networks, supported versions, VMs, their processors, switches.

Messages marked "wording not verified" are plausible Hyper-V texts that could not be checked
against a real host; every other message is the one Windows prints.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from typing import TYPE_CHECKING, Any

from lmready.facts import AuthenticationType, HostFacts, MigrationNetwork, PerformanceOption
from lmready.lab.cmdlets import cmdlet, table
from lmready.lab.cmdlets.shapes import shaped
from lmready.lab.powershell.evaluator import Call
from lmready.lab.powershell.values import PSObject

if TYPE_CHECKING:
    from lmready.lab.model import HyperVHost


def env_computername(state: HostFacts) -> str:
    """$env:COMPUTERNAME is the NetBIOS name: upper case, at most 15 characters."""
    return state.computer_name.upper()[:15]


def ready(host: HyperVHost, call: Call) -> bool:
    """Whether Hyper-V can answer here; when not, the error Windows gives (and False)."""
    state = host.state
    name = env_computername(state)
    if not state.hyperv.feature_installed:
        message = (
            f"The Hyper-V Management Tools could not access an expected WMI class on computer '{name}'. "
            "This may indicate that the Hyper-V Platform is not installed on the computer or that the "
            "version of the Hyper-V Platform is incompatible with these management tools."
        )
    elif state.hyperv.vmms_status != "Running":
        message = (
            f"Hyper-V encountered an error trying to access an object on computer '{name}' because the "
            "object was not found. The object might have been deleted, or you might not have permission "
            "to perform the task. Verify that the Virtual Machine Management service on the computer is "
            "running. If the service is running, try to perform the task again by using Run as "
            "Administrator."
        )
    else:
        return True
    call.fail(
        message,
        "InvalidState",
        "InvalidOperation",
        "Microsoft.HyperV.PowerShell.VirtualizationException",
    )
    return False


def vmhost_object(state: HostFacts) -> PSObject:
    m = state.migration
    if m is None:
        raise ValueError("a lab host with Hyper-V has migration settings")
    return shaped(
        "Microsoft.HyperV.PowerShell.VMHost",
        {
            "ComputerName": env_computername(state),
            "Name": env_computername(state),
            "FullyQualifiedDomainName": f"{state.dns_host_name or state.computer_name}.{state.domain}".lower(),
            "LogicalProcessorCount": 16,
            "MemoryCapacity": 274877906944,
            "VirtualHardDiskPath": "C:\\ProgramData\\Microsoft\\Windows\\Virtual Hard Disks",
            "VirtualMachinePath": "C:\\ProgramData\\Microsoft\\Windows\\Hyper-V",
            "VirtualMachineMigrationEnabled": m.enabled,
            "VirtualMachineMigrationAuthenticationType": m.authentication_type.value,
            "VirtualMachineMigrationPerformanceOption": m.performance_option.value,
            "UseAnyNetworkForMigration": m.use_any_network,
            "MaximumVirtualMachineMigrations": m.maximum_migrations,
            "MaximumStorageMigrations": 2,
            "NumaSpanningEnabled": True,
            "EnableEnhancedSessionMode": False,
        },
    )


def _network_object(host: HyperVHost, network: MigrationNetwork) -> PSObject:
    return shaped(
        "Microsoft.HyperV.PowerShell.VMMigrationNetwork",
        {
            "Subnet": network.subnet,
            "Priority": network.priority,
            "ComputerName": env_computername(host.state),
            "IsDeleted": False,
        },
    )


def _with_migration(state: HostFacts, **changes: Any) -> HostFacts:
    assert state.migration is not None
    return state.model_copy(update={"migration": state.migration.model_copy(update=changes)})


def _get_vmhost(host: HyperVHost, call: Call) -> None:
    if ready(host, call):
        call.write(vmhost_object(host.state))


def _set_vmhost(host: HyperVHost, call: Call) -> HostFacts | None:
    if not ready(host, call):
        return None
    p, changes = call.params, {}
    if "VirtualMachineMigrationAuthenticationType" in p:
        changes["authentication_type"] = AuthenticationType(
            p["VirtualMachineMigrationAuthenticationType"].name
        )
    if "VirtualMachineMigrationPerformanceOption" in p:
        changes["performance_option"] = PerformanceOption(p["VirtualMachineMigrationPerformanceOption"].name)
    if "MaximumVirtualMachineMigrations" in p:
        changes["maximum_migrations"] = p["MaximumVirtualMachineMigrations"]
    if "UseAnyNetworkForMigration" in p:
        changes["use_any_network"] = p["UseAnyNetworkForMigration"]
    return _with_migration(host.state, **changes)


def _enable_migration(host: HyperVHost, call: Call) -> HostFacts | None:
    if not ready(host, call):
        return None
    if not host.state.part_of_domain:
        call.fail(
            "Failed to modify service settings: live migration cannot be enabled because computer "
            f"'{env_computername(host.state)}' is not a member of a domain.",  # wording not verified
            "InvalidOperation",
            "InvalidOperation",
            "Microsoft.HyperV.PowerShell.VirtualizationException",
        )
        return None
    return _with_migration(host.state, enabled=True)


def _disable_migration(host: HyperVHost, call: Call) -> HostFacts | None:
    if not ready(host, call):
        return None
    return _with_migration(host.state, enabled=False)


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


def _select_networks(host: HyperVHost, call: Call, pattern: str | None) -> list[int]:
    """Indexes of the networks -Subnet names (wildcards allowed); a literal that matches none is an error."""
    networks = host.state.migration_networks
    if pattern is None:
        return list(range(len(networks)))
    if any(ch in pattern for ch in "*?["):
        return [i for i, n in enumerate(networks) if fnmatch.fnmatchcase(n.subnet.lower(), pattern.lower())]
    found = [i for i, n in enumerate(networks) if _same_network(n.subnet, pattern)]
    if not found:
        call.fail(
            f'Hyper-V was unable to find a migration network with subnet "{pattern}".',  # not verified
            "ObjectNotFound",
            "ObjectNotFound",
            "Microsoft.HyperV.PowerShell.VirtualizationException",
        )
    return found


def _add_network(host: HyperVHost, call: Call) -> HostFacts | None:
    if not ready(host, call):
        return None
    state = host.state
    subnet = call.params["Subnet"]
    problem = _invalid_subnet(subnet)
    if problem is None and any(_same_network(n.subnet, subnet) for n in state.migration_networks):
        problem = f"The migration network '{subnet}' already exists."  # wording not verified
    if problem:
        call.fail(
            problem,
            "InvalidParameter",
            "InvalidArgument",
            "Microsoft.HyperV.PowerShell.VirtualizationException",
        )
        return None
    network = MigrationNetwork(subnet=subnet, priority=call.params.get("Priority", 0))
    call.passthru(_network_object(host, network))
    return state.model_copy(update={"migration_networks": [*state.migration_networks, network]})


def _remove_network(host: HyperVHost, call: Call) -> HostFacts | None:
    if not ready(host, call):
        return None
    state = host.state
    drop = set(_select_networks(host, call, call.params["Subnet"]))
    for i in sorted(drop):
        call.passthru(_network_object(host, state.migration_networks[i]))
    kept = [n for i, n in enumerate(state.migration_networks) if i not in drop]
    return state.model_copy(update={"migration_networks": kept})


def _get_networks(host: HyperVHost, call: Call) -> None:
    if not ready(host, call):
        return
    patterns = call.params.get("Subnet")
    for n in host.state.migration_networks:
        if patterns is None or any(_subnet_matches(n.subnet, p) for p in patterns):
            call.write(_network_object(host, n))


def _subnet_matches(subnet: str, pattern: str) -> bool:
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatchcase(subnet.lower(), pattern.lower())
    return _same_network(subnet, pattern)


class _Version(PSObject):
    """System.Version: [string] of it is '9.0'."""

    def __init__(self, text: str):
        major, _, minor = text.partition(".")
        super().__init__(
            "System.Version", {"Major": int(major), "Minor": int(minor or 0), "Build": -1, "Revision": -1}
        )
        self.text = text

    def to_string(self) -> str:
        return self.text


def _supported_versions(host: HyperVHost, call: Call) -> None:
    if not ready(host, call):
        return
    versions = host.state.supported_versions
    for version in versions:
        call.write(
            shaped(
                "Microsoft.HyperV.PowerShell.VMHostSupportedVersion",
                {
                    "Name": f"Microsoft Windows Server configuration version {version}",
                    "Version": _Version(version),
                    "IsDefault": version == versions[-1],
                },
            )
        )


def vm_objects(host: HyperVHost, name: str | None = None) -> list[PSObject]:
    """The host's VMs, or only the one of that name (Compare-VM builds one per call)."""
    out = []
    for vm in host.state.vms:
        if name is not None and vm.name.lower() != name.lower():
            continue
        running = vm.state == "Running"
        adapters = [
            shaped(
                "Microsoft.HyperV.PowerShell.VMNetworkAdapter",
                {
                    "Name": "Network Adapter",
                    "SwitchName": switch or None,
                    "Connected": bool(switch),
                },
            )
            for switch in (vm.switches or [])
        ]
        obj = shaped(
            "Microsoft.HyperV.PowerShell.VirtualMachine",
            {
                "Name": vm.name,
                "State": vm.state,
                "Version": vm.version,
                "Generation": 2,
                "MemoryAssigned": vm.memory_bytes if running else 0,
                "MemoryStartup": vm.memory_bytes,
                "ProcessorCount": 2,
                "NetworkAdapters": adapters,
                "ComputerName": env_computername(host.state),
            },
        )
        obj.lab_processor_compatibility = vm.processor_compatibility  # type: ignore[attr-defined]
        out.append(obj)
    return out


def _get_vm(host: HyperVHost, call: Call) -> None:
    if not ready(host, call):
        return
    names = call.params.get("Name")
    for vm in vm_objects(host):
        if names is None or any(fnmatch.fnmatchcase(str(vm.get("Name")).lower(), n.lower()) for n in names):
            call.write(vm)


def _get_processor(host: HyperVHost, call: Call) -> None:
    if not ready(host, call):
        return
    vms = call.params.get("VM")
    for vm in vms if isinstance(vms, list) else [vms]:
        if not isinstance(vm, PSObject) or vm.type_name != "Microsoft.HyperV.PowerShell.VirtualMachine":
            call.fail(
                "The VM parameter needs a virtual machine object.",
                "InvalidParameter",
                "InvalidArgument",
                "System.ArgumentException",
            )  # wording not verified
            continue
        call.write(
            shaped(
                "Microsoft.HyperV.PowerShell.VMProcessor",
                {
                    "VMName": vm.get("Name"),
                    "Count": vm.get("ProcessorCount"),
                    "CompatibilityForMigrationEnabled": getattr(vm, "lab_processor_compatibility", False),
                    "CompatibilityForOlderOperatingSystemsEnabled": False,
                },
            )
        )


def _get_switch(host: HyperVHost, call: Call) -> None:
    if not ready(host, call):
        return
    for s in host.state.switches:
        call.write(
            shaped(
                "Microsoft.HyperV.PowerShell.VMSwitch",
                {
                    "Name": s.name,
                    "SwitchType": s.switch_type,
                    "ComputerName": env_computername(host.state),
                },
            )
        )


def _passthru_vmhost(handler: Any) -> Any:
    """Set-VMHost, Enable- and Disable-VMMigration -Passthru write the host as it is after the change."""

    def run(host: HyperVHost, call: Call) -> HostFacts | None:
        changed = handler(host, call)
        if changed is not None:
            call.passthru(vmhost_object(changed))
        return changed

    return run


_TARGET = "ComputerName"
CMDLETS = table(
    cmdlet("Get-VMHost", _get_vmhost, _TARGET),
    cmdlet(
        "Set-VMHost",
        _passthru_vmhost(_set_vmhost),
        _TARGET,
        "Passthru",
        "MaximumVirtualMachineMigrations",
        "VirtualMachineMigrationAuthenticationType",
        "UseAnyNetworkForMigration",
        "VirtualMachineMigrationPerformanceOption",
    ),
    cmdlet("Enable-VMMigration", _passthru_vmhost(_enable_migration), _TARGET, "Passthru"),
    cmdlet("Disable-VMMigration", _passthru_vmhost(_disable_migration), _TARGET, "Passthru"),
    cmdlet("Add-VMMigrationNetwork", _add_network, _TARGET, "Subnet", "Priority", "Passthru"),
    cmdlet("Remove-VMMigrationNetwork", _remove_network, _TARGET, "Subnet", "Passthru"),
    cmdlet("Get-VMMigrationNetwork", _get_networks, _TARGET, "Subnet"),
    cmdlet("Get-VMHostSupportedVersion", _supported_versions, _TARGET),
    cmdlet("Get-VM", _get_vm, _TARGET, "Name"),
    cmdlet("Get-VMProcessor", _get_processor, "VM"),
    cmdlet("Get-VMSwitch", _get_switch),
)
