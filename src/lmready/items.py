"""One pytest item per check and target, run by a lean protocol.

An audit of 100 hosts is about 130,000 results. pytest's usual protocol spends most of an
item's time in machinery checks do not use (fixtures, per-phase capture and logging hooks,
makereport chains), so lmready builds its own items: they keep pytest's node ids, markers,
``-k``/``-m`` selection, terminal output and every report plugin (all fed through
``pytest_runtest_logreport``), but hand the check to the engine (lmready.engine.evaluate) and
turn its finding into pytest's reports.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lmready.catalogue import CheckMeta, def_line
from lmready.engine import Judging, evaluate
from lmready.estate import Estate, FactsUnavailable
from lmready.findings import Finding
from lmready.values import Outcome, Target

# Reports are kept by the terminal, JUnit and HTML plugins until the end of the run; at 100,000
# items every byte counts, and no reporter reads keywords.
NO_KEYWORDS: dict[str, Any] = {}


class Sentence:
    """A failure's report text: one sentence instead of a traceback."""

    def __init__(self, message: str):
        self.message = message
        self.reprcrash = self

    def toterminal(self, tw) -> None:
        tw.line(self.message)

    def __str__(self) -> str:
        return self.message


# The check ID as a -k keyword (`-k LMR-022`): one set per check, shared by its items (a set
# per item costs 28 MB at 130,000 items).
_CHECK_KEYWORDS: dict[str, frozenset[str]] = {}

# The suite's folder in node ids, whatever the rootdir (the current directory when pytest runs
# outside the checkout) and wherever the suite is installed: ids and JUnit classnames are the
# keys of a CI's test history.
SUITE_NODE_DIR = "checks"


# The check's area as a marker (`pytest -m delegation`): one Mark per area, shared by its items.
_AREA_MARKS: dict[str, pytest.Mark] = {}


def area_mark(area: str) -> pytest.Mark:
    mark = _AREA_MARKS.get(area)
    if mark is None:
        mark = _AREA_MARKS[area] = getattr(pytest.mark, area).mark
    return mark


def pair_separator(pairs: list[tuple[str, str]]) -> str:
    """How a pair is written in node ids: ``hv01-hv02`` (``->`` is a -k syntax error). Host names
    may hold hyphens, so when two pairs would read the same (``a-b``->``c``, ``a``->``b-c``),
    every pair is written ``src_to_dst`` instead (``_`` is never part of a host name)."""
    written = {"-".join(p) for p in pairs}
    return "-" if len(written) == len(set(pairs)) else "_to_"


class CheckItem(pytest.Item):
    """One check on one target (``hv01`` or ``hv01->hv02``).

    Its node id is ``checks/<file>::<check>[<target>]`` with the pair written ``hv01-hv02``, and
    built with the target as pytest's params, so that --lf and --sw, which parse node ids into
    name and params, find the item again.
    """

    def __init__(
        self,
        *,
        meta: CheckMeta,
        target: tuple[str, ...],
        name: str,
        parent: pytest.Collector,
        separator: str = "-",
        **kwargs: Any,
    ):
        self.target = Target.of(target)  # the data: reports keep hv01->hv02
        param = self.target.node_param(separator)
        # pytest parses this string into path, names and params, as it parses the ids it cached.
        nodeid = f"{SUITE_NODE_DIR}/{parent.path.name}::{name}[{param}]"
        super().__init__(name=f"{name}[{param}]", parent=parent, nodeid=nodeid, **kwargs)
        keywords = _CHECK_KEYWORDS.get(meta.id)
        if keywords is None:
            keywords = _CHECK_KEYWORDS[meta.id] = frozenset({meta.id})
        self.extra_keyword_matches = keywords
        self.meta = meta
        for mark in (area_mark(meta.area), *getattr(meta.func, "pytestmark", [])):
            self.own_markers.append(mark)
            self.keywords[mark.name] = mark

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, def_line(self.meta.func) - 1, self.name

    def runtest(self) -> None:  # pragma: no cover - the lean protocol below runs checks
        raise RuntimeError("lmready check items run through lmready's protocol")


Record = Callable[[Finding], None]


def run_protocol(item: CheckItem, estate: Estate, judging: Judging, record: Record) -> None:
    """pytest's runtest protocol for a check item: logstart, the engine's finding as reports, logfinish."""
    ihook = item.ihook
    location = item.location
    ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=location)
    start = time.time()
    finding = evaluate(item.meta, item.target, estate, judging)
    stop = time.time()
    finding.nodeid, finding.duration = item.nodeid, stop - start
    record(finding)
    when = "call"
    longrepr: Any = None
    extra: dict[str, Any] = {}
    if finding.outcome in (Outcome.PASSED, Outcome.FIXED):
        outcome = "passed"
    elif finding.outcome == Outcome.SKIPPED:
        reason = finding.message.removeprefix(f"{finding.target}: ")
        outcome, longrepr = "skipped", (str(item.path), location[1] + 1, f"Skipped: {reason}")
    elif finding.outcome == Outcome.ERROR:
        # Could not run: pytest's "error", reported at setup whichever phase found it.
        outcome, when = "failed", "setup"
        error = finding.error
        longrepr = (
            Sentence(finding.message)
            if error is None or isinstance(error, FactsUnavailable)
            else item.repr_failure(pytest.ExceptionInfo.from_exception(error))
        )
    elif finding.blocking:
        outcome, longrepr = "failed", Sentence(finding.message)
    else:
        # Warnings and failures that do not block (below the gate, or waived) travel like
        # pytest's xfail: visible everywhere, not failing the run.
        outcome, extra["wasxfail"] = "skipped", f"{finding.outcome}: {finding.message}"

    def report(phase: str, phase_outcome: str, repr_: Any = None, **more: Any) -> pytest.TestReport:
        rep = pytest.TestReport(
            item.nodeid,
            location,
            NO_KEYWORDS,
            phase_outcome,
            repr_,
            phase,
            sections=(),
            duration=stop - start if phase == when else 0.0,
            start=start,
            stop=stop,
            **more,
        )
        if phase == when:
            rep.lmready = finding
        return rep

    # A passed setup is not reported: no plugin does anything with it, and at 100,000 items
    # the extra report costs seconds and megabytes.
    ihook.pytest_runtest_logreport(report=report(when, outcome, longrepr, **extra))
    ihook.pytest_runtest_logreport(report=report("teardown", "passed"))
    ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=location)
