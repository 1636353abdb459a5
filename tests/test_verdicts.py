"""How a run is judged (REQUIREMENTS.md 3b) and the exit code for each situation, through the
real CLIs: a verdict only from evidence, INCOMPLETE whenever part of the catalogue was not
judged, and one code per situation."""

from __future__ import annotations

import subprocess
import sys

import pytest
from audit_run import EXAMPLE, credssp_estate, run_audit

# One code per situation (README, "Exit codes"); 2-5 keep pytest's meanings.
READY, NOT_READY, INTERNAL_ERROR, USAGE_ERROR, NO_CHECKS, INCOMPLETE = 0, 1, 3, 4, 5, 6


@pytest.fixture(scope="module")
def ready_estate(tmp_path_factory):
    return credssp_estate(tmp_path_factory.mktemp("ready"))


def verdict_line(stdout: str) -> str:
    return next((line for line in stdout.splitlines() if "lmready: " in line and "gate severity" in line), "")


def test_full_run_of_a_ready_estate_is_ready(tmp_path, ready_estate):
    run = run_audit(tmp_path, ready_estate)
    assert run.returncode == READY, run.stdout[-2000:]
    assert "lmready: READY" in verdict_line(run.stdout)
    assert run.findings["verdict"] == "READY" and run.findings["verdict_reasons"] == []


@pytest.mark.parametrize(
    "selection",
    [
        ["-m", "role"],
        ["-m", "delegation or network"],
        ["-k", "migration_port"],
        ["-k", "not test_migration_port"],
        ["-x", "--maxfail=1", "-m", "role"],
    ],
    ids=lambda args: " ".join(args),
)
def test_a_partial_run_is_never_ready(tmp_path, ready_estate, selection):
    run = run_audit(tmp_path, ready_estate, *selection)
    assert run.returncode == INCOMPLETE, (selection, run.stdout[-2000:])
    assert "lmready: INCOMPLETE" in verdict_line(run.stdout)
    doc = run.findings
    assert doc["verdict"] == "INCOMPLETE" and doc["ready"] is False
    assert {p["state"] for p in doc["pairs"]} == {"incomplete"}
    # The counts say how much of what the pairs need was left out: 23 checks, 2 hosts, 2 pairs.
    judged = {(r["check_id"], r["target"]) for r in doc["results"]}
    for pair in doc["pairs"]:
        needed = 10 * 2 + 13  # host checks on both ends, pair checks on the pair
        src, dst = pair["src"], pair["dst"]
        have = {(c, t) for c, t in judged if t in (src, dst, f"{src}->{dst}")}
        assert pair["not_selected"] == needed - len(have) > 0
    assert any("not selected" in reason for reason in doc["verdict_reasons"])


def test_deselecting_one_result_is_incomplete(tmp_path, ready_estate):
    listing = run_audit(tmp_path / "list", ready_estate, "--collect-only", "-q")
    nodeid = next(line for line in listing.stdout.splitlines() if "test_migration_port[hv01-hv02]" in line)
    run = run_audit(tmp_path / "list", ready_estate, "--deselect", nodeid)
    assert run.returncode == INCOMPLETE, run.stdout[-2000:]
    states = {(p["src"], p["dst"]): p["state"] for p in run.findings["pairs"]}
    assert states == {("hv01", "hv02"): "incomplete", ("hv02", "hv01"): "ready"}


def test_last_failed_reruns_are_never_ready(tmp_path):
    broken = credssp_estate(tmp_path / "estate", {"migration": {"enabled": False}})
    cache = ["-o", f"cache_dir={tmp_path / 'cache'}"]

    def audit(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "pytest", f"--inventory={broken}", *cache, *args],
            cwd=tmp_path / "estate",
            capture_output=True,
            text=True,
            timeout=300,
        )

    assert audit().returncode == NOT_READY
    rerun = audit("--lf")
    assert rerun.returncode in (NOT_READY, INCOMPLETE), rerun.stdout[-2000:]
    assert "lmready: READY" not in rerun.stdout


def test_example_delegation_only_does_not_mark_a_blocked_pair_ready(tmp_path):
    full = run_audit(tmp_path / "full", EXAMPLE)
    part = run_audit(tmp_path / "part", EXAMPLE, "-m", "delegation")
    states = {(p["src"], p["dst"]): p["state"] for p in part.findings["pairs"]}
    assert "ready" not in states.values()
    assert {(p["src"], p["dst"]): p["state"] for p in full.findings["pairs"]}[("hv01", "hv04")] == "not ready"
    # A blocking failure found by the part is still certain: NOT READY, not merely incomplete.
    assert part.returncode == NOT_READY and part.findings["verdict"] == "NOT READY"


