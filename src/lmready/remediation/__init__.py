"""Remediation: plan the fixes REQUIREMENTS.md section 4 allows, make them, prove them by
re-collecting and re-checking, journal every change, and roll a journal back."""

from lmready.remediation.apply import apply_plan, purge_advice
from lmready.remediation.change import Change, ChangeResult
from lmready.remediation.journal import Journal, read_journal
from lmready.remediation.plan import Plan, make_plan
from lmready.remediation.rollback import Rollback, rollback
from lmready.remediation.verify import FIX_FAILED, FIXED, Verification, verify

__all__ = [
    "FIXED",
    "FIX_FAILED",
    "Change",
    "ChangeResult",
    "Journal",
    "Plan",
    "Rollback",
    "Verification",
    "apply_plan",
    "make_plan",
    "purge_advice",
    "read_journal",
    "rollback",
    "verify",
]
