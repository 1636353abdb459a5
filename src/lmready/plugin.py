"""The pytest plugin: inventory -> parametrised checks -> findings -> gate and reports.

It is registered through the ``pytest11`` entry point and stays inert unless the run is an
audit: ``--inventory``/``--facts-dir`` given, or the collected paths lie in the check suite.
"""

from __future__ import annotations

import contextlib
import gc
import getpass
import inspect
import os
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from lmready import __version__, distributed
from lmready.audit import Audit
from lmready.catalogue import AREAS, Severity, load_catalogue, meta_of, suite_dir
from lmready.credentials import check_all as check_credentials
from lmready.drift import BaselineError, load_baseline
from lmready.explain import parse_since
from lmready.html_hooks import HtmlHooks
from lmready.html_report import COMPACT_ABOVE, metadata_html
from lmready.inventory import InventoryError, load_inventory
from lmready.items import CheckItem, pair_separator, run_protocol
from lmready.per_vm import Selection
from lmready.remediation.run import failing_findings, remediate
from lmready.report_writers import DEFAULT_REPORTS, summary_md_paths, unwritable, write_reports
from lmready.stash import AUDIT
from lmready.terminal import progress_line, write_summary
from lmready.testinfra_hooks import pytest_generate_tests, pytest_runtest_makereport, testinfra_host
from lmready.values import Scope
from lmready.verdict import ExitCode
from lmready.vmview import vm_targets

DEFAULT_GATE = "high"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("lmready", "lmready: live migration readiness audit")
    group.addoption("--inventory", metavar="PATH", help="inventory YAML to audit")
    group.addoption(
        "--facts-dir", metavar="DIR", help="audit facts saved in DIR (hosts/NAME.json, domains/DOMAIN.json)"
    )
    group.addoption(
        "--gate-severity",
        metavar="LEVEL",
        default=None,
        help="lowest severity that fails the run: low, medium, high (default), critical",
    )
    group.addoption(
        "--remediate", choices=("plan", "apply"), help="plan or apply the fixes lmready can make safely"
    )
    group.addoption(
        "--findings-json",
        metavar="PATH",
        help=f"machine-readable findings (default {DEFAULT_REPORTS['findings_json']})",
    )
    group.addoption(
        "--baseline",
        metavar="FINDINGS_JSON",
        help="an earlier audit's findings.json: mark each result new, fixed, still failing or unchanged",
    )
    group.addoption(
        "--summary-md",
        metavar="PATH",
        help="a short Markdown summary for tickets and CI (also appended to $GITHUB_STEP_SUMMARY when set)",
    )
    group.addoption(
        "--compare-vms",
        metavar="PATTERNS",
        help="per-VM checks (V1-V3) for these VMs only: comma-separated VM names or src->dst:vm "
        "patterns (* and ?); 'none' runs no Compare-VM",
    )
    group.addoption(
        "--compare-budget",
        metavar="VMS[,SECONDS]",
        help="Compare-VM budget per source host: comparisons (VM x destination) and seconds "
        "(default 100,60); the rest are 'could not tell'",
    )
    group.addoption(
        "--explain",
        metavar="AGE",
        nargs="?",
        const="7d",
        help="add why recent migrations failed to the HTML report (VMMS-Admin logs of the last AGE, default 7d)",
    )
    parser.addini("lmready_inventory", "inventory audited when --inventory is not given")
    parser.addini(
        "gate_severity",
        f"lowest severity that fails the run (default {DEFAULT_GATE}); --gate-severity overrides it",
    )


def _is_audit(config: pytest.Config) -> bool:
    if config.option.inventory or config.option.facts_dir:
        return True
    suite = suite_dir().resolve()
    for arg in config.args:
        path = (config.invocation_params.dir / arg.split("::")[0]).resolve()
        if path == suite or suite in path.parents:
            return True
    return False


def _inventory_path(config: pytest.Config) -> Path:
    if config.option.inventory:
        return Path(config.option.inventory)
    configured = config.getini("lmready_inventory")
    if configured:
        base = config.inipath.parent if config.inipath else config.rootpath
        return _relative(base / configured)
    raise pytest.UsageError("no inventory to audit: pass --inventory PATH (see inventories/example.yml).")


