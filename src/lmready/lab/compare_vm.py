"""Compare-VM, the lab's model of it: a VM of one modelled host judged against another.

``compare_vm`` returns what ``(Compare-VM -Name vm -DestinationHost dst).Incompatibilities``
holds, one dict per incompatibility shaped like the real VMCompatibilityError (MessageId,
Message, Source). Where the texts come from:

- 33012 "Could not find Ethernet switch '<name>'." is the example of the Compare-VM
  documentation (learn.microsoft.com/powershell/module/hyper-v/compare-vm, "Example 2").
- The processor text is the one Hyper-V Manager and VMMS event 21502 print ("... is using
  processor-specific features not supported on physical computer ...").
- The memory text is VMMS's "could not initialize memory: Ran out of memory (0x8007000E)".
- The configuration version text is modelled on VMMS's wording; its MessageId and those of the
  processor and memory entries were not read from a real host: lmready maps them by their text
  (lmready.vm_messages), so a real host's own ID for them changes nothing.
"""

from __future__ import annotations

import json
import re
from typing import Any

from lmready import pwsh
from lmready.facts import HostFacts
from lmready.lab import pslang
from lmready.lab.pslang import Hashtable, convert_to_json
from lmready.lab.result import ScriptResult

SWITCH_NOT_FOUND = 33012
# Not verified against a real host (see above); lmready maps these by their text.
PROCESSOR_FEATURES = 24004
VERSION_NOT_SUPPORTED = 24008
OUT_OF_MEMORY = 26010


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def compare_vm(source_state: HostFacts, vm_name: str, destination_state: HostFacts) -> list[dict[str, Any]]:
    """The incompatibilities of ``vm_name`` (a VM of the source) with the destination; raises
    LookupError with Hyper-V's message when the source has no such VM."""
    vm = next((v for v in source_state.vms if v.name.lower() == vm_name.lower()), None)
    if vm is None:
        raise LookupError(f'Hyper-V was unable to find a virtual machine with name "{vm_name}".')
    dst = destination_state.computer_name or destination_state.name
    out = []

    def add(message_id: int, message: str, source: str) -> None:
        out.append(Hashtable(MessageId=message_id, Message=message, Source=source))

    have = {s.name for s in destination_state.switches}
    for switch in vm.switches:
        if switch and switch not in have:
            add(SWITCH_NOT_FOUND, f"Could not find Ethernet switch '{switch}'.", "Network adapter")
    supported = {_key(v) for v in destination_state.supported_versions}
    if supported and _key(vm.version) not in supported:
        add(
            VERSION_NOT_SUPPORTED,
            f"The virtual machine '{vm.name}' has configuration version {vm.version}, which is not "
            f"supported on '{dst}'.",
            "Virtual machine",
        )
    if source_state.cpu.vendor != destination_state.cpu.vendor or (
        source_state.cpu.model != destination_state.cpu.model and not vm.processor_compatibility
    ):
        add(
            PROCESSOR_FEATURES,
            f"The virtual machine '{vm.name}' is using processor-specific features not supported on "
            f"physical computer '{dst}'.",
            "Processor",
        )
    if vm.state.lower() == "running" and vm.memory_bytes > destination_state.free_memory_bytes:
        add(
            OUT_OF_MEMORY,
            f"'{vm.name}' could not initialize memory: Ran out of memory (0x8007000E).",
            "Memory",
        )
    return out


# --- the scripts lmready runs (per_vm.ps1, test_paths.ps1), answered from the model ------------

_PAYLOAD = re.compile(r"ConvertFrom-Json\s+-InputObject\s+(?=[" + pwsh.SINGLE_QUOTES + "])")


def payloads(script: str) -> list[Any]:
    """The JSON strings lmready filled into a script, in order (raises ValueError)."""
    out = []
    for match in _PAYLOAD.finditer(script):
        text, _ = pslang.single_quoted(script, match.end())
        out.append(json.loads(text))
    return out


def answers_to(state: HostFacts, name: str) -> bool:
    """Does a host answer to this name (what Compare-VM -DestinationHost resolves)?"""
    wanted = name.lower()
    return wanted in {
        n.lower() for n in (state.name, state.computer_name, state.dns_host_name, state.fqdn) if n
    }


def per_vm_answer(script: str, state: HostFacts, hosts: list[HostFacts]) -> ScriptResult:
    """What per_vm.ps1 prints on a lab host: Compare-VM for each target against the modelled
    host it names, the VMs' media and vTPM as the state has them (vm_media), and its guardians
    (unread in the state: Get-HgsGuardian fails with that reason, as without admin rights)."""
    try:
        targets, names = payloads(script)[:2]
    except (ValueError, pslang.ParseError):
        return ScriptResult([], terminating="Invalid JSON primitive: the per-VM script's targets.")
    comparisons = []
    for t in _list(targets):
        entry = Hashtable(
            vm=str(t.get("vm")), dst=str(t.get("dst")), compared=False, incompatibilities=[], error=""
        )
        dst = next((h for h in hosts if answers_to(h, str(t.get("host")))), None)
        if dst is None:
            entry["error"] = (
                f"Failed to establish a connection with host '{t.get('host')}': The RPC server is unavailable. "
                "(0x800706BA)."
            )
        else:
            try:
                entry["incompatibilities"] = [
                    Hashtable(message_id=i["MessageId"], message=i["Message"])
                    for i in compare_vm(state, str(t.get("vm")), dst)
                ]
                entry["compared"] = True
            except LookupError as exc:
                entry["error"] = str(exc)
        comparisons.append(entry)
    media = []
    for name in _list(names):
        known = next((m for m in state.vm_media if m.vm == name), None)
        media.append(
            Hashtable(
                vm=str(name),
                iso_paths=list(known.iso_paths) if known else [],
                passthrough_disks=list(known.passthrough_disks) if known else [],
                vtpm=known.vtpm if known else False,
                key_protector_owner=known.key_protector_owner if known else "",
                error=known.error if known else "",
            )
        )
    denied = state.unread.get("guardians", "")
    doc = Hashtable(
        comparisons=comparisons,
        media=media,
        guardians=None if denied else list(state.guardians),
        guardians_error=denied,
    )
    return ScriptResult([convert_to_json(doc)])


def paths_answer(script: str, state: HostFacts) -> ScriptResult:
    """Test-Path on a lab host: a path exists when one of its own VMs uses it, or when the state
    lists it as present (paths_present)."""
    try:
        (paths,) = payloads(script)[:1]
    except (ValueError, pslang.ParseError):
        return ScriptResult([], terminating="Invalid JSON primitive: the path test script's paths.")
    have = {p.lower() for m in state.vm_media for p in m.iso_paths}
    have |= {p.path.lower() for p in state.paths_present if p.exists}
    return ScriptResult(
        [convert_to_json([Hashtable(path=str(p), exists=str(p).lower() in have) for p in _list(paths)])]
    )


def _list(value: Any) -> list:
    return value if isinstance(value, list) else [] if value is None else [value]
