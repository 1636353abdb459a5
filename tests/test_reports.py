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
    # one result per check per target: 23 checks, 5 hosts, 14 ordered pairs, and the 3 per-VM
    # checks on each VM of each pair's source (35: the mesh of hv01-hv04 and hv01<->hv05)
    host_checks, pair_checks, vm_checks = 10, 13, 3
    assert len(doc["results"]) == host_checks * 5 + pair_checks * 14 + vm_checks * 35

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

    # A2 says which mechanism it passed through (REQUIREMENTS A2).
    passed_a2 = example.result("LMR-022", "hv02->hv01")
    assert (
        passed_a2["outcome"] == "passed" and "through classic constrained delegation" in passed_a2["message"]
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
    # the pair's card: each blocker with observed, expected and fix as fields of their own
    card = page.split('id="lm-pair-hv01--hv02"')[1].split('<div class="lm-pair"')[0]
    assert "<td>LMR-045 (N5) Destination accepts TCP 6600 from the source</td><td>hv01-&gt;hv02</td>" in card
    assert "<td>TCP 6600 closed from hv01 to 10.10.0.12; firewall rule VIRT-MIGL-In-TCP-NoScope" in card
    assert "<td>on hv02: Enable-NetFirewallRule -Name VIRT-MIGL-In-TCP-NoScope" in card
    row = page.split("<tr><th>hv02</th>")[1].split("</tr>")[0]
    assert row.startswith(
        '<td class="lm-ready" title="hv02-&gt;hv01: ready"><a href="#lm-pair-hv02--hv01">ready</a>'
    )
    # hv03 -> hv02 is ready because of a waiver: the matrix says so, and the card names the waiver
    row = page.split("<tr><th>hv03</th>")[1].split("</tr>")[0]
    assert '<a href="#lm-pair-hv03--hv02">ready with warnings or waivers</a>' in row
    card = page.split('id="lm-pair-hv03--hv02"')[1].split('<div class="lm-pair"')[0]
    assert "<td>waived</td><td>LMR-045 (N5)" in card and "CHG-20931" in card
    assert '<td class="lm-none" title="not asked">&ndash;</td>' in page
    assert "<th>hv05</th>" in page
    # the per-VM view: sql01 (version 10.0) cannot go to hv03, which supports up to 9.0
    vms = page.split('id="lm-vms"')[1]
    assert "<b>hv03</b>: LMR-013 (R3): configuration version 10.0 (hv03 supports 5.0-9.0)" in vms
    # pytest-html's own labels say what they hold in an audit, or are hidden
    assert "4 Unexpected passes" not in page and ">Duration</th>" not in page and "<th>Links</th>" not in page
    assert "blocking failures" in page and "not applicable," in page
    assert "p.run-count" in page and "#environment-header, #environment { order: 9; }" in page
    for key in ("lmready", "Inventory", "Operator", "Gate severity"):
        assert key in example.html_data["environment"]

    tests = example.html_data["tests"]
    node = "test_n5_migration_port.py::test_migration_port[hv01-hv02]"
    (entry,) = tests[next(k for k in tests if k.endswith(node))]
    row = "".join(entry["resultsTableRow"])
    assert '<td class="col-checkId">LMR-045</td>' in row
    assert '<td class="col-target">hv01-&gt;hv02</td>' in row
    assert '<td class="col-verdict">failed</td>' in row
    assert "col-duration" not in row and "col-links" not in row
    # N5: the probe decided, explained with the rule of the effective policy.
    assert (
        "observed: TCP 6600 closed from hv01 to 10.10.0.12; firewall rule VIRT-MIGL-In-TCP-NoScope on hv02 disabled"
        in entry["log"]
    )
    assert "fix: on hv02: Enable-NetFirewallRule" in entry["log"]
    assert "not blocking (warnings, waived, below the gate)" in page


def test_junit_properties(example):
    cases = {c.get("name"): c for c in example.junit.iter("testcase")}
    # The name is what CIs show: ID, title, target; the line is the check's own def.
    case = cases["LMR-045 Destination accepts TCP 6600 from the source [hv01->hv02]"]
    assert (case.get("classname"), case.get("file")) == (
        "checks.test_n5_migration_port",
        "checks/test_n5_migration_port.py",
    )
    source = (REPO / "checks" / "test_n5_migration_port.py").read_text().splitlines()
    assert source[int(case.get("line")) - 1].startswith("def test_migration_port(")
    # A check with applies= is wrapped (functools.wraps): still its own def line.
    wrapped = next(c for name, c in cases.items() if name.startswith("LMR-022 "))
    source = (REPO / "checks" / "test_a2_constrained_delegation.py").read_text().splitlines()
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
    assert "checks/test_n5_migration_port.py::test_migration_port[hv01-hv02]" in proc.stdout
    assert "tests/" not in proc.stdout


# --- the per-VM view, from facts and the pair's results -------------------------------------

GIB = 1024**3


def _vm(name: str, version: str, switches: list[str], memory_gib: int = 4) -> dict:
    return {
        "name": name,
        "state": "Running",
        "version": version,
        "memory_bytes": memory_gib * GIB,
        "switches": switches,
        "processor_compatibility": False,
    }


def test_vm_moves_names_each_vms_own_reason():
    from factory import host_dict

    from lmready.catalogue import Severity, load_catalogue
    from lmready.facts import HostFacts
    from lmready.findings import Finding
    from lmready.html_report import vm_moves, vms_html
    from lmready.verdict import PairReadiness, PairState

    meta = {m.ref: m for m in load_catalogue()}
    facts = {
        "hv01": host_dict(
            "hv01", 1, vms=[_vm("new-vm", "10.0", ["Prod"]), _vm("<b>backup</b>", "9.0", ["Backup"], 128)]
        ),
        "hv02": host_dict("hv02", 2, supported_versions=["8.0", "9.0"], free_memory_bytes=16 * GIB),
        "hv03": host_dict("hv03", 3, cpu={"vendor": "AuthenticAMD", "model": "EPYC"}),
        "hv04": host_dict("hv04", 4),
        "hv05": host_dict("hv05", 5),
        "hv06": host_dict("hv06", 6, switches=[{"name": "Prod", "switch_type": "External"}]),
    }
    facts = {name: HostFacts.model_validate(d) for name, d in facts.items()}
    facts["hv04"].switches.append(facts["hv04"].switches[0].model_copy(update={"name": "Backup"}))
    facts["hv05"].switches.append(facts["hv05"].switches[0].model_copy(update={"name": "Backup"}))

    def result(ref: str, pair: str, outcome: str = "failed", blocking: bool = True) -> Finding:
        return Finding(meta[ref], pair, outcome, Severity.HIGH, blocking=blocking)

    r3, x1, x4 = (
        result("R3", "hv01->hv02"),
        result("X1", "hv01->hv02"),
        result("X4", "hv01->hv02", "warning", False),
    )
    x2 = result("X2", "hv01->hv03")
    firewall = result("N5", "hv01->hv05")
    below_gate = result("X1", "hv01->hv06", blocking=False)
    readiness = [
        PairReadiness("hv01", "hv02", PairState.NOT_READY, blocking=[r3, x1]),
        PairReadiness("hv01", "hv03", PairState.NOT_READY, blocking=[x2]),
        PairReadiness("hv01", "hv04", PairState.READY),
        PairReadiness("hv01", "hv05", PairState.NOT_READY, blocking=[firewall]),
        PairReadiness("hv01", "hv06", PairState.READY),
    ]
    moves = {m.vm: m for m in vm_moves(facts, readiness, [r3, x1, x4, x2, firewall, below_gate])}
    new, backup = moves["new-vm"], moves["<b>backup</b>"]
    # R3 blocks only the VM whose version hv02 lacks, X1 only the VM on the missing switch.
    assert new.not_to["hv02"] == ["LMR-013 (R3): configuration version 10.0 (hv02 supports 8.0-9.0)"]
    assert backup.not_to["hv02"] == ["LMR-051 (X1): switch 'Backup' missing on hv02"]
    # X2 across vendors stops every VM; a pair blocked by something else says so.
    assert new.not_to["hv03"][0].startswith("LMR-052 (X2): processors of different vendors")
    assert backup.not_to["hv05"] == ["the pair is not ready (LMR-045)"]
    # Ready pairs: the VM can move; an X1 failure below the gate is named as the note it is.
    assert new.to == ["hv04", "hv06"] and backup.to == ["hv04", "hv06"]
    assert backup.notes == {"hv06": ["LMR-051 (X1): switch 'Backup' missing on hv06 [failed below the gate]"]}
    assert new.notes == {}
    page = vms_html(list(moves.values()))
    assert "&lt;b&gt;backup&lt;/b&gt;" in page and "<b>backup" not in page


def test_a_wide_estate_has_cards_instead_of_the_table(tmp_path):
    """Above 1,000 results pytest-html's table is left out (a browser needs seconds for its
    rows): every problem is still on a card, a host's own results once on its host card."""
    from audit_run import CREDSSP, CREDSSP_HOST, write_estate
    from factory import host_dict, merge

    names = [f"hv{i:02}" for i in range(1, 14)]
    hosts = {n: host_dict(n, i + 1, **CREDSSP_HOST) for i, n in enumerate(names)}
    hosts["hv13"] = host_dict("hv13", 13, **merge(CREDSSP_HOST, {"firewall_rule": {"enabled": False}}))
    hosts["hv12"] = host_dict("hv12", 12, **merge(CREDSSP_HOST, {"migration": {"maximum_migrations": 4}}))
    hosts["hv11"]["unread"] = {"migration": "Get-VMHost: access denied"}
    inv = write_estate(
        tmp_path,
        hosts,
        {
            "hosts": [{"name": n} for n in names],
            "groups": {"all": names},
            "pairs": [{"mesh": "all"}],
            **CREDSSP,
        },
    )
    run = run_audit(tmp_path / "out", inv)
    assert run.returncode == 1, run.stdout[-3000:]
    assert len(run.findings["results"]) > 1000
    page = run.html
    assert run.html_data["tests"] == {}
    assert "#results-table, .controls { display: none; }" in page
    # the wide matrix: symbols; CredSSP (A3) warns on every host, so every pair that is not
    # blocked is ready with warnings, and links to its card
    assert '<a href="#lm-pair-hv01--hv02">&#10003;!</a>' in page and 'class="lm-ready"' not in page
    assert '<a href="#lm-pair-hv01--hv13">&#10007;</a>' in page
    card = page.split('id="lm-pair-hv01--hv13"')[1].split('<div class="lm-pair"')[0]
    assert "<td>LMR-045 (N5) Destination accepts TCP 6600 from the source</td><td>hv01-&gt;hv13</td>" in card
    # hv12's own warning (N6) is on its host card once, and its pairs link to it
    assert page.count('id="lm-host-hv12"') == 1
    host = page.split('id="lm-host-hv12"')[1].split('<div class="lm-pair"')[0]
    assert "LMR-046 (N6)" in host
    assert page.count('<a href="#lm-host-hv12">hv12</a>') == 24  # 12 pairs each way
    assert "<h3>Passed and not applicable</h3>" in page
    # a fact hv11 could not give: once under "Could not run" and once on its host card, not
    # on each of its 24 pairs
    cards = page.split("<h3>Hosts</h3>")
    assert cards[0].count("hv11: Get-VMHost: access denied") == 1
    host = cards[1].split('id="lm-host-hv11"')[1].split('<div class="lm-pair"')[0]
    assert host.count("hv11: Get-VMHost: access denied") == 1, host
    assert page.count('<a href="#lm-host-hv11">hv11</a>') == 24


def test_remediation_plan_is_a_table_with_outcomes():
    from lmready.catalogue import Severity, load_catalogue
    from lmready.findings import Finding
    from lmready.html_report import remediation_html
    from lmready.remediation.change import APPLIED, FAILED, HOST, Change, ChangeResult
    from lmready.remediation.plan import Plan
    from lmready.remediation.run import Remediation

    firewall = Change(
        "LMR-045",
        "enable-migration-firewall-rule",
        "<hv02>",
        HOST,
        "firewall rule enabled",
        False,
        True,
        "Enable-NetFirewallRule -Name VIRT-MIGL-In-TCP-NoScope",
    )
    network = Change(
        "LMR-044",
        "add-migration-network",
        "hv01",
        HOST,
        "migration network",
        None,
        "10.10.0.0/24",
        "Add-VMMigrationNetwork 10.10.0.0/24",
    )
    meta = {m.id: m for m in load_catalogue()}
    refused = Finding(meta["LMR-013"], "hv01->hv03", "failed", Severity.HIGH)
    plan = Plan([firewall, network], [(refused, "manual: Update-VMVersion is irreversible")])
    page = remediation_html(
        Remediation(
            "apply",
            plan,
            outcomes=[ChangeResult(firewall, APPLIED), ChangeResult(network, FAILED, "access denied")],
        )
    )
    assert "<h3>Remediation</h3><p>--remediate=apply: 2 changes.</p>" in page and "<pre>" not in page
    assert (
        "<tr><td>LMR-045</td><td>&lt;hv02&gt;</td><td>firewall rule enabled</td><td>False</td><td>True</td>"
        "<td><code>Enable-NetFirewallRule -Name VIRT-MIGL-In-TCP-NoScope</code></td><td>applied</td></tr>"
    ) in page
    assert "<td>(absent)</td><td>10.10.0.0/24</td>" in page and "<td>failed: access denied</td>" in page
    assert (
        "<tr><td>LMR-013</td><td>hv01-&gt;hv03</td><td>manual: Update-VMVersion is irreversible</td></tr>"
        in page
    )
