"""The README's testinfra example (`pytest --inventory=inventories/lab.yml examples/`) against the
default lab: HTTPS with Basic and the lab's own CA, which testinfra's winrm backend must be told."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from audit_run import run_audit

from lmready.lab.control import DEFAULT_SCENARIO
from lmready.lab.runtime import Lab
from lmready.lab.scenario import load_scenario

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
SCENARIO = load_scenario(DEFAULT_SCENARIO)
NAMES = list(SCENARIO.hosts)
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_readme_testinfra_example_against_the_default_lab(tmp_path):
    # The default lab's hosts: HTTPS, Basic, the lab's CA (the example needs no domain controller).
    lab = Lab(SCENARIO, tmp_path / "lab", directory=False).start()
    try:
        inventory = lab.write_inventory(tmp_path / "lab.yml")
        winrm = yaml.safe_load(inventory.read_text())["defaults"]["winrm"]
        assert winrm["scheme"] == "https" and winrm["ca_bundle"] and winrm.get("verify_tls", True)
        run = run_audit(tmp_path / "run", inventory, str(EXAMPLES), env=lab.env())
        results = run.findings["results"]
        assert {r["target"] for r in results} == set(NAMES), run.stdout[-3000:]
        assert {(r["check_id"], r["outcome"]) for r in results} == {("USR-001", "passed")}, results
        assert len(list(run.junit.iter("testcase"))) == len(NAMES)

        # The certificate is still checked: another CA fails every host, as an error, not a pass.
        other = Lab(SCENARIO, tmp_path / "other", directory=False).start()
        try:
            wrong = yaml.safe_load(inventory.read_text())
            wrong["defaults"]["winrm"]["ca_bundle"] = str(other.tls.ca)
            (tmp_path / "wrong.yml").write_text(yaml.safe_dump(wrong))
            run = run_audit(tmp_path / "wrong", tmp_path / "wrong.yml", str(EXAMPLES), env=lab.env())
            assert {r["outcome"] for r in run.findings["results"]} == {"error"}, run.findings["results"]
        finally:
            other.stop()
    finally:
        lab.stop()
