"""The check-authoring API: ``@check`` and its metadata, and the ways a check reports: a failure
(or a warning) that reads as a sentence, or "does not apply" with the condition that did not hold.

Nothing here knows pytest: lmready.engine runs checks, and the pytest adapter (lmready.items,
lmready.plugin) turns the area into a marker and the results into reports."""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import inspect
import linecache
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any

from lmready.values import Scope

# Areas double as pytest markers: `pytest -m delegation`.
AREAS = {
    "rights": "operator and directory rights (R1)",
    "role": "Hyper-V role, OS and management tools (R2, R5)",
    "versions": "VM configuration versions (R3)",
    "domain": "domain membership and trusts (R4)",
    "auth": "migration authentication: Kerberos or CredSSP (A1, A3, A4)",
    "delegation": "Kerberos constrained delegation in Active Directory (A2, A3, A5)",
    "performance": "migration performance option and SMB (P1, P2)",
    "network": "migration networks, isolation, reachability (N1-N6, X5)",
    "compatibility": "what the destination must offer the VMs (X1-X4)",
}


# "required": facts of every involved host's domain must be at hand, or the check is an error;
# "optional": the check copes with a domain the inventory has no directory entry for.
DIRECTORY_NEEDS = ("none", "optional", "required")


class Severity(IntEnum):
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(s.name.lower() for s in cls)
            raise ValueError(f"unknown severity '{text}'; use one of {names}") from None

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class CheckMeta:
    id: str
    ref: str
    title: str
    severity: Severity
    area: str
    scope: Scope
    fix: str | None  # name of a Fix in the registry (load_fixes), or None
    directory: str  # DIRECTORY_NEEDS: does the check read Active Directory facts?
    applies: Callable[[Any], None] | None  # raises NotApplicable when the check does not apply
    func: Callable[..., Any]

    @property
    def name(self) -> str:
        return self.func.__name__


@dataclass(frozen=True)
class Requirement:
    """A requirement's text (REQUIREMENTS.md): each check module declares its ``REQUIREMENT``."""

    ref: str
    synopsis: str  # the one line of lmready.requirements
    why: str  # what breaks when it does not hold
    fix: str  # what the admin does
    links: tuple[str, ...]  # Microsoft's documentation


@dataclass(frozen=True)
class Fix:
    """A fix of REQUIREMENTS.md section 4, declared as ``FIX`` by the module of the requirement
    whose check names it. ``automatic``: lmready plans and makes it, through the module's
    ``@planner(name)``; otherwise lmready prints the step and never runs it."""

    name: str
    action: str
    automatic: bool
    rule: str = ""
    refs: tuple[str, ...] = ()  # filled by load_fixes: the requirement of the declaring module
    planner: Callable[..., Any] | None = None  # filled by load_fixes


EXPECTATIONS = ("pass", "fail", "warn", "skip")


@dataclass(frozen=True, init=False)
class Case:
    """One row of a requirement's case table (``CASES``), in the PSRule style: the outcome
    expected, the text its message must contain, and the facts that differ from a healthy
    default (tests/factory.py builds them: ``host``/``policy``/``domain`` for a host check,
    ``src``/``dst``/``policy``/``domains`` for a pair or a VM). tests/test_cases.py runs them all."""

    expect: str
    contains: tuple[str, ...]
    facts: dict[str, Any]

    def __init__(self, expect: str, *contains: str, **facts: Any):
        if expect not in EXPECTATIONS:
            raise TypeError(f"a case expects one of {EXPECTATIONS}, not {expect!r}")
        object.__setattr__(self, "expect", expect)
        object.__setattr__(self, "contains", contains)
        object.__setattr__(self, "facts", facts)


