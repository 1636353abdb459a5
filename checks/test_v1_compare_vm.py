"""V1: Compare-VM finds each VM compatible with the destination (REQUIREMENTS.md section 6).

A per-VM target (V1-V3) is one VM and one destination, ``src->dst:vm``. These results say which
VMs can move where; they do not decide a pair's readiness (the host and pair checks do), but a
failure at or above the gate fails the run like any other."""

from lmready.catalogue import Case, Requirement, Severity, applies_only_if, check, require
from lmready.estate import FactsUnavailable
from lmready.vm_messages import for_incompatibility, refs_text
from lmready.vmview import VmView

# What to do about an incompatibility, by the requirement that explains it.
INCOMPATIBILITY_FIXES = {
    "X1": "create the missing switch on {dst} with the same name, or connect the VM's adapter to a "
    "switch {dst} has (Connect-VMNetworkAdapter)",
    "X2": "on {src}: Set-VMProcessor -VMName {vm} -CompatibilityForMigrationEnabled $true (VM off), or "
    "align the hosts' processors and Spectre/Meltdown mitigations",
    "R3": "move {vm} to a host that supports its configuration version; never downgrade it",
    "X4": "free memory on {dst} or lower {vm}'s memory before moving it",
}

REQUIREMENT = Requirement(
    ref="V1",
    synopsis="Compare-VM finds each VM compatible with the destination",
    why="Hyper-V itself says whether a VM can move to a destination (Compare-VM)",
    fix="resolve each incompatibility Compare-VM reports; its message names the requirement that explains it",
    links=("https://learn.microsoft.com/en-us/powershell/module/hyper-v/compare-vm",),
)


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
                INCOMPATIBILITY_FIXES[ref].format(src=vm.src, dst=vm.dst, vm=vm.vm.name)
                for ref in meaning.refs
                if ref in INCOMPATIBILITY_FIXES
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


# The outcomes and messages a few facts give (tests/test_cases.py; the healthy defaults: tests/factory.py).
CASES = [
    Case("skip", "saved before lmready ran Compare-VM"),
    Case(
        "pass",
        src={"compare_vm": [{"vm": "vm-hv01", "dst": "hv02", "compared": True, "incompatibilities": []}]},
    ),
    Case(
        "fail",
        "33012 \"Could not find Ethernet switch 'Prod'.\" (explained by X1 (LMR-051))",
        "Connect-VMNetworkAdapter",
        src={
            "compare_vm": [
                {
                    "vm": "vm-hv01",
                    "dst": "hv02",
                    "compared": True,
                    "incompatibilities": [
                        {"message_id": 33012, "message": "Could not find Ethernet switch 'Prod'."}
                    ],
                }
            ]
        },
    ),
]
