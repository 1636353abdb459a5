"""V3: media and paths a VM references exist on the destination (REQUIREMENTS.md section 6)."""

from lmready.catalogue import Case, Requirement, Severity, applies_only_if, check, fail
from lmready.estate import FactsUnavailable
from lmready.vmview import VmView, known_media

REQUIREMENT = Requirement(
    ref="V3",
    synopsis="media and paths a VM references exist on the destination",
    why="media and disks that do not move with the VM must exist on the destination (0xC03A0014, event 20413)",
    fix="eject the ISO or copy it to the same path on the destination; move pass-through disks and paths off the system drive",
    links=("https://learn.microsoft.com/en-us/powershell/module/hyper-v/compare-vm",),
)


@check(
    "LMR-063",
    ref="V3",
    title="Media and disks the VM references that do not move with it exist on the destination",
    severity=Severity.HIGH,
    area="compatibility",
)
def test_vm_media_on_destination(vm: VmView):
    media = known_media(vm)
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


# The outcomes and messages a few facts give (tests/test_cases.py; the healthy defaults: tests/factory.py).
CASES = [
    Case("skip", "none attached", src={"vm_media": [{"vm": "vm-hv01"}]}),
    Case(
        "pass",
        src={"vm_media": [{"vm": "vm-hv01", "iso_paths": ["D:\\ISO\\a.iso"]}]},
        dst={"paths_present": [{"path": "d:\\iso\\A.iso", "exists": True}]},
    ),
    Case(
        "fail",
        "missing on hv02",
        "0xC03A0014",
        src={"vm_media": [{"vm": "vm-hv01", "iso_paths": ["D:\\ISO\\a.iso"]}]},
        dst={"paths_present": [{"path": "D:\\ISO\\a.iso", "exists": False}]},
    ),
    Case(
        "fail", "pass-through disk 2", src={"vm_media": [{"vm": "vm-hv01", "passthrough_disks": ["disk 2"]}]}
    ),
]
