"""Remediation against a racing admin, a hanging host and a killed run (issue 8, items 2-4), on
the lab hosts (which interpret every script line as Windows PowerShell 5.1 would) and the
session's Samba DC. Only host changes are made here: the DC's accounts are left alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from test_remediation import SCENARIO, SUBNET, audit

from lmready.credentials import Secret
from lmready.estate import Estate
from lmready.facts import MigrationNetwork
from lmready.inventory import Inventory, load_inventory
from lmready.lab.runtime import Lab
from lmready.live import LiveCollector, deadline
from lmready.psrp import open_session
from lmready.remediation import Journal, Plan, apply_plan, make_plan, read_journal, rollback
from lmready.remediation import host_changes as host_fixes
from lmready.remediation.change import APPLIED, HOST, REFUSED, SKIPPED, UNKNOWN

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
LAB_SECRET = Secret(SCENARIO.username, SCENARIO.password)


@pytest.fixture
def lab(tmp_path, samba_dc, monkeypatch):
    running = Lab(SCENARIO, tmp_path / "lab", dc=samba_dc).start()
    for key, value in running.env().items():
        monkeypatch.setenv(key, value)
    yield running
    running.stop()


def write_inventory(lab: Lab, path: Path, **winrm: object) -> Path:
    """The lab's inventory, with the policy's migration subnet and the given WinRM defaults."""
    doc = lab.inventory(policy={**SCENARIO.policy, "migration_networks": [SUBNET]})
    doc["defaults"]["winrm"].update(winrm)
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def host_plan(inventory: Inventory) -> Plan:
    estate, findings = audit(inventory)
    plan = make_plan(findings, estate)
    return Plan([c for c in plan.changes if c.kind == HOST], [])


def states(lab: Lab) -> dict:
    return {n: r.model.state.model_dump(exclude={"collected_at", "clock"}) for n, r in lab.hosts.items()}


def set_migration(lab: Lab, host: str, **changes: object) -> None:
    model = lab.hosts[host].model
    model.state = model.state.model_copy(
        update={"migration": model.state.migration.model_copy(update=changes)}
    )


def history(journal: Path) -> dict[tuple, list[str]]:
    out: dict[tuple, list[str]] = {}
    for e in read_journal(journal):
        out.setdefault((e["target"], e["setting"], e["before"], e["after"]), []).append(e["status"])
    return out


def _estate(inventory: Inventory) -> Estate:
    return LiveCollector().collect(inventory)


def test_a_host_setting_changed_since_the_plan_is_kept(lab, tmp_path):
    inventory = load_inventory(write_inventory(lab, tmp_path / "lab.yml"))
    plan = host_plan(inventory)
    before = states(lab)
    # Between plan and apply another admin sets 3 simultaneous migrations on lab-hv04 and adds
    # the policy's migration network there.
    set_migration(lab, "lab-hv04", maximum_migrations=3)
    hv04 = lab.hosts["lab-hv04"].model
    hv04.state = hv04.state.model_copy(update={"migration_networks": [MigrationNetwork(subnet=SUBNET)]})
    theirs = states(lab)["lab-hv04"]

    with Journal(tmp_path / "remediation.jsonl") as journal:
        outcomes = apply_plan(plan, _estate(inventory), journal)
    by_setting = {(o.change.target, o.change.setting): o for o in outcomes}
    kept = by_setting[("lab-hv04", host_fixes.SIMULTANEOUS)]
    assert (kept.status, kept.reason) == (
        SKIPPED,
        "lab-hv04: changed since the plan: MaximumVirtualMachineMigrations is 3, the plan saw 5; left as is.",
    )
    network = by_setting[("lab-hv04", host_fixes.NETWORK)]
    assert network.status == SKIPPED
    assert network.reason == (
        f"lab-hv04: changed since the plan: VMMigrationNetwork is {SUBNET}, the plan saw (absent); left as is."
    )
    others = [o for o in outcomes if o not in (kept, network)]
    assert others and all(o.status == APPLIED for o in others), [o.reason for o in others]
    state = lab.hosts["lab-hv04"].model.state
    assert state.migration.maximum_migrations == 3
    assert [n.subnet for n in state.migration_networks] == [SUBNET]  # not added twice, not failed
    assert state.migration.use_any_network is False  # the change nobody raced was made
    steps = history(journal.path)
    assert steps[("lab-hv04", host_fixes.SIMULTANEOUS, 5, 2)] == ["planned", "attempted", "skipped"]
    assert steps[("lab-hv04", host_fixes.USE_ANY_NETWORK, True, False)] == ["planned", "attempted", "applied"]

    # Rollback undoes lmready's changes and leaves the admin's alone.
    undone = rollback(journal.path, inventory)
    assert {o.status for o in undone.outcomes} == {APPLIED}
    after = states(lab)
    assert after["lab-hv04"] == theirs
    assert {n: s for n, s in after.items() if n != "lab-hv04"} == {
        n: s for n, s in before.items() if n != "lab-hv04"
    }


def test_a_restore_is_compare_and_set_on_the_host(lab, tmp_path):
    """The value changes after rollback read it and before the restore reaches the host: the
    host's script sees it and keeps the new value; rollback names it as refused."""
    inventory = load_inventory(write_inventory(lab, tmp_path / "lab.yml"))
    plan = host_plan(inventory)
    with Journal(tmp_path / "remediation.jsonl") as journal:
        outcomes = apply_plan(plan, _estate(inventory), journal)
    assert {o.status for o in outcomes} == {APPLIED}

    def racing_session(host):
        if host.name == "lab-hv04":  # after rollback's own read, just before its restore script
            set_migration(lab, "lab-hv04", maximum_migrations=7)
        return open_session(host, LAB_SECRET)

    undone = rollback(journal.path, inventory, host_session_for=racing_session)
    refused = [o for o in undone.outcomes if o.status != APPLIED]
    assert [(o.status, o.change.setting) for o in refused] == [(REFUSED, host_fixes.SIMULTANEOUS)]
    assert refused[0].reason == (
        "lab-hv04: changed since the plan: MaximumVirtualMachineMigrations is 7, the plan saw 2; left as is."
    )
    assert lab.hosts["lab-hv04"].model.state.migration.maximum_migrations == 7
    assert lab.hosts["lab-hv04"].model.state.migration.use_any_network is True  # restored
    assert "skipped" in [e["status"] for e in read_journal(undone.journal)]


