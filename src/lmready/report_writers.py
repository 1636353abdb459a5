"""The reports an audit writes at its end (pytest-html writes the HTML one itself): the JUnit
file and findings.json, streamed from the findings, and the Markdown summaries. A report that
cannot be written is one sentence, and the others are still written. No pytest here."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from lmready import __version__
from lmready.audit import Audit
from lmready.findings import counts, write_findings_json
from lmready.junit import write_junit
from lmready.summary_md import summary_markdown
from lmready.verdict import Verdict, error_causes

DEFAULT_REPORTS = {
    "htmlpath": "reports/report.html",
    "xmlpath": "reports/junit.xml",
    "findings_json": "reports/findings.json",
}


def write_reports(audit: Audit, exit_code: int) -> None:
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
        write_summaries(audit)
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


def write_summaries(audit: Audit) -> None:
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


def summary_md_paths(summary_md: str | None) -> list[Path]:
    paths = [Path(summary_md)] if summary_md else []
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:  # GitHub Actions shows what a step appends to this file on the run's page
        paths.append(Path(step_summary))
    return paths


def unwritable(path: str | None) -> str | None:
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
