"""Every requirement's case table (``CASES`` in checks/test_<ref>_*.py), run by one test: each row
gives the outcome and the message text that the row's facts must produce."""

from __future__ import annotations

import pytest
from factory import case_target

from lmready.catalogue import CheckFailure, CheckWarning, NotApplicable, load_catalogue, requirement_modules

MODULES = requirement_modules()
CHECKS = {meta.ref: meta for meta in load_catalogue()}
ROWS = [(ref, n, case) for ref, module in MODULES.items() for n, case in enumerate(module.CASES, 1)]


def outcome(ref: str, target) -> tuple[str, str]:
    try:
        CHECKS[ref].func(target)
    except CheckWarning as exc:
        return "warn", str(exc)
    except CheckFailure as exc:
        return "fail", str(exc)
    except NotApplicable as exc:
        return "skip", str(exc)
    return "pass", ""


@pytest.mark.parametrize(("ref", "row", "case"), ROWS, ids=[f"{ref}-{n}" for ref, n, _ in ROWS])
def test_case(ref, row, case):
    got, message = outcome(ref, case_target(str(CHECKS[ref].scope), case.facts))
    assert got == case.expect, f"{ref} row {row}: expected {case.expect}, got {got}: {message}"
    for text in case.contains:
        assert text in message, f"{ref} row {row}: {text!r} not in {message!r}"
    assert case.expect == "pass" or case.contains, f"{ref} row {row}: say what the message must contain"


def test_every_requirement_has_a_passing_and_a_failing_case():
    """Order-free: it reads the tables. A3 and A4 report on every configuration they apply to,
    so their non-failing row is "does not apply"."""
    for ref, module in MODULES.items():
        seen = {case.expect for case in module.CASES}
        ok = {"pass", "skip"} if ref in ("A3", "A4") else {"pass"}
        assert seen & {"fail", "warn"} and seen & ok, f"{ref}: CASES has {sorted(seen)}"