def test_a_host_that_hangs_during_apply_is_given_up_at_its_deadline(lab, tmp_path):
    # Small timeouts keep the deadline (connect + 3 operation timeouts + 5 s) at 10 s.
    inventory = load_inventory(
        write_inventory(lab, tmp_path / "lab.yml", connect_timeout=2, operation_timeout=1)
    )
    limit = deadline(inventory.hosts["lab-hv04"])
    assert limit == 10
    plan = host_plan(inventory)
    before = states(lab)

    def hanging_session(host):
        session = open_session(host, LAB_SECRET)
        if host.name == "lab-hv04":  # it hangs once the remediation script is sent
            lab.hosts["lab-hv04"].knobs.hang = 60.0
        return session

    start = time.monotonic()
    with Journal(tmp_path / "remediation.jsonl") as journal:
        outcomes = apply_plan(plan, _estate(inventory), journal, host_session_for=hanging_session)
    elapsed = time.monotonic() - start
    lab.hosts["lab-hv04"].knobs.hang = 0.0
    assert elapsed < limit + 8, elapsed  # collection, the other host, and the deadline itself

    hung = [o for o in outcomes if o.change.target == "lab-hv04"]
    assert hung and {o.status for o in hung} == {UNKNOWN}
    reason = hung[0].reason
    assert reason.startswith("lab-hv04: applying changes did not finish within 10 s (given up after 1"), (
        reason
    )
    seconds = float(reason.split("given up after ")[1].split(" s")[0])
    assert limit <= seconds < limit + 1
    assert reason.endswith("Whether it changed anything is unknown.") and "\n" not in reason
    assert {o.status for o in outcomes if o.change.target == "lab-hv03"} == {APPLIED}
    for o in hung:
        steps = history(journal.path)[("lab-hv04", o.change.setting, o.change.before, o.change.after)]
        assert steps[:3] == ["planned", "attempted", "unknown"]

    # The lab ran the script before it stopped answering: rollback reads every unknown change
    # again and restores what it finds made.
    undone = rollback(journal.path, inventory)
    assert {o.status for o in undone.outcomes} == {APPLIED}, [o.reason for o in undone.outcomes]
    assert states(lab) == before


