"""REQUIREMENTS.md section 3: what admins hit in practice (X1-X5)."""

from lmready.catalogue import Severity, applies_only_if, check, fail, require, warn
from lmready.estate import HostView, PairView

GIB = 1024**3


@check(
    "LMR-051",
    ref="X1",
    title="Destination has every virtual switch the source VMs use",
    severity=Severity.HIGH,
    area="compatibility",
)
def test_virtual_switches(pair: PairView):
    have = {s.name for s in pair.dst.facts.switches}
    missing: dict[str, list[str]] = {}
    for vm in pair.src.facts.vms:
        for switch in vm.switches:
            if switch not in have:
                missing.setdefault(switch, []).append(vm.name)
    require(
        not missing,
        observed="missing " + "; ".join(f"'{s}' (used by {', '.join(v)})" for s, v in missing.items()),
        expected=f"switches of the same names on {pair.dst}",
        fix=f"on {pair.dst}: New-VMSwitch -Name <name> bound to the matching network, or connect "
        "the VMs to a switch both hosts have",
    )


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


def _vendor(text: str) -> str:
    return text.strip().lower()


def _model(text: str) -> str:
    """Win32_Processor.Name pads and repeats spaces; compare the words."""
    return " ".join(text.split()).lower()


@check(
    "LMR-053",
    ref="X3",
    title="Clocks of both hosts and the runner within the Kerberos tolerance",
    severity=Severity.HIGH,
    area="compatibility",
)
def test_clock_skew(pair: PairView):
    limit = min(pair.src.policy.max_clock_skew_seconds, pair.dst.policy.max_clock_skew_seconds)
    offsets = {e.name: e.facts.clock.offset_seconds for e in (pair.src, pair.dst)}
    between = abs(offsets[pair.src.name] - offsets[pair.dst.name])
    problems = [f"{name} {off:+.0f} s from the runner" for name, off in offsets.items() if abs(off) >= limit]
    if between >= limit:
        problems.insert(0, f"{between:.0f} s between the hosts")
    require(
        not problems,
        observed="; ".join(problems),
        expected=f"under {limit} s",
        fix="point both hosts at the domain time hierarchy: w32tm /config /syncfromflags:domhier "
        "/update, then w32tm /resync",
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


@check(
    "LMR-055",
    ref="X5",
    title="Host resolves and its WinRM port answers from the runner",
    severity=Severity.HIGH,
    area="network",
)
def test_preflight(host: HostView):
    pre = host.facts.preflight
    applies_only_if(pre is not None, "a preflight from this run", "facts were loaded from files")
    problems = []
    if not pre.resolved:
        problems.append(f"{host.facts.name} does not resolve")
    elif not pre.winrm_port_open:
        problems.append("WinRM port does not answer")
    if problems:
        fail(
            observed="; ".join(problems) + (f" ({pre.detail})" if pre.detail else ""),
            expected="name resolves and WinRM answers",
            fix="check DNS, the address in the inventory, and that WinRM listens (winrm quickconfig)",
        )
