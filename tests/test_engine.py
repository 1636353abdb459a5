"""The engine: one check on one target over an estate -> a finding, without pytest."""

from __future__ import annotations

import ast
import dataclasses
from datetime import date

from audit_run import EXAMPLE, REPO

from lmready.catalogue import Severity, check, load_catalogue, meta_of
from lmready.engine import Judging, evaluate, evaluate_all, targets
from lmready.estate import FactsUnavailable
from lmready.inventory import load_inventory
from lmready.saved_facts import SavedFacts
from lmready.values import Outcome, Target

CHECKS = {meta.ref: meta for meta in load_catalogue()}
INVENTORY = load_inventory(EXAMPLE)
ESTATE = SavedFacts(INVENTORY.facts_dir).collect(INVENTORY)
JUDGING = Judging(Severity.HIGH, INVENTORY.waivers, date(2026, 12, 1))


def test_a_failure_is_judged_against_the_gate_and_the_waivers():
    failed = evaluate(CHECKS["A1"], "hv01->hv04", ESTATE, JUDGING)
    assert (failed.outcome, failed.blocking, failed.target) == (
        Outcome.FAILED,
        True,
        Target.pair("hv01", "hv04"),
    )
    assert "hv04 CredSSP" in failed.observed
    waived = evaluate(CHECKS["N5"], "hv03->hv02", ESTATE, JUDGING)
    assert waived.outcome == Outcome.FAILED and waived.waiver is not None and not waived.blocking
    below = evaluate(CHECKS["A1"], "hv01->hv04", ESTATE, Judging(Severity.CRITICAL))
    assert below.outcome == Outcome.FAILED and not below.blocking


def test_passed_not_applicable_and_how_it_passed():
    assert evaluate(CHECKS["A1"], "hv01->hv02", ESTATE, JUDGING).outcome == Outcome.PASSED
    skipped = evaluate(CHECKS["X5"], "hv01", ESTATE, JUDGING)
    assert skipped.outcome == Outcome.SKIPPED and skipped.message.startswith("hv01: does not apply")
    a2 = evaluate(CHECKS["A2"], "hv01->hv02", ESTATE, JUDGING)
    assert a2.outcome == Outcome.PASSED and "passed through" in a2.message


def test_missing_facts_and_a_checks_bug_are_errors_on_their_own_finding():
    down = FactsUnavailable("hv01: the host did not answer.", "hv01: the host did not answer.")
    estate = dataclasses.replace(ESTATE, hosts={**ESTATE.hosts, "hv01": down})
    error = evaluate(CHECKS["A1"], "hv01->hv02", estate, JUDGING)
    assert (error.outcome, error.cause, error.error) == (
        Outcome.ERROR,
        "hv01: the host did not answer.",
        None,
    )

    @check("LMR-999", ref="N1", title="Divides by zero", severity=Severity.LOW, area="network")
    def test_buggy(host):
        return 1 / 0

    bug = evaluate(meta_of(test_buggy), "hv01", ESTATE, JUDGING)
    assert bug.outcome == Outcome.ERROR and isinstance(bug.error, ZeroDivisionError)
    assert "could not run in call: ZeroDivisionError" in bug.message and "please report it" in bug.message


def test_every_check_on_every_target():
    findings = evaluate_all(CHECKS.values(), ESTATE, JUDGING)
    assert len(findings) == sum(len(targets(meta, ESTATE)) for meta in CHECKS.values())
    assert {f.outcome for f in findings} >= {Outcome.PASSED, Outcome.FAILED, Outcome.SKIPPED, Outcome.WARNING}


BELOW_THE_ADAPTER = [
    "catalogue.py",
    "engine.py",
    "values.py",
    "constants.py",
    "estate.py",
    "facts.py",
    "findings.py",
    "verdict.py",
    "audit.py",
    "saved_facts.py",
    "live.py",
    "psrp.py",
    "ldap_directory.py",
    "report_writers.py",
    "junit.py",
    "html_report.py",
    "remediation",
]


def test_nothing_below_the_pytest_adapter_imports_pytest():
    src = REPO / "src" / "lmready"
    files = [
        p
        for name in BELOW_THE_ADAPTER
        for p in ([src / name] if name.endswith(".py") else (src / name).rglob("*.py"))
    ]
    assert len(files) > len(BELOW_THE_ADAPTER)
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not any(n.split(".")[0] in ("pytest", "_pytest") for n in names), path
