"""One pytest item per check and target, run by a lean protocol.

An audit of 100 hosts is about 130,000 results. pytest's usual protocol spends most of an
item's time in machinery checks do not use (fixtures, per-phase capture and logging hooks,
makereport chains), so lmready builds its own items: they keep pytest's node ids, markers,
``-k``/``-m`` selection, terminal output and every report plugin (all fed through
``pytest_runtest_logreport``), but resolve their facts and run the check directly.
"""

from __future__ import annotations

import functools
import inspect
import linecache
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lmready.catalogue import CheckMeta
from lmready.estate import Estate, FactsUnavailable, HostView, PairView, require_directory
from lmready.findings import Finding
from lmready.vmview import VmView, vm_view

# Reports are kept by the terminal, JUnit and HTML plugins until the end of the run; at 100,000
# items every byte counts, and no reporter reads keywords.
NO_KEYWORDS: dict[str, Any] = {}


@functools.cache
def def_line(func: Callable[..., Any]) -> int:
    """The 1-based line of the check's own ``def``: not the ``applies=`` wrapper's (catalogue's
    functools.wraps), nor its first decorator's."""
    func = inspect.unwrap(func)
    code = func.__code__
    line = code.co_firstlineno
    for n in range(line, line + 50):
        text = linecache.getline(code.co_filename, n).lstrip()
        if text.startswith(("def ", "async def ")):
            return n
    return line


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
        # A VM target (src, dst, vm) is written src-dst:vm (lmready.vmview).
        param = separator.join(target[:2]) + "".join(f":{vm}" for vm in target[2:])
        # pytest parses this string into path, names and params, as it parses the ids it cached.
        nodeid = f"{SUITE_NODE_DIR}/{parent.path.name}::{name}[{param}]"
        super().__init__(name=f"{name}[{param}]", parent=parent, nodeid=nodeid, **kwargs)
        keywords = _CHECK_KEYWORDS.get(meta.id)
        if keywords is None:
            keywords = _CHECK_KEYWORDS[meta.id] = frozenset({meta.id})
        self.extra_keyword_matches = keywords
        self.meta = meta
        self.target = target
        self.target_id = "->".join(target[:2]) + "".join(f":{vm}" for vm in target[2:])  # reports keep ->
        for mark in getattr(meta.func, "pytestmark", []):
            self.own_markers.append(mark)
            self.keywords[mark.name] = mark

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, def_line(self.meta.func) - 1, self.name

    def view(self, estate: Estate) -> HostView | PairView | VmView:
        """Setup: the target's facts. Raises FactsUnavailable, or skips when the check does not apply."""
        meta = self.meta
        with_directory = meta.directory != "none"
        if meta.scope == "host":
            view = estate.host_view(self.target[0], with_directory)
        elif meta.scope == "vm":
            view = vm_view(estate, *self.target, with_directory=with_directory)
        else:
            view = estate.pair_view(self.target[0], self.target[1], with_directory)
        if meta.applies is not None:
            meta.applies(view)
        if meta.directory == "required":
            require_directory(view)
        return view

    def runtest(self) -> None:  # pragma: no cover - the lean protocol below runs checks
        raise RuntimeError("lmready check items run through lmready's protocol")


Judge = Callable[[CheckMeta, str, str, BaseException | None, str], Finding]


def run_protocol(item: CheckItem, estate: Estate, judge: Judge) -> None:
    """pytest's runtest protocol for a check item: logstart, setup/call/teardown reports, logfinish."""
    ihook = item.ihook
    location = item.location
    ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=location)
    start = time.time()
    when, exc, reason, said = "setup", None, "", None
    try:
        view = item.view(estate)
        when = "call"
        said = item.meta.func(view)  # a check may say how it passed (A2: which mechanism)
    except pytest.skip.Exception as skip:
        reason = skip.msg
    except (Exception, pytest.fail.Exception) as error:  # a check's bug stays on its own item
        exc = error
    stop = time.time()

    finding = judge(item.meta, item.target_id, when, exc, reason)
    if finding.outcome == "passed" and isinstance(said, str):
        finding.message = f"{item.target_id}: {said}"
    finding.nodeid, finding.duration = item.nodeid, stop - start
    longrepr: Any = None
    extra: dict[str, Any] = {}
    if finding.outcome in ("passed", "fixed"):
        outcome = "passed"
    elif finding.outcome == "skipped":
        outcome, longrepr = "skipped", (str(item.path), location[1] + 1, f"Skipped: {reason}")
    elif finding.outcome == "error":
        # Could not run: pytest's "error", reported at setup whichever phase found it.
        outcome, when = "failed", "setup"
        longrepr = (
            Sentence(finding.message)
            if isinstance(exc, FactsUnavailable)
            else item.repr_failure(pytest.ExceptionInfo.from_exception(exc))
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
