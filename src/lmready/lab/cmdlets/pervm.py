"""A VM's view on a lab host (REQUIREMENTS.md V1-V3): Compare-VM against another lab host, the
VM's DVD and hard disk drives, its security settings and key protector, and the HgsClient
cmdlets that read guardians and key protectors.

The state gives, per VM, its media and vTPM (``vm_media``) and the host's guardians
(``guardians``, each a guardian's name). Compare-VM finds its destination among the hosts of the
lab network by the name it is given, and judges the VM with lab/compare_vm.py's model. Messages
marked "wording not verified" are plausible texts that could not be checked on a real host.
"""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING

from lmready.facts import HostFacts, VmMedia
from lmready.lab.cmdlets import cmdlet, table
from lmready.lab.cmdlets.hyperv import env_computername, ready, vm_objects
from lmready.lab.cmdlets.shapes import shaped
from lmready.lab.compare_vm import answers_to, compare_vm
from lmready.lab.powershell.evaluator import Call
from lmready.lab.powershell.values import PSObject, TypedArray, to_integer

if TYPE_CHECKING:
    from lmready.lab.model import HyperVHost

HV = "Microsoft.HyperV.PowerShell."
VIRTUALIZATION = "Microsoft.HyperV.PowerShell.VirtualizationException"
GUARDIAN = "Microsoft.Management.Infrastructure.CimInstance#root/Microsoft/Windows/Hgs/MSFT_HgsGuardian"
CERTIFICATE = "System.Security.Cryptography.X509Certificates.X509Certificate2"
KEY_PROTECTOR = (
    "Microsoft.Management.Infrastructure.CimInstance#root/Microsoft/Windows/Hgs/MSFT_HgsKeyProtector"
)
# The lab's key protector bytes: this prefix, then the owner guardian's name (UTF-8). A real one
# is an opaque structure only the HGS client reads; the lab's only reader is its own
# ConvertTo-HgsKeyProtector.
_KP_PREFIX = b"lab-key-protector:"


def _vm_names(host: HyperVHost, call: Call, names: list[str]) -> list[str]:
    """The host's VMs that -VMName names (wildcards allowed); a literal name that matches none is
    Hyper-V's error."""
    have = [vm.name for vm in host.state.vms]
    found: list[str] = []
    for name in names:
        matched = [v for v in have if fnmatch.fnmatchcase(v.lower(), name.lower())]
        if not matched and not any(ch in name for ch in "*?["):
            call.fail(
                f'Hyper-V was unable to find a virtual machine with name "{name}".',
                "InvalidParameter",
                "InvalidArgument",
                VIRTUALIZATION,
            )
        found += [v for v in matched if v not in found]
    return found


def _media(state: HostFacts, vm: str) -> VmMedia:
    return next((m for m in state.vm_media if m.vm.lower() == vm.lower()), VmMedia(vm=vm))


def _each_vm(host: HyperVHost, call: Call):
    """The VMs the call names, each with its media; a VM whose media the state says cannot be
    read fails with that reason."""
    if not ready(host, call):
        return
    for name in _vm_names(host, call, call.params["VMName"]):
        media = _media(host.state, name)
        if media.error:
            call.fail(media.error, "OperationFailed", "NotSpecified", VIRTUALIZATION)
            continue
        yield name, media


def _common(host: HyperVHost, vm: str) -> dict[str, object]:
    return {"VMName": vm, "ComputerName": env_computername(host.state), "IsDeleted": False}


def _dvd_drives(host: HyperVHost, call: Call) -> None:
    for name, media in _each_vm(host, call):
        for i, path in enumerate(media.iso_paths):
            call.write(
                shaped(
                    HV + "DvdDrive",
                    {
                        **_common(host, name),
                        "Name": "DVD Drive",
                        "Path": path,
                        "DvdMediaType": "ISO",
                        "ControllerType": "SCSI",
                        "ControllerNumber": 0,
                        "ControllerLocation": 1 + i,
                    },
                )
            )


def _hard_disk_drives(host: HyperVHost, call: Call) -> None:
    for name, media in _each_vm(host, call):
        for i, disk in enumerate(media.passthrough_disks):
            number = to_integer(disk.removeprefix("disk").strip())
            call.write(
                shaped(
                    HV + "HardDiskDrive",
                    {
                        **_common(host, name),
                        "Name": "Hard Drive",
                        "Path": f"Disk {number} 100.00 GB Bus 0 Lun 0 Target {number}",
                        "DiskNumber": number,
                        "ControllerType": "SCSI",
                        "ControllerNumber": 0,
                        "ControllerLocation": 10 + i,
                    },
                )
            )


