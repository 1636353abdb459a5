"""What lmready adds to the pytest-html report: the verdict and readiness matrix on top, and
per-result columns and details.

Everything here is escaped: host, VM and switch names come from inventories and hosts, and
pytest-html inserts row cells and details through innerHTML.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from lmready.facts import HostFacts
from lmready.findings import Finding, count_label
from lmready.remediation.change import show
from lmready.remediation.run import Remediation
from lmready.text import printable, redact
from lmready.values import Target
from lmready.verdict import Cause, PairReadiness, RunVerdict, Verdict
from lmready.windows import VERSIONS_2012_R2, WINDOWS_SERVER_2012_R2, version_key, version_range


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


# Above this many results pytest-html's table is left out (see compact_html): it renders every
# row at once in the browser, about 2 ms a row: 100,000 rows took minutes, the 1,300 failures
# of 100 hosts 2.6 s, and the 1,270 results of 10 hosts 3.2 s.
COMPACT_ABOVE = 1000
# A check passed on 9,800 pairs is a count, not a list: the 2 MB of names took 0.7 s to open.
LISTED_TARGETS = 200

# pytest-html's page reordered and relabelled with CSS only (its template stays as it is):
# the body becomes a flex column so that the Python/Platform/Plugins environment table moves
# to the end, its grey body text becomes dark, and the parts that mean nothing in an audit
# (the "N tests took 0 ms" line, the unexpected-pass and rerun filters) are hidden.
STYLE = """
<style>
body { display: flex; flex-direction: column; color: #1f2328; }
body > * { order: 1; } #environment-header, #environment { order: 9; }
a { color: #0550ae; }
.summary__data > h2, p.run-count, p.filter { display: none; }
.filters input[data-test-result="xpassed"], .filters input[data-test-result="xpassed"] + span,
.filters input[data-test-result="rerun"], .filters input[data-test-result="rerun"] + span,
.filters input[data-test-result="retried"], .filters input[data-test-result="retried"] + span
{ display: none; }
#results-table th[data-column-type="result"], #results-table td.col-result { display: none; }
.failed td.col-verdict, .error td.col-verdict { color: #cf222e; }
.xfailed td.col-verdict { color: #9a6700; } .passed td.col-verdict { color: #1a7f37; }
#lmready { font-size: 13px; color: #1f2328; }
#lmready h2.lm-verdict { font-size: 22px; margin: 0.2em 0; padding: 6px 10px; color: #fff; }
.lm-verdict-ready { background: #1a7f37; } .lm-verdict-notready { background: #cf222e; }
.lm-verdict-incomplete { background: #9a6700; }
#lmready p.lm-counts { font-size: 14px; }
#lmready h3 { margin: 1em 0 0.3em 0; }
table.lm-matrix, table.lm-table { border-collapse: collapse; margin: 0.4em 0; }
table.lm-matrix th, table.lm-matrix td { border: 1px solid #ccc; padding: 2px 5px; text-align: center; }
table.lm-table th, table.lm-table td { border: 1px solid #ccc; padding: 2px 5px; text-align: left;
  vertical-align: top; }
table.lm-table th { background: #f6f8fa; }
table.lm-matrix th.lm-corner { font-weight: normal; color: #57606a; }
td.lm-ready { background: #dafbe1; } td.lm-ready-notes { background: #eef7c8; }
td.lm-not-ready { background: #ffd8d3; } td.lm-incomplete { background: #fff1c2; }
td.lm-none { color: #8c959f; }
table.lm-matrix td a { color: inherit; text-decoration: none; }
td.lm-not-ready a, td.lm-incomplete a { font-weight: bold; }
#lmready details { margin: 0.2em 0; } #lmready details p { margin: 0.2em 1em; font-size: 12px; }
.lm-pair { margin: 0.3em 0 0.8em 0; padding: 4px 8px; border-left: 4px solid #d0d7de; }
.lm-pair:target { border-left-color: #0969da; background: #f6f8fa; }
.lm-pair ul { margin: 0.2em 0; }
</style>
"""


def anchor(src: str, dst: str) -> str:
    return f"lm-pair-{src}--{dst}"


VERDICT_CSS = {
    Verdict.READY: "lm-verdict-ready",
    Verdict.NOT_READY: "lm-verdict-notready",
    Verdict.INCOMPLETE: "lm-verdict-incomplete",
}

# A ready pair on which warnings or non-blocking failures (waived, below the gate) remain: still
# ready, but a change board wants to see what was accepted.
READY_WITH_NOTES = "ready with warnings or waivers"


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
    remediation: Remediation | None = None,
    findings: list[Finding] | None = None,
    facts: dict[str, Any] | None = None,
) -> list[str]:
    notes = pair_notes(readiness, findings or [])
    parts = [STYLE, '<div id="lmready">']
    parts.append(
        f'<h2 id="lm-verdict" class="lm-verdict {VERDICT_CSS[verdict.verdict]}">'
        f"Live migration readiness: {escape(verdict.verdict)}</h2>"
        f'<p class="lm-counts">Gate severity: <b>{escape(gate)}</b>. '
        + ", ".join(f"<b>{n}</b> {escape(label)}" for label, n in counts.items() if n)
        + ".</p>"
    )
    if verdict.reasons:
        parts.append("<ul>" + "".join(f"<li>{escape(r)}</li>" for r in verdict.reasons) + "</ul>")
    if facts_age:
        parts.append(f"<p>Facts: {escape(facts_age)}.</p>")
    parts.append(matrix_html(hosts, readiness, notes))
    parts.append(causes_html(causes, host_problems))
    parts.append(pair_details_html(readiness, notes, wide=len(hosts) > WIDE_MATRIX))
    if facts:
        parts.append(vms_html(vm_moves(facts, readiness, findings or [])))
    if remediation is not None:
        parts.append(remediation_html(remediation))
    if compact is not None:
        parts.append(compact_html(compact))
    if compact is None:
        parts.append("<h3>Every result</h3>")
    parts.append("</div>")
    return parts


def pair_notes(readiness: list[PairReadiness], findings: list[Finding]) -> dict[str, list[Finding]]:
    """Per pair target, the results on the pair or either host that neither pass nor block:
    warnings, waived failures, failures below the gate."""
    by_target: dict[str, list[Finding]] = {}
    for f in findings:
        if f.outcome == "warning" or (f.outcome == "failed" and not f.blocking):
            by_target.setdefault(f.target, []).append(f)
    return {r.target: [f for t in (r.src, r.dst, r.target) for f in by_target.get(t, [])] for r in readiness}


def cell_state(r: PairReadiness, notes: dict[str, list[Finding]]) -> str:
    if r.state == "ready" and notes.get(r.target):
        return READY_WITH_NOTES
    return str(r.state)


def causes_html(causes: list[Cause], host_problems: list[str]) -> str:
    """Why checks could not run, once per cause (a wrong password is one line, not fifty)."""
    out = []
    if causes:
        out.append(
            '<h3>Could not run</h3><table class="lm-table"><tr><th>Cause</th><th>Results</th>'
            "<th>Where</th></tr>"
        )
        out += [
            f"<tr><td>{escape(c.sentence)}</td><td>{len(c.findings)}</td>"
            f"<td>{escape(', '.join(c.targets[:6]))}{' and ' + str(len(c.targets) - 6) + ' more' if len(c.targets) > 6 else ''}</td></tr>"
            for c in causes
        ]
        out.append("</table>")
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
    # The browser draws pytest-html's table at about 2 ms a row: above COMPACT_ABOVE results
    # it is left out (the failures, warnings and waivers are on the pair and host cards, the
    # errors under "Could not run"), and passed and not-applicable results are listed here.
    out = [
        "<style>#results-table, .controls { display: none; }</style>"
        "<h3>Passed and not applicable</h3><p>This run has too many results for one table: "
        "failures, warnings and waivers are on the pair and host cards above, what could not run "
        "under &quot;Could not run&quot;, and the passed and not-applicable results are listed "
        "here, per check (with their targets up to 200). <code>findings.json</code> has every "
        "result.</p>"
    ]
    for group, label in ((passed, "passed"), (skipped, "not applicable")):
        for key, items in group.items():
            c = items[0].check
            why = f" ({key[1]})" if isinstance(key, tuple) else ""
            targets = (
                ", ".join(f.target for f in items)
                if len(items) <= LISTED_TARGETS
                else f"on {len(items)} targets (findings.json lists them)"
            )
            out.append(
                f"<details><summary>{escape(c.id)} ({escape(c.ref)}) {escape(c.title)}: "
                f"{len(items)} {label}{escape(why)}</summary><p>{escape(targets)}</p></details>"
            )
    return "".join(out)


# Beyond this many hosts the matrix shows symbols, so that it still fits a screen, and ready
# cells no longer link to a card each (9,900 cards of "nothing to report" at 100 hosts).
WIDE_MATRIX = 12
SYMBOLS = {"ready": "&#10003;", READY_WITH_NOTES: "&#10003;!", "not ready": "&#10007;", "incomplete": "?"}
CELL_CSS = {
    "ready": "lm-ready",
    READY_WITH_NOTES: "lm-ready-notes",
    "not ready": "lm-not-ready",
    "incomplete": "lm-incomplete",
}


def matrix_html(hosts: list[str], readiness: list[PairReadiness], notes: dict[str, list[Finding]]) -> str:
    if not readiness:
        return "<p>No pairs in the inventory: no migration direction was judged.</p>"
    wide = len(hosts) > WIDE_MATRIX

    def label(state: str) -> str:
        return SYMBOLS[state] if wide else escape(state)

    cells = {(r.src, r.dst): r for r in readiness}
    rows = []
    if wide:
        rows.append(
            "<p>&#10003; ready, &#10003;! ready with warnings or waivers, &#10007; not ready, "
            "? incomplete, &ndash; not a pair of the inventory.</p>"
        )
    rows += ['<table class="lm-matrix"><tr><th class="lm-corner">source &darr; / destination &rarr;</th>']
    rows += [f"<th>{escape(h)}</th>" for h in hosts]
    rows.append("</tr>")
    for src in hosts:
        rows.append(f"<tr><th>{escape(src)}</th>")
        for dst in hosts:
            r = cells.get((src, dst))
            if r is None:
                rows.append('<td class="lm-none" title="not asked">&ndash;</td>')
                continue
            state = cell_state(r, notes)
            if wide and state == "ready":
                rows.append(f'<td class="lm-ready">{label(state)}</td>')
                continue
            title = escape(f"{Target.pair(src, dst)}: {state}")
            rows.append(
                f'<td class="{CELL_CSS[state]}" title="{title}">'
                f'<a href="#{escape(anchor(src, dst))}">{label(state)}</a></td>'
            )
        rows.append("</tr>")
    rows.append("</table>")
    return "".join(rows)


def _field(text: str) -> str:
    return escape(text) if text else "&ndash;"


def blockers_table(findings: list[Finding], label: bool = False) -> str:
    head = "<th>Result</th>" if label else ""
    out = [
        f'<table class="lm-table lm-blockers"><tr>{head}<th>Check</th><th>Target</th><th>Observed</th>'
        "<th>Expected</th><th>Fix</th></tr>"
    ]
    for f in findings:
        c = f.check
        fix = f.fix + (f" (lmready fix: {c.fix})" if c.fix else "") if f.fix else ""
        observed = f.observed or f.message.removeprefix(f"{f.target}: ")
        first = f"<td>{escape(count_label(f))}</td>" if label else ""
        waiver = ""
        if f.waiver is not None:
            w = f.waiver
            waiver = escape(f" (waived until {w.expires or 'further notice'}: {w.justification})")
        out.append(
            f"<tr>{first}<td>{escape(c.id)} ({escape(c.ref)}) {escape(c.title)}</td>"
            f"<td>{escape(f.target)}</td><td>{_field(observed)}</td><td>{_field(f.expected)}</td>"
            f"<td>{_field(fix)}{waiver}</td></tr>"
        )
    out.append("</table>")
    return "".join(out)


def pair_details_html(
    readiness: list[PairReadiness], notes: dict[str, list[Finding]], wide: bool = False
) -> str:
    """One card per pair: what blocks it (observed, expected, fix), what could not run (once per
    cause), how much was not selected, and what it is ready despite.

    In a wide estate a host's own results would repeat on each of its pairs (198 times at 100
    hosts), so there they are shown once, on a card per host, and the pair cards link to it;
    ready pairs with nothing to say get no card (the matrix says it)."""
    shown = [r for r in readiness if r.state != "ready" or notes.get(r.target) or not wide]
    if not shown:
        return ""
    out = ["<h3>Pairs</h3>"]
    hosts: dict[str, tuple[list[Finding], list[Finding], list[Finding]]] = {}
    for r in shown:
        blocking, noted, errors = r.blocking, notes.get(r.target, []), r.errors
        if wide:
            for f in blocking + noted + errors:
                host = owner(f, r)
                if host:
                    entry = hosts.setdefault(host, ([], [], []))
                    bucket = entry[2] if f.outcome == "error" else entry[0] if f.blocking else entry[1]
                    if f not in bucket:
                        bucket.append(f)
            blocking = [f for f in blocking if not owner(f, r)]
            noted = [f for f in noted if not owner(f, r)]
            errors = [f for f in errors if not owner(f, r)]
        out.append(
            f'<div class="lm-pair" id="{escape(anchor(r.src, r.dst))}">'
            f"<b>{escape(r.src)} &rarr; {escape(r.dst)}: {escape(cell_state(r, notes))}</b>"
        )
        if blocking:
            out.append(f"<p>Blocked by {len(blocking)}:</p>" + blockers_table(blocking))
        if wide:
            refs = [
                f'<a href="#{escape(host_anchor(h))}">{escape(h)}</a>'
                for h in (r.src, r.dst)
                if any(owner(f, r) == h for f in r.blocking + r.errors + notes.get(r.target, []))
            ]
            if refs:
                out.append(f"<p>And the hosts' own results: {', '.join(refs)}.</p>")
        items = could_not_run(errors)
        if r.not_selected:
            items.append(
                f"<li>{len(r.not_selected)} results this pair needs were not selected in this run</li>"
            )
        if items:
            out.append("<ul>" + "".join(items) + "</ul>")
        if noted:
            out.append("<p>Not blocking:</p>" + blockers_table(noted, label=True))
        if r.state == "ready" and not notes.get(r.target):
            out.append("<p>Every check this pair needs passed or does not apply.</p>")
        out.append("</div>")
    if hosts:
        out.append("<h3>Hosts</h3>")
        for host, (blocking, noted, errors) in hosts.items():
            out.append(f'<div class="lm-pair" id="{escape(host_anchor(host))}"><b>{escape(host)}</b>')
            if errors:
                out.append("<ul>" + "".join(could_not_run(errors)) + "</ul>")
            if blocking:
                out.append(f"<p>Blocks its pairs: {len(blocking)}</p>" + blockers_table(blocking))
            if noted:
                out.append("<p>Not blocking:</p>" + blockers_table(noted, label=True))
            out.append("</div>")
    return "".join(out)


def owner(f: Finding, r: PairReadiness) -> str:
    """The host a result of this pair is about, if it is one host's: its own results, and the
    errors whose cause is a fact that host could not give (the cause names it first)."""
    if not Target.parse(f.target).is_pair:
        return f.target
    if f.outcome == "error":
        for host in (r.src, r.dst):
            if f.cause.startswith(f"{host}: "):
                return host
    return ""


def could_not_run(errors: list[Finding]) -> list[str]:
    """One line per cause, with the checks it stopped."""
    by_cause: dict[str, list[str]] = {}
    for f in errors:
        by_cause.setdefault(f.cause or f.message, []).append(f.check.id)
    return [
        f"<li>could not run {escape(', '.join(sorted(set(ids))))}: {escape(cause)}</li>"
        for cause, ids in by_cause.items()
    ]


def host_anchor(host: str) -> str:
    return f"lm-host-{host}"


# --- per VM ---------------------------------------------------------------------------------

GIB = 1024**3


@dataclass
class VmMoves:
    """Where one VM of a source can move live, and why not elsewhere."""

    src: str
    vm: str
    to: list[str] = field(default_factory=list)  # destinations of ready pairs
    notes: dict[str, list[str]] = field(default_factory=dict)  # dst -> warnings/waivers for this VM
    not_to: dict[str, list[str]] = field(default_factory=dict)  # dst -> why not


def _vm_reasons(vm: Any, src: Any, dst: Any, finding: Finding) -> list[str]:
    """Which part of a failed or warned R3/X1/X2/X4 result concerns this VM, from the facts the
    check judged (the result's text names VMs in a list, which a VM name could spoof)."""
    ref = finding.check.ref
    if ref == "R3":
        listed = dst.supported_versions
        if not listed and dst.os.build == WINDOWS_SERVER_2012_R2:
            listed = list(VERSIONS_2012_R2)
        if version_key(vm.version) not in {version_key(v) for v in listed}:
            return [f"configuration version {vm.version} ({dst.name} supports {version_range(listed)})"]
    elif ref == "X1":
        have = {s.name for s in dst.switches}
        return [f"switch '{s}' missing on {dst.name}" for s in vm.switches if s not in have]
    elif ref == "X2":
        if finding.outcome == "failed":
            return [f"processors of different vendors ({src.cpu.vendor} / {dst.cpu.vendor})"]
        if not vm.processor_compatibility:
            return ["processors differ and processor compatibility is off"]
    elif ref == "X4" and vm.state.lower() == "running" and vm.memory_bytes > dst.free_memory_bytes:
        return [
            f"needs {vm.memory_bytes / GIB:.1f} GiB, {dst.name} has "
            f"{dst.free_memory_bytes / GIB:.1f} GiB free"
        ]
    return []


VM_REFS = ("R3", "X1", "X2", "X4")


def vm_moves(facts: dict[str, Any], readiness: list[PairReadiness], findings: list[Finding]) -> list[VmMoves]:
    """For each VM of each source with facts: the destinations it can move to (the pair is
    ready), and for the others why not, its own reasons (R3/X1/X2/X4) first, else the pair's."""
    vm_results = {
        (f.target, f.check.ref): f
        for f in findings
        if f.check.ref in VM_REFS and f.outcome in ("failed", "warning")
    }
    # Per-VM results (V1-V3, target src->dst:vm): Hyper-V's own words, and "could not tell".
    per_vm: dict[str, list[Finding]] = {}
    for f in findings:
        if f.check.scope == "vm" and f.outcome in ("failed", "warning", "error"):
            per_vm.setdefault(f.target, []).append(f)
    out: dict[tuple[str, str], VmMoves] = {}
    for r in readiness:
        src, dst = facts.get(r.src), facts.get(r.dst)
        if not isinstance(src, HostFacts):
            continue
        for vm in src.vms:
            moves = out.setdefault((r.src, vm.name), VmMoves(r.src, vm.name))
            blocking, other = [], []
            for ref in VM_REFS:
                f = vm_results.get((r.target, ref))
                if f is None or not isinstance(dst, HostFacts):
                    continue
                for reason in _vm_reasons(vm, src, dst, f):
                    text = f"{f.check.id} ({ref}): {reason}"
                    if f.blocking:
                        blocking.append(text)
                    else:
                        other.append(f"{text} [{count_label(f)}]")
            unknown = []
            for f in per_vm.get(f"{r.target}:{vm.name}", []):
                if f.outcome == "error":
                    unknown.append(f"{f.check.id} ({f.check.ref}) could not tell: {f.message}")
                elif f.blocking:
                    blocking.append(f"{f.check.id} ({f.check.ref}): {f.observed}")
                else:
                    other.append(f"{f.check.id} ({f.check.ref}): {f.observed} [{count_label(f)}]")
            others = sorted({f.check.id for f in r.blocking if not (f.check.ref in VM_REFS and blocking)})
            if blocking:
                moves.not_to[r.dst] = blocking + ([f"and the pair: {', '.join(others)}"] if others else [])
            elif r.state == "not ready":
                moves.not_to[r.dst] = [f"the pair is not ready ({', '.join(others)})"]
            elif r.state == "incomplete":
                moves.not_to[r.dst] = ["the pair was not judged in full", *unknown]
            elif unknown:  # the pair is ready, but not every check of this VM could judge it
                moves.not_to[r.dst] = unknown
            else:
                moves.to.append(r.dst)
                if other:
                    moves.notes[r.dst] = other
    return list(out.values())


def vms_html(moves: list[VmMoves]) -> str:
    if not moves:
        return ""
    out = [
        '<h3 id="lm-vms">VMs: where each can move</h3><table class="lm-table lm-vms"><tr><th>Source</th>'
        "<th>VM</th><th>Can move to</th><th>Cannot move to, and why</th></tr>"
    ]
    for m in moves:
        can = ", ".join(
            escape(d) + (f" ({escape('; '.join(m.notes[d]))})" if d in m.notes else "") for d in m.to
        )
        cannot = "".join(
            f"<li><b>{escape(d)}</b>: {escape('; '.join(why))}</li>" for d, why in m.not_to.items()
        )
        out.append(
            f"<tr><td>{escape(m.src)}</td><td>{escape(m.vm)}</td><td>{can or '&ndash;'}</td>"
            f"<td>{'<ul>' + cannot + '</ul>' if cannot else '&ndash;'}</td></tr>"
        )
    out.append("</table>")
    return "".join(out)


# --- remediation -----------------------------------------------------------------------------


def remediation_html(remediation: Remediation) -> str:
    """The plan (and, once applied, what became of each change) as a table."""
    out = [
        f"<h3>Remediation</h3><p>--remediate={escape(remediation.mode)}: "
        f"{len(remediation.plan.changes)} changes.</p>"
    ]
    if remediation.plan.changes:
        outcomes = remediation.outcomes or [None] * len(remediation.plan.changes)
        out.append(
            '<table class="lm-table lm-remediation"><tr><th>Check</th><th>Where</th><th>Setting</th>'
            "<th>Before</th><th>After</th><th>Command</th>"
            + ("<th>Outcome</th>" if remediation.outcomes else "")
            + "</tr>"
        )
        for change, outcome in zip(remediation.plan.changes, outcomes, strict=True):
            where = f"{change.target} {change.account_dn}" if change.account_dn else change.target
            status = (
                f"<td>{escape(outcome.status)}{escape(': ' + outcome.reason) if outcome.reason else ''}</td>"
                if outcome is not None
                else ""
            )
            out.append(
                f"<tr><td>{escape(change.check_id)}</td><td>{escape(where)}</td><td>{escape(change.setting)}</td>"
                f"<td>{escape(show(change.before))}</td><td>{escape(show(change.after))}</td>"
                f"<td><code>{escape(change.command)}</code></td>{status}</tr>"
            )
        out.append("</table>")
    if remediation.plan.refused:
        out.append('<table class="lm-table"><tr><th>Not fixable</th><th>Target</th><th>Why</th></tr>')
        out += [
            f"<tr><td>{escape(f.check.id)}</td><td>{escape(f.target)}</td><td>{escape(why)}</td></tr>"
            for f, why in remediation.plan.refused
        ]
        out.append("</table>")
    extra = [f"journal: {remediation.journal}"] if remediation.journal is not None else []
    extra += [remediation.advice] if remediation.advice else []
    out += [f"<p>{escape(line)}</p>" for line in extra]
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
