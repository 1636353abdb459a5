"""Drift against a baseline, through the real CLIs: `pytest --baseline OLD/findings.json` marks
every result in findings.json, the terminal and JUnit; `lmready diff OLD NEW` prints the same and
can gate a pipeline on new failures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from audit_run import CREDSSP, CREDSSP_HOST, TWO_HOSTS, run_audit, write_estate
from factory import host_dict, merge

NOT_READY, USAGE_ERROR = 1, 4
FIREWALL_OFF = {"firewall_rule": {"name": "VIRT-MIGL-In-TCP-NoScope", "enabled": False}}


def estate(root: Path, hv01: dict, hv02: dict) -> Path:
    hosts = {
        "hv01": host_dict("hv01", 1, **merge(CREDSSP_HOST, hv01)),
        "hv02": host_dict("hv02", 2, **merge(CREDSSP_HOST, hv02)),
    }
    return write_estate(root, hosts, {**TWO_HOSTS, **CREDSSP})


def lmready(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lmready.cli", *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Before: N5 into hv01 and N1 on hv02 fail. After: N1 fixed, N5 into hv01 still fails, N5
    into hv02 is new."""
    root = tmp_path_factory.mktemp("drift")
    before = run_audit(root / "before", estate(root / "e1", FIREWALL_OFF, {"migration": {"enabled": False}}))
    assert before.returncode == NOT_READY, before.stdout[-2000:]
    after = run_audit(
        root / "after",
        estate(root / "e2", FIREWALL_OFF, FIREWALL_OFF),
        f"--baseline={root / 'before' / 'findings.json'}",
    )
    assert after.returncode == NOT_READY, after.stdout[-2000:] + after.stderr
    return before, after


EXPECTED = {
    ("LMR-045", "hv01->hv02"): "new",
    ("LMR-045", "hv02->hv01"): "still failing",
    ("LMR-041", "hv02"): "fixed",
}


def test_findings_json_marks_every_result(runs):
    _, after = runs
    drift = {(r["check_id"], r["target"]): r["drift"] for r in after.findings["results"]}
    assert {k: v for k, v in drift.items() if v != "unchanged"} == EXPECTED
    assert after.findings["drift"] == {
        "new": 1,
        "fixed": 1,
        "still failing": 1,
        "unchanged": len(drift) - 3,
        "not judged": 0,
    }
    assert after.findings["baseline"].endswith("before/findings.json")


def test_terminal_and_junit_say_it(runs):
    _, after = runs
    assert "[new] LMR-045 (N5)" in after.stdout and "[still failing] LMR-045 (N5)" in after.stdout
    assert "fixed since the baseline" in after.stdout and "LMR-041 (N1)" in after.stdout
    assert "against the baseline: 1 new, 1 fixed, 1 still failing" in after.stdout
    props = {}
    for case in after.junit.iter("testcase"):
        p = {x.get("name"): x.get("value") for x in case.iter("property")}
        if "drift" in p:
            props[case.get("name")] = p["drift"]
    assert props == {
        "LMR-045 Destination accepts TCP 6600 from the source [hv01->hv02]": "new",
        "LMR-045 Destination accepts TCP 6600 from the source [hv02->hv01]": "still failing",
        "LMR-041 Incoming and outgoing live migrations enabled [hv02]": "fixed",
    }


def test_lmready_diff_prints_the_same_and_gates_on_new_failures(runs):
    before, after = runs
    old, new = str(before.out / "findings.json"), str(after.out / "findings.json")
    proc = lmready("diff", old, new)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert any(
        line.startswith("new: LMR-045 Destination accepts TCP 6600 from the source [hv01->hv02]")
        for line in lines
    )
    assert any(line.startswith("still failing: LMR-045 ") and "[hv02->hv01]" in line for line in lines)
    assert "fixed: LMR-041 Incoming and outgoing live migrations enabled [hv02]" in lines
    assert lines[-1].endswith(
        "1 new, 1 fixed, 1 still failing, "
        + f"{after.findings['drift']['unchanged']} unchanged, 0 not judged"
    )
    assert lmready("diff", "--fail-on-new", old, new).returncode == 1
    assert lmready("diff", "--fail-on-new", new, new).returncode == 0


def test_a_failure_a_partial_run_did_not_judge_is_not_called_fixed(runs, tmp_path):
    before, _ = runs
    partial = run_audit(tmp_path, before.out.parent / "e1" / "inventory.yml", "-m", "role")
    proc = lmready("diff", str(before.out / "findings.json"), str(partial.out / "findings.json"))
    lines = proc.stdout.splitlines()
    assert not any(line.startswith("fixed:") for line in lines), lines
    assert any(line.startswith("not judged: LMR-045 ") for line in lines), lines


@pytest.mark.parametrize("content", [None, "{not json", '{"results": 3}', '{"results": [{"x": 1}]}'])
def test_a_missing_or_malformed_baseline_is_one_sentence_and_exit_4(tmp_path, runs, content):
    _, after = runs
    baseline = tmp_path / "old.json"
    if content is not None:
        baseline.write_text(content)
    proc = lmready("diff", str(baseline), str(after.out / "findings.json"))
    assert proc.returncode == USAGE_ERROR
    assert proc.stderr.startswith(f"lmready diff: baseline {baseline}: ") and proc.stderr.count("\n") == 1
    run = run_audit(tmp_path / "run", Path(after.findings["inventory"]), f"--baseline={baseline}")
    assert run.returncode == USAGE_ERROR
    assert f"baseline {baseline}: " in run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr + proc.stderr
