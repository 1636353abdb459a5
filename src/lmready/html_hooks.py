"""lmready's additions to pytest-html: labels, columns, rows and the summary at the top."""

from __future__ import annotations

from html import escape

from lmready.audit import Audit
from lmready.explain import explain, explain_html
from lmready.findings import counts
from lmready.html_report import HEADER_CELLS, details, row_cells, summary_html
from lmready.verdict import error_causes


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
