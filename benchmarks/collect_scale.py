"""Collection benchmark: live fact collection from N lab hosts with injected per-request latency.

The lab runs in its own process (`python -m lmready.lab.serve`), so client and servers use both
cores. Prints, side by side in the same run:
- the concurrent collection's wall time (lmready's LiveCollector, as an audit uses it);
- a sequential baseline (one host at a time);
- the latency-bound limit: 5 requests x latency (one pool, one pipeline) plus the measured CPU
  per host (client + lab) x N / 2 cores.

    python benchmarks/collect_scale.py            # 100 hosts, 50 ms
    python benchmarks/collect_scale.py 30 0.05
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from lmready.inventory import load_inventory
from lmready.lab.control import DEFAULT_SCENARIO
from lmready.lab.scenario import load_scenario
from lmready.live import LiveCollector

REQUESTS_PER_HOST = 5  # Create, Receive (pool open), Command, Receive (output), Delete


def scenario(root: Path, n: int) -> Path:
    template = next(iter(load_scenario(DEFAULT_SCENARIO).hosts.values()))
    hosts = []
    for i in range(1, n + 1):
        name = f"bench-hv{i:03d}"
        addresses = [{"address": f"10.{20 + i // 250}.{i % 250}.11", "prefix_length": 16}]
        facts = template.model_validate(
            {
                **template.model_dump(),
                "name": name,
                "computer_name": name.upper(),
                "dns_host_name": name,  # identity binding compares it with the inventory name
                "addresses": addresses,
            }
        )
        path = root / "hosts" / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(facts.model_dump_json())
        hosts.append({"name": name, "facts": f"hosts/{name}.json"})
    path = root / "scenario.yml"
    path.write_text(yaml.safe_dump({"hosts": hosts}))
    return path


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_lab(root: Path, scenario_path: Path, latency: float) -> tuple[subprocess.Popen, dict]:
    state = root / "state"
    lab = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lmready.lab.serve",
            "--scenario",
            str(scenario_path),
            "--state-dir",
            str(state),
            "--inventory-out",
            str(root / "lab.yml"),
            "--latency",
            str(latency),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not (state / "state.json").exists():
        if lab.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the lab did not start")
        time.sleep(0.1)
    return lab, json.loads((state / "state.json").read_text())


def no_pairs(path: Path) -> Path:
    """Hosts only: the benchmark measures the per-host round trip, not the pair round."""
    doc = yaml.safe_load(path.read_text())
    doc.pop("pairs", None)
    doc.pop("groups", None)
    out = path.with_name("hosts-only.yml")
    out.write_text(yaml.safe_dump(doc))
    return out


def timed(collector: LiveCollector, inventory, lab_pid: int) -> tuple[float, float, int]:
    cpu0, lab0, start = time.process_time(), cpu_seconds(lab_pid), time.perf_counter()
    estate = collector.collect(inventory)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu0 + cpu_seconds(lab_pid) - lab0
    failed = sum(1 for f in estate.hosts.values() if not hasattr(f, "migration"))
    return wall, cpu, failed


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    latency = float(sys.argv[2]) if len(sys.argv) > 2 else 0.05
    os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    with tempfile.TemporaryDirectory(prefix="lmready-collect-") as tmp:
        root = Path(tmp)
        lab, state = start_lab(root, scenario(root, n), latency)
        try:
            os.environ.update(state["env"])
            inventory = load_inventory(no_pairs(Path(state["inventory"])))
            concurrent_wall, _, failed = timed(LiveCollector(), inventory, lab.pid)
            sequential_wall, sequential_cpu, failed_seq = timed(LiveCollector(workers=1), inventory, lab.pid)
        finally:
            lab.send_signal(signal.SIGTERM)
            lab.wait(timeout=30)
    cpu_per_host = sequential_cpu / n
    limit = REQUESTS_PER_HOST * latency + cpu_per_host * n / 2
    print(
        json.dumps(
            {
                "hosts": n,
                "latency_ms": latency * 1000,
                "concurrent_s": round(concurrent_wall, 2),
                "sequential_s": round(sequential_wall, 2),
                "cpu_per_host_ms": round(cpu_per_host * 1000, 1),
                "limit_s": round(limit, 2),
                "concurrent_over_limit": round(concurrent_wall / limit, 2),
                "failed_hosts": failed + failed_seq,
            }
        )
    )
    print("\n| hosts | latency | concurrent s | sequential s | CPU/host ms | limit s | concurrent / limit |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {n} | {latency * 1000:.0f} ms | {concurrent_wall:.2f} | {sequential_wall:.2f} | "
        f"{cpu_per_host * 1000:.1f} | {limit:.2f} | {concurrent_wall / limit:.2f} |"
    )


if __name__ == "__main__":
    main()
