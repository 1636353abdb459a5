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
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from html import escape
from pathlib import Path
from urllib.parse import quote

import pytest

from lmready import __version__
from lmready.catalogue import AREAS, CheckFailure, CheckMeta, Severity, load_catalogue, meta_of, suite_dir
from lmready.collect import SavedFacts
from lmready.credentials import check_all as check_credentials
from lmready.drift import BaselineError, Key, classify, load_baseline, tally
from lmready.estate import Estate, FactsUnavailable
from lmready.explain import events_round, explain, explain_html, parse_since
from lmready.facts import HostFacts
from lmready.findings import Finding, counts, judge_failure, write_findings_json
from lmready.html_report import COMPACT_ABOVE, HEADER_CELLS, details, metadata_html, row_cells, summary_html
from lmready.inventory import Inventory, InventoryError, load_inventory
from lmready.items import CheckItem, pair_separator, run_protocol
from lmready.junit import write_junit
from lmready.live import LiveCollector, Progress
from lmready.per_vm import Selection
from lmready.remediation.run import Remediation, failing_findings, remediate
from lmready.summary_md import summary_markdown
from lmready.verdict import (
    ExitCode,
    PairReadiness,
    RunVerdict,
    Verdict,
    error_causes,
    pair_readiness,
    run_verdict,
)
from lmready.vmview import vm_targets

DEFAULT_GATE = "high"
DEFAULT_REPORTS = {
    "htmlpath": "reports/report.html",
    "xmlpath": "reports/junit.xml",
    "findings_json": "reports/findings.json",
}


