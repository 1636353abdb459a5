"""The pytest plugin: inventory -> parametrised checks -> findings -> gate and reports.

It is registered through the ``pytest11`` entry point and stays inert unless the run is an
audit: ``--inventory``/``--facts-dir`` given, or the collected paths lie in the check suite.
"""

from __future__ import annotations

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
from lmready.estate import Estate, FactsUnavailable
from lmready.findings import (
    Finding,
    PairReadiness,
    counts,
    judge_failure,
    pair_readiness,
    write_findings_json,
)
from lmready.html_report import COMPACT_ABOVE, HEADER_CELLS, details, metadata_html, row_cells, summary_html
from lmready.inventory import Inventory, InventoryError, load_inventory
from lmready.items import CheckItem, run_protocol
from lmready.junit import write_junit
from lmready.live import LiveCollector, Progress
from lmready.remediation.run import Remediation, failing_findings, remediate

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
    findings: list[Finding] = field(default_factory=list)
    compact_html: bool = False  # set after collection: too many results for one HTML table
    remediate: str | None = None  # "plan" or "apply"
    remediation: Remediation | None = None
    _estate: Estate | None = None
    _readiness: list[PairReadiness] | None = None

    def collect(self, progress: Progress | None = None) -> None:
        if self.facts_dir is not None:
            self._estate = SavedFacts(self.facts_dir).collect(self.inventory)
        else:
            self._estate = LiveCollector(progress).collect(self.inventory)

    @property
    def estate(self) -> Estate:
        if self._estate is None:
            self.collect()
        return self._estate

    @property
    def source(self) -> str:
        return str(self.facts_dir) if self.facts_dir is not None else "live (PowerShell Remoting)"

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

    @property
    def readiness(self) -> list[PairReadiness]:
        if self._readiness is None:
            self._readiness = pair_readiness(self.inventory.pairs, self.findings)
        return self._readiness

    @property
    def ready(self) -> bool:
        """The gate passed: results exist and none failed or could not be checked."""
        return bool(self.findings) and not any(f.outcome in ("failed", "error") for f in self.findings)

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
            finding = Finding(meta, target, "error", meta.severity, message)
        if self.remediation is not None:
            self.remediation.annotate(finding)
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
    parser.addini("lmready_inventory", "inventory audited when --inventory is not given")


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
    try:
        gate = Severity.parse(config.option.gate_severity or DEFAULT_GATE)
    except ValueError as exc:
        raise pytest.UsageError(f"--gate-severity: {exc}.") from None
    path = _inventory_path(config)
    try:
        inventory = load_inventory(path)
    except InventoryError as exc:
        raise pytest.UsageError("\n".join(exc.problems)) from None
    known = {meta.id for meta in load_catalogue()}
    unknown = [w for w in inventory.waivers if w.check not in known]
    if unknown:
        raise pytest.UsageError(
            "\n".join(
                f"{w.where}: the waiver names check {w.check}, which does not exist; see the check "
                "catalogue in README.md."
                for w in unknown
            )
        )
    facts_dir = Path(config.option.facts_dir) if config.option.facts_dir else inventory.facts_dir
    if facts_dir is not None and not facts_dir.is_dir():
        raise pytest.UsageError(f"--facts-dir {facts_dir}: no such directory; check the path.")
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
    if not config.option.collectonly:  # listing the checks is not an audit: no reports
        for option, default in DEFAULT_REPORTS.items():
            if getattr(config.option, option, None) is None:
                setattr(config.option, option, default)
    config.option.self_contained_html = True
    if config.option.tbstyle == "auto":
        config.option.tbstyle = "line"  # failures are sentences; tracebacks also cost O(n^2) time
    config.stash[AUDIT] = audit = Audit(
        inventory=inventory,
        facts_dir=facts_dir,
        gate=gate,
        findings_path=Path(config.option.findings_json) if config.option.findings_json else None,
        junit_path=Path(config.option.xmlpath) if config.option.xmlpath else None,
        operator=_operator(),
        started=datetime.now(UTC),
        today=date.today(),
        remediate=config.option.remediate,
    )
    # lmready writes the JUnit file itself, streamed from the findings (see lmready.junit).
    config.option.xmlpath = None
    config.pluginmanager.register(HtmlHooks(audit), "lmready-html")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _progress_line(config: pytest.Config) -> Progress:
    """`collecting facts 12/40` on one terminal line."""
    terminal = config.pluginmanager.get_plugin("terminalreporter")

    def show(what: str, done: int, total: int) -> None:
        if terminal is None or total == 0:
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
    targets = [(h,) for h in inv.hosts] if meta.scope == "host" else list(inv.pairs)
    return [
        CheckItem.from_parent(collector, name=f"{name}[{'->'.join(t)}]", meta=meta, target=t) for t in targets
    ]


