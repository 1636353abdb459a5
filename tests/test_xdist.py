"""pytest-xdist: findings identical to one process, hosts asked once, remediation refused."""

from __future__ import annotations

import re

import pytest
from audit_run import EXAMPLE, run_audit
from test_live_lab import SCENARIO

from lmready.lab.runtime import Lab


def _junit_without_times(run) -> str:
    text = (run.out / "junit.xml").read_text()
    return re.sub(r' (time|timestamp|hostname)="[^"]*"', "", text)


def _stable(findings: dict) -> dict:
    return {k: v for k, v in findings.items() if k not in ("started", "finished")}


def test_two_workers_give_the_findings_of_one_process(tmp_path):
    one = run_audit(tmp_path / "one", EXAMPLE, "-n", "0")
    two = run_audit(tmp_path / "two", EXAMPLE, "-n", "2")
    assert one.returncode == two.returncode == 1, two.stdout[-2000:] + two.stderr
    assert "2 workers" in two.stdout or "created: 2/2 workers" in two.stdout, two.stdout[:2000]
    assert _stable(two.findings) == _stable(one.findings)
    assert _junit_without_times(two) == _junit_without_times(one)
    assert "lmready: NOT READY" in two.stdout


def test_remediation_under_xdist_is_refused_with_one_sentence(tmp_path):
    run = run_audit(tmp_path / "r", EXAMPLE, "-n", "2", "--remediate", "plan")
    assert run.returncode == 4
    assert "--remediate plan changes hosts between collecting the facts and judging them" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout


def test_live_hosts_are_asked_once_whatever_the_number_of_workers(tmp_path, samba_dc):
    """The controller collects; the workers judge. A worker that collected again would double
    the requests a host sees (as many as in one process: test_live_lab)."""
    lab = Lab(SCENARIO, tmp_path / "lab", dc=samba_dc).start()
    try:
        inventory = lab.write_inventory(tmp_path / "lab.yml")
        before = {n: r.server.requests for n, r in lab.hosts.items()}
        two = run_audit(tmp_path / "two", inventory, "-n", "2", env=lab.env())
        used = {n: r.server.requests - before[n] for n, r in lab.hosts.items()}
        assert used == {"lab-hv01": 11, "lab-hv02": 9, "lab-hv03": 11, "lab-hv04": 11}, (
            two.stdout[-2000:] + two.stderr
        )
        one = run_audit(tmp_path / "one", inventory, "-n", "0", env=lab.env())
        assert two.returncode == one.returncode
        assert _stable(two.findings)["results"] == _stable(one.findings)["results"]
    finally:
        lab.stop()


@pytest.mark.parametrize("order", ["normal", "reversed"])
def test_the_meta_test_holds_alone_and_in_any_order(tmp_path, order):
    """The case-table meta-test reads the tables (CASES), so it holds alone and after the rows."""
    import subprocess
    import sys

    from audit_run import REPO

    meta = "tests/test_cases.py::test_every_requirement_has_a_passing_and_a_failing_case"
    args = [meta] if order == "normal" else [meta, "tests/test_cases.py"]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:]
