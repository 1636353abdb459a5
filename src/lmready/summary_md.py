"""A Markdown summary for pipelines and tickets (--summary-md, $GITHUB_STEP_SUMMARY).

Short on purpose: the verdict, the pair matrix (a count of pair states for big estates), what
blocks with its fix, the waivers, why checks could not run, and drift against a baseline. Host
and directory text is untrusted: every value is escaped so that it reads as text, never as
Markdown or HTML (a pipe cannot break a table, a backtick cannot open code, ``<script>`` is
shown, ``$`` starts no formula, ``@name`` mentions no one).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from lmready.findings import Finding
from lmready.verdict import Cause, PairReadiness, RunVerdict

# Beyond this many hosts the matrix is too wide for a ticket; the pair states are counted instead.
MATRIX_HOSTS = 12
# Lines per list: the summary has to stay short; the reports have everything.
LIST_LINES = 15

# ASCII punctuation that means something to GitHub-flavoured Markdown mid-line (code, emphasis,
# links, tables, strikethrough, math, mentions); < > & become entities.
_MD_SPECIAL = set("\\`*_[]|~$@!#(){}+")


def md(text: object) -> str:
    """Untrusted text as inline Markdown text, on one line."""
    out = []
    for ch in " ".join(str(text).split()):
        if ch in "<>&":
            out.append(escape(ch))
        elif ch in _MD_SPECIAL:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _listing(lines: list[str], limit: int = LIST_LINES) -> list[str]:
    shown = [f"- {line}" for line in lines[:limit]]
    if len(lines) > limit:
        shown.append(f"- … and {len(lines) - limit} more (see findings.json)")
    return shown


def _grouped(findings: list[Finding], waived: bool = False) -> list[str]:
    """One line per check and fix, with its targets: the same fix on 40 pairs is one line."""
    groups: dict[tuple[str, str, str], list[Finding]] = {}
    for f in findings:
        key = (f.check.id, f.fix, f.waiver.justification if waived and f.waiver else "")
        groups.setdefault(key, []).append(f)
    lines = []
    for group in groups.values():
        f = group[0]
        targets = [g.target for g in group]
        where = ", ".join(md(t) for t in targets[:6]) + (
            f" and {len(targets) - 6} more" if len(targets) > 6 else ""
        )
        text = f"**{md(f.check.id)}** ({md(f.check.ref)}) {md(f.check.title)}: {where}"
        if f.observed or f.expected:
            seen = f"observed {md(f.observed)}; expected {md(f.expected)}"
            text += f"; {seen}" if len(group) == 1 else f"; e.g. {md(f.target)}: {seen}"
        if f.fix:
            text += f"; **fix:** {md(f.fix)}"
        if waived and f.waiver is not None:
            text += f"; **waived:** {md(f.waiver.justification)}"
            text += f" (until {f.waiver.expires})" if f.waiver.expires else ""
        lines.append(text)
    return lines


def _cell(state: str) -> str:
    return {"ready": "ready", "not ready": "**not ready**", "incomplete": "*incomplete*"}.get(
        state, md(state)
    )


def summary_markdown(
    verdict: RunVerdict,
    gate: str,
    counts: dict[str, int],
    hosts: Sequence[str],
    readiness: list[PairReadiness],
    findings: Iterable[Finding],
    causes: list[Cause],
    drift: dict[str, int] | None = None,
    remediation: list[str] | None = None,
) -> str:
    findings = list(findings)
    lines = [f"## lmready: {verdict.verdict} (gate severity {md(gate)})", ""]
    lines.append(", ".join(f"{n} {label}" for label, n in counts.items() if n) or "no results")
    lines.append("")
    lines += _listing([md(r) for r in verdict.reasons])
    if verdict.reasons:
        lines.append("")
    if drift is not None:
        lines += ["Against the baseline: " + ", ".join(f"{n} {k}" for k, n in drift.items()), ""]

    states = {(r.src, r.dst): str(r.state) for r in readiness}
    if states and len(hosts) <= MATRIX_HOSTS:
        lines += ["### Pairs (source x destination)", ""]
        lines.append("| source / destination | " + " | ".join(md(h) for h in hosts) + " |")
        lines.append("|---" * (len(hosts) + 1) + "|")
        for src in hosts:
            cells = [_cell(states[(src, dst)]) if (src, dst) in states else "–" for dst in hosts]
            lines.append(f"| **{md(src)}** | " + " | ".join(cells) + " |")
        lines.append("")
    elif states:
        tally: dict[str, int] = {}
        for state in states.values():
            tally[state] = tally.get(state, 0) + 1
        lines += [
            f"### Pairs: {len(states)} (" + ", ".join(f"{n} {s}" for s, n in sorted(tally.items())) + ")",
            "",
        ]

    failed = [f for f in findings if f.outcome == "failed"]
    sections = [
        ("Blocking failures", _grouped([f for f in failed if f.blocking])),
        ("Waivers", _grouped([f for f in failed if f.waiver is not None], waived=True)),
        ("Failures below the gate", _grouped([f for f in failed if not f.blocking and f.waiver is None])),
        ("Could not run", [f"{md(c.sentence)} ({len(c.findings)} results)" for c in causes]),
        ("Remediation", [md(line) for line in remediation or []]),
    ]
    for title, items in sections:
        if items:
            lines += [f"### {title} ({len(items)})", "", *_listing(items), ""]
    return "\n".join(lines).rstrip() + "\n"