@dataclass
class Audit:
    inventory: Inventory
    facts_dir: Path | None  # None: collect live from the hosts
    gate: Severity
    findings_path: Path | None
    junit_path: Path | None
    operator: str
    started: datetime
    today: date
    catalogue: list[CheckMeta] = field(default_factory=list)  # every check a full run judges
    findings: list[Finding] = field(default_factory=list)
    report_problems: list[str] = field(default_factory=list)  # reports that could not be written
    unjudged_failures: list[str] = field(default_factory=list)  # failed tests that are no lmready check
    compact_html: bool = False  # set after collection: too many results for one HTML table
    remediate: str | None = None  # "plan" or "apply"
    remediation: Remediation | None = None
    summary_paths: list[Path] = field(default_factory=list)  # --summary-md, $GITHUB_STEP_SUMMARY
    baseline: dict[Key, dict] | None = None  # --baseline: the earlier audit's results
    baseline_path: Path | None = None
    pair_separator: str = "-"  # how node ids write a pair (lmready.items.pair_separator)
    compare: Selection = field(default_factory=Selection)  # --compare-vms, --compare-budget (V1)
    explain_since: datetime | None = None  # --explain: read the VMMS-Admin logs since then
    explain_logs: dict = field(default_factory=dict)  # host -> its events, or why not (lmready.explain)
    _estate: Estate | None = None
    _readiness: list[PairReadiness] | None = None
    _verdict: RunVerdict | None = None

    def collect(self, progress: Progress | None = None) -> None:
        if self.facts_dir is not None:
            self._estate = SavedFacts(self.facts_dir).collect(self.inventory)
        else:
            # --explain: the event logs are read on the collection's sessions (lmready.explain).
            extra = events_round(self.explain_since, self.explain_logs) if self.explain_since else None
            self._estate = LiveCollector(progress, selection=self.compare, extra_round=extra).collect(
                self.inventory
            )

    @property
    def estate(self) -> Estate:
        if self._estate is None:
            self.collect()
        return self._estate

    @property
    def source(self) -> str:
        return str(self.facts_dir) if self.facts_dir is not None else "live (PowerShell Remoting)"

    def host_problems(self) -> list[str]:
        """What the collection could not read, one line per host and reason, unless that reason
        is already said as the cause of checks that could not run."""
        said = {c.sentence for c in error_causes(self.findings)}
        lines = []
        for name, facts in (self._estate.hosts if self._estate else {}).items():
            if isinstance(facts, FactsUnavailable):
                if str(facts) not in said:
                    lines.append(str(facts))
                continue
            by_reason: dict[str, list[str]] = {}
            for field_name, reason in facts.unread.items():
                by_reason.setdefault(reason, []).append(field_name)
            for reason, fields in by_reason.items():
                if reason in said or f"{name}: {reason}" in said:
                    continue
                what = "nothing could be read" if len(fields) > 8 else f"unread: {', '.join(sorted(fields))}"
                lines.append(f"{name}: {what} ({reason})")
            lines += [f"{name}: the collection script reported: {error}" for error in facts.script_errors]
        return lines

    def facts_age(self) -> str:
        """When the audited facts were read: a saved estate can be old (README, offline audits)."""
        if self._estate is None:
            return ""
        times = [f.collected_at for f in self._estate.hosts.values() if isinstance(f, HostFacts)]
        if not times:
            return "no host facts"
        oldest = min(times)
        if self.facts_dir is None:
            return f"collected live at {oldest.isoformat(timespec='seconds')}"
        age = self.started - (oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC))
        days, hours = age.days, age.seconds // 3600
        return (
            f"saved, collected at {oldest.isoformat(timespec='seconds')} ({days} days {hours} hours before "
            "this audit); X5 (reachability) does not apply to saved facts"
        )

    def weak_transports(self) -> list[str]:
        """Connections the inventory explicitly allowed to be weaker than the defaults."""
        if self.facts_dir is not None:
            return []
        weak = []
        for host in self.inventory.hosts.values():
            c = host.connection
            if c.scheme == "http":
                protected = c.auth in ("negotiate", "ntlm", "kerberos", "credssp")
                weak.append(
                    f"{host.name}: plain HTTP"
                    + (" with message encryption" if protected else ", unencrypted")
                )
            elif not c.verify_tls:
                weak.append(f"{host.name}: HTTPS without certificate validation")
        weak += [
            f"domain {d.name}: plain LDAP"
            for d in self.inventory.domains
            if d.url.startswith("ldap://") and not d.start_tls
        ]
        return weak

    def drift_counts(self) -> dict[str, int] | None:
        return tally(f.drift for f in self.findings) if self.baseline is not None else None

    @property
    def readiness(self) -> list[PairReadiness]:
        if self._readiness is None:
            self._readiness = pair_readiness(self.inventory.pairs, self.catalogue, self.findings)
        return self._readiness

    @property
    def judged(self) -> bool:
        """Something ran: a run that selected nothing has no verdict (exit 5)."""
        return bool(self.findings or self.unjudged_failures)

    @property
    def verdict(self) -> RunVerdict:
        """READY only when every pair was judged in full and none is blocked (REQUIREMENTS 3b)."""
        if self._verdict is None:
            self._verdict = run_verdict(self.readiness, self.findings, self.unjudged_failures)
        return self._verdict

    def judge(
        self, meta: CheckMeta, target: str, when: str, exc: BaseException | None, skip_reason: str
    ) -> Finding:
        """The finding for one check on one target; recorded for the reports."""
        if skip_reason:
            finding = Finding(meta, target, "skipped", meta.severity, f"{target}: {skip_reason}")
        elif exc is None:
            finding = Finding(meta, target, "passed", meta.severity)
        elif isinstance(exc, CheckFailure):
            finding = judge_failure(meta, target, exc, self.gate, self.inventory.waivers, self.today)
        elif isinstance(exc, AssertionError) and when == "call":
            # Your own checks assert the plain pytest way; the assertion is the observation.
            failure = CheckFailure(_first_line(exc), "what the check asserts", f"see {meta.name}")
            finding = judge_failure(meta, target, failure, self.gate, self.inventory.waivers, self.today)
        else:
            message = (
                str(exc)
                if isinstance(exc, FactsUnavailable)
                else (
                    f"{target}: check {meta.id} could not run in {when}: {type(exc).__name__}: {exc} "
                    "(a bug in lmready or facts it does not understand; please report it)"
                )
            )
            cause = exc.cause if isinstance(exc, FactsUnavailable) else message
            finding = Finding(meta, target, "error", meta.severity, message, cause=cause)
        if self.remediation is not None:
            self.remediation.annotate(finding)
        if self.baseline is not None:
            finding.drift = classify(
                self.baseline.get((meta.id, target)), finding.blocking or finding.outcome == "error"
            )
        self.findings.append(finding)
        return finding


