"""pytest's own habits work on an audit, through the real CLI: --lf, --sw, -k by check ID, host
and pair, node ids and JUnit classnames that do not depend on where pytest runs or how the
inventory is spelled, and the gate_severity ini key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from audit_run import EXAMPLE, REPO, run_audit

from lmready.items import pair_separator

NOT_READY, USAGE_ERROR, INCOMPLETE = 1, 4, 6


def pytest_run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """pytest with its cache (--lf and --sw need it), reports kept in cwd."""
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-o",
            f"cache_dir={cwd / 'cache'}",
            f"--html={cwd / 'report.html'}",
            f"--junitxml={cwd / 'junit.xml'}",
            f"--findings-json={cwd / 'findings.json'}",
            *args,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def results(cwd: Path) -> set[tuple[str, str, str]]:
    import json

    doc = json.loads((cwd / "findings.json").read_text())
    return {(r["check_id"], r["target"], r["outcome"]) for r in doc["results"]}


def test_last_failed_reruns_only_the_failures(tmp_path):
    full = pytest_run(tmp_path, f"--inventory={EXAMPLE}")
    assert full.returncode == NOT_READY
    doc = json.loads((tmp_path / "findings.json").read_text())
    blocking = {
        (r["check_id"], r["target"]) for r in doc["results"] if r["blocking"] or r["outcome"] == "error"
    }
    rerun = pytest_run(tmp_path, f"--inventory={EXAMPLE}", "--lf")
    assert "run-last-failure: rerun previous" in rerun.stdout, rerun.stdout[-2000:]
    rerun_results = results(tmp_path)
    # Only the blocking failures and errors come back (non-blocking ones are not pytest failures).
    assert {(c, t) for c, t, _ in rerun_results} == blocking and len(blocking) > 5
    assert rerun.returncode == NOT_READY


def test_stepwise_stops_at_a_failure_and_resumes_there(tmp_path):
    import json

    def ordered() -> list[tuple[str, str, str]]:
        doc = json.loads((tmp_path / "findings.json").read_text())
        return [(r["check_id"], r["target"], r["outcome"]) for r in doc["results"]]

    first = pytest_run(tmp_path, f"--inventory={EXAMPLE}", "--sw")
    assert "Interrupted: Test failed, continuing from this test next run" in first.stdout
    stopped_at = ordered()[-1]
    assert stopped_at[2] == "failed"
    second = pytest_run(tmp_path, f"--inventory={EXAMPLE}", "--sw")
    assert "already passed items" in second.stdout, second.stdout[-2000:]
    # The second run starts at the failure the first stopped on.
    assert ordered()[0] == stopped_at


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("LMR-022", {("LMR-022", t) for t in ("hv01->hv02", "hv02->hv01")}),
        ("hv01-hv02", None),  # every pair check on hv01->hv02 and the per-VM checks of its VM
        ("hv01 and not hv02", None),
    ],
)
def test_k_selects_by_check_id_host_and_pair(tmp_path, expression, expected):
    from audit_run import credssp_estate

    inventory = credssp_estate(tmp_path / "estate")
    run = run_audit(tmp_path / "run", inventory, "-k", expression)
    assert run.returncode == INCOMPLETE, run.stdout[-2000:] + run.stderr
    got = {(r["check_id"], r["target"]) for r in run.findings["results"]}
    if expression == "LMR-022":
        assert got == expected
    elif expression == "hv01-hv02":
        assert {t for _, t in got} == {"hv01->hv02", "hv01->hv02:vm-hv01"} and len(got) == 13 + 3
    else:
        assert {t for _, t in got} == {"hv01"} and len(got) == 10


def test_pair_ids_stay_unique_when_host_names_hold_hyphens():
    assert pair_separator([("hv01", "hv02"), ("hv02", "hv01")]) == "-"
    assert pair_separator([("a-b", "c"), ("a", "b-c")]) == "_to_"


def test_node_ids_and_classnames_do_not_depend_on_cwd_or_inventory_spelling(tmp_path):
    """A CI's test history is keyed on classname and name: they must not move."""
    import xml.etree.ElementTree as ET

    runs = []
    for cwd, spelling in (
        (REPO, "inventories/example.yml"),
        (tmp_path, str(EXAMPLE)),
        (tmp_path, os.path.relpath(EXAMPLE, tmp_path)),
    ):
        out = tmp_path / f"out{len(runs)}"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                f"--inventory={spelling}",
                f"--junitxml={out / 'junit.xml'}",
                f"--findings-json={out / 'findings.json'}",
                f"--html={out / 'report.html'}",
                "-p",
                "no:cacheprovider",
            ],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == NOT_READY, proc.stdout[-2000:] + proc.stderr
        cases = ET.parse(out / "junit.xml").getroot().iter("testcase")
        runs.append(sorted((c.get("classname"), c.get("name"), c.get("file")) for c in cases))
    assert runs[0] == runs[1] == runs[2]
    assert {(c, f) for c, _, f in runs[0]} >= {
        ("checks.test_n5_migration_port", "checks/test_n5_migration_port.py")
    }


def test_gate_severity_from_the_ini_and_the_option_overrides_it(tmp_path):
    from audit_run import credssp_estate

    # hv02 with migrations disabled: N1 (high) fails; with the gate at critical it does not block.
    inventory = credssp_estate(tmp_path / "estate", {"migration": {"enabled": False}})
    (tmp_path / "run").mkdir()
    ini = tmp_path / "run" / "pytest.ini"
    ini.write_text("[pytest]\ngate_severity = critical\n")
    run = run_audit(tmp_path / "run", inventory)
    assert run.findings["gate_severity"] == "critical" and run.returncode == 0, run.stdout[-2000:]
    run = run_audit(tmp_path / "run", inventory, "--gate-severity", "high")
    assert run.findings["gate_severity"] == "high" and run.returncode == NOT_READY
    ini.write_text("[pytest]\ngate_severity = severe\n")
    run = run_audit(tmp_path / "run", inventory)
    assert run.returncode == USAGE_ERROR
    assert f"the ini key gate_severity in {ini}: unknown severity 'severe'" in run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
