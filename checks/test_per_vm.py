"""REQUIREMENTS.md section 6, per VM: each VM of the source judged against the destination by
Hyper-V itself (V1), its virtual TPM (V2), and what it references that does not move with it (V3).

A target is one VM and one destination, ``src->dst:vm``. These results say which VMs can move
where; they do not decide a pair's readiness (the host and pair checks do), but a failure at or
above the gate fails the run like any other."""

from lmready.catalogue import Severity, applies_only_if, check, fail, require
from lmready.estate import FactsUnavailable
from lmready.facts import VmMedia
from lmready.vm_messages import for_incompatibility, refs_text
from lmready.vmview import VmView

# What to do about an incompatibility, by the requirement that explains it.
FIXES = {
    "X1": "create the missing switch on {dst} with the same name, or connect the VM's adapter to a "
    "switch {dst} has (Connect-VMNetworkAdapter)",
    "X2": "on {src}: Set-VMProcessor -VMName {vm} -CompatibilityForMigrationEnabled $true (VM off), or "
    "align the hosts' processors and Spectre/Meltdown mitigations",
    "R3": "move {vm} to a host that supports its configuration version; never downgrade it",
    "X4": "free memory on {dst} or lower {vm}'s memory before moving it",
}


@check(
    "LMR-061",
    ref="V1",
    title="Compare-VM finds no incompatibility of the VM with the destination",
    severity=Severity.HIGH,
    area="compatibility",
)
def test_compare_vm(vm: VmView):
    applies_only_if(
        bool(vm.src.facts.compare_vm),
        "Compare-VM results of the source",
        f"the facts of {vm.src} hold none (saved before lmready ran Compare-VM)",
    )
    report = vm.comparison()
    if report is None:
        raise FactsUnavailable(
            f"{vm}: could not tell: the facts hold no Compare-VM result for this VM and destination "
            "(saved before lmready ran Compare-VM, or not selected by --compare-vms)."
        )
    if not report.compared:
        raise FactsUnavailable(
            f"{vm}: could not tell: Compare-VM on {vm.src} did not answer for it: {report.error}"
        )
    found, fixes = [], []
    for entry in report.incompatibilities:
        meaning = for_incompatibility(entry.message_id, entry.message)
        if meaning.known:
            found.append(f'{entry.message_id} "{entry.message}" (explained by {refs_text(meaning.refs)})')
            fixes += [
                FIXES[ref].format(src=vm.src, dst=vm.dst, vm=vm.vm.name)
                for ref in meaning.refs
                if ref in FIXES
            ]
        else:
            found.append(f'{entry.message_id} "{entry.message}" (an unknown MessageId: no check explains it)')
            fixes.append(
                f"read MessageId {entry.message_id} in (Compare-VM -Name {vm.vm.name} -DestinationHost "
                f"{vm.dst}).Incompatibilities on {vm.src}"
            )
    require(
        not found,
        observed=f"Compare-VM on {vm.src}: " + "; ".join(found),
        expected=f"no incompatibilities of {vm.vm.name} with {vm.dst}",
        fix="; ".join(dict.fromkeys(fixes)),
    )


def _media(vm: VmView) -> VmMedia:
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


def _thumbprint(guardian: str) -> str:
    """Guardians are written 'name|thumbprint': every host's local guardian is named
    UntrustedGuardian, so only the certificate tells them apart."""
    return guardian.rpartition("|")[2].lower() if "|" in guardian else guardian.lower()


@check(
    "LMR-062",
    ref="V2",
    title="Destination can unwrap the key protector of a VM with a virtual TPM",
    severity=Severity.HIGH,
    area="compatibility",
)
def test_vtpm_key_protector(vm: VmView):
    media = _media(vm)
    applies_only_if(media.vtpm is not False, "a VM with a virtual TPM", "no virtual TPM")
    if media.vtpm is None:
        raise FactsUnavailable(
            f"{vm}: could not tell whether it has a virtual TPM: {media.error or 'not read'}"
        )
    if not media.key_protector_owner:
        raise FactsUnavailable(
            f"{vm}: could not tell: the owner of its key protector could not be read on {vm.src} "
            f"({media.error or 'no owner'}); ConvertTo-HgsKeyProtector needs the HGS client and "
            "administrator rights."
        )
    guardians = vm.dst.facts.guardians  # unread (no admin rights on dst): could not tell
    owner = media.key_protector_owner
    name = owner.partition("|")[0]
    require(
        any(_thumbprint(g) == _thumbprint(owner) for g in guardians),
        observed=f"{vm.dst} holds no guardian with the certificate of '{name}' that owns {vm.vm.name}'s key "
        'protector (Hyper-V says: "The key protector for the virtual machine could not be unwrapped")',
        expected=f"the guardian '{name}' of {vm.src} on {vm.dst}",
        fix=f"on {vm.src}: Export-HgsGuardian -Name '{name}' (with its private keys, from the Shielded VM "
        f"Local Certificates store); on {vm.dst}: Import-HgsGuardian -AllowUntrustedRoot; or make both "
        "hosts guarded hosts of the same Host Guardian Service",
    )


@check(
    "LMR-063",
    ref="V3",
    title="Media and disks the VM references that do not move with it exist on the destination",
    severity=Severity.HIGH,
    area="compatibility",
)
def test_vm_media_on_destination(vm: VmView):
    media = _media(vm)
    if media.error and not (media.iso_paths or media.passthrough_disks):
        raise FactsUnavailable(
            f"{vm}: could not tell: its drives could not be read on {vm.src}: {media.error}"
        )
    applies_only_if(
        bool(media.iso_paths or media.passthrough_disks), "an ISO or a pass-through disk", "none attached"
    )
    present = {p.path.lower(): p.exists for p in vm.dst.facts.paths_present}  # Windows paths: no case
    problems = [
        f"ISO {path} missing on {vm.dst} (the move fails with 0xC03A0014)"
        for path in media.iso_paths
        if present.get(path.lower()) is False
    ]
    problems += [f"pass-through {disk}: live migration does not move it" for disk in media.passthrough_disks]
    if problems:
        fail(
            observed="; ".join(problems),
            expected=f"every ISO {vm.vm.name} uses present on {vm.dst}, and no pass-through disk",
            fix=f"copy the ISO to the same path on {vm.dst}, or eject it (Set-VMDvdDrive -VMName {vm.vm.name} "
            "-Path $null); replace pass-through disks with virtual disks",
        )
    untested = [p for p in media.iso_paths if p.lower() not in present]
    if untested:
        raise FactsUnavailable(f"{vm}: could not tell: {', '.join(untested)} not tested on {vm.dst}.")
