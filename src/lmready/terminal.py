"""What an audit prints on the terminal: the progress of the collection and, at the end, the
failures with their fixes, the causes of what could not run, the verdict and the pairs."""

from __future__ import annotations

from lmready.audit import Audit
from lmready.findings import Finding, counts
from lmready.live import Progress
from lmready.verdict import PairReadiness, Verdict, error_causes


def progress_line(config) -> Progress:
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


TERMINAL_LINES = 20


def write_summary(tr, audit: Audit) -> None:
    """The verdict and what stands in its way, after pytest's own summary."""

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
        [f"{r.target}: {r.state} ({pair_detail(r)})" for r in audit.readiness if r.state != "ready"],
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


def pair_detail(r: PairReadiness) -> str:
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