def _relative(path: Path) -> Path:
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    for area, text in AREAS.items():
        config.addinivalue_line("markers", f"{area}: {text}")
    config.addinivalue_line("markers", "lmready(id, ref, title, severity): metadata of a check of your own")
    if not _is_audit(config):
        return
    # --gate-severity wins over the ini key gate_severity ([tool.pytest.ini_options], pytest.ini).
    gate_source, gate_text = "--gate-severity", config.option.gate_severity
    if not gate_text:
        gate_source, gate_text = "the ini key gate_severity", config.getini("gate_severity") or DEFAULT_GATE
    try:
        gate = Severity.parse(gate_text)
    except ValueError as exc:
        where = f" in {config.inipath}" if gate_source.startswith("the ini") and config.inipath else ""
        raise pytest.UsageError(f"{gate_source}{where}: {exc}.") from None
    path = _inventory_path(config)
    try:
        inventory = load_inventory(path)
    except InventoryError as exc:
        raise pytest.UsageError("\n".join(exc.problems)) from None
    catalogue = load_catalogue()
    known = {meta.id for meta in catalogue}
    unknown = [w for w in inventory.waivers if w.check not in known]
    if unknown:
        raise pytest.UsageError(
            "\n".join(
                f"{w.where}: the waiver names check {w.check}, which does not exist; see the check "
                "catalogue in README.md."
                for w in unknown
            )
        )
    try:
        compare = Selection.parse(config.option.compare_vms, config.option.compare_budget)
    except ValueError as exc:
        raise pytest.UsageError(f"{exc}.") from None
    explain_since = None
    if config.option.explain:
        try:
            explain_since = datetime.now(UTC) - parse_since(config.option.explain)
        except ValueError as exc:
            raise pytest.UsageError(f"--explain: {exc}.") from None
    baseline_path = Path(config.option.baseline) if config.option.baseline else None
    try:
        baseline = load_baseline(baseline_path) if baseline_path else None
    except BaselineError as exc:
        raise pytest.UsageError(str(exc)) from None
    facts_dir = Path(config.option.facts_dir) if config.option.facts_dir else inventory.facts_dir
    if facts_dir is not None and not facts_dir.is_dir():
        raise pytest.UsageError(f"--facts-dir {facts_dir}: no such directory; check the path.")
    if explain_since is not None and facts_dir is not None:
        raise pytest.UsageError("--explain reads the hosts' event logs live: audit live (no saved facts).")
    if config.option.remediate and distributed.is_controller(config):
        raise pytest.UsageError(distributed.REFUSE_REMEDIATION.format(mode=config.option.remediate))
    if config.option.remediate and facts_dir is not None:
        raise pytest.UsageError(
            f"--remediate {config.option.remediate} needs the hosts themselves, not saved facts; "
            "audit live (an inventory without facts: and no --facts-dir)."
        )
    if facts_dir is None and not config.option.collectonly:
        missing = check_credentials(inventory)  # once here, not on every check of every host
        if missing:
            raise pytest.UsageError("\n".join(missing))

    if config.args_source == pytest.Config.ArgsSource.INVOCATION_DIR:
        # No test paths given and no ini naming them (outside a checkout, or pytest took
        # `--inventory PATH`'s value for a path before lmready was loaded): audit the suite,
        # not whatever lies in the current directory.
        config.args = [str(suite_dir())]
    report_problems: list[str] = []
    summary_paths: list[Path] = []
    if not config.option.collectonly:  # listing the checks is not an audit: no reports
        for option, default in DEFAULT_REPORTS.items():
            if getattr(config.option, option, None) is None:
                setattr(config.option, option, default)
            problem = unwritable(getattr(config.option, option))
            if problem:
                # Said once at the end (exit 3); the other reports are still written.
                report_problems.append(problem)
                setattr(config.option, option, None)
        for path in summary_md_paths(config.option.summary_md):
            problem = unwritable(str(path))
            if problem:
                report_problems.append(problem)
            else:
                summary_paths.append(path)
    config.option.self_contained_html = True
    if config.option.tbstyle == "auto":
        # Failures are sentences, listed once in lmready's summary; tracebacks also cost O(n^2).
        config.option.tbstyle = "no"
    if config.option.reportchars == DEFAULT_REPORTCHARS:
        config.option.reportchars = ""  # lmready's summary lists failures with their check and fix
    config.stash[AUDIT] = audit = Audit(
        inventory=inventory,
        facts_dir=facts_dir,
        gate=gate,
        findings_path=Path(config.option.findings_json) if config.option.findings_json else None,
        junit_path=Path(config.option.xmlpath) if config.option.xmlpath else None,
        operator=_operator(),
        started=datetime.now(UTC),
        today=date.today(),
        catalogue=catalogue,
        report_problems=report_problems,
        remediate=config.option.remediate,
        pair_separator=pair_separator(inventory.pairs),
        summary_paths=summary_paths,
        baseline=baseline,
        baseline_path=baseline_path,
        compare=compare,
        explain_since=explain_since,
    )
    # lmready writes the JUnit file itself, streamed from the findings (see lmready.junit).
    config.option.xmlpath = None
    config.pluginmanager.register(HtmlHooks(audit), "lmready-html")
    config.pluginmanager.register(UnjudgedFailures(audit), "lmready-unjudged")
    if distributed.is_controller(config):
        controller = distributed.Controller(audit, progress_line(config))
        config.pluginmanager.register(controller, "lmready-xdist-controller")
    elif distributed.is_worker(config):
        audit.use(distributed.worker_estate(config))  # collected once, by the controller
        config.pluginmanager.register(distributed.Worker(), "lmready-xdist-worker")


