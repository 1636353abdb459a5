"""The per-VM rounds of a live collection (REQUIREMENTS.md V1-V3).

After the facts and the port probes: one round per source on its open session (per_vm.ps1:
Compare-VM for each of its VMs and destinations within a budget, each VM's media, pass-through
disks and vTPM, and the guardians the host holds), then one round per destination that has paths
to test (test_paths.ps1). Hosts run concurrently, as every round of the collection. What a round
could not read is unread on the host, with the reason, and its checks say "could not tell".
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from lmready import pwsh
from lmready.facts import HostFacts, PathPresence, VmComparison, VmMedia
from lmready.inventory import Inventory
from lmready.psrp import RemoteError, Session
from lmready.wire import WireError, loads, script

PER_VM_MARKER = "# lmready:per-vm v1"
PATHS_MARKER = "# lmready:test-paths v1"
DEFAULT_MAX_VMS = 100  # comparisons (VM x destination) per source
DEFAULT_SECONDS = 60.0  # Compare-VM time per source; real Compare-VM takes about a second per VM


@dataclass(frozen=True)
class Selection:
    """--compare-vms: which VM moves to compare (patterns over ``src->dst:vm`` or the VM name;
    empty: all; "none": no Compare-VM at all), and the budget per source."""

    patterns: tuple[str, ...] = ()
    max_vms: int = DEFAULT_MAX_VMS
    seconds: float = DEFAULT_SECONDS

    @classmethod
    def parse(cls, patterns: str | None, budget: str | None) -> Selection:
        """Raises ValueError with one sentence on a bad budget."""
        found = tuple(p.strip() for p in (patterns or "").split(",") if p.strip())
        max_vms, seconds = DEFAULT_MAX_VMS, DEFAULT_SECONDS
        if budget:
            try:
                vms_text, _, seconds_text = budget.partition(",")
                max_vms = int(vms_text)
                seconds = float(seconds_text) if seconds_text else DEFAULT_SECONDS
                if max_vms < 0 or not 0 < seconds <= 3600:
                    raise ValueError
            except ValueError:
                raise ValueError(
                    f"--compare-budget '{budget}' is not VMS[,SECONDS] (comparisons and seconds per source "
                    "host, e.g. 100,60; seconds between 1 and 3600)"
                ) from None
        return cls(found, max_vms, seconds)

    def wants(self, src: str, dst: str, vm: str) -> bool:
        if not self.patterns:
            return True
        if self.patterns == ("none",):
            return False
        target = f"{src}->{dst}:{vm}"
        return any(fnmatch.fnmatchcase(target, p) or fnmatch.fnmatchcase(vm, p) for p in self.patterns)


def destination_name(facts: HostFacts, inventory_address: str) -> str:
    """What Compare-VM -DestinationHost gets: the host's own DNS name, as Hyper-V resolves it."""
    return facts.fqdn or facts.computer_name or inventory_address


def per_vm_script(targets: list[dict[str, str]], vms: list[str], seconds: float) -> str:
    return (
        script("per_vm.ps1")
        .replace("{targets}", pwsh.quote(json.dumps(targets)))
        .replace("{vms}", pwsh.quote(json.dumps(vms)))
        .replace("{seconds}", str(int(seconds)))
    )


def paths_script(paths: list[str]) -> str:
    return script("test_paths.ps1").replace("{paths}", pwsh.quote(json.dumps(paths)))


