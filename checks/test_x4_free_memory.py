"""X4: free memory on the destination (REQUIREMENTS.md section 3)."""

from lmready.catalogue import Case, Requirement, Severity, applies_only_if, check, warn
from lmready.estate import PairView

GIB = 1024**3

REQUIREMENT = Requirement(
    ref="X4",
    synopsis="free memory on the destination",
    why="the destination must hold the VM's memory; otherwise 0x800705AA or 0x8007000E",
    fix="free memory on the destination or lower the VM's memory",
    links=(
        "https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v/manage/live-migration-overview",
    ),
)


@check(
    "LMR-054",
    ref="X4",
    title="Destination has free memory for the largest running source VM",
    severity=Severity.LOW,
    area="compatibility",
)
def test_free_memory(pair: PairView):
    running = [vm for vm in pair.src.facts.vms if vm.state.lower() == "running"]
    applies_only_if(bool(running), "a running VM on the source", "none running")
    largest = max(running, key=lambda vm: vm.memory_bytes)
    free = pair.dst.facts.free_memory_bytes
    if free < largest.memory_bytes:
        warn(
            observed=f"{free / GIB:.1f} GiB free on {pair.dst}",
            expected=f"at least {largest.memory_bytes / GIB:.1f} GiB for {largest.name}",
            fix=f"free memory on {pair.dst} first, or move smaller VMs",
        )


# The outcomes and messages a few facts give (tests/test_cases.py; the healthy defaults: tests/factory.py).
CASES = [
    Case("pass"),
    Case("warn", "1.0 GiB free", dst={"free_memory_bytes": 1024**3}),
]
