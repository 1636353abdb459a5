"""The remediation journal: one JSON line per event of a change, written and fsync'ed as it
happens, so that a run that dies half way leaves a journal that says exactly how far it got.

A change's events share its ``id``: planned; attempted (just before it is sent to the host or
the DC); then applied, failed, refused, skipped (changed since the plan, left as is) or unknown
(the host stopped answering after it was sent); then verified or failed (after re-collection).
A rollback's own journal says "rolled back" where it applied. A change journaled as attempted
without a result may or may not have been made: rollback reads it again to tell.
"""

from __future__ import annotations

import getpass
import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lmready.remediation.change import Change

PLANNED, ATTEMPTED, VERIFIED, ROLLED_BACK = "planned", "attempted", "verified", "rolled back"
STATUSES = (PLANNED, ATTEMPTED, "applied", "failed", "refused", "skipped", "unknown", VERIFIED, ROLLED_BACK)


class Journal:
    def __init__(self, path: Path, operator: str | None = None):
        self.path = Path(path)
        self.operator = operator or getpass.getuser()
        self._ids: dict[Change, int] = {}
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        self._file = self.path.open("a", encoding="utf-8")
        if created:  # the new name itself must survive a crash
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)

    @classmethod
    def create(cls, directory: Path, prefix: str = "remediation", operator: str | None = None) -> Journal:
        """A new journal file in ``directory`` (reports/, say), named by the time it starts."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        return cls(Path(directory) / f"{prefix}-{stamp}.jsonl", operator)

    def record(self, change: Change, status: str, reason: str = "") -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown journal status {status!r}")
        with self._lock:
            if self._file.closed:
                # A host given up on at its deadline that answers after the run ended: the
                # journal already says "unknown" for its changes, and rollback reads them again.
                return
            ident = self._ids.setdefault(change, len(self._ids) + 1)
            entry = {
                "id": ident,
                "time": datetime.now(UTC).isoformat(),
                "operator": self.operator,
                "status": status,
                "target": change.target,
                "kind": change.kind,
                "setting": change.setting,
                "account_dn": change.account_dn,
                "before": change.before,
                "after": change.after,
                "command": change.command,
                "check_id": change.check_id,
                "fix": change.fix,
                "reason": reason,
            }
            self._file.write(json.dumps(entry) + "\n")
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_journal(path: Path) -> list[dict[str, Any]]:
    """Every entry in order. A last line cut short by a crash is dropped: that event never
    completed. Raises ValueError for damage anywhere else."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    entries = []
    for number, line in enumerate(lines, 1):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            if number < len(lines):
                raise ValueError(
                    f"{path}:{number}: this journal line is not JSON; the journal is damaged"
                ) from None
            continue
        if not isinstance(entry, dict):
            raise ValueError(
                f"{path}:{number}: this journal line is not a journal entry; the journal is damaged"
            )
        entries.append(entry)
    return entries


def change_of(entry: dict[str, Any]) -> Change:
    return Change(
        check_id=entry["check_id"],
        fix=entry["fix"],
        target=entry["target"],
        kind=entry["kind"],
        setting=entry["setting"],
        before=entry["before"],
        after=entry["after"],
        command=entry["command"],
        account_dn=entry["account_dn"],
    )
