"""X1: virtual switches exist on the destination (REQUIREMENTS.md section 3)."""

from lmready.catalogue import Case, Requirement, Severity, check, require
from lmready.estate import PairView

REQUIREMENT = Requirement(
    ref="X1",
    synopsis="virtual switches exist on the destination",
    why="a VM's network adapter needs a switch of the same name on the destination (Compare-VM 33012)",
    fix="create the switch on the destination with the same name, or reconnect the adapter",
    links=(
        "https://learn.microsoft.com/en-us/powershell/module/hyper-v/compare-vm",
        "https://learn.microsoft.com/en-us/powershell/module/hyper-v/connect-vmnetworkadapter",
    ),
)


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


# The outcomes and messages a few facts give (tests/test_cases.py; the healthy defaults: tests/factory.py).
CASES = [
    Case("pass"),
    Case("fail", "'Prod' (used by vm-hv01)", dst={"switches": [{"name": "Other"}]}),
]
