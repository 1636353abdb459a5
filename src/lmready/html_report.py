"""What lmready adds to the pytest-html report: the verdict and readiness matrix on top, and
per-result columns and details.

Everything here is escaped: host, VM and switch names come from inventories and hosts, and
pytest-html inserts row cells and details through innerHTML.
"""

from __future__ import annotations

import html
from typing import Any

from lmready.findings import Finding, count_label
from lmready.text import printable, redact
from lmready.verdict import Cause, PairReadiness, RunVerdict, Verdict


def escape(text: str) -> str:
    """HTML-escaped, and printable: a lone surrogate would stop pytest-html writing the file."""
    return html.escape(printable(text, newlines=True))


def metadata_html(metadata: dict[str, Any]) -> dict[str, Any]:
    """pytest-metadata's values as pytest-html may show them.

    pytest-html inserts every value, the keys of dict values and whatever lies deeper through
    innerHTML; the values are lmready's, CI variables (a branch name is anyone's choice) and
    --metadata options. So: credentials removed (by variable name, in URLs, by token shape),
    then every string escaped. Top-level keys are shown as text: only made printable."""
    return {printable(str(k)): _html_data(redact(str(k), v)) for k, v in metadata.items()}


def _html_data(value: Any) -> Any:
    if isinstance(value, dict):
        return {escape(str(k)): _html_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_html_data(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return escape(str(value))


# Above this many results, passed and not-applicable results leave pytest-html's table for a
# compact list per check: the table renders every row at once in the browser, about 2 ms a
# row, so 100,000 rows took minutes; the problems stay in the table.
COMPACT_ABOVE = 2000

STYLE = """
<style>
#lmready h2 { margin-top: 0.3em; }
.lm-verdict-ready { color: #1a7f37; } .lm-verdict-notready { color: #cf222e; }
.lm-verdict-incomplete { color: #9a6700; }
table.lm-matrix { border-collapse: collapse; font-size: 12px; margin: 0.5em 0; }
table.lm-matrix th, table.lm-matrix td { border: 1px solid #ccc; padding: 2px 5px; text-align: center; }
table.lm-matrix th.lm-corner { font-weight: normal; color: #555; }
td.lm-ready { background: #dafbe1; } td.lm-not-ready { background: #ffd8d3; }
td.lm-incomplete { background: #fff1c2; } td.lm-none { color: #aaa; }
td.lm-not-ready a, td.lm-incomplete a { color: inherit; font-weight: bold; }
#lmready details { margin: 0.2em 0; } #lmready details p { margin: 0.2em 1em; font-size: 12px; }
.lm-pair { margin: 0.3em 0 0.6em 0; } .lm-pair ul { margin: 0.2em 0; }
</style>
"""


def anchor(src: str, dst: str) -> str:
    return f"lm-pair-{src}--{dst}"


VERDICT_CSS = {
    Verdict.READY: "lm-verdict-ready",
    Verdict.NOT_READY: "lm-verdict-notready",
    Verdict.INCOMPLETE: "lm-verdict-incomplete",
}


def summary_html(
    verdict: RunVerdict,
    gate: str,
    counts: dict[str, int],
    hosts: list[str],
    readiness: list[PairReadiness],
    causes: list[Cause],
    host_problems: list[str],
    facts_age: str,
    compact: list[Finding] | None,
    remediation: list[str] | None = None,
) -> list[str]:
    parts = [STYLE, '<div id="lmready">']
    parts.append(
        f'<h2 class="{VERDICT_CSS[verdict.verdict]}">Live migration readiness: {escape(verdict.verdict)}</h2>'
        f"<p>Gate severity: <b>{escape(gate)}</b>. "
        + ", ".join(f"{n} {escape(label)}" for label, n in counts.items() if n)
        + ".</p>"
    )
    if verdict.reasons:
        parts.append("<ul>" + "".join(f"<li>{escape(r)}</li>" for r in verdict.reasons) + "</ul>")
    if facts_age:
        parts.append(f"<p>Facts: {escape(facts_age)}.</p>")
    if remediation:
        parts.append("<h3>Remediation</h3><pre>" + escape("\n".join(remediation)) + "</pre>")
    parts.append(matrix_html(hosts, readiness))
    parts.append(causes_html(causes, host_problems))
    parts.append(pair_details_html(readiness))
    if compact is not None:
        parts.append(compact_html(compact))
    parts.append("</div>")
    return parts


def causes_html(causes: list[Cause], host_problems: list[str]) -> str:
    """Why checks could not run, once per cause (a wrong password is one line, not fifty)."""
    out = []
    if causes:
        out.append("<h3>Could not run</h3><ul>")
        out += [
            f"<li>{escape(c.sentence)} <i>({len(c.findings)} results on {escape(', '.join(c.targets[:6]))}"
            f"{', ...' if len(c.targets) > 6 else ''})</i></li>"
            for c in causes
        ]
        out.append("</ul>")
    if host_problems:
        out.append("<h3>Collection problems</h3><ul>")
        out += [f"<li>{escape(line)}</li>" for line in host_problems]
        out.append("</ul>")
    return "".join(out)


def compact_html(findings: list[Finding]) -> str:
    """Passed and not-applicable results, one line per check (and per skip reason)."""
    passed: dict[str, list[Finding]] = {}
    skipped: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        if f.outcome == "passed":
            passed.setdefault(f.check.id, []).append(f)
        elif f.outcome == "skipped":
            reason = f.message.removeprefix(f"{f.target}: ")
            skipped.setdefault((f.check.id, reason), []).append(f)
    out = [
        "<h3>Passed and not applicable</h3><p>This run has too many results for one table: the "
        "table below holds failures, warnings, waivers and errors, and the passed and "
        "not-applicable results are listed here, per check. <code>findings.json</code> has "
        "every result.</p>"
    ]
    for group, label in ((passed, "passed"), (skipped, "not applicable")):
        for key, items in group.items():
            c = items[0].check
            why = f" ({key[1]})" if isinstance(key, tuple) else ""
            targets = ", ".join(f.target for f in items)
            out.append(
                f"<details><summary>{escape(c.id)} ({escape(c.ref)}) {escape(c.title)}: "
                f"{len(items)} {label}{escape(why)}</summary><p>{escape(targets)}</p></details>"
            )
    return "".join(out)


# Beyond this many hosts the matrix shows symbols, so that it still fits a screen.
WIDE_MATRIX = 12
SYMBOLS = {"ready": "&#10003;", "not ready": "&#10007;", "incomplete": "?"}
CELL_CSS = {"ready": "lm-ready", "not ready": "lm-not-ready", "incomplete": "lm-incomplete"}


def matrix_html(hosts: list[str], readiness: list[PairReadiness]) -> str:
    if not readiness:
        return "<p>No pairs in the inventory: no migration direction was judged.</p>"
    wide = len(hosts) > WIDE_MATRIX

    def label(state: str) -> str:
        return SYMBOLS[state] if wide else escape(state)

    cells = {(r.src, r.dst): r for r in readiness}
    rows = []
    if wide:
        rows.append(
            "<p>&#10003; ready, &#10007; not ready, ? incomplete, &ndash; not a pair of the inventory.</p>"
        )
    rows += ['<table class="lm-matrix"><tr><th class="lm-corner">source &darr; / destination &rarr;</th>']
    rows += [f"<th>{escape(h)}</th>" for h in hosts]
    rows.append("</tr>")
    for src in hosts:
        rows.append(f"<tr><th>{escape(src)}</th>")
        for dst in hosts:
            r = cells.get((src, dst))
            if r is None:
                rows.append('<td class="lm-none">&ndash;</td>')
            elif r.state == "ready":
                rows.append(f'<td class="lm-ready">{label("ready")}</td>')
            else:
                title = escape(f"{src}->{dst}: {r.state}")
                rows.append(
                    f'<td class="{CELL_CSS[r.state]}" title="{title}">'
                    f'<a href="#{escape(anchor(src, dst))}">{label(r.state)}</a></td>'
                )
        rows.append("</tr>")
    rows.append("</table>")
    return "".join(rows)


def pair_details_html(readiness: list[PairReadiness]) -> str:
    blocked = [r for r in readiness if r.state != "ready"]
    if not blocked:
        return ""
    out = ["<h3>Why pairs are not ready</h3>"]
    for r in blocked:
        out.append(
            f'<div class="lm-pair" id="{escape(anchor(r.src, r.dst))}">'
            f"<b>{escape(r.src)} &rarr; {escape(r.dst)}: {escape(r.state)}</b><ul>"
        )
        out += [
            f"<li>{escape(f.check.id)} ({escape(f.check.ref)}) {escape(f.check.title)}: "
            f"{escape(f.message)}</li>"
            for f in r.blocking
        ]
        by_cause: dict[str, list[str]] = {}
        for f in r.errors:
            by_cause.setdefault(f.cause or f.message, []).append(f.check.id)
        out += [
            f"<li>could not run {escape(', '.join(sorted(set(ids))))}: {escape(cause)}</li>"
            for cause, ids in by_cause.items()
        ]
        if r.not_selected:
            out.append(
                f"<li>{len(r.not_selected)} results this pair needs were not selected in this run</li>"
            )
        out.append("</ul></div>")
    return "".join(out)


HEADER_CELLS = [
    '<th class="sortable" data-column-type="verdict">Verdict</th>',
    '<th class="sortable" data-column-type="checkId">Check</th>',
    '<th class="sortable" data-column-type="target">Target</th>',
    '<th class="sortable" data-column-type="severity">Severity</th>',
    '<th data-column-type="ref">Ref</th>',
    '<th data-column-type="title">Requirement</th>',
]


def row_cells(finding: Finding) -> list[str]:
    c = finding.check
    return [
        f'<td class="col-verdict">{escape(count_label(finding))}'
        + (
            f" ({escape(finding.remediation)})"
            if finding.remediation and finding.remediation != finding.outcome
            else ""
        )
        + "</td>",
        f'<td class="col-checkId">{escape(c.id)}</td>',
        f'<td class="col-target">{escape(finding.target)}</td>',
        f'<td class="col-severity">{escape(str(finding.severity))}</td>',
        f'<td class="col-ref">{escape(c.ref)}</td>',
        f'<td class="col-title">{escape(c.title)}</td>',
    ]


def details(finding: Finding) -> list[str]:
    """The expandable text under a row (inserted as HTML, so escaped here).

    Labels are lower case: pytest-html paints every line that starts with "E" red."""
    c = finding.check
    lines = [f"requirement {c.ref}: {c.title} [{c.id}, severity {finding.severity}]"]
    if finding.observed or finding.expected:
        lines += [
            f"observed: {finding.observed}",
            f"expected: {finding.expected}",
            f"fix: {finding.fix}" + (f" (lmready fix: {c.fix})" if c.fix else ""),
        ]
    elif finding.message:
        lines.append(finding.message)
    if finding.waiver is not None:
        w = finding.waiver
        lines.append(f"waived until {w.expires or 'further notice'}: {w.justification} ({w.where})")
    return [escape("\n".join(lines))]
