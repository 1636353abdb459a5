"""What remediation changes and how each change ended: the vocabulary every other module uses.

A change sets one scalar setting from ``before`` to ``after``. A multi-valued setting (migration
networks, msDS-AllowedToDelegateTo) is changed one member at a time: ``None`` stands for "this
member is absent", so adding is ``None -> member`` and its undo is ``member -> None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ChangeKind(StrEnum):
    """Where a change is made: on a host (PowerShell) or in the directory (LDAP)."""

    HOST = "host"
    DIRECTORY = "directory"


class ChangeStatus(StrEnum):
    """How a change ended. "refused": a precondition did not hold and nothing was attempted;
    "skipped": the value was no longer the one the plan saw, so it was left as it is;
    "unknown": the host stopped answering after the change was sent: it may have been made."""

    APPLIED = "applied"
    FAILED = "failed"
    REFUSED = "refused"
    SKIPPED = "skipped"
    UNKNOWN = "unknown"


HOST, DIRECTORY = ChangeKind.HOST, ChangeKind.DIRECTORY
APPLIED, FAILED, REFUSED, SKIPPED, UNKNOWN = ChangeStatus
# The reason of an APPLIED outcome that found the value already in place: nothing to roll back.
ALREADY = "the value was already as wanted"

Value = bool | int | str | None


@dataclass(frozen=True)
class Change:
    check_id: str
    fix: str
    target: str  # host name, or domain name for a directory change
    kind: ChangeKind
    setting: str
    before: Value
    after: Value
    command: str  # the exact cmdlet line or LDAP modification, shown in plans
    account_dn: str | None = None

    def __str__(self) -> str:
        where = f"{self.target} {self.account_dn}" if self.account_dn else self.target
        return f"{where}: {self.setting} {show(self.before)} -> {show(self.after)}: {self.command}"


def show(value: Value) -> str:
    return "(absent)" if value is None else str(value)


@dataclass(frozen=True)
class ChangeResult:
    change: Change
    status: ChangeStatus
    reason: str = ""