def run_rounds(
    inventory: Inventory,
    hosts: dict[str, Any],
    sessions: dict[str, Session],
    each: Callable[[list, Callable, str], list],
    selection: Selection,
    deadline: Callable[[Any], float],
) -> None:
    """Both rounds; updates ``hosts`` in place (HostFacts are frozen: each is replaced)."""
    sources = []
    plans: dict[str, tuple[list[dict[str, str]], list[str], float]] = {}
    for name, host in inventory.hosts.items():
        facts = hosts.get(name)
        if not isinstance(facts, HostFacts) or name not in sessions or "vms" in facts.unread:
            continue
        targets = []
        for src, dst in inventory.pairs:
            other = hosts.get(dst)
            if src != name or not isinstance(other, HostFacts):
                continue
            for vm in facts.vms:
                if selection.wants(src, dst, vm.name):
                    address = inventory.hosts[dst].address
                    targets.append({"vm": vm.name, "dst": dst, "host": destination_name(other, address)})
        # The script must answer before the session's deadline, whatever the budget says.
        seconds = max(1.0, min(selection.seconds, deadline(host) - 10))
        plans[name] = (targets, [vm.name for vm in facts.vms], seconds)
        sources.append(host)

    def first(host) -> dict | str:
        targets, vms, seconds = plans[host.name]
        over = targets[selection.max_vms :]
        try:
            output = sessions[host.name].run(
                per_vm_script(targets[: selection.max_vms], vms, seconds), "the per-VM script"
            )
            doc = loads(output.text)
            if not isinstance(doc, dict):
                raise WireError("the per-VM script did not print a JSON object")
        except (RemoteError, WireError) as exc:
            return str(exc)
        doc["over"] = over
        return doc

    for host, result in zip(sources, each(sources, first, "comparing VMs"), strict=True):
        facts = hosts[host.name]
        hosts[host.name] = _with_first_round(facts, result, selection)

    # Round two: each destination tests the paths its sources' VMs reference.
    wanted: dict[str, list[str]] = {}
    for src, dst in inventory.pairs:
        a, b = hosts.get(src), hosts.get(dst)
        if isinstance(a, HostFacts) and isinstance(b, HostFacts) and dst in sessions:
            for media in a.vm_media:
                wanted.setdefault(dst, [])
                wanted[dst] += [p for p in media.iso_paths if p not in wanted[dst]]
    dests = [inventory.hosts[n] for n, paths in wanted.items() if paths]

    def second(host) -> list | str:
        try:
            output = sessions[host.name].run(paths_script(wanted[host.name]), "the path test script")
            doc = loads(output.text)
            return [PathPresence.model_validate(d) for d in (doc if isinstance(doc, list) else [doc])]
        except (RemoteError, WireError) as exc:
            return str(exc)
        except ValidationError as exc:
            return f"{host.name}: the path test script printed a malformed entry ({exc.errors()[0]['msg']})"

    for host, result in zip(dests, each(dests, second, "testing VM paths on destinations"), strict=True):
        facts = hosts[host.name]
        if isinstance(result, list):
            hosts[host.name] = facts.model_copy(update={"paths_present": result})
        else:
            hosts[host.name] = _unread(facts, "paths_present", f"the path test round failed: {result}")


def _unread(facts: HostFacts, field: str, reason: str) -> HostFacts:
    return facts.model_copy(update={"unread": {**facts.unread, field: reason}})


def _with_first_round(facts: HostFacts, result: Any, selection: Selection) -> HostFacts:
    if not isinstance(result, dict):  # a sentence (or a run_each FactsUnavailable)
        reason = f"the per-VM round failed: {str(result).rstrip('.')}"
        for field in ("compare_vm", "vm_media", "guardians"):
            facts = _unread(facts, field, reason)
        return facts
    try:
        comparisons = [VmComparison.model_validate(c) for c in _list(result.get("comparisons"))]
        comparisons += [
            VmComparison(
                vm=t["vm"],
                dst=t["dst"],
                compared=False,
                error=f"not compared: the budget of {selection.max_vms} comparisons per source was used up "
                "(raise --compare-budget, or select VMs with --compare-vms)",
            )
            for t in result.get("over", [])
        ]
        media = [VmMedia.model_validate(m) for m in _list(result.get("media"))]
    except ValidationError as exc:
        reason = f"the per-VM script printed a malformed entry ({exc.errors()[0]['msg']})"
        return _unread(_unread(facts, "compare_vm", reason), "vm_media", reason)
    facts = facts.model_copy(update={"compare_vm": comparisons, "vm_media": media})
    guardians = result.get("guardians")
    if result.get("guardians_error") or not isinstance(guardians, list | str | type(None)):
        why = str(result.get("guardians_error") or "an answer that is not a list").rstrip(".")
        return _unread(
            facts,
            "guardians",
            f"Get-HgsGuardian failed ({why}); it needs the HGS client and administrator rights",
        )
    return facts.model_copy(update={"guardians": [str(g) for g in _list(guardians)]})


def _list(value: Any) -> list:
    """PowerShell 5.1 prints a one-element array as a bare object and an empty one as null."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
