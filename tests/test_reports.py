"""The example estate audited end to end: HTML, JUnit and findings JSON, and the exit code."""

from __future__ import annotations

import pytest
from audit_run import EXAMPLE, REPO, run_audit

SECRET = "Pa55-w0rd-that-must-never-leak"


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    env = {"LMREADY_USER": "CORP\\auditor", "LMREADY_PASSWORD": SECRET}
    return run_audit(tmp_path_factory.mktemp("example"), EXAMPLE, env=env)


def test_exit_code_says_not_ready(example):
    assert example.returncode == 1, example.stdout[-3000:] + example.stderr
    assert "lmready: NOT READY (gate severity high)" in example.stdout
    assert "Traceback" not in example.stdout + example.stderr


def test_findings_json(example):
    doc = example.findings
    assert doc["ready"] is False and doc["exit_code"] == 1 and doc["gate_severity"] == "high"
    assert doc["verdict"] == "NOT READY"
    outcomes = {r["outcome"] for r in doc["results"]}
    assert outcomes >= {"passed", "failed", "skipped"}
    for record in doc["results"]:
        assert set(record) >= {"check_id", "ref", "target", "outcome", "blocking", "severity", "message"}
        assert record["blocking"] is (record["outcome"] == "failed" and record["blocking"])
    # one result per check per target: 23 checks, 5 hosts, 14 ordered pairs
    host_checks, pair_checks = 10, 13
    assert len(doc["results"]) == host_checks * 5 + pair_checks * 14

    closed = example.result("LMR-045", "hv01->hv02")
    assert closed["outcome"] == "failed" and closed["ref"] == "N5"
    assert "VIRT-MIGL-In-TCP-NoScope on hv02 disabled" in closed["observed"]
    assert "Enable-NetFirewallRule -Name VIRT-MIGL-In-TCP-NoScope" in closed["fix"]
    assert closed["fix_name"] == "enable-migration-firewall-rule"

    waived = example.result("LMR-045", "hv03->hv02")
    # A waived failure stays a failure, marked waived, and does not block (REQUIREMENTS 3b).
    assert waived["outcome"] == "failed" and not waived["blocking"]
    assert "CHG-20931" in waived["waiver"]["justification"]
    expired = example.result("LMR-053", "hv01->hv04")
    assert expired["outcome"] == "failed" and "expired on 2026-01-31" in expired["message"]
    # A public migration subnet (N3, medium) under the high gate: a failure that does not block.
    public = example.result("LMR-043", "hv03")
    assert public["outcome"] == "failed" and public["blocking"] is False
    assert example.result("LMR-055", "hv01")["outcome"] == "skipped"
    assert example.result("LMR-022", "hv01->hv03")["observed"] == (
        "hv01 lacks cifs/hv03.corp.example.com, and hv03 does not allow hv01 by resource-based delegation"
    )

    states = {(p["src"], p["dst"]): p["state"] for p in doc["pairs"]}
    assert states[("hv02", "hv01")] == "ready"
    assert states[("hv03", "hv02")] == "ready"  # its only gate failure is waived
    assert states[("hv01", "hv02")] == "not ready"


def test_html_columns_matrix_and_details(example):
    page = example.html
    for column in ("Verdict", "Check", "Target", "Severity", "Ref", "Requirement"):
        assert f">{column}</th>" in page
    assert "Live migration readiness: NOT READY" in page
    # matrix cells: one not-ready link to its failures, one ready cell, no cell for unpaired hosts
    assert '<a href="#lm-pair-hv01--hv02">not ready</a>' in page
    assert 'id="lm-pair-hv01--hv02"' in page
    assert "LMR-045 (N5) Destination accepts TCP 6600 from the source: hv01-&gt;hv02" in page
    row = page.split("<tr><th>hv02</th>")[1].split("</tr>")[0]
    assert row.startswith('<td class="lm-ready">ready</td>')  # hv02 -> hv01
    assert "<th>hv05</th>" in page
    for key in ("lmready", "Inventory", "Operator", "Gate severity"):
        assert key in example.html_data["environment"]

    tests = example.html_data["tests"]
    node = "test_networks.py::test_migration_port[hv01-hv02]"
    (entry,) = tests[next(k for k in tests if k.endswith(node))]
    row = "".join(entry["resultsTableRow"])
    assert '<td class="col-checkId">LMR-045</td>' in row
    assert '<td class="col-target">hv01-&gt;hv02</td>' in row
    assert '<td class="col-verdict">failed</td>' in row
    # N5: the probe decided, explained with the rule of the effective policy.
    assert (
        "observed: TCP 6600 closed from hv01 to 10.10.0.12; firewall rule VIRT-MIGL-In-TCP-NoScope on hv02 disabled"
        in entry["log"]
    )
    assert "fix: on hv02: Enable-NetFirewallRule" in entry["log"]
    assert "Not blocking (warnings, waived, below the gate)" in page


def test_junit_properties(example):
    cases = {c.get("name"): c for c in example.junit.iter("testcase")}
    # The name is what CIs show: ID, title, target; the line is the check's own def.
    case = cases["LMR-045 Destination accepts TCP 6600 from the source [hv01->hv02]"]
    assert (case.get("classname"), case.get("file")) == ("checks.test_networks", "checks/test_networks.py")
    source = (REPO / "checks" / "test_networks.py").read_text().splitlines()
    assert source[int(case.get("line")) - 1].startswith("def test_migration_port(")
    # A check with applies= is wrapped (functools.wraps): still its own def line.
    wrapped = next(c for name, c in cases.items() if name.startswith("LMR-022 "))
    source = (REPO / "checks" / "test_authentication.py").read_text().splitlines()
    assert source[int(wrapped.get("line")) - 1].startswith("def test_constrained_delegation(")
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props == {
        "check_id": "LMR-045",
        "ref": "N5",
        "target": "hv01->hv02",
        "severity": "high",
        "outcome": "failed",
        "blocking": "true",
    }
    assert case.find("failure") is not None
    # Below the gate: visible as a failure that does not block, never a <failure> nor a plain skip.
    below = cases["LMR-043 Migration subnets are private or trusted [hv03]"]
    assert below.find("failure") is None
    assert below.find("skipped").get("type") == "lmready.failed-below-the-gate"
    assert below.find("skipped").get("message").startswith("failed below the gate: hv03:")
    # Not applicable: a passed testcase that says so; <skipped> only holds what needs a look.
    na = cases["LMR-055 Host resolves and its WinRM port answers from the runner [hv01]"]
    assert na.find("skipped") is None
    assert {p.get("name"): p.get("value") for p in na.iter("property")}["outcome"] == "not applicable"
    # Passed results carry no properties: the name says check and target (size at 100 hosts).
    passed = cases["LMR-012 Hyper-V role installed and running on a supported OS [hv01]"]
    assert passed.find("properties") is None and len(list(passed)) == 0


def test_password_appears_nowhere(example):
    for name in ("report.html", "junit.xml", "findings.json"):
        assert SECRET not in (example.out / name).read_text(), name
    assert SECRET not in example.stdout + example.stderr


def test_markers_select_areas(tmp_path):
    run = run_audit(tmp_path, EXAMPLE, "-m", "delegation")
    ids = {r["check_id"] for r in run.findings["results"]}
    assert ids == {"LMR-022", "LMR-023", "LMR-025"}


def test_bare_pytest_in_repo_root_audits_the_example():
    import subprocess
    import sys

    from audit_run import REPO

    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "checks/test_networks.py::test_migration_port[hv01-hv02]" in proc.stdout
    assert "tests/" not in proc.stdout