def test_collect_only_prints_no_verdict(tmp_path, ready_estate):
    run = run_audit(tmp_path, ready_estate, "--collect-only", "-q")
    assert run.returncode == READY
    assert "lmready:" not in run.stdout and "READY" not in run.stdout


def test_no_checks_selected_is_exit_5_without_a_verdict(tmp_path, ready_estate):
    run = run_audit(tmp_path, ready_estate, "-m", "no_such_area")
    assert run.returncode == NO_CHECKS
    assert "READY" not in run.stdout


def test_an_inventory_without_pairs_is_incomplete(tmp_path):
    inventory = credssp_estate(tmp_path, pairs=[])
    run = run_audit(tmp_path / "run", inventory)
    assert run.returncode == INCOMPLETE, run.stdout[-2000:]
    assert any("no pairs" in reason for reason in run.findings["verdict_reasons"])


def test_a_report_that_cannot_be_written_is_one_sentence_and_the_others_are_written(tmp_path, ready_estate):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a folder should be")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            f"--inventory={ready_estate}",
            f"--html={blocker / 'report.html'}",
            f"--junitxml={tmp_path / 'junit.xml'}",
            f"--findings-json={tmp_path / 'findings.json'}",
            "-p",
            "no:cacheprovider",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == INTERNAL_ERROR, proc.stdout[-2000:] + proc.stderr
    assert f"cannot write the report {blocker / 'report.html'}" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    assert (tmp_path / "junit.xml").is_file() and (tmp_path / "findings.json").is_file()


def test_usage_error_is_exit_4(tmp_path, ready_estate):
    run = run_audit(tmp_path, ready_estate, "--gate-severity", "severe")
    assert run.returncode == USAGE_ERROR


def lmready_audit(tmp_path, inventory, *args: str) -> int:
    """`lmready audit` as a user runs it; its exit code."""
    reports = [f"--html={tmp_path / 'r.html'}", f"--junitxml={tmp_path / 'j.xml'}"]
    proc = subprocess.run(
        [sys.executable, "-m", "lmready.cli", "audit", "--inventory", str(inventory), *args, *reports],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "Traceback" not in proc.stdout + proc.stderr
    return proc.returncode


@pytest.mark.parametrize(
    "hv02, args, code",
    [({}, [], READY), ({"migration": {"enabled": False}}, [], NOT_READY), ({}, ["-m", "role"], INCOMPLETE)],
    ids=["ready", "not-ready", "partial"],
)
def test_lmready_audit_gives_the_same_codes(tmp_path, hv02, args, code):
    assert lmready_audit(tmp_path, credssp_estate(tmp_path, hv02), *args) == code


def test_a_check_that_needs_the_directory_is_an_error_without_it(tmp_path):
    """Kerberos pairs need Active Directory for A2; an inventory without a directory entry for
    the hosts' domain must not let A2 pass (nor fail on an account it never read)."""
    kerberos = credssp_estate(
        tmp_path,
        policy={"authentication": "Kerberos"},
    )
    # Both hosts in Kerberos mode, and no directory: section in the inventory.
    import json

    for name in ("hv01", "hv02"):
        path = tmp_path / "facts" / "hosts" / f"{name}.json"
        facts = json.loads(path.read_text())
        facts["migration"]["authentication_type"] = "Kerberos"
        path.write_text(json.dumps(facts))
    run = run_audit(tmp_path / "run", kerberos)
    a2 = run.result("LMR-022", "hv01->hv02")
    assert a2["outcome"] == "error", a2
    assert "has no entry under directory:" in a2["message"]
    assert run.returncode == INCOMPLETE and run.findings["verdict"] == "INCOMPLETE"


def test_a_plain_test_that_fails_beside_the_suite_is_never_hidden(tmp_path, ready_estate):
    from lmready.catalogue import suite_dir

    mine = tmp_path / "mine" / "test_mine.py"
    mine.parent.mkdir()
    mine.write_text("def test_plain_failing():\n    assert False\n")
    run = run_audit(tmp_path / "run", ready_estate, str(suite_dir()), str(mine))
    assert run.returncode == NOT_READY, run.stdout[-2000:]
    assert run.findings["verdict"] == "NOT READY"
    assert any("not lmready checks failed" in r for r in run.findings["verdict_reasons"])
