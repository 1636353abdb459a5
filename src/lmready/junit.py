"""JUnit XML for audits, streamed from the findings.

pytest's junitxml plugin keeps an element tree per testcase (plus one element per property)
until the end of the run: at 130,000 results that was about 300 MB and several seconds. Audits
write the same format from the findings instead, one testcase at a time. Each testcase carries
check_id, ref, target, severity, outcome and blocking as properties. Only blocking failures are
<failure> and checks that could not run <error>, so a CI's red means what the gate means;
failures that do not block (below the gate, or waived) and advisory warnings are <skipped>
with a message that says which; checks that do not apply are plain passed testcases whose
``outcome`` property says "not applicable", so that <skipped> only ever holds what needs a look.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import quoteattr

from lmready.catalogue import def_line
from lmready.findings import Finding, count_label, counts
from lmready.text import xml_text


def _attr(text: str) -> str:
    # XML 1.0 forbids most control characters, lone surrogates and U+FFFE/U+FFFF; hosts can
    # send anything, and one such character makes the whole file unreadable.
    return quoteattr(xml_text(text))


def _testcase(f: Finding) -> str:
    label = count_label(f)
    path = f.nodeid.partition("::")[0]
    classname = path.removesuffix(".py").replace("/", ".").lstrip(".")
    # What Azure DevOps and GitHub show is the name: ID, title and target, not a function name.
    name = f"{f.check.id} {f.check.title} [{f.target}]"
    head = (
        f"<testcase classname={_attr(classname)} name={_attr(name)} file={_attr(path)} "
        f'line="{def_line(f.check.func)}" time="{f.duration:.3f}">'
    )
    drift = f'<property name="drift" value="{f.drift}"/>' if f.drift and f.drift != "unchanged" else ""
    if f.outcome in ("passed", "fixed") or label == "not applicable":
        # Most of a big estate's results: the name already says check and target, so only what
        # the name cannot (the outcome unless plainly passed, drift) is written. At 100 hosts
        # the six properties on every passed result were most of the file (README, JUnit).
        outcome = f'<property name="outcome" value={_attr(label)}/>' if label != "passed" else ""
        return (
            f"{head}<properties>{outcome}{drift}</properties></testcase>\n"
            if outcome or drift
            else f"{head}</testcase>\n"
        )
    head += (
        f'<properties><property name="check_id" value={_attr(f.check.id)}/><property name="ref" value={_attr(f.check.ref)}/>'
        f'<property name="target" value={_attr(f.target)}/>'
        f'<property name="severity" value="{f.severity}"/><property name="outcome" value={_attr(label)}/>'
        f'<property name="blocking" value="{str(f.blocking).lower()}"/>{drift}</properties>'
    )
    if f.outcome == "error":
        body = f"<error message={_attr(f.message)}/>"
    elif f.blocking:
        body = f"<failure message={_attr(f.message)}/>"
    else:  # failed without blocking, or a warning
        body = f'<skipped type="lmready.{label.replace(" ", "-")}" message={_attr(f"{label}: {f.message}")}/>'
    return f"{head}{body}</testcase>\n"


def write_junit(
    path: Path,
    findings: list[Finding],
    started: datetime,
    seconds: float,
    suite_properties: Iterable[tuple[str, str]],
) -> None:
    c = counts(findings)
    skipped = c["failed below the gate"] + c["waived"] + c["warning"]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="utf-8"?>\n<testsuites name="lmready">\n')
        out.write(
            f'<testsuite name="lmready" errors="{c["error"]}" failures="{c["failed"]}" skipped="{skipped}" '
            f'tests="{len(findings)}" time="{seconds:.3f}" timestamp="{started.isoformat()}" '
            f"hostname={_attr(socket.gethostname())}>\n<properties>"
        )
        out.write("".join(f"<property name={_attr(k)} value={_attr(v)}/>" for k, v in suite_properties))
        out.write("</properties>\n")
        for finding in findings:
            out.write(_testcase(finding))
        out.write("</testsuite>\n</testsuites>\n")
    tmp.replace(path)