# pytest's default -r: lmready replaces its per-test lines with its own summary.
DEFAULT_REPORTCHARS = "fE"


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER", "unknown")


def pytest_sessionstart(session: pytest.Session) -> None:
    audit = session.config.stash.get(AUDIT, None)
    if audit is None:
        return
    try:
        from pytest_metadata.plugin import metadata_key
    except ImportError:  # pragma: no cover - pytest-html depends on pytest-metadata
        return
    metadata = session.config.stash.get(metadata_key, None)
    if metadata is not None:
        metadata["lmready"] = __version__
        metadata["Inventory"] = str(audit.inventory.path)
        metadata["Facts"] = audit.source
        metadata["Operator"] = audit.operator
        metadata["Started (UTC)"] = audit.started.isoformat(timespec="seconds")
        metadata["Gate severity"] = str(audit.gate)
        weak = audit.weak_transports()
        if weak:
            metadata["Weak transports (as the inventory asks)"] = "; ".join(weak)
        # Every value, pytest-metadata's CI variables included, is inserted by pytest-html as
        # HTML (and shown by pytest -v): redacted and escaped here, before pytest-html (trylast)
        # and the terminal header read them.
        shown = metadata_html(metadata)
        metadata.clear()
        metadata.update(shown)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object):
    """A check becomes one item per host or per ordered pair of the inventory."""
    meta = meta_of(obj)
    audit = collector.config.stash.get(AUDIT, None)
    if meta is None or audit is None:
        return None
    params = list(inspect.signature(meta.func).parameters)
    if params != [meta.scope]:
        raise collector.CollectError(
            f"{name}: a check takes only its target ({meta.scope}); it gets everything else from the facts."
        )
    inv = audit.inventory
    if meta.scope == Scope.VM:
        targets = _vm_targets(collector.config, audit)
    else:
        targets = [(h,) for h in inv.hosts] if meta.scope == Scope.HOST else list(inv.pairs)
    return [
        CheckItem.from_parent(collector, name=name, meta=meta, target=t, separator=audit.pair_separator)
        for t in targets
    ]


def _vm_targets(config: pytest.Config, audit: Audit) -> list[tuple[str, ...]]:
    """Per-VM targets need the VMs: the facts are collected here, once, when the first per-VM
    check is collected (listing the checks of a live inventory connects to no host: none then)."""
    if config.option.collectonly and audit.facts_dir is None:
        return []
    if not audit.collected:
        # pytest captures output while it collects: the progress lines must reach the terminal.
        capture = config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            audit.collect(progress_line(config))
    return [t for t in vm_targets(audit.estate, list(audit.inventory.pairs)) if audit.compare.wants(*t)]


