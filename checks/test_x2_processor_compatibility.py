"""X2: processors compatible (REQUIREMENTS.md section 3)."""

from lmready.catalogue import Case, Requirement, Severity, check, fail, warn
from lmready.estate import PairView

REQUIREMENT = Requirement(
    ref="X2",
    synopsis="processors compatible",
    why="a VM cannot move to a processor that lacks features it uses, and never across vendors",
    fix="enable processor compatibility mode on the VM (VM off), or align the hosts' processors",
    links=(
        "https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v/manage/processor-compatibility-mode-hyper-v",
    ),
)


def _vendor(text: str) -> str:
    return text.strip().lower()


def _model(text: str) -> str:
    """Win32_Processor.Name pads and repeats spaces; compare the words."""
    return " ".join(text.split()).lower()


@check(
    "LMR-052",
    ref="X2",
    title="Processors compatible for the source VMs",
    severity=Severity.HIGH,
    area="compatibility",
)
def test_processor_compatibility(pair: PairView):
    # Microsoft "Processor compatibility mode in Hyper-V": the mode hides features within one
    # vendor's processors; nothing lets a running VM move between Intel and AMD.
    a, b = pair.src.facts.cpu, pair.dst.facts.cpu
    va, vb = _vendor(a.vendor), _vendor(b.vendor)
    if va and vb and va != vb:
        vms = [vm.name for vm in pair.src.facts.vms]
        fail(
            observed=f"{pair.src} {a.vendor}, {pair.dst} {b.vendor}"
            + (f"; VMs that cannot move live: {', '.join(vms)}" if vms else ""),
            expected="processors of the same vendor (compatibility mode cannot bridge vendors)",
            fix="live migration between Intel and AMD is impossible; shut the VMs down and move them "
            "offline, or pick a destination with the same vendor",
        )
    ma, mb = _model(a.model), _model(b.model)
    if va and va == vb and ma and ma == mb:
        return  # identical processors
    exposed = [vm.name for vm in pair.src.facts.vms if not vm.processor_compatibility]
    if not exposed:
        return  # compatibility mode covers every VM within one vendor
    # Never claim a difference that was not observed: an unknown side is said to be unknown.
    if va and vb:
        seen = f"same vendor ({a.vendor}), " + (
            f"different models ({a.model.strip()} / {b.model.strip()})"
            if ma and mb
            else "model unknown on "
            + " and ".join(str(e) for e, m in ((pair.src, ma), (pair.dst, mb)) if not m)
        )
    else:
        seen = "vendor unknown on " + " and ".join(
            str(e) for e, v in ((pair.src, va), (pair.dst, vb)) if not v
        )
    warn(
        observed=f"{seen}; VMs without processor compatibility: {', '.join(exposed)}",
        expected="identical processors, or processor compatibility mode on the VMs that move",
        fix=f"check each VM with Compare-VM -Name <vm> -DestinationHost {pair.dst}, or with the VM "
        "off: Set-VMProcessor -VMName <vm> -CompatibilityForMigrationEnabled $true",
    )


# The outcomes and messages a few facts give (tests/test_cases.py; the healthy defaults: tests/factory.py).
CASES = [
    Case("pass"),
    Case("fail", "Intel and AMD", dst={"cpu": {"vendor": "AuthenticAMD"}}),
    Case("warn", "model unknown on hv02", dst={"cpu": {"model": ""}}),
]
