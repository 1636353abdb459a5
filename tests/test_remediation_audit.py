"""--remediate plan|apply in a real audit of the lab, and `lmready rollback` of its journal."""

from __future__ import annotations

import os
import subprocess
import sys

from audit_run import run_audit

from lmready.lab.control import DEFAULT_SCENARIO
from lmready.lab.runtime import Lab
from lmready.lab.scenario import load_scenario

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
SCENARIO = load_scenario(DEFAULT_SCENARIO)


def states(lab: Lab) -> dict:
    return {n: r.model.state.model_dump(exclude={"collected_at", "clock"}) for n, r in lab.hosts.items()}


def test_plan_apply_and_roll_back(tmp_path, samba_dc):
    lab = Lab(SCENARIO, tmp_path / "lab", dc=samba_dc).start()
    try:
        inventory = lab.write_inventory(tmp_path / "lab.yml")
        before = states(lab)

        plan = run_audit(tmp_path / "plan", inventory, "--remediate=plan", env=lab.env())
        assert plan.returncode == 1
        assert states(lab) == before  # a plan changes nothing
        planned = plan.result("LMR-041", "lab-hv03")
        assert planned["outcome"] == "failed" and planned["remediation"] == "fix planned"
        assert "Enable-VMMigration" in planned["message"]
        assert "remediation (plan)" in plan.stdout and "Remediation</h3>" in plan.html
        assert plan.stdout.count("remediation (plan)") == 1  # printed once, in the summary
        unfixable = plan.result("LMR-013", "lab-hv01->lab-hv04")
        assert unfixable["remediation"] == "not fixable" and "cannot be lowered" in unfixable["message"]
        # The plan, machine-readable: each change, what it is for, and the failures it cannot fix.
        record = plan.findings["remediation"]
        assert record["mode"] == "plan" and record["journal"] is None
        enable = next(
            c for c in record["changes"] if c["target"] == "lab-hv03" and c["check_id"] == "LMR-041"
        )
        assert enable["status"] == "planned" and "Enable-VMMigration" in enable["command"]
        assert {"check_id": "LMR-041", "target": "lab-hv03"} in enable["for"]
        assert {"check_id": "LMR-013", "target": "lab-hv01->lab-hv04"} in [
            {k: n[k] for k in ("check_id", "target")} for n in record["not_fixable"]
        ]

        applied = run_audit(tmp_path / "apply", inventory, "--remediate=apply", env=lab.env())
        fixed = {(r["check_id"], r["target"]) for r in applied.findings["results"] if r["outcome"] == "fixed"}
        assert ("LMR-041", "lab-hv03") in fixed  # Enable-VMMigration, verified by re-collection
        assert ("LMR-046", "lab-hv04") in fixed  # a warning below the gate is fixed too
        assert lab.hosts["lab-hv04"].model.state.migration.maximum_migrations == 2
        assert lab.hosts["lab-hv03"].model.state.migration.enabled is True
        assert (
            applied.result("LMR-013", "lab-hv01->lab-hv04")["outcome"] == "failed"
        )  # irreversible: never run
        journals = sorted((tmp_path / "apply").glob("remediation-*.jsonl"))
        assert len(journals) == 1
        record = applied.findings["remediation"]
        assert record["mode"] == "apply" and record["journal"] == str(journals[0])
        statuses = {c["status"] for c in record["changes"]}
        assert "applied" in statuses and statuses <= {"applied", "failed", "refused", "skipped", "unknown"}
        assert all(c["reason"] for c in record["changes"] if c["status"] == "refused")
        assert {"check_id": "LMR-041", "target": "lab-hv03", "status": "fixed", "reason": ""} in record[
            "verified"
        ]

        again = run_audit(tmp_path / "again", inventory, "--remediate=apply", env=lab.env())
        assert not [r for r in again.findings["results"] if r["outcome"] == "fixed"]  # nothing left to do

        undo = subprocess.run(
            [
                sys.executable,
                "-m",
                "lmready.cli",
                "rollback",
                str(journals[0]),
                "--inventory",
                str(inventory),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, **lab.env()},
        )
        assert undo.returncode == 0, undo.stdout + undo.stderr
        assert lab.hosts["lab-hv03"].model.state.migration.enabled is False
        assert states(lab) == before
    finally:
        lab.stop()