def pytest_collection_finish(session: pytest.Session) -> None:
    audit = session.config.stash.get(AUDIT, None)
    if audit is None:
        return
    items = sum(isinstance(i, CheckItem) for i in session.items)
    audit.compact_html = items > COMPACT_ABOVE
    if items and not session.config.option.collectonly:
        if not audit.collected:  # per-VM checks collect them earlier
            audit.collect(progress_line(session.config))
        if audit.remediate:
            _remediate(session, audit)
    # Hundreds of thousands of long-lived objects now exist; keep the cyclic GC from rescanning
    # them over and over while the checks run.
    gc.collect()
    gc.freeze()


def _remediate(session: pytest.Session, audit: Audit) -> None:
    """Plan (and with apply, make and verify) the fixes, then collect again so that every check
    reports the estate as it now is."""
    targets = [(i.meta, i.target) for i in session.items if isinstance(i, CheckItem)]
    failing = failing_findings(targets, audit.estate, audit.judging)
    journal_dir = audit.findings_path.parent if audit.findings_path else Path("reports")
    # The plan (and what became of it) is printed once, in the terminal summary.
    audit.remediation = remediate(audit.remediate, failing, audit.estate, journal_dir, audit.operator)
    if audit.remediation.outcomes:
        audit.collect(progress_line(session.config))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    if not isinstance(item, CheckItem):
        return None
    audit = item.config.stash[AUDIT]
    run_protocol(item, audit.estate, audit.judging, audit.record)
    return True


@pytest.hookimpl(tryfirst=True)
def pytest_report_teststatus(report, config):
    """Words of lmready's own in the progress and the final count line ("advisory", not pytest's
    "warnings", which are Python warnings)."""
    finding = getattr(report, "lmready", None)
    if finding is None or report.when not in ("call", "setup"):
        return None
    if finding.outcome == "warning":
        return "advisory", "W", ("WARNING", {"yellow": True})
    if finding.outcome == "failed" and finding.waiver is not None:
        return "waived", "w", ("WAIVED", {"yellow": True})
    if finding.outcome == "failed" and not finding.blocking:
        return "below gate", "b", ("FAILED (below the gate)", {"yellow": True})
    if finding.outcome == "fixed":
        return "fixed", "+", ("FIXED", {"green": True})
    return None


class UnjudgedFailures:
    """A test of the run that failed without being judged as a check (a plain pytest test beside
    the suite, a collection error) still fails the gate: the verdict must not hide it."""

    def __init__(self, audit: Audit):
        self.audit = audit

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed and getattr(report, "lmready", None) is None:
            self.audit.unjudged_failures.append(report.nodeid)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.audit.unjudged_failures.append(report.nodeid or "collection")


# --- end of run ----------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    audit = session.config.stash.get(AUDIT, None)
    if audit is None or session.config.option.collectonly or distributed.is_worker(session.config):
        return  # a worker's findings travel with its reports; the controller writes the reports
    controller = session.config.pluginmanager.get_plugin("lmready-xdist-controller")
    if controller is not None:
        controller.in_order()
        controller.cleanup()
    if audit.judged and exitstatus in (
        pytest.ExitCode.OK,
        pytest.ExitCode.TESTS_FAILED,
    ):
        # pytest's 0/1 say whether a test failed; an audit's say what the verdict is.
        session.exitstatus = audit.verdict.exit_code
    write_reports(audit, ExitCode.INTERNAL_ERROR if audit.report_problems else int(session.exitstatus))
    if audit.report_problems:
        session.exitstatus = ExitCode.INTERNAL_ERROR


@pytest.hookimpl(tryfirst=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    if config.stash.get(AUDIT, None) is not None:
        gc.freeze()  # pytest's final gc.collect() passes need not walk every report again


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    audit = config.stash.get(AUDIT, None)
    if audit is None or config.option.collectonly or not audit.judged:
        return  # listing checks, or nothing selected: no verdict
    write_summary(terminalreporter, audit)


# Tests of your own that use testinfra_host: their fixture and hooks live with them.
__all__ = ["pytest_generate_tests", "pytest_runtest_makereport", "testinfra_host"]
