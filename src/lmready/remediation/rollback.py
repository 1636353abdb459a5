"""`lmready rollback JOURNAL`: put back the before-values of what a journal's run changed.

Every value is read again first. One that is no longer what lmready left is refused, with a
sentence naming it: somebody changed it since, and a rollback must not undo their change. A
change journaled as attempted with no result (the run was killed, or its host was given up on)
is restored if it reads as the value it set, said to be never made if it reads as the value
before, and refused otherwise. Host restores are compare-and-set on the host as well (see
hosts.py), so a change made between this read and the restore is kept too. The rollback is
journaled in a journal of its own, and can itself be rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lmready.estate import FactsUnavailable
from lmready.inventory import Inventory
from lmready.live import LiveCollector
from lmready.remediation.apply import SecretFor, SessionFor, run_changes
from lmready.remediation.change import (
    ALREADY,
    APPLIED,
    FAILED,
    REFUSED,
    SKIPPED,
    UNKNOWN,
    Change,
    ChangeResult,
    Value,
    show,
)
from lmready.remediation.journal import ATTEMPTED, ROLLED_BACK, Journal, change_of, read_journal
from lmready.remediation.plan import inverse
from lmready.remediation.verify import Collect, read_back

MADE = {APPLIED, ROLLED_BACK}
MAYBE = {ATTEMPTED, UNKNOWN}  # sent, but whether it was made is not known
FOUND = "found in place"  # applied, but the value was there already: not lmready's doing
NOT_MADE = {FAILED, REFUSED, SKIPPED, FOUND}


@dataclass
class Rollback:
    journal: Path  # the rollback's own journal
    # refusals first, then attempted changes never made, then the restores, newest change first
    outcomes: list[ChangeResult]


def rollback(
    journal_path: Path,
    inventory: Inventory,
    *,
    journal: Journal | None = None,
    directory_secret_for: SecretFor | None = None,
    host_session_for: SessionFor | None = None,
    collect: Collect | None = None,
) -> Rollback:
    """Restore what ``journal_path`` records as made, newest first. ``journal`` (default: a new
    rollback-*.jsonl beside the original) receives the rollback's own entries."""
    changes: dict[int, Change] = {}
    statuses: dict[int, set[str]] = {}
    for entry in read_journal(journal_path):
        changes.setdefault(entry["id"], change_of(entry))
        # A value found already in place was not lmready's doing: not "made", so never undone.
        status = FOUND if entry["reason"] == ALREADY else entry["status"]
        statuses.setdefault(entry["id"], set()).add(status)
    own = journal or Journal.create(Path(journal_path).parent, prefix="rollback")
    try:
        return Rollback(
            own.path,
            _restore(changes, statuses, inventory, own, directory_secret_for, host_session_for, collect),
        )
    finally:
        if journal is None:
            own.close()


def _restore(
    changes: dict[int, Change],
    statuses: dict[int, set[str]],
    inventory: Inventory,
    own: Journal,
    directory_secret_for: SecretFor | None,
    host_session_for: SessionFor | None,
    collect: Collect | None,
) -> list[ChangeResult]:
    estate = (collect or LiveCollector().collect)(inventory)
    refused: list[ChangeResult] = []
    never: list[ChangeResult] = []  # attempted, found at the value before: nothing to restore
    restores: list[Change] = []
    maybe_made: set[Change] = set()
    for ident in sorted(changes, reverse=True):
        change, seen = changes[ident], statuses[ident]
        maybe = not seen & MADE and bool(seen & MAYBE) and not seen & NOT_MADE
        if not seen & MADE and not maybe:
            continue  # never sent, or known not to have been made: nothing to restore
        try:
            now = read_back(change, estate)
        except FactsUnavailable as exc:
            why = " may have been made and" if maybe else ""
            refused.append(_refuse(change, change.after, f"{_name(change)}{why} was not restored: {exc}"))
            continue
        if maybe and now == change.before and now != change.after:
            never.append(
                ChangeResult(
                    change,
                    SKIPPED,
                    f"{_name(change)}: it was attempted but never made: it is {show(now)}, the value before the "
                    "run, so there is nothing to restore.",
                )
            )
            continue
        if now != change.after:
            why = (
                f"{_name(change)} was attempted and is now {show(now)}, neither the value before nor the one "
                "it set: it changed since, so it is left as it is."
                if maybe
                else f"{_name(change)} is now {show(now)}, not {show(change.after)} as lmready left it: it "
                "changed since, so it is left as it is."
            )
            refused.append(_refuse(change, now, why))
            continue
        restore = inverse(change, now)
        restores.append(restore)
        if maybe:
            maybe_made.add(restore)
    for outcome in [*refused, *never]:
        own.record(outcome.change, outcome.status, outcome.reason)
    outcomes = run_changes(
        restores,
        inventory,
        own,
        done=ROLLED_BACK,
        directory_secret_for=directory_secret_for,
        host_session_for=host_session_for,
    )
    return refused + never + [_said(o, o.change in maybe_made) for o in outcomes]


def _said(outcome: ChangeResult, maybe: bool) -> ChangeResult:
    """A rollback's outcome as the admin reads it: a restore that the host skipped (the value
    changed between the read and the restore) was refused; an attempted change says it had been made."""
    if outcome.status == SKIPPED:
        return ChangeResult(outcome.change, REFUSED, outcome.reason)
    if maybe and outcome.status == APPLIED and not outcome.reason:
        return ChangeResult(
            outcome.change,
            APPLIED,
            f"{outcome.change.target}: {outcome.change.setting}: it had been made (attempted, its outcome not "
            "journaled) and is restored.",
        )
    return outcome


def _refuse(change: Change, now: Value, reason: str) -> ChangeResult:
    return ChangeResult(inverse(change, now), REFUSED, reason)


def _name(change: Change) -> str:
    where = f"{change.target} {change.account_dn}" if change.account_dn else change.target
    return f"{where}: {change.setting} ({show(change.before)} -> {show(change.after)})"
