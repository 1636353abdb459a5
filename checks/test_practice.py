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
    a, b = pair.src.facts.cpu, pair.dst.facts.cpu
    if a.vendor != b.vendor:
        # Processor compatibility mode masks features within one vendor; it cannot bridge vendors.
        fail(
            observed=f"{pair.src} {a.vendor}, {pair.dst} {b.vendor}",
            expected="processors of the same vendor",
            fix="live migration between Intel and AMD is impossible; shut the VM down and move it "
            "offline, or pick a destination with the same vendor",
        )
    if a.model and a.model == b.model:
        return  # identical processors; an unknown model counts as different
    exposed = [vm.name for vm in pair.src.facts.vms if not vm.processor_compatibility]
    require(
        not exposed,
        observed=f"different processors ({a.model or '?'} / {b.model or '?'}); VMs without "
        f"processor compatibility: {', '.join(exposed)}",
        expected="processor compatibility mode on every VM that moves between different processors",
        fix="with each VM off: Set-VMProcessor -VMName <vm> -CompatibilityForMigrationEnabled $true",
    )


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