AUDIT = pytest.StashKey[Audit]()


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
            problem = _unwritable(getattr(config.option, option))
            if problem:
                # Said once at the end (exit 3); the other reports are still written.
                report_problems.append(problem)
                setattr(config.option, option, None)
        for path in _summary_paths(config):
            problem = _unwritable(str(path))
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


# pytest's default -r: lmready replaces its per-test lines with its own summary.
DEFAULT_REPORTCHARS = "fE"


def _summary_paths(config: pytest.Config) -> list[Path]:
    paths = [Path(config.option.summary_md)] if config.option.summary_md else []
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:  # GitHub Actions shows what a step appends to this file on the run's page
        paths.append(Path(step_summary))
    return paths


def _unwritable(path: str | None) -> str | None:
    """Why a report cannot be written at ``path``, in one sentence, or None."""
    if not path:
        return None
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a", encoding="utf-8"):
            pass
    except OSError as exc:
        return f"cannot write the report {path}: {exc.strerror or exc}; choose another path or fix its permissions."
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _progress_line(config: pytest.Config) -> Progress:
    """`collecting facts 12/40` on one terminal line."""
    terminal = config.pluginmanager.get_plugin("terminalreporter")

    def show(what: str, done: int, total: int) -> None:
        if terminal is None or total == 0:
            return
        if not terminal.isatty():
            # A CI log has no carriage returns to rewrite with: a line per tenth, not one
            # run-together line.
            if done == total or done % max(1, total // 10) == 0:
                terminal.write_line(f"{what} {done}/{total}")
            return
        terminal.rewrite(f"{what} {done}/{total}", erase=True)
        if done == total:
            terminal.write_line("")

    return show


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
    if meta.scope == "vm":
        targets = _vm_targets(collector.config, audit)
    else:
        targets = [(h,) for h in inv.hosts] if meta.scope == "host" else list(inv.pairs)
    return [
        CheckItem.from_parent(collector, name=name, meta=meta, target=t, separator=audit.pair_separator)
        for t in targets
    ]


def _vm_targets(config: pytest.Config, audit: Audit) -> list[tuple[str, ...]]:
    """Per-VM targets need the VMs: the facts are collected here, once, when the first per-VM
    check is collected (listing the checks of a live inventory connects to no host: none then)."""
    if config.option.collectonly and audit.facts_dir is None:
        return []
    if audit._estate is None:
        # pytest captures output while it collects: the progress lines must reach the terminal.
        capture = config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            audit.collect(_progress_line(config))
    return [t for t in vm_targets(audit.estate, list(audit.inventory.pairs)) if audit.compare.wants(*t)]


def pytest_collection_finish(session: pytest.Session) -> None:
    audit = session.config.stash.get(AUDIT, None)
    if audit is None:
        return
    items = sum(isinstance(i, CheckItem) for i in session.items)
    audit.compact_html = items > COMPACT_ABOVE
    if items and not session.config.option.collectonly:
        if audit._estate is None:  # not yet collected for the per-VM checks
            audit.collect(_progress_line(session.config))
        if audit.remediate:
            _remediate(session, audit)
    # Hundreds of thousands of long-lived objects now exist; keep the cyclic GC from rescanning
    # them over and over while the checks run.
    gc.collect()
    gc.freeze()


def _remediate(session: pytest.Session, audit: Audit) -> None:
    """Plan (and with apply, make and verify) the fixes, then collect again so that every check
    reports the estate as it now is."""
    targets = [(i.meta, i.target_id) for i in session.items if isinstance(i, CheckItem)]
    failing = failing_findings(targets, audit.estate, audit.gate, audit.inventory.waivers, audit.today)
    journal_dir = audit.findings_path.parent if audit.findings_path else Path("reports")
    # The plan (and what became of it) is printed once, in the terminal summary.
    audit.remediation = remediate(audit.remediate, failing, audit.estate, journal_dir, audit.operator)
    if audit.remediation.outcomes:
        audit.collect(_progress_line(session.config))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    if not isinstance(item, CheckItem):
        return None
    audit = item.config.stash[AUDIT]
    run_protocol(item, audit.estate, audit.judge)
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


# --- pytest-html ---------------------------------------------------------------------------


class HtmlHooks:
    """lmready's additions to pytest-html, registered for audits only."""

    def __init__(self, audit: Audit):
        self.audit = audit

    def pytest_html_report_title(self, report) -> None:
        report.title = "lmready: live migration readiness"
        outcomes = getattr(report, "outcomes", None)
        if not isinstance(outcomes, dict) or "xfailed" not in outcomes:
            return
        # The filters keep pytest's outcomes (the report's script filters on them); their labels
        # say what each holds in an audit. Results that do not block travel as pytest's xfail.
        labels = {
            "failed": "blocking failures",
            "xfailed": "not blocking (warnings, waived, below the gate)",
            "error": "could not run",
            "passed": "passed",
            "skipped": "not applicable",
        }
        for key, label in labels.items():
            outcomes[key]["label"] = label

    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        # pytest-html's Duration (always 0 ms: checks judge facts already collected) and Links
        # (lmready adds none) go; its Result column stays for the script, hidden by the style.
        cells[:] = [c for c in cells if "duration" not in c and "<th>Links</th>" not in c]
        cells[1:1] = HEADER_CELLS

    def pytest_html_results_table_row(self, report, cells: list[str]) -> None:
        if report.when != "call" and report.passed:
            cells.clear()  # pytest-html drops these rows anyway; clearing skips its work on them
            return
        finding = getattr(report, "lmready", None)
        if self.audit.compact_html:
            cells.clear()  # every result is on the summary's cards and lists instead
            return
        cells[:] = [
            c for c in cells if not c.startswith(('<td class="col-duration">', '<td class="col-links">'))
        ]
        escape_test_id(cells)
        cells[1:1] = row_cells(finding) if finding is not None else ["<td></td>"] * len(HEADER_CELLS)

    def pytest_html_results_table_html(self, report, data: list[str]) -> None:
        finding = getattr(report, "lmready", None)
        if finding is not None:
            data[:] = details(finding)

    def pytest_html_results_summary(self, prefix: list[str], summary, postfix, session) -> None:
        audit = self.audit
        if not audit.judged:
            prefix.append('<div id="lmready"><h2>No checks were selected: no verdict.</h2></div>')
            return
        hosts = list(dict.fromkeys([h for pair in audit.inventory.pairs for h in pair]))
        compact = audit.findings if audit.compact_html else None
        start = len(prefix)
        prefix.extend(
            summary_html(
                audit.verdict,
                str(audit.gate),
                counts(audit.findings),
                hosts,
                audit.readiness,
                error_causes(audit.findings),
                audit.host_problems(),
                audit.facts_age(),
                compact,
                audit.remediation,
                audit.findings,
                audit._estate.hosts if audit._estate is not None else None,
            )
        )
        if audit.explain_since is not None and audit._estate is not None:
            # Inside lmready's summary, after the VM view and before pytest-html's table.
            section = explain_html(explain(audit._estate, audit.explain_logs, audit.explain_since))
            ends = [
                i
                for i, part in enumerate(prefix)
                if i >= start and part in ("<h3>Every result</h3>", "</div>")
            ]
            prefix.insert(ends[0] if ends else len(prefix), section)


_TESTID_CELL = '<td class="col-testId">'


def escape_test_id(cells: list[str]) -> None:
    """pytest-html puts the test id in unescaped; ids carry host names."""
    for i, cell in enumerate(cells):
        if cell.startswith(_TESTID_CELL) and cell.endswith("</td>"):
            cells[i] = _TESTID_CELL + escape(cell[len(_TESTID_CELL) : -5]) + "</td>"


# --- end of run ----------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    audit = session.config.stash.get(AUDIT, None)
    if audit is None or session.config.option.collectonly:
        return
    if audit.judged and exitstatus in (
        pytest.ExitCode.OK,
        pytest.ExitCode.TESTS_FAILED,
    ):
        # pytest's 0/1 say whether a test failed; an audit's say what the verdict is.
        session.exitstatus = audit.verdict.exit_code
    _write_reports(audit, ExitCode.INTERNAL_ERROR if audit.report_problems else int(session.exitstatus))
    if audit.report_problems:
        session.exitstatus = ExitCode.INTERNAL_ERROR


def _write_reports(audit: Audit, exit_code: int) -> None:
    """JUnit and findings.json; a report that cannot be written is one sentence, and the others
    are still written."""
    if audit.junit_path is not None:
        try:
            write_junit(
                audit.junit_path,
                audit.findings,
                audit.started,
                (datetime.now(UTC) - audit.started).total_seconds(),
                [
                    ("lmready_version", __version__),
                    ("inventory", str(audit.inventory.path)),
                    ("operator", audit.operator),
                    ("gate_severity", str(audit.gate)),
                    ("verdict", str(audit.verdict.verdict) if audit.judged else "none: no checks selected"),
                    *((("baseline", str(audit.baseline_path)),) if audit.baseline_path else ()),
                    *(("collection_problem", line) for line in audit.host_problems()),
                ],
            )
        except OSError as exc:
            audit.report_problems.append(
                f"cannot write the report {audit.junit_path}: {exc.strerror or exc}."
            )
    if audit.summary_paths:
        _write_summaries(audit)
    if audit.findings_path is None:
        return
    verdict = audit.verdict
    header = {
        "lmready_version": __version__,
        "inventory": str(audit.inventory.path),
        "facts": audit.source,
        "facts_collected": audit.facts_age(),
        "operator": audit.operator,
        "started": audit.started.isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "gate_severity": str(audit.gate),
        # No checks selected (exit 5) is no verdict, not INCOMPLETE.
        "verdict": str(verdict.verdict) if audit.judged else None,
        "ready": audit.judged and verdict.verdict is Verdict.READY,
        "verdict_reasons": verdict.reasons if audit.judged else ["no checks were selected"],
        "exit_code": exit_code,
        "counts": counts(audit.findings),
        "pairs": [
            {
                "src": r.src,
                "dst": r.dst,
                "state": str(r.state),
                "blocking": sorted({f.check.id for f in r.blocking}),
                "could_not_run": sorted({f.check.id for f in r.errors}),
                "not_selected": len(r.not_selected),
            }
            for r in audit.readiness
        ],
        "causes": [
            {"cause": c.sentence, "results": len(c.findings), "targets": c.targets}
            for c in error_causes(audit.findings)
        ],
        "collection_problems": audit.host_problems(),
    }
    if audit.remediation is not None:
        header["remediation"] = audit.remediation.as_record()
    if audit.baseline_path is not None:
        header["baseline"] = str(audit.baseline_path)
        header["drift"] = audit.drift_counts()
    try:
        write_findings_json(audit.findings_path, header, audit.findings)
    except OSError as exc:
        audit.report_problems.append(f"cannot write the report {audit.findings_path}: {exc.strerror or exc}.")


def _write_summaries(audit: Audit) -> None:
    """--summary-md is written, $GITHUB_STEP_SUMMARY appended to (other steps write there too)."""
    text = (
        "## lmready: no checks were selected; no verdict\n"
        if not audit.findings
        else summary_markdown(
            audit.verdict,
            str(audit.gate),
            counts(audit.findings),
            list(dict.fromkeys([h for pair in audit.inventory.pairs for h in pair])),
            audit.readiness,
            audit.findings,
            error_causes(audit.findings),
            drift=audit.drift_counts(),
            remediation=audit.remediation.lines() if audit.remediation else None,
        )
    )
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    for path in audit.summary_paths:
        append = step_summary is not None and path == Path(step_summary)
        try:
            with path.open("a" if append else "w", encoding="utf-8") as out:
                out.write(("\n" if append and path.stat().st_size else "") + text)
        except OSError as exc:
            audit.report_problems.append(f"cannot write the report {path}: {exc.strerror or exc}.")


@pytest.hookimpl(tryfirst=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    if config.stash.get(AUDIT, None) is not None:
        gc.freeze()  # pytest's final gc.collect() passes need not walk every report again


# How many lines of each kind the terminal summary shows before pointing to the reports.
TERMINAL_LINES = 20


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    audit = config.stash.get(AUDIT, None)
    if audit is None or config.option.collectonly or not audit.judged:
        return  # listing checks, or nothing selected: no verdict
    tr = terminalreporter

    def listing(title: str, lines: list[str]) -> None:
        if not lines:
            return
        tr.write_line(f"{title}:")
        for line in lines[:TERMINAL_LINES]:
            tr.write_line(f"  {line}")
        if len(lines) > TERMINAL_LINES:
            tr.write_line(f"  ... and {len(lines) - TERMINAL_LINES} more; see the reports")

    def result(f: Finding) -> str:
        text = f"{f.check.id} ({f.check.ref}) {f.check.title}: {f.message}"
        if f.drift in ("new", "still failing"):
            text = f"[{f.drift}] {text}"
        return text if not f.fix or f.fix in f.message else f"{text}; fix: {f.fix}"

    failed = [f for f in audit.findings if f.outcome == "failed"]
    listing("blocking failures", [result(f) for f in failed if f.blocking])
    listing(
        "failures below the gate (not blocking)",
        [result(f) for f in failed if not f.blocking and not f.waiver],
    )
    listing("waived failures", [result(f) for f in failed if f.waiver is not None])
    listing("warnings (advisory)", [result(f) for f in audit.findings if f.outcome == "warning"])
    listing(
        "could not run",
        [f"{c.sentence} ({len(c.findings)} results)" for c in error_causes(audit.findings)],
    )
    listing("collection problems", audit.host_problems())
    if audit.baseline is not None:
        listing(
            f"fixed since the baseline {audit.baseline_path}",
            [
                f"{f.check.id} ({f.check.ref}) {f.check.title} [{f.target}]"
                for f in audit.findings
                if f.drift == "fixed"
            ],
        )

    verdict = audit.verdict
    tr.write_sep(
        "=",
        f"lmready: {verdict.verdict} (gate severity {audit.gate})",
        green=verdict.verdict is Verdict.READY,
        red=verdict.verdict is Verdict.NOT_READY,
        yellow=verdict.verdict is Verdict.INCOMPLETE,
        bold=True,
    )
    tr.write_line(", ".join(f"{n} {label}" for label, n in counts(audit.findings).items() if n))
    drift = audit.drift_counts()
    if drift is not None:
        tr.write_line("against the baseline: " + ", ".join(f"{n} {k}" for k, n in drift.items()))
    for reason in verdict.reasons:
        tr.write_line(reason)
    listing(
        "pairs",
        [f"{r.target}: {r.state} ({_pair_detail(r)})" for r in audit.readiness if r.state != "ready"],
    )
    if audit.facts_dir is not None:
        tr.write_line(f"facts: {audit.facts_age()}")
    for what, path in (("findings", audit.findings_path), ("junit", audit.junit_path)):
        if path is not None:
            tr.write_line(f"{what}: {path}")
    for weak in audit.weak_transports():
        tr.write_line(f"weak transport, as the inventory asks: {weak}", yellow=True)
    if audit.remediation is not None:
        for line in audit.remediation.lines():
            tr.write_line(line)
    for problem in audit.report_problems:
        tr.write_line(f"lmready: {problem}", red=True)


def _pair_detail(r: PairReadiness) -> str:
    parts = []
    if r.blocking:
        checks = sorted({f.check.id: f.check for f in r.blocking}.values(), key=lambda c: c.id)
        parts.append("blocked by " + "; ".join(f"{c.id} ({c.ref}) {c.title}" for c in checks))
    if r.errors:
        ids = sorted({f.check.id for f in r.errors})
        parts.append(
            f"{len(ids)} checks could not run" if len(ids) > 5 else "could not run " + ", ".join(ids)
        )
    if r.not_selected:
        parts.append(f"{len(r.not_selected)} results not selected")
    return "; ".join(parts)


# --- your own checks, the testinfra way ------------------------------------------------------


@pytest.fixture
def testinfra_host(request: pytest.FixtureRequest):
    """A pytest-testinfra host (winrm:// backend) for one inventory host.

    Tests that use it run once per inventory host and appear in every report like lmready's
    own checks (give them @pytest.mark.lmready(id=..., ref=..., severity=...) for a stable ID).
    """
    audit = request.config.stash.get(AUDIT, None)
    if audit is None:
        pytest.skip("testinfra_host needs an audit: run with --inventory")
    return testinfra_for(audit.inventory, request.param)


def testinfra_for(inventory: Inventory, name: str):
    import testinfra

    from lmready.credentials import resolve

    host = inventory.hosts[name]
    c = host.connection
    secret = resolve(c.credential, inventory.credentials.get(c.credential or ""))
    user = quote(secret.username, safe="") if secret else ""
    password = quote(secret.password, safe="") if secret else ""
    testinfra_host = testinfra.get_host(
        f"winrm://{user}:{password}@{host.address}:{c.port}",
        no_ssl=c.scheme == "http",
        no_verify_ssl=not c.verify_tls,
    )
    # testinfra's winrm backend hands conn_args to pywinrm's Protocol but sets only the endpoint,
    # NTLM and "ignore" itself: the inventory's authentication and private CA go in here.
    conn = testinfra_host.backend.conn_args
    conn["transport"] = PYWINRM_TRANSPORTS.get(c.auth, "ntlm")
    if c.auth == "certificate":
        conn["cert_pem"], conn["cert_key_pem"] = str(c.client_certificate), str(c.client_key)
    if c.scheme == "https":
        conn["server_cert_validation"] = "validate" if c.verify_tls else "ignore"
        if c.verify_tls and c.ca_bundle:
            conn["ca_trust_path"] = str(c.ca_bundle)
    return testinfra_host


# The inventory's WinRM auth as pywinrm names it; negotiate is NTLM to pywinrm.
PYWINRM_TRANSPORTS = {
    "negotiate": "ntlm",
    "ntlm": "ntlm",
    "basic": "basic",
    "kerberos": "kerberos",
    "credssp": "credssp",
    "certificate": "certificate",
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    audit = metafunc.config.stash.get(AUDIT, None)
    if audit is not None and "testinfra_host" in metafunc.fixturenames:
        names = list(audit.inventory.hosts)
        metafunc.parametrize("testinfra_host", names, ids=names, indirect=True)


def _user_check(item: pytest.Item) -> CheckMeta | None:
    """Metadata for a test of your own that runs per inventory host."""
    callspec = getattr(item, "callspec", None)
    if callspec is None or "testinfra_host" not in callspec.params:
        return None
    mark = item.get_closest_marker("lmready")
    kw = mark.kwargs if mark else {}
    func = item.function
    doc = (func.__doc__ or "").strip().splitlines()
    return CheckMeta(
        id=kw.get("id", "USER"),
        ref=kw.get("ref", "-"),
        title=kw.get("title", doc[0] if doc else func.__name__),
        severity=Severity.parse(kw.get("severity", "high")),
        area="extra",
        scope="host",
        fix=None,
        directory="none",
        applies=None,
        func=func,
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    audit = item.config.stash.get(AUDIT, None)
    meta = _user_check(item) if audit is not None else None
    if meta is None or call.when == "teardown" or (call.when == "setup" and report.passed):
        return report
    target = str(item.callspec.params["testinfra_host"])
    exc = call.excinfo.value if call.excinfo else None
    skip = ""
    if report.skipped:
        skip = (
            report.longrepr[2].removeprefix("Skipped: ") if isinstance(report.longrepr, tuple) else "skipped"
        )
    finding = audit.judge(meta, target, call.when, exc if not skip else None, skip)
    finding.nodeid, finding.duration = item.nodeid, report.duration
    if finding.outcome == "warning" or (finding.outcome == "failed" and not finding.blocking):
        report.outcome, report.wasxfail = "skipped", f"{finding.outcome}: {finding.message}"
    report.lmready = finding
    return report
