"""What a per-VM check sees (REQUIREMENTS.md V1-V3): one VM of a source, judged against one
destination. Its target is ``src->dst:vm`` (lmready.values.Target)."""

from __future__ import annotations

from dataclasses import dataclass

from lmready.catalogue import applies_only_if
from lmready.estate import Estate, FactsUnavailable, HostView, PairView
from lmready.facts import HostFacts, VirtualMachine, VmComparison, VmMedia
from lmready.values import Target


@dataclass(frozen=True)
class VmView:
    pair: PairView
    vm: VirtualMachine

    @property
    def src(self) -> HostView:
        return self.pair.src

    @property
    def dst(self) -> HostView:
        return self.pair.dst

    @property
    def id(self) -> Target:
        return Target.pair(self.src.name, self.dst.name, self.vm.name)

    def __str__(self) -> str:
        return self.id

    def comparison(self) -> VmComparison | None:
        return next(
            (c for c in self.src.facts.compare_vm if c.vm == self.vm.name and c.dst == self.dst.name), None
        )

    def media(self) -> VmMedia | None:
        return next((m for m in self.src.facts.vm_media if m.vm == self.vm.name), None)


def vm_view(estate: Estate, src: str, dst: str, vm: str, with_directory: bool = False) -> VmView:
    pair = estate.pair_view(src, dst, with_directory)
    found = next((v for v in pair.src.facts.vms if v.name == vm), None)
    if found is None:
        raise FactsUnavailable(
            f"{src}: has no VM named '{vm}' any more (Get-VM); it may have been moved or renamed."
        )
    return VmView(pair, found)


def vm_targets(estate: Estate, pairs: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(src, dst, vm) for every VM of every source whose VMs could be read, per pair."""
    out = []
    for src, dst in pairs:
        facts = estate.hosts.get(src)
        if isinstance(facts, HostFacts) and "vms" not in facts.unread:
            out += [(src, dst, vm.name) for vm in facts.vms]
    return list(dict.fromkeys(out))  # Hyper-V lets two VMs share a name: one target each name


def known_media(vm: VmView) -> VmMedia:
    """V2's and V3's facts: the VM's media and vTPM; "does not apply" when the saved facts predate
    them, an error when this VM's are missing."""
    applies_only_if(
        bool(vm.src.facts.vm_media),
        "the media and vTPM of the source's VMs",
        f"the facts of {vm.src} hold none (saved before lmready read them)",
    )
    media = vm.media()
    if media is None:
        raise FactsUnavailable(
            f"{vm}: could not tell: the facts hold no media or vTPM of this VM (saved before lmready read them)."
        )
    return media