def test_a_killed_apply_is_rolled_back(lab, tmp_path):
    """SIGKILL to a real `--remediate=apply` audit once it has journaled host changes as attempted
    and sent them (every request to a host takes a second), before their results come back; then
    `lmready rollback`: every attempted change is restored, or named as never made."""
    inventory = write_inventory(lab, tmp_path / "lab.yml")
    before = states(lab)
    out = tmp_path / "apply"
    out.mkdir()
    latency = 1.0
    for runtime in lab.hosts.values():
        runtime.knobs.latency = latency
    env = {**os.environ, **lab.env()}
    command = [sys.executable, "-m", "pytest", f"--inventory={inventory}", "--remediate=apply"]
    audit_run = subprocess.Popen(
        [*command, "-p", "no:cacheprovider"],
        cwd=out,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        journal = None
        end = time.monotonic() + 180
        while time.monotonic() < end and audit_run.poll() is None:
            found = sorted((out / "reports").glob("remediation-*.jsonl"))
            if found and any(
                e["status"] == "attempted" and e["kind"] == HOST for e in read_journal(found[0])
            ):
                journal = found[0]
                # The script reaches the hosts one latency later; its answer one more after that.
                time.sleep(latency * 1.5)
                audit_run.send_signal(signal.SIGKILL)
                break
            time.sleep(0.01)
        assert journal is not None, "the audit never journaled an attempted host change"
        audit_run.wait(10)
        assert audit_run.returncode == -signal.SIGKILL
    finally:
        if audit_run.poll() is None:
            audit_run.kill()
    time.sleep(latency)  # a request the hosts already received still runs, as on Windows
    for runtime in lab.hosts.values():
        runtime.knobs.latency = 0.0
    entries = read_journal(journal)
    attempted = {e["id"] for e in entries if e["status"] == "attempted" and e["kind"] == HOST}
    finished = {e["id"] for e in entries if e["status"] not in ("planned", "attempted")}
    open_ended = attempted - finished
    assert open_ended, "the kill came too late to leave an attempted change without a result"
    assert states(lab) != before  # the hosts ran what was sent before the kill

    undo = subprocess.run(
        [sys.executable, "-m", "lmready.cli", "rollback", str(journal), "--inventory", str(inventory)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert undo.returncode == 0, undo.stdout + undo.stderr
    lines = undo.stdout.splitlines()
    names = {e["id"]: f"{e['target']}: {e['setting']}" for e in entries}
    for ident in attempted:
        said = [line for line in lines if names[ident] in line]
        assert len(said) == 1, (names[ident], undo.stdout)
        if ident in open_ended:
            assert (
                said[0].startswith("applied:")
                and said[0].endswith(
                    "it had been made (attempted, its outcome not journaled) and is restored.)"
                )
            ) or (said[0].startswith("skipped:") and "it was attempted but never made" in said[0]), said
    assert any("it had been made" in line for line in lines), undo.stdout
    assert states(lab) == before, undo.stdout


@pytest.mark.parametrize(
    "lines",
    [
        ['{"event": "planned"}', "not json", '{"event": "applied"}'],
        ["[1, 2, 3]", "{}"],
        ['{"event": "attempted", "check_id": "LMR-041"}'],
    ],
    ids=["damaged line", "not an entry", "missing fields"],
)
def test_rollback_of_a_damaged_journal_is_one_sentence(tmp_path, lines):
    journal = tmp_path / "remediation-x.jsonl"
    journal.write_text("\n".join(lines) + "\n")
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        "credentials: {default: {username_env: RB_USER, password_env: RB_PASSWORD}}\n"
        "defaults: {winrm: {credential: default}}\nhosts: [{name: hv01}]\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "lmready.cli", "rollback", str(journal), "--inventory", str(inventory)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "RB_USER": "u", "RB_PASSWORD": "p"},
    )
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert f"{journal} cannot be rolled back" in proc.stderr or "journal is damaged" in proc.stderr
