"""The system's cmdlets over a lab host: Get-CimInstance of the CIM classes the scripts read,
Get-WindowsFeature, Get-Service, and the registry (Get-ItemProperty, Test-Path) as far as the
lab models it: the MSV1_0 key that Credential Guard's upgrade marker lives in. Test-Path of a
file answers from the files the state knows: the media its VMs use and ``paths_present``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from lmready.lab.cmdlets import cmdlet, table
from lmready.lab.cmdlets.shapes import shaped
from lmready.lab.powershell.errors import NotModelled
from lmready.lab.powershell.evaluator import Call
from lmready.lab.powershell.values import EnumValue, PSCustomObject, PSObject, register_enum

if TYPE_CHECKING:
    from lmready.lab.model import HyperVHost

# Get-VMHostSupportedVersion and the Win32_DeviceGuard class arrived with Windows Server 2016.
BUILD_2016 = 14393
NATIVE_ERROR = "Microsoft.Management.Infrastructure.NativeErrorCode"
register_enum(
    NATIVE_ERROR, {"Ok": 0, "Failed": 1, "AccessDenied": 2, "InvalidNamespace": 3}
)  # values not verified
_CIMV2 = "Microsoft.Management.Infrastructure.CimInstance#root/cimv2/{}"
MSV1_0 = "HKLM:\\SYSTEM\\CurrentControlSet\\Control\\Lsa\\MSV1_0"


def dns_host_name(host: HyperVHost) -> str:
    """Win32_ComputerSystem.DNSHostName: the full host label, as set (scenarios that give none
    have a computer name short enough to be both)."""
    return host.state.dns_host_name or host.state.computer_name


def _cim_class(host: HyperVHost, class_name: str) -> PSObject | None:
    state = host.state
    key = class_name.lower()
    if key == "win32_computersystem":
        return shaped(
            _CIMV2.format("Win32_ComputerSystem"),
            {
                "Name": host.environment("computername"),
                "DNSHostName": dns_host_name(host),
                "Domain": state.domain,
                "PartOfDomain": state.part_of_domain,
                "Manufacturer": "Lab",
                "Model": "Virtual Machine",
                "NumberOfLogicalProcessors": 16,
            },
        )
    if key == "win32_operatingsystem":
        return shaped(
            _CIMV2.format("Win32_OperatingSystem"),
            {
                "Caption": state.os.caption,
                "BuildNumber": str(state.os.build),
                "Version": f"10.0.{state.os.build}",
                "FreePhysicalMemory": state.free_memory_bytes // 1024,  # KiB, as WMI gives it
                "CSName": host.environment("computername"),
            },
        )
    if key == "win32_processor":
        return shaped(
            _CIMV2.format("Win32_Processor"),
            {
                "DeviceID": "CPU0",
                "Manufacturer": state.cpu.vendor,
                "Name": state.cpu.model,
                "NumberOfCores": 8,
            },
        )
    return None


def _get_cim(host: HyperVHost, call: Call) -> None:
    class_name = call.params["ClassName"]
    namespace = call.params.get("Namespace", "root\\cimv2").lower().replace("/", "\\")
    denied = host.denied_message(class_name)
    if denied is not None:
        call.fail(
            denied,
            "HRESULT 0x80041003",
            "PermissionDenied",
            "Microsoft.Management.Infrastructure.CimException",
        )
        return
    if namespace == "root\\microsoft\\windows\\deviceguard":
        if class_name.lower() != "win32_deviceguard":
            raise NotModelled(f"the CIM class {class_name} in {namespace}")
        if host.state.os.build < BUILD_2016:
            call.fail(
                "Invalid namespace ",
                "HRESULT 0x8004100e",
                "MetadataError",
                "Microsoft.Management.Infrastructure.CimException",
                NativeErrorCode=EnumValue(NATIVE_ERROR, "InvalidNamespace", 3),
            )
            return
        running = [1] if host.state.credential_guard_running else []
        call.write(
            shaped(
                "Microsoft.Management.Infrastructure.CimInstance#root/Microsoft/Windows/DeviceGuard/Win32_DeviceGuard",
                {
                    "SecurityServicesRunning": running,
                    "SecurityServicesConfigured": running,
                    "VirtualizationBasedSecurityStatus": 2 if running else 0,
                },
            )
        )
        return
    if namespace != "root\\cimv2":
        raise NotModelled(f"the CIM namespace {namespace}")
    obj = _cim_class(host, class_name)
    if obj is None:
        raise NotModelled(f"the CIM class {class_name}")
    call.write(obj)


def _features(host: HyperVHost, call: Call) -> None:
    installed = {
        "hyper-v": ("Hyper-V", "Hyper-V", host.state.hyperv.feature_installed),
        "hyper-v-powershell": (
            "Hyper-V-PowerShell",
            "Hyper-V Module for Windows PowerShell",
            host.state.hyperv.powershell_module,
        ),
    }
    for name in call.params.get("Name") or list(installed):
        found = installed.get(name.lower())
        if found is None:
            raise NotModelled(f"the Windows feature {name}")
        call.write(
            shaped(
                "Microsoft.Windows.ServerManager.Commands.Feature",
                {
                    "Name": found[0],
                    "DisplayName": found[1],
                    "Installed": found[2],
                    "InstallState": "Installed" if found[2] else "Available",
                    "FeatureType": "Role" if found[0] == "Hyper-V" else "Feature",
                },
            )
        )


_SERVICES = {
    "vmms": ("vmms", "Hyper-V Virtual Machine Management"),
    "winrm": ("WinRM", "Windows Remote Management (WS-Management)"),
    "lanmanserver": ("LanmanServer", "Server"),
}


def _services(host: HyperVHost, call: Call) -> None:
    if "Name" not in call.params:
        raise NotModelled("listing every service (Get-Service without -Name)")
    for name in call.params["Name"]:
        key = name.lower()
        if key not in _SERVICES:
            raise NotModelled(f"the service '{name}' (only vmms, WinRM and LanmanServer are)")
        status = {"vmms": host.state.hyperv.vmms_status, "winrm": "Running"}.get(
            key, "Running" if host.smb_server_running else "Stopped"
        )
        if status in ("", "NotFound"):
            call.fail(
                f"Cannot find any service with service name '{name}'.",
                "NoServiceFoundForGivenName",
                "ObjectNotFound",
                "Microsoft.PowerShell.Commands.ServiceCommandException",
            )
            continue
        call.write(
            shaped(
                "System.ServiceProcess.ServiceController",
                {
                    "Name": _SERVICES[key][0],
                    "ServiceName": _SERVICES[key][0],
                    "DisplayName": _SERVICES[key][1],
                    "Status": status,
                    "MachineName": ".",
                },
            )
        )


def _registry(host: HyperVHost) -> dict[str, dict[str, Any]]:
    """The registry keys the lab models and their values."""
    values: dict[str, Any] = {"Auth0": "", "NtlmMinClientSec": 536870912, "NtlmMinServerSec": 536870912}
    if host.state.isolated_credentials_root_secret:
        values["IsolatedCredentialsRootSecret"] = b"\x01".hex()
    keys = {MSV1_0.lower(): values}
    parts = MSV1_0.split("\\")
    for i in range(1, len(parts)):
        keys.setdefault("\\".join(parts[:i]).lower(), {})
    return keys


def _path(call: Call) -> str:
    path = call.params.get("LiteralPath") or call.params.get("Path")
    text = path[0] if isinstance(path, list) else path
    if text is None:
        raise NotModelled("a registry cmdlet without a path")
    normal = text.replace("/", "\\").rstrip("\\")
    if normal.lower().startswith("hkey_local_machine\\"):
        normal = "HKLM:" + normal[18:]
    if not normal.lower().startswith("hklm:"):
        raise NotModelled(f"the path {text} (only HKLM: registry keys are)")
    return normal


def _get_item_property(host: HyperVHost, call: Call) -> None:
    path = _path(call)
    values = _registry(host).get(path.lower())
    if values is None:
        call.fail(
            f"Cannot find path '{path}' because it does not exist.",
            "PathNotFound",
            "ObjectNotFound",
            "System.Management.Automation.ItemNotFoundException",
        )
        return
    parent, _, child = path.rpartition("\\")
    provider = "Microsoft.PowerShell.Core\\Registry::"
    call.write(
        PSCustomObject(
            {
                **values,
                "PSPath": provider + path.replace("HKLM:", "HKEY_LOCAL_MACHINE"),
                "PSParentPath": provider + parent.replace("HKLM:", "HKEY_LOCAL_MACHINE"),
                "PSChildName": child,
                "PSDrive": "HKLM",
                "PSProvider": "Microsoft.PowerShell.Core\\Registry",
            }
        )
    )


def _files(host: HyperVHost) -> set[str]:
    """The files the lab host has: what its VMs use, and what the state lists as present."""
    state = host.state
    have = {p.lower() for m in state.vm_media for p in m.iso_paths}
    return have | {p.path.lower() for p in state.paths_present if p.exists}


def _test_path(host: HyperVHost, call: Call) -> None:
    path = call.params.get("LiteralPath") or call.params.get("Path")
    text = path[0] if isinstance(path, list) and len(path) == 1 else None
    if text is not None and re.match(r"^[A-Za-z]:\\", text):
        if "Path" in call.params and any(ch in text for ch in "*?["):
            raise NotModelled("Test-Path -Path with wildcards on the file system")
        call.write(text.lower() in _files(host))
        return
    call.write(_path(call).lower() in _registry(host))


_PATHS = ("Path", "LiteralPath")
CMDLETS = table(
    cmdlet("Get-CimInstance", _get_cim, "ClassName", "Namespace"),
    cmdlet("Get-WindowsFeature", _features, "Name"),
    cmdlet("Get-Service", _services, "Name"),
    cmdlet("Get-ItemProperty", _get_item_property, *_PATHS),
    cmdlet("Test-Path", _test_path, *_PATHS),
)
