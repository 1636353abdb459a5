"""Per VM (REQUIREMENTS.md V1-V3) and `lmready explain`, against the lab through real pypsrp and
the real CLI; the mapping of messages to requirements on plain facts."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from audit_run import run_audit
from powershell_syntax import syntax_errors

from lmready.catalogue import CheckFailure, load_catalogue
from lmready.estate import FactsUnavailable
from lmready.explain import EVENTS_MARKER, events_script
from lmready.facts import HostFacts, Incompatibility, VmComparison
from lmready.lab.control import DEFAULT_SCENARIO
from lmready.lab.runtime import Lab
from lmready.lab.scenario import load_scenario
from lmready.per_vm import PATHS_MARKER, PER_VM_MARKER, paths_script, per_vm_script
from lmready.vm_messages import for_event, for_incompatibility
from lmready.vmview import VmView, vm_view

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
SCENARIO = load_scenario(DEFAULT_SCENARIO)
CHECKS = {meta.ref: meta for meta in load_catalogue()}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    # No domain controller: the per-VM checks and explain's causes read no directory.
    running = Lab(replace(SCENARIO, directory=None), tmp_path_factory.mktemp("lab")).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def inventory(lab, tmp_path_factory) -> Path:
    return lab.write_inventory(tmp_path_factory.mktemp("inv") / "lab.yml")


@pytest.fixture(scope="module")
def audit(lab, inventory, tmp_path_factory):
    return run_audit(tmp_path_factory.mktemp("audit"), inventory, env=lab.env())


def lmready(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lmready.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


# --- V1-V3 on the lab, through a real audit --------------------------------------------------


def test_vm_on_a_switch_the_destination_lacks(audit):
    r = audit.result("LMR-061", "lab-hv01->lab-hv03:app01")
    assert r["outcome"] == "failed" and r["blocking"]
    assert "33012 \"Could not find Ethernet switch 'Backup'.\" (explained by X1 (LMR-051))" in r["message"]
    assert audit.result("LMR-061", "lab-hv01->lab-hv02:app01")["outcome"] == "passed"


def test_vm_with_a_version_the_destination_does_not_support(audit):
    r = audit.result("LMR-061", "lab-hv01->lab-hv04:web01")
    assert r["outcome"] == "failed"
    assert "has configuration version 10.0, which is not supported on 'LAB-HV04'" in r["message"]
    assert "explained by R3 (LMR-013)" in r["message"]


def test_vtpm_vm(audit):
    bad = audit.result("LMR-062", "lab-hv02->lab-hv03:sec01")
    assert bad["outcome"] == "failed"
    assert "The key protector for the virtual machine could not be unwrapped" in bad["message"]
    # lab-hv01 imported lab-hv02's guardian under another name: the certificate decides.
    assert audit.result("LMR-062", "lab-hv02->lab-hv01:sec01")["outcome"] == "passed"
    # lab-hv04 does not let the operator read its guardians: could not tell, never a pass.
    unknown = audit.result("LMR-062", "lab-hv02->lab-hv04:sec01")
    assert unknown["outcome"] == "error" and "Access is denied" in unknown["message"]
    assert audit.result("LMR-062", "lab-hv02->lab-hv04:file01")["outcome"] == "skipped"  # no vTPM


def test_vm_with_a_missing_iso(audit):
    r = audit.result("LMR-063", "lab-hv02->lab-hv04:file01")
    assert r["outcome"] == "failed"
    assert "ISO C:\\ISO\\tools.iso missing on lab-hv04 (the move fails with 0xC03A0014)" in r["message"]
    assert audit.result("LMR-063", "lab-hv02->lab-hv01:file01")["outcome"] == "passed"  # hv01 has it


def test_per_vm_results_in_the_report_vm_view(audit):
    html = audit.html
    view = html[html.index('id="lm-vms"') :]
    row = view[view.index("<td>app01</td>") :].split("</tr>")[0]
    assert (
        "LMR-061 (V1): Compare-VM on lab-hv01: 33012 &quot;Could not find Ethernet switch &#x27;Backup&#x27;.&quot;"
        in row
    )
    file01 = view[view.index("<td>file01</td>") :].split("</tr>")[0]
    assert "LMR-063 (V3): ISO C:\\ISO\\tools.iso missing on lab-hv04" in file01
    sec01 = view[view.index("<td>sec01</td>") :].split("</tr>")[0]
    assert "<b>lab-hv03</b>: LMR-062 (V2)" in sec01
    assert "LMR-062 (V2) could not tell" in sec01  # lab-hv04: its guardians could not be read


def test_per_vm_node_ids_select_with_k(lab, inventory, tmp_path):
    """Node ids: checks/test_v1_compare_vm.py::test_compare_vm[lab-hv01-lab-hv03:app01]; the pairs' ids
    are unchanged (test_virtual_switches[lab-hv01-lab-hv03])."""
    run = run_audit(
        tmp_path, inventory, "-v", "-k", "lab-hv01-lab-hv03:app01 or test_virtual_switches", env=lab.env()
    )
    assert "checks/test_v1_compare_vm.py::test_compare_vm[lab-hv01-lab-hv03:app01] FAILED" in run.stdout
    assert "checks/test_x1_virtual_switches.py::test_virtual_switches[lab-hv01-lab-hv03] FAILED" in run.stdout
    targets = {
        (r["check_id"], r["target"]) for r in run.findings["results"] if r["check_id"].startswith("LMR-06")
    }
    assert targets == {(c, "lab-hv01->lab-hv03:app01") for c in ("LMR-061", "LMR-062", "LMR-063")}


def test_compare_vms_selects_and_budget_says_could_not_tell(lab, inventory, tmp_path):
    run = run_audit(tmp_path, inventory, "--compare-vms=app01", "--compare-budget=1", env=lab.env())
    targets = {r["target"] for r in run.findings["results"] if r["check_id"] == "LMR-061"}
    assert targets == {f"lab-hv01->{d}:app01" for d in ("lab-hv02", "lab-hv03", "lab-hv04")}
    outcomes = sorted(run.result("LMR-061", t)["outcome"] for t in targets)
    assert outcomes.count("error") == 2  # one comparison fits the budget
    errors = [
        run.result("LMR-061", t)["message"] for t in targets if run.result("LMR-061", t)["outcome"] == "error"
    ]
    assert all("budget of 1 comparisons" in m and "--compare-budget" in m for m in errors)


def test_bad_budget_is_one_sentence(inventory, tmp_path):
    run = run_audit(tmp_path, inventory, "--compare-budget=lots")
    assert run.returncode == 4
    assert "--compare-budget 'lots' is not VMS[,SECONDS]" in run.stderr and "Traceback" not in run.stderr


# --- the shared mapping, on plain facts --------------------------------------------------------


def test_unknown_message_id_is_reported_as_such():
    estate_hosts = {n: f for n, f in SCENARIO.hosts.items()}
    weird = VmComparison(
        vm="web01",
        dst="lab-hv02",
        compared=True,
        incompatibilities=[Incompatibility(message_id=99999, message="Something new in Hyper-V.")],
    )
    facts: HostFacts = estate_hosts["lab-hv01"].model_copy(update={"compare_vm": [weird]})
    view = _view(facts, estate_hosts["lab-hv02"])
    with pytest.raises(CheckFailure) as failure:
        CHECKS["V1"].func(view)
    assert '99999 "Something new in Hyper-V." (an unknown MessageId: no check explains it)' in str(
        failure.value
    )
    assert not for_incompatibility(99999, "Something new in Hyper-V.").known


def test_a_comparison_that_failed_is_could_not_tell():
    failed = VmComparison(vm="web01", dst="lab-hv02", compared=False, error="Access denied.")
    facts = SCENARIO.hosts["lab-hv01"].model_copy(update={"compare_vm": [failed]})
    with pytest.raises(FactsUnavailable, match="could not tell: Compare-VM on lab-hv01 did not answer"):
        CHECKS["V1"].func(_view(facts, SCENARIO.hosts["lab-hv02"]))


@pytest.mark.parametrize(
    ("event_id", "message", "refs"),
    [
        (21502, "... Could not find Ethernet switch 'Backup'.", ("X1",)),
        (21125, "no words lmready knows", ("X1",)),
        (0, "failed with error 0x8009030E", ("A4", "A2")),
        (0, "The target principal name is incorrect. (0x80090322)", ("A2",)),
        (0, "(0xC03A0014)", ("V3",)),
        (21501, "the migration limit was reached", ("N6",)),
        (21502, "The operation failed with an unexpected error (0x80041024).", ()),
    ],
)
def test_event_mapping(event_id, message, refs):
    assert for_event(event_id, message).refs == refs


def _view(src: HostFacts, dst: HostFacts) -> VmView:
    from lmready.estate import Estate
    from lmready.inventory import load_inventory

    inv = load_inventory(_two_host_inventory())
    return vm_view(Estate(inv, {"lab-hv01": src, "lab-hv02": dst}, {}), "lab-hv01", "lab-hv02", "web01")


def _two_host_inventory() -> Path:
    import tempfile

    path = Path(tempfile.mkdtemp()) / "inv.yml"
    path.write_text(
        "hosts:\n  - name: lab-hv01\n    address: 127.0.0.1\n  - name: lab-hv02\n    address: 127.0.0.2\n"
        "pairs:\n  - {src: lab-hv01, dst: lab-hv02}\n"
    )
    return path


# --- lmready explain, through the real CLI against the lab ------------------------------------


def test_explain_prints_each_seeded_failure_with_its_requirement(lab, inventory):
    run = lmready("explain", "--inventory", str(inventory), "--since", "7d", env=lab.env())
    assert run.returncode == 0, run.stderr
    out = run.stdout
    blocks = _blocks(out)
    assert "explained by LMR-051 (X1): lab-hv01->lab-hv03:" in blocks["app01 lab-hv01 -> lab-hv03"]
    assert "'app01' Could not find Ethernet switch 'Backup'." in blocks["app01 lab-hv01 -> lab-hv03"]
    assert "explained by LMR-013 (R3): lab-hv01->lab-hv04:" in blocks["web01 lab-hv01 -> lab-hv04"]
    assert "explained by LMR-062 (V2): lab-hv02->lab-hv03:sec01:" in blocks["sec01 lab-hv02 -> lab-hv03"]
    assert "explained by LMR-063 (V3): lab-hv02->lab-hv04:file01:" in blocks["file01 lab-hv02 -> lab-hv04"]
    fixed = blocks["web01 lab-hv01 -> lab-hv02"]
    assert "explained by LMR-046 (N6), which passes today: the cause is fixed" in fixed
    unknown = blocks["db01 lab-hv03 -> lab-hv01"]
    assert "not explained by any check: an unknown event message" in unknown and "0x80041024" in unknown
    assert "1 other warnings and errors in Microsoft-Windows-Hyper-V-VMMS-Admin are not migrations" in out
    assert "event 18012 on lab-hv03: Checkpoint operation for 'db01' failed." in out


def _blocks(out: str) -> dict[str, str]:
    """Failure blocks keyed 'vm src -> dst'."""
    blocks: dict[str, str] = {}
    key = None
    for line in out.splitlines():
        if line[:4].isdigit() and " UTC  " in line:
            _, rest = line.split(" UTC  ", 1)
            vm, where = rest.split("  ", 2)[:2]
            key = f"{vm} {where}"
            blocks[key] = ""
        elif key is not None and line.startswith("  "):
            blocks[key] += line + "\n"
    return blocks


def test_explain_since_and_vm_filter(lab, inventory):
    recent = lmready("explain", "--inventory", str(inventory), "--since", "8h", env=lab.env())
    assert recent.returncode == 0, recent.stderr
    assert list(_blocks(recent.stdout)) == ["db01 lab-hv03 -> lab-hv01", "file01 lab-hv02 -> lab-hv04"]
    one = lmready("explain", "--inventory", str(inventory), "--vm", "WEB01", env=lab.env())
    assert list(_blocks(one.stdout)) == ["web01 lab-hv01 -> lab-hv04", "web01 lab-hv01 -> lab-hv02"]
    none = lmready("explain", "--inventory", str(inventory), "--vm", "nosuch", env=lab.env())
    assert none.stdout.startswith(
        "no failed or cancelled migration of VM nosuch in Microsoft-Windows-Hyper-V-VMMS-Admin"
    )


@pytest.mark.parametrize(
    ("args", "sentence"),
    [
        (["--since", "a week"], "lmready explain: --since 'a week' is not an age like 30m, 12h, 7d or 2w."),
        (["--inventory", "/nonexistent/inv.yml"], "inv.yml"),
    ],
)
def test_explain_bad_input_is_one_sentence(inventory, args, sentence):
    full = ["explain", "--inventory", str(inventory), *args]
    run = lmready(*full)
    assert run.returncode == 4
    assert sentence in run.stderr and "Traceback" not in run.stderr


def test_audit_with_explain_has_the_section_in_the_html_report(lab, inventory, tmp_path):
    run = run_audit(tmp_path, inventory, "--explain=7d", env=lab.env())
    assert run.returncode == 1, run.stderr  # the lab is not ready; the section changes nothing there
    summary = run.html[run.html.index('<div id="lmready">') :]
    # Inside lmready's summary, after the VM view.
    assert summary.index('id="lm-vms"') < summary.index('id="lm-explain"') < summary.index("Every result")
    section = summary[summary.index('id="lm-explain"') :]
    assert "explained by LMR-051 (X1): lab-hv01-&gt;lab-hv03:" in section
    assert "explained by LMR-046 (N6), which passes today: the cause is fixed" in section
    assert "not explained by any check: an unknown event message" in section


def test_explain_with_saved_facts_is_one_sentence(tmp_path):
    example = Path(__file__).resolve().parent.parent / "inventories" / "example.yml"
    run = run_audit(tmp_path, example, "--explain")
    assert run.returncode == 4
    assert "--explain reads the hosts' event logs live" in run.stderr and "Traceback" not in run.stderr


# --- the PowerShell lmready sends (Windows PowerShell 5.1) ------------------------------------

PS7_ONLY = ("??", "&&", "||", " ? ", "-Parallel", "-AsHashtable")


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("per_vm.ps1", per_vm_script([{"vm": "it's", "dst": "hv02", "host": "hv02.x"}], ["it's"], 60)),
        ("per_vm.ps1 with nothing to compare", per_vm_script([], [], 60)),
        ("test_paths.ps1", paths_script(["C:\\ISO\\a'b.iso"])),
        ("vmms_events.ps1", events_script(datetime(2026, 11, 30, tzinfo=UTC))),
    ],
)
def test_every_per_vm_script_parses_as_windows_powershell_5_1(name, text):
    assert text.splitlines()[0] in (PER_VM_MARKER, PATHS_MARKER, EVENTS_MARKER)
    assert "{" + "targets}" not in text and "{" + "since}" not in text and "{" + "paths}" not in text
    assert syntax_errors(text) == [], name
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert not [token for token in PS7_ONLY if token in code], name
    # Values are quoted by lmready.pwsh.quote: a quote in a VM name or path cannot end the string.
    assert "it''s" in text or "a''b" in text or name.startswith(("per_vm.ps1 with", "vmms"))