def pytest_collection_finish(session: pytest.Session) -> None:
    audit = session.config.stash.get(AUDIT, None)
    if audit is None:
        return
    items = sum(isinstance(i, CheckItem) for i in session.items)
    audit.compact_html = items > COMPACT_ABOVE
    if items and not session.config.option.collectonly:
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
    audit.remediation = remediate(audit.remediate, failing, audit.estate, journal_dir, audit.operator)
    terminal = session.config.pluginmanager.get_plugin("terminalreporter")
    if terminal is not None:
        terminal.write_line("")
        for line in audit.remediation.lines():
            terminal.write_line(line)
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
    finding = getattr(report, "lmready", None)
    if finding is None or report.when != "call":
        return None
    if finding.outcome == "warning":
        return "warning", "W", ("WARNING", {"yellow": True})
    if finding.outcome == "waived":
        return "waived", "w", ("WAIVED", {"yellow": True})
    if finding.outcome == "fixed":
        return "fixed", "+", ("FIXED", {"green": True})
    return None


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
        # Warnings and waived failures travel as pytest's xfail; name the filter for what it holds.
        outcomes["xfailed"]["label"] = "Warnings and waivers"
        if self.audit.compact_html:
            outcomes["passed"]["label"] = "Passed (listed above the table)"
            outcomes["skipped"]["label"] = "Skipped (listed above the table)"

    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells[1:1] = HEADER_CELLS

    def pytest_html_results_table_row(self, report, cells: list[str]) -> None:
        if report.when != "call" and report.passed:
            cells.clear()  # pytest-html drops these rows anyway; clearing skips its work on them
            return
        finding = getattr(report, "lmready", None)
        if finding is not None and self.audit.compact_html and finding.outcome in ("passed", "skipped"):
            cells.clear()  # listed compactly in the summary instead
            return
        escape_test_id(cells)
        cells[1:1] = row_cells(finding) if finding is not None else ["<td></td>"] * len(HEADER_CELLS)

    def pytest_html_results_table_html(self, report, data: list[str]) -> None:
        finding = getattr(report, "lmready", None)
        if finding is not None:
            data[:] = details(finding)

    def pytest_html_results_summary(self, prefix: list[str], summary, postfix, session) -> None:
        audit = self.audit
        hosts = list(dict.fromkeys([h for pair in audit.inventory.pairs for h in pair]))
        compact = audit.findings if audit.compact_html else None
        remediation = audit.remediation.lines() if audit.remediation else None
        prefix.extend(
            summary_html(
                audit.ready,
                str(audit.gate),
                counts(audit.findings),
                hosts,
                audit.readiness,
                compact,
                remediation,
            )
        )


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
    if audit is None:
        return
    if audit.junit_path is not None:
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
            ],
        )
    if audit.findings_path is None:
        return
    header = {
        "lmready_version": __version__,
        "inventory": str(audit.inventory.path),
        "facts": audit.source,
        "operator": audit.operator,
        "started": audit.started.isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "gate_severity": str(audit.gate),
        "ready": audit.ready,
        "exit_code": int(exitstatus),
        "counts": counts(audit.findings),
        "pairs": [
            {
                "src": r.src,
                "dst": r.dst,
                "state": r.state,
                "blocking": sorted({f.check.id for f in r.blocking}),
            }
            for r in audit.readiness
        ],
    }
    write_findings_json(audit.findings_path, header, audit.findings)


@pytest.hookimpl(tryfirst=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    if config.stash.get(AUDIT, None) is not None:
        gc.freeze()  # pytest's final gc.collect() passes need not walk every report again


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    audit = config.stash.get(AUDIT, None)
    if audit is None:
        return
    tr = terminalreporter
    verdict = "READY" if audit.ready else "NOT READY"
    tr.write_sep(
        "=",
        f"lmready: {verdict} (gate severity {audit.gate})",
        green=audit.ready,
        red=not audit.ready,
        bold=True,
    )
    c = counts(audit.findings)
    tr.write_line(", ".join(f"{n} {o}" for o, n in c.items()))
    blocked = [r for r in audit.readiness if r.state != "ready"]
    for r in blocked[:20]:
        ids = ", ".join(sorted({f.check.id for f in r.blocking}))
        tr.write_line(f"  {r.src}->{r.dst}: {r.state} ({ids})")
    if len(blocked) > 20:
        tr.write_line(f"  ... and {len(blocked) - 20} more pairs; see the HTML report")
    for what, path in (("findings", audit.findings_path), ("junit", audit.junit_path)):
        if path is not None:
            tr.write_line(f"{what}: {path}")
    for weak in audit.weak_transports():
        tr.write_line(f"weak transport, as the inventory asks: {weak}", yellow=True)
    if audit.remediation is not None:
        for line in audit.remediation.lines():
            tr.write_line(line)


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
    # testinfra's winrm backend always authenticates with NTLM (message encryption over HTTP).
    return testinfra.get_host(
        f"winrm://{user}:{password}@{host.address}:{c.port}",
        no_ssl=c.scheme == "http",
        no_verify_ssl=not c.verify_tls,
    )


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
    if finding.outcome in ("warning", "waived"):
        report.outcome, report.wasxfail = "skipped", f"{finding.outcome}: {finding.message}"
    report.lmready = finding
    return report
