"""X1."""

from lmready.catalogue import Severity, check, require
from lmready.estate import PairView


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
