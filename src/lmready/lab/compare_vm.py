"""Compare-VM, the lab's model of it: a VM of one modelled host judged against another.

``compare_vm`` returns what ``(Compare-VM -Name vm -DestinationHost dst).Incompatibilities``
holds, one dict per incompatibility with the real VMCompatibilityError's properties (MessageId,
Message, Source); the lab's Compare-VM (lab/cmdlets/pervm.py) shapes them. Where the texts come
from:

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

from typing import Any

from lmready.facts import HostFacts

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
        out.append({"MessageId": message_id, "Message": message, "Source": source})

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


def answers_to(state: HostFacts, name: str) -> bool:
    """Does a host answer to this name (what Compare-VM -DestinationHost resolves)?"""
    wanted = name.lower()
    names = (state.name, state.computer_name, state.dns_host_name, state.fqdn)
    fqdn = f"{state.dns_host_name or state.computer_name}.{state.domain}" if state.domain else ""
    return wanted in {n.lower() for n in (*names, fqdn) if n}
