"""Per-VM benchmark (REQUIREMENTS.md V1-V3): Compare-VM for N lab hosts x V VMs each, every
source against one destination (a ring), with injected per-request latency.

The lab runs in its own process. Sessions are opened first (as the collection has them), then
only the per-VM rounds are timed (per_vm.ps1 on each source, test_paths.ps1 on each destination):
concurrently as lmready runs them (32 hosts in flight) and one host at a time, in the same run.
The lab answers Compare-VM at once; a real host takes about a second per VM inside its own
script, which concurrency across hosts hides as well.

    python benchmarks/compare_scale.py            # 100 hosts, 20 VMs, 50 ms
    python benchmarks/compare_scale.py 30 20 0.05
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import yaml
from collect_scale import cpu_seconds, start_lab

from lmready.credentials import resolve
from lmready.facts import HostFacts
from lmready.inventory import load_inventory
from lmready.lab.control import DEFAULT_SCENARIO
from lmready.lab.scenario import load_scenario
from lmready.live import close_all, deadline, run_each
from lmready.per_vm import Selection, run_rounds
from lmready.psrp import open_session

REQUESTS_PER_SOURCE = 2  # Command, Receive (per_vm.ps1); test_paths.ps1 adds 2 on destinations


def scenario(root: Path, n: int, vms: int) -> tuple[Path, dict[str, HostFacts]]:
    template = load_scenario(DEFAULT_SCENARIO).hosts["lab-hv01"]
    hosts, facts_by_name = [], {}
    for i in range(1, n + 1):
        name = f"bench-hv{i:03d}"
        machines = [
            {
                "name": f"vm{j:02d}",
                "state": "Running",
                "version": "9.0" if j % 10 else "10.0",
                "memory_bytes": 2 * 1024**3,
                "switches": ["LabNet"] if j % 7 else ["LabNet", "Backup"],
            }
            for j in range(1, vms + 1)
        ]
        media = [
            {"vm": f"vm{j:02d}", "vtpm": False, "iso_paths": [f"C:\\ISO\\{j}.iso"] if j % 5 == 0 else []}
            for j in range(1, vms + 1)
        ]
        facts = HostFacts.model_validate(
            {
                **template.model_dump(),
                "name": name,
                "computer_name": name.upper(),
                "dns_host_name": name,
                "addresses": [{"address": f"10.{20 + i // 250}.{i % 250}.11", "prefix_length": 16}],
                "vms": machines,
                "vm_media": media,
                "paths_present": [],
                "guardians": [],
            }
        )
        path = root / "hosts" / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(facts.model_dump_json())
        hosts.append({"name": name, "facts": f"hosts/{name}.json"})
        facts_by_name[name] = facts
    path = root / "scenario.yml"
    path.write_text(yaml.safe_dump({"hosts": hosts}))
    return path, facts_by_name


def ring(path: Path, names: list[str]) -> Path:
    doc = yaml.safe_load(path.read_text())
    doc.pop("groups", None)
    doc["pairs"] = [{"src": a, "dst": names[(i + 1) % len(names)]} for i, a in enumerate(names)]
    out = path.with_name("ring.yml")
    out.write_text(yaml.safe_dump(doc))
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    vms = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    latency = float(sys.argv[3]) if len(sys.argv) > 3 else 0.05
    os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    rows = {}
    with tempfile.TemporaryDirectory(prefix="lmready-compare-") as tmp:
        root = Path(tmp)
        scenario_path, facts = scenario(root, n, vms)
        lab, state = start_lab(root, scenario_path, latency)
        try:
            os.environ.update(state["env"])
            inventory = load_inventory(ring(Path(state["inventory"]), list(facts)))
            hosts = list(inventory.hosts.values())

            def connect(host):
                c = host.connection
                return open_session(
                    host, resolve(c.credential, inventory.credentials.get(c.credential or ""))
                )

            sessions = dict(zip([h.name for h in hosts], run_each(hosts, connect, "connecting"), strict=True))
            for label, workers in (("concurrent", 32), ("one at a time", 1)):
                found = dict(facts)
                each = lambda items, work, what, w=workers: run_each(items, work, what, workers=w)  # noqa: E731
                cpu0, lab0, start = time.process_time(), cpu_seconds(lab.pid), time.perf_counter()
                run_rounds(inventory, found, sessions, each, Selection(max_vms=vms), deadline)
                wall = time.perf_counter() - start
                cpu = time.process_time() - cpu0 + cpu_seconds(lab.pid) - lab0
                compared = sum(c.compared for f in found.values() for c in f.compare_vm)
                rows[label] = (wall, cpu, compared)
            close_all(list(sessions.values()))
        finally:
            lab.send_signal(signal.SIGTERM)
            lab.wait(timeout=30)
    cpu_per_host = rows["one at a time"][1] / n
    limit = 2 * REQUESTS_PER_SOURCE * latency + cpu_per_host * n / 2
    print(json.dumps({k: {"wall_s": round(v[0], 2), "compared": v[2]} for k, v in rows.items()}))
    print(
        "\n| hosts | VMs/host | comparisons | latency | concurrent s | one at a time s | CPU/host ms | limit s | concurrent / limit |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    c, s = rows["concurrent"], rows["one at a time"]
    print(
        f"| {n} | {vms} | {c[2]} | {latency * 1000:.0f} ms | {c[0]:.2f} | {s[0]:.2f} | {cpu_per_host * 1000:.1f} | "
        f"{limit:.2f} | {c[0] / limit:.2f} |"
    )


if __name__ == "__main__":
    main()
