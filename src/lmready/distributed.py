"""pytest-xdist: runs bigger than one process. The controller collects the facts once and hands
them to every worker (a pickle in a private directory), so that no host is asked twice; the
workers judge their share of the checks and send each finding back with its report; the
controller puts the findings in the order one process would have made them and writes the
reports. Remediation changes hosts between collecting and judging, and stays single-process.
"""

from __future__ import annotations

import pickle
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from lmready.audit import Audit
from lmready.catalogue import CheckMeta, Severity
from lmready.estate import Estate
from lmready.findings import Finding
from lmready.html_report import COMPACT_ABOVE
from lmready.items import SUITE_NODE_DIR
from lmready.values import Outcome, Scope, Target

ESTATE_KEY = "lmready_estate"  # in the workers' workerinput: the path of the pickled estate
REFUSE_REMEDIATION = (
    "--remediate {mode} changes hosts between collecting the facts and judging them, which one "
    "process must do: run it without -n (or with -n 0)."
)


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def is_controller(config: pytest.Config) -> bool:
    """The process that hands work to xdist workers (``-n 2``, ``-n auto``, ``--dist``)."""
    return getattr(config.option, "dist", "no") != "no" and not is_worker(config)


def worker_estate(config: pytest.Config) -> Estate | None:
    """The estate the controller collected, in a worker; None elsewhere."""
    path = getattr(config, "workerinput", {}).get(ESTATE_KEY)
    if path is None:
        return None
    with open(path, "rb") as handle:
        return pickle.load(handle)  # written by this run's controller, in a directory only it can read


def to_wire(finding: Finding) -> dict[str, Any]:
    """What a worker sends of a finding (execnet carries plain data only)."""
    c = finding.check
    return {
        "check": [c.id, c.name, c.ref, c.title, int(c.severity), c.area, str(c.scope), c.fix],
        "target": str(finding.target),
        "outcome": str(finding.outcome),
        "severity": int(finding.severity),
        "message": finding.message,
        "observed": finding.observed,
        "expected": finding.expected,
        "fix": finding.fix,
        "waiver": finding.waiver.where if finding.waiver else None,
        "blocking": finding.blocking,
        "cause": finding.cause,
        "nodeid": finding.nodeid,
        "duration": finding.duration,
        "drift": finding.drift,
    }


class Controller:
    """The controller's side: hand out the facts, take the findings back."""

    def __init__(self, audit: Audit, progress):
        self.audit = audit
        self.progress = progress
        self.checks = {(m.id, m.name): m for m in audit.catalogue}
        self.waivers = {w.where: w for w in audit.inventory.waivers}
        self.directory: Path | None = None
        self.order: dict[str, int] = {}

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node) -> None:
        if self.directory is None:
            self.audit.collect(self.progress)  # once, whatever the number of workers
            self.directory = Path(tempfile.mkdtemp(prefix="lmready-estate-"))  # mode 0700
            with (self.directory / "estate.pickle").open("wb") as out:
                pickle.dump(self.audit.estate, out, protocol=pickle.HIGHEST_PROTOCOL)
        node.workerinput[ESTATE_KEY] = str(self.directory / "estate.pickle")

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids: list[str]) -> None:
        # Every worker collects the same items: their order is the order of one process.
        if not self.order:
            self.order = {nodeid: i for i, nodeid in enumerate(ids)}
            checks = sum(nodeid.startswith(f"{SUITE_NODE_DIR}/") and "[" in nodeid for nodeid in ids)
            self.audit.compact_html = checks > COMPACT_ABOVE

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_from_serializable(self, config: pytest.Config, data: dict[str, Any]):
        wire = data.get("lmready") if isinstance(data, dict) else None
        if wire is None:
            return None
        data = {k: v for k, v in data.items() if k != "lmready"}
        report = pytest.TestReport._from_json(data)
        report.lmready = self._finding(wire)
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        finding = getattr(report, "lmready", None)
        if finding is not None:
            self.audit.findings.append(finding)

    def in_order(self) -> None:
        """The findings in the order one process makes them (item order), whichever worker ran what."""
        last = len(self.order)
        self.audit.findings.sort(key=lambda f: self.order.get(f.nodeid, last))

    def cleanup(self) -> None:
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)

    def _finding(self, wire: dict[str, Any]) -> Finding:
        check_id, name, ref, title, severity, area, scope, fix = wire["check"]
        meta = self.checks.get((check_id, name)) or _foreign_check(
            check_id, name, ref, title, severity, area, scope, fix
        )
        return Finding(
            meta,
            Target.parse(wire["target"]),
            Outcome(wire["outcome"]),
            Severity(wire["severity"]),
            wire["message"],
            wire["observed"],
            wire["expected"],
            wire["fix"],
            self.waivers.get(wire["waiver"]) if wire["waiver"] else None,
            wire["blocking"],
            wire["cause"],
            wire["nodeid"],
            wire["duration"],
            drift=wire["drift"],
        )


class Worker:
    """A worker's side: each report carries its finding as plain data."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_to_serializable(self, config: pytest.Config, report):
        finding = getattr(report, "lmready", None)
        if finding is None:
            return None
        del report.lmready
        try:
            data = report._to_json()
        finally:
            report.lmready = finding
        data["lmready"] = to_wire(finding)
        return data


def _foreign_check(
    check_id: str, name: str, ref: str, title: str, severity: int, area: str, scope: str, fix: str | None
) -> CheckMeta:
    """Metadata of a check outside the catalogue (a testinfra test of your own), from its finding."""

    def stand_in() -> None:  # a name for reports; the check itself ran in a worker
        return None

    stand_in.__name__ = name
    return CheckMeta(
        check_id, ref, title, Severity(severity), area, Scope(scope), fix, "none", None, stand_in
    )
