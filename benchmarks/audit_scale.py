"""Scale benchmark: the full offline audit of N hosts in one mesh group, with all three reports.

For each N it generates saved facts (about 5% of results failing), runs the audit exactly as a
user would (`pytest --inventory=...` in a subprocess) and prints wall time, peak RSS, report
sizes and time per result; then, if Chromium is installed, how long the HTML report takes to
open in headless Chromium (load and run its scripts, less the time for a blank page).

    python benchmarks/audit_scale.py            # N = 10, 30, 100
    python benchmarks/audit_scale.py 10 30      # chosen sizes
    python benchmarks/audit_scale.py -n 2 100   # with pytest-xdist workers (peak RSS: the largest process)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from factory import account, host_dict  # noqa: E402

DOMAIN = "corp.example.com"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def generate(root: Path, n: int) -> Path:
    names = [f"hv{i:03d}" for i in range(1, n + 1)]
    hosts = root / "facts" / "hosts"
    hosts.mkdir(parents=True)
    for i, name in enumerate(names, 1):
        changes: dict = {}
        if i % 20 == 0:
            changes["firewall_rule"] = {"name": "VIRT-MIGL-In-TCP-NoScope", "enabled": False}
        if i % 25 == 3:
            changes["clock"] = {"host_utc": "2026-11-20T09:07:00Z"}
        if i % 10 == 5:
            changes["migration"] = {"maximum_migrations": 4}  # medium: a warning
        facts = host_dict(name, i % 200, **changes)
        facts["addresses"] = [{"address": f"10.10.{i // 250}.{i % 250 + 1}", "prefix_length": 16}]
        facts["migration_networks"] = [{"subnet": "10.10.0.0/16", "priority": 0}]
        (hosts / f"{name}.json").write_text(json.dumps(facts))
    computers = [account(name, [p for p in names if p != name]) for name in names]
    domains = root / "facts" / "domains"
    domains.mkdir(parents=True)
    (domains / f"{DOMAIN}.json").write_text(
        json.dumps(
            {
                "name": DOMAIN,
                "forest_root": DOMAIN,
                "collected_at": "2026-11-20T09:00:00Z",
                "computers": computers,
            }
        )
    )
    inventory = {
        "facts": "facts",
        "directory": {"domains": [{"name": DOMAIN, "url": f"ldaps://dc01.{DOMAIN}"}]},
        "hosts": [{"name": name} for name in names],
        "groups": {"all": names},
        "pairs": [{"mesh": "all"}],
    }
    path = root / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    return path


def run_audit(root: Path, inventory: Path, workers: str | None = None) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        f"--inventory={inventory}",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--html={root / 'report.html'}",
        f"--junitxml={root / 'junit.xml'}",
        f"--findings-json={root / 'findings.json'}",
        *(["-n", workers] if workers is not None else []),
    ]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        raise SystemExit(
            f"audit failed with exit code {proc.returncode}: {proc.stderr.read().decode()[-2000:]}"
        )
    results = len(json.loads((root / "findings.json").read_text())["results"])
    return {
        "results": results,
        "wall_s": wall,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "us_per_result": wall / results * 1e6,
        "html_mb": (root / "report.html").stat().st_size / 1e6,
        "junit_mb": (root / "junit.xml").stat().st_size / 1e6,
        "json_mb": (root / "findings.json").stat().st_size / 1e6,
    }


def chromium_seconds(url: str, profile: Path) -> float:
    """Time for headless Chromium to load the page and run its scripts (DOM dumped after load)."""
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--dump-dom",
        url,
    ]
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=900, check=False)
    return time.perf_counter() - start


def main() -> None:
    args = sys.argv[1:]
    workers = None
    if args[:1] == ["-n"]:
        workers, args = args[1], args[2:]
    sizes = [int(a) for a in args] or [10, 30, 100]
    rows = []
    with tempfile.TemporaryDirectory(prefix="lmready-bench-") as tmp:
        blank = Path(tmp) / "blank.html"
        blank.write_text("<html><body>blank</body></html>")
        baseline = chromium_seconds(blank.as_uri(), Path(tmp) / "chrome0") if CHROMIUM else None
        for n in sizes:
            root = Path(tmp) / f"n{n}"
            root.mkdir()
            figures = {"hosts": n, "pairs": n * (n - 1), **run_audit(root, generate(root, n), workers)}
            if CHROMIUM:
                page = (root / "report.html").as_uri()
                figures["open_s"] = chromium_seconds(page, Path(tmp) / f"c{n}") - baseline
            rows.append(figures)
            print(
                json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in figures.items()}),
                flush=True,
            )
    base = rows[0]["us_per_result"]
    first = rows[0]["hosts"]
    print(
        f"\n| hosts | pairs | results | wall s | us/result | x N={first} | peak RSS MB | HTML MB | JUnit MB "
        "| JSON MB | open s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        opened = f"{r['open_s']:.1f}" if "open_s" in r else "n/a"
        print(
            f"| {r['hosts']} | {r['pairs']} | {r['results']} | {r['wall_s']:.1f} | {r['us_per_result']:.0f} | "
            f"{r['us_per_result'] / base:.2f} | {r['peak_rss_mb']:.0f} | {r['html_mb']:.1f} | {r['junit_mb']:.1f} | "
            f"{r['json_mb']:.1f} | {opened} |"
        )


if __name__ == "__main__":
    main()
