"""The exit code follows the gate severity and the waivers; user mistakes stop with exit code 4."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from audit_run import credssp_estate, run_audit


def test_clean_estate_passes_the_gate(tmp_path):
    run = run_audit(tmp_path, credssp_estate(tmp_path))
    assert run.returncode == 0, run.stdout[-2000:]
    assert run.findings["ready"] is True and run.findings["verdict"] == "READY"
    assert {p["state"] for p in run.findings["pairs"]} == {"ready"}
    # CredSSP itself is a low-severity warning (A4), visible but not failing the gate
    assert run.result("LMR-024", "hv01")["outcome"] == "warning"
    assert "lmready: READY" in run.stdout


def test_medium_failure_stays_a_failure_that_does_not_block_below_the_default_gate(tmp_path):
    inv = credssp_estate(tmp_path, {"migration": {"maximum_migrations": 4}})
    run = run_audit(tmp_path / "default", inv)
    assert run.returncode == 0
    below = run.result("LMR-046", "hv02")
    assert below["outcome"] == "failed" and below["blocking"] is False
    assert "failures below the gate (not blocking):" in run.stdout
    assert "LMR-046 (N6) Simultaneous live migrations set to the policy value: hv02:" in run.stdout
    strict = run_audit(tmp_path / "strict", inv, "--gate-severity", "medium")
    assert strict.returncode == 1
    assert strict.result("LMR-046", "hv02")["outcome"] == "failed"
    assert strict.result("LMR-046", "hv02")["blocking"] is True
    assert {(p["src"], p["dst"]): p["state"] for p in strict.findings["pairs"]} == {
        ("hv01", "hv02"): "not ready",
        ("hv02", "hv01"): "not ready",
    }


def test_waiver_unexpired_and_expired(tmp_path):
    broken = {"migration": {"enabled": False}}
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    yesterday = (date.today() - timedelta(days=1)).isoformat()

    def waiver(expires):
        return {
            "waivers": [
                {
                    "check": "LMR-041",
                    "target": "hv0[2]",
                    "expires": expires,
                    "justification": "Migration enabled by the host rebuild, CHG-7",
                }
            ]
        }

    unwaived = run_audit(tmp_path / "none", credssp_estate(tmp_path / "none", broken))
    assert unwaived.returncode == 1

    valid = run_audit(tmp_path / "valid", credssp_estate(tmp_path / "valid", broken, **waiver(tomorrow)))
    assert valid.returncode == 0, valid.stdout[-2000:]
    rec = valid.result("LMR-041", "hv02")
    assert rec["outcome"] == "failed" and rec["blocking"] is False
    assert rec["waiver"]["justification"].endswith("CHG-7")
    assert "waived failures:" in valid.stdout and "CHG-7" in valid.stdout

    expired = run_audit(tmp_path / "old", credssp_estate(tmp_path / "old", broken, **waiver(yesterday)))
    assert expired.returncode == 1
    rec = expired.result("LMR-041", "hv02")
    assert rec["outcome"] == "failed" and rec["blocking"] and f"expired on {yesterday}" in rec["message"]


def test_missing_facts_are_errors_that_spare_other_hosts(tmp_path):
    inv = credssp_estate(tmp_path)
    (tmp_path / "facts" / "hosts" / "hv02.json").write_text("{not json")
    run = run_audit(tmp_path, inv)
    assert run.returncode == 6  # INCOMPLETE: no verdict on what could not be read
    assert "lmready: INCOMPLETE" in run.stdout
    err = run.result("LMR-041", "hv02")
    assert err["outcome"] == "error" and "hv02: saved facts at" in err["message"]
    assert "not valid JSON" in err["message"]
    assert run.result("LMR-041", "hv01")["outcome"] == "passed"
    assert run.findings["pairs"][0]["state"] == "incomplete"
    assert "Traceback" not in run.stdout


@pytest.mark.parametrize(
    "args, inventory_extra, expected",
    [
        (["--gate-severity", "severe"], {}, "--gate-severity: unknown severity 'severe'"),
        (["--remediate", "apply"], {}, "--remediate apply needs the hosts themselves, not saved facts"),
        (
            [],
            {"waivers": [{"check": "LMR-999", "justification": "nothing to see here"}]},
            "the waiver names check LMR-999, which does not exist",
        ),
        (
            [],
            {"waivers": "waivers.yml"},
            "waivers.yml:2: waivers[0] is missing the required key 'justification'",
        ),
    ],
)
def test_usage_errors_exit_4(tmp_path, args, inventory_extra, expected):
    (tmp_path / "waivers.yml").write_text("waivers:\n  - check: LMR-041\n")
    run = run_audit(tmp_path, credssp_estate(tmp_path, **inventory_extra), *args)
    assert run.returncode == 4, run.stdout[-2000:] + run.stderr
    assert expected in run.stderr
    assert "Traceback" not in run.stderr + run.stdout


def test_facts_dir_overrides_the_inventory(tmp_path):
    inv = credssp_estate(tmp_path / "a", {"migration": {"enabled": False}})
    other = credssp_estate(tmp_path / "b")
    run = run_audit(tmp_path / "run", inv, f"--facts-dir={other.parent / 'facts'}")
    assert run.returncode == 0
    assert run.findings["facts"] == str(other.parent / "facts")