def planner(fix_name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark the function that plans the automatic fix ``fix_name``: (finding, estate) -> changes.
    It reads what the failing check expected from ``finding.wanted``, never works it out again."""

    def mark(func: Callable[..., Any]) -> Callable[..., Any]:
        func.lmready_planner = fix_name  # type: ignore[attr-defined]
        return func

    return mark


def check(
    id: str,
    *,
    ref: str,
    title: str,
    severity: Severity,
    area: str,
    fix: str | None = None,
    directory: str = "none",
    applies: Callable[[Any], None] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a compliance check. Its first parameter, ``host``, ``pair`` or ``vm`` (one VM of the
    source judged against the destination, lmready.vmview), sets its scope.

    ``applies`` is a precondition on the target (it calls applies_only_if). The engine
    evaluates it before it fetches directory facts, and the check runs it first too, so that
    a check that does not apply is skipped rather than failed for facts it would not read.
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        params = list(inspect.signature(func).parameters)
        if not params or params[0] not in ("host", "pair", "vm"):
            raise TypeError(f"{func.__name__}: a check's first parameter is 'host', 'pair' or 'vm'")
        if area not in AREAS:
            raise TypeError(f"{func.__name__}: unknown area '{area}'")
        if directory not in DIRECTORY_NEEDS:
            raise TypeError(f"{func.__name__}: directory must be one of {DIRECTORY_NEEDS}")
        if applies is not None:
            body = func

            @functools.wraps(body)
            def func(*args, **kwargs):
                applies(args[0] if args else kwargs[params[0]])
                return body(*args, **kwargs)

        func.lmready = CheckMeta(  # type: ignore[attr-defined]
            id=id,
            ref=ref,
            title=title,
            severity=severity,
            area=area,
            scope=Scope(params[0]),
            fix=fix,
            directory=directory,
            applies=applies,
            func=func,
        )
        return func

    return decorate


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


def meta_of(func: Any) -> CheckMeta | None:
    return getattr(func, "lmready", None)


class CheckFailure(AssertionError):
    """A requirement is not met. ``observed``/``expected``/``fix`` end up in every report."""

    def __init__(
        self, observed: Any, expected: Any, fix: str, severity: Severity | None = None, wanted: Any = None
    ):
        self.observed = str(observed)
        self.expected = str(expected)
        self.fix = fix
        self.severity = severity
        # The expectation as data, for the check's fix planner: what is missing, exactly (A2: the
        # delegation values), so that the planner never works it out again.
        self.wanted = wanted
        super().__init__(f"observed {self.observed}; expected {self.expected}; fix: {fix}")


class CheckWarning(CheckFailure):
    """An advisory verdict (REQUIREMENTS.md 3b): shown everywhere, never blocks a pair. Only the
    rows that 3b lists give one; every other unmet requirement is a failure, whatever its severity."""


def warn(observed: Any, expected: Any, fix: str) -> None:
    raise CheckWarning(observed, expected, fix)


def fail(
    observed: Any, expected: Any, fix: str, severity: Severity | None = None, wanted: Any = None
) -> None:
    raise CheckFailure(observed, expected, fix, severity, wanted)


def require(
    condition: bool, observed: Any, expected: Any, fix: str, severity: Severity | None = None
) -> None:
    if not condition:
        raise CheckFailure(observed, expected, fix, severity)


class NotApplicable(Exception):
    """The check does not apply to this target (its outcome is "skipped"); the message says why."""


def applies_only_if(condition: bool, requires: str, observed: str) -> None:
    """Not applicable, with the reason built from the condition, when ``condition`` is false."""
    if not condition:
        raise NotApplicable(f"does not apply: needs {requires}; here {observed}")


def suite_dir() -> Path:
    """The checks: the repository's ``checks/`` in a checkout, the copy in the wheel otherwise."""
    here = Path(__file__).resolve().parent
    checkout = here.parent.parent / "checks"
    return checkout if checkout.is_dir() else here / "suite"


def _suite_modules(directory: Path | None = None) -> list[Any]:
    """Import the check modules, one per requirement, under private names, in file order."""
    directory = directory or suite_dir()
    modules = []
    for path in sorted(directory.glob("test_*.py")):
        name = f"lmready_suite_{path.stem}"
        module = sys.modules.get(name)
        if module is None:
            spec = importlib.util.spec_from_file_location(name, path)
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        modules.append(module)
    return modules


def load_catalogue(directory: Path | None = None) -> list[CheckMeta]:
    """The checks' metadata, by ID."""
    found: list[CheckMeta] = []
    for module in _suite_modules(directory):
        for value in vars(module).values():
            meta = meta_of(value)
            if meta is not None and meta.func.__module__ == module.__name__:
                found.append(meta)
    return sorted(found, key=lambda meta: meta.id)


def requirement_modules(directory: Path | None = None) -> dict[str, Any]:
    """Each requirement's module by its ref (the module's ``REQUIREMENT``): one hop from a ref to
    its text, check, fix, planner and cases."""
    found: dict[str, Any] = {}
    for module in _suite_modules(directory):
        requirement = getattr(module, "REQUIREMENT", None)
        if not isinstance(requirement, Requirement):
            raise TypeError(f"{module.__file__}: a check module declares its REQUIREMENT = Requirement(...)")
        if requirement.ref in found:
            raise TypeError(f"{module.__file__}: requirement {requirement.ref} has another module")
        found[requirement.ref] = module
    return found


def load_fixes(directory: Path | None = None) -> dict[str, Fix]:
    """The one fix registry, built from the requirement modules: each module's ``FIX``, with the
    planner its module marks ``@planner(name)`` and the ref of its requirement. An automatic fix
    whose planner is missing stays in the registry with ``planner=None`` (tests/test_catalogue.py
    fails on it; remediation refuses it with a sentence); a planner for no declared fix is an error."""
    fixes: dict[str, Fix] = {}
    planners: dict[str, Callable[..., Any]] = {}
    for ref, module in requirement_modules(directory).items():
        for value in vars(module).values():
            name = getattr(value, "lmready_planner", None)
            if name is not None and planners.setdefault(name, value) is not value:
                raise TypeError(f"{module.__file__}: the fix {name} has another planner")
        fix = getattr(module, "FIX", None)
        if isinstance(fix, Fix):
            fixes[fix.name] = dataclasses.replace(fix, refs=(*fix.refs, ref))
    stray = set(planners) - set(fixes)
    if stray:
        raise TypeError(f"planners for undeclared fixes: {', '.join(sorted(stray))}")
    return {name: dataclasses.replace(fix, planner=planners.get(name)) for name, fix in fixes.items()}