def _security(host: HyperVHost, call: Call) -> None:
    for _, media in _each_vm(host, call):
        call.write(
            shaped(
                HV + "VMSecurity",
                {
                    "ComputerName": env_computername(host.state),
                    "IsDeleted": False,
                    "TpmEnabled": bool(media.vtpm),
                    "KsdEnabled": False,
                    "Shielded": False,
                    "EncryptStateAndVmMigrationTraffic": False,
                    "VirtualizationBasedSecurityOptOut": False,
                    "BindToHostTpm": False,
                },
            )
        )


def _key_protector(host: HyperVHost, call: Call) -> None:
    for _, media in _each_vm(host, call):
        # A VM without vTPM has the empty key protector Hyper-V gives (0 0 0 4, not verified).
        data = _KP_PREFIX + media.key_protector_owner.encode() if media.key_protector_owner else b"\0\0\0\4"
        call.write(TypedArray(list(data), "System.Byte"))


def _guardian(text: str, private_keys: bool) -> PSObject:
    """A guardian from the state's ``name|thumbprint``: every host's local guardian is named
    UntrustedGuardian, so only its signing certificate tells one host's from another's."""
    name, _, thumbprint = text.partition("|")
    certificate = shaped(
        CERTIFICATE,
        {"Thumbprint": thumbprint.upper(), "Subject": f"CN=Shielded VM Signing Certificate ({name})"},
    )
    return shaped(
        GUARDIAN,
        {
            "Name": name,
            "HasEncryptionPrivateKey": private_keys,
            "HasSigningPrivateKey": private_keys,
            "SigningCertificate": certificate,
        },
    )


def _to_key_protector(host: HyperVHost, call: Call) -> None:
    data = bytes(to_integer(b) for b in call.params["Bytes"])
    if not data.startswith(_KP_PREFIX):
        call.fail(
            "The key protector could not be read: the data is not a valid key protector.",  # not verified
            "HRESULT 0x80070057",
            "InvalidArgument",
            "Microsoft.Management.Infrastructure.CimException",
        )
        return
    owner = _guardian(data[len(_KP_PREFIX) :].decode(), False)
    call.write(shaped(KEY_PROTECTOR, {"Owner": owner, "Guardians": [owner], "RawData": list(data)}))


def _guardians(host: HyperVHost, call: Call) -> None:
    for name in host.state.guardians:
        call.write(_guardian(name, True))


def _compare(host: HyperVHost, call: Call) -> None:
    if not ready(host, call):
        return
    name, wanted = call.params["Name"], call.params["DestinationHost"]
    destination = next((s for s in host.network.states() if answers_to(s, wanted)), None)
    if destination is None or destination.hyperv.vmms_status != "Running":
        call.fail(
            f"Failed to establish a connection with host '{wanted}': The RPC server is unavailable. "
            "(0x800706BA).",  # wording not verified
            "Unspecified",
            "NotSpecified",
            VIRTUALIZATION,
        )
        return
    vm = next(iter(vm_objects(host, name)), None)
    if vm is None:
        call.fail(
            f'Hyper-V was unable to find a virtual machine with name "{name}".',
            "InvalidParameter",
            "InvalidArgument",
            VIRTUALIZATION,
        )
        return
    errors = [shaped(HV + "VMCompatibilityError", i) for i in compare_vm(host.state, name, destination)]
    call.write(
        shaped(
            HV + "VMCompatibilityReport",
            {
                "VM": vm,
                "OperationType": "MoveVirtualMachine",
                "Destination": wanted,
                "Incompatibilities": errors,
            },
        )
    )


CMDLETS = table(
    cmdlet("Compare-VM", _compare, "Name", "DestinationHost"),
    cmdlet("Get-VMDvdDrive", _dvd_drives, "VMName"),
    cmdlet("Get-VMHardDiskDrive", _hard_disk_drives, "VMName"),
    cmdlet("Get-VMSecurity", _security, "VMName"),
    cmdlet("Get-VMKeyProtector", _key_protector, "VMName"),
    cmdlet("ConvertTo-HgsKeyProtector", _to_key_protector, "Bytes"),
    cmdlet("Get-HgsGuardian", _guardians),
)
