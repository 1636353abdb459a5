"""The Markdown summary for tickets and CI, through the real CLI: --summary-md and
$GITHUB_STEP_SUMMARY, with host text escaped so that it reads as text."""

from __future__ import annotations

import re

from audit_run import EXAMPLE, credssp_estate, run_audit

from lmready.summary_md import md

HOSTILE = "Prod|x`code` <script>alert(1)</script> *@team $x$ [a](javascript:b)"


def test_summary_md_and_github_step_summary(tmp_path):
    step = tmp_path / "step_summary.md"
    step.write_text("earlier step's summary\n")
    run = run_audit(
        tmp_path / "run",
        EXAMPLE,
        f"--summary-md={tmp_path / 'summary.md'}",
        env={"GITHUB_STEP_SUMMARY": str(step)},
    )
    assert run.returncode == 1, run.stdout[-2000:]
    text = (tmp_path / "summary.md").read_text()
    # What GitHub shows is appended after what earlier steps wrote.
    assert step.read_text() == "earlier step's summary\n\n" + text
    assert text.startswith("## lmready: NOT READY (gate severity high)\n")
    # The matrix: a row per source, a column per destination.
    assert "| **hv01** | – | **not ready** |" in text
    assert "| **hv02** | ready | – |" in text
    # Blockers with their fix, one line per check and fix; waivers with their justification.
    assert re.search(
        r"\*\*LMR-045\*\* \(N5\) Destination accepts TCP 6600 from the source: hv01-&gt;hv02.*"
        r"\*\*fix:\*\* on hv02: Enable-NetFirewallRule",
        text,
    )
    assert "**waived:** Firewall change CHG-20931" in text
    # Short enough for a ticket.
    assert len(text) < 10_000 and len(text.splitlines()) < 60


def test_a_big_estate_counts_pairs_instead_of_a_matrix():
    from lmready.summary_md import MATRIX_HOSTS, summary_markdown
    from lmready.verdict import PairReadiness, PairState, RunVerdict, Verdict

    hosts = [f"hv{i:02d}" for i in range(MATRIX_HOSTS + 1)]
    pairs = [PairReadiness(a, b, PairState.READY) for a in hosts for b in hosts if a != b]
    text = summary_markdown(RunVerdict(Verdict.READY, []), "high", {"passed": 1}, hosts, pairs, [], [])
    assert f"### Pairs: {len(pairs)} ({len(pairs)} ready)" in text and "|" not in text


def test_host_text_is_escaped(tmp_path):
    """A VM's switch that the destination lacks: its hostile name ends up in the blockers."""
    hv02 = {
        "vms": [
            {
                "name": "vm2",
                "state": "Running",
                "version": "9.0",
                "memory_bytes": 1024**3,
                "switches": [HOSTILE],
                "processor_compatibility": False,
            }
        ]
    }
    inventory = credssp_estate(tmp_path / "estate", hv02)
    run = run_audit(tmp_path / "run", inventory, f"--summary-md={tmp_path / 'summary.md'}")
    text = (tmp_path / "summary.md").read_text()
    assert run.returncode == 1 and "LMR-051" in text, run.stdout[-2000:]
    assert md(HOSTILE) in text
    for raw in ("<script", "Prod|x", "x`code", " *@team", " $x$", " [a](", HOSTILE):
        assert raw not in text, raw
    # Every table row still has its columns: no pipe from host text splits a cell.
    for line in text.splitlines():
        if line.startswith("| **"):
            assert len(re.findall(r"(?<!\\)\|", line)) == 4, line


def test_md_escapes_what_markdown_and_html_would_interpret():
    assert md("a|b") == "a\\|b"
    assert md("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert\\(1\\)&gt;"
    assert md("line1\nline2\r\n# heading") == "line1 line2 \\# heading"
    assert (
        md("`x` *y* _z_ ~w~ $m$ @u ![i](j)")
        == "\\`x\\` \\*y\\* \\_z\\_ \\~w\\~ \\$m\\$ \\@u \\!\\[i\\]\\(j\\)"
    )


def test_a_summary_path_that_cannot_be_written_is_one_sentence_and_exit_3(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("a file where a folder should be")
    run = run_audit(tmp_path / "run", EXAMPLE, f"--summary-md={blocker / 'summary.md'}")
    assert run.returncode == 3, run.stdout[-2000:]
    assert f"cannot write the report {blocker / 'summary.md'}" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr
    assert (tmp_path / "run" / "findings.json").exists()  # the other reports are still written
