"""R3: destination supports every VM configuration version (REQUIREMENTS.md section 1)."""

from lmready.catalogue import Case, Fix, Requirement, Severity, check, fail
from lmready.estate import PairView
from lmready.windows import (
    VERSIONS_2012_R2,
    WINDOWS_SERVER_2012_R2,
    version_key,
    version_range,
)

REQUIREMENT = Requirement(
    ref="R3",
    synopsis="destination supports every VM configuration version",
    why="a host refuses a VM whose configuration version it does not support, and a version cannot be lowered",
    fix="move the VM to a host that supports its version; Update-VMVersion (VM off, irreversible) only for a VM that stays on newer hosts",
    links=(
        "https://learn.microsoft.com/en-us/powershell/module/hyper-v/update-vmversion",
        "https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v/deploy/upgrade-virtual-machine-version-in-hyper-v-on-windows-or-windows-server",
    ),
)


@check(
    "LMR-013",
    ref="R3",
    title="Destination supports every VM configuration version of the source",
    severity=Severity.HIGH,
    area="versions",
    fix="update-vm-version",
)
def test_vm_configuration_versions(pair: PairView):
    listed = pair.dst.facts.supported_versions
    if not listed and pair.dst.facts.os.build == WINDOWS_SERVER_2012_R2:
        listed = list(VERSIONS_2012_R2)  # no Get-VMHostSupportedVersion there: 5.0 by its build
    supported = {version_key(v) for v in listed}
    oldest, newest = min(supported, default=()), max(supported, default=())
    too_old, too_new, unlisted = [], [], []
    for vm in pair.src.facts.vms:
        key = version_key(vm.version)
        if key in supported:
            continue
        bucket = too_old if key < oldest else too_new if key > newest else unlisted
        bucket.append(f"{vm.name} ({vm.version})")
    if not (too_old or too_new or unlisted):
        return
    steps = []
    if too_old:
        steps.append(
            f"with each VM off, on {pair.src}: Update-VMVersion -Name <vm> (irreversible: the VM "
            f"can no longer run on older hosts, so lmready never runs it) for {', '.join(too_old)}"
        )
    if too_new or unlisted:
        steps.append(
            f"{', '.join(too_new + unlisted)} cannot move to {pair.dst}: a configuration version "
            "cannot be lowered; choose a destination on a newer Windows Server"
        )
    fail(
        observed=f"VMs {', '.join(too_old + too_new + unlisted)}",
        expected=f"versions {pair.dst} supports ({version_range(listed)})",
        fix="; ".join(steps),
    )


FIX = Fix(
    "update-vm-version",
    "Update-VMVersion -Name <vm> (VM off)",
    False,
    "irreversible: lmready prints the command and never runs it",
)


# The outcomes and messages a few facts give (tests/test_cases.py; the healthy defaults: tests/factory.py).
CASES = [
    Case("pass"),
    Case(
        "fail",
        "web (10.0)",
        "cannot be lowered",
        src={"vms": [{"name": "web", "state": "Off", "version": "10.0", "memory_bytes": 1}]},
        dst={"supported_versions": ["5.0", "8.0", "9.0"]},
    ),
    Case("pass", src={"vms": [{"name": "a", "state": "Off", "version": "9.00", "memory_bytes": 1}]}),
]
