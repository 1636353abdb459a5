"""`lmready rollback JOURNAL`: put back the before-values of what a journal's run changed.

Every value is read again first. One that is no longer what lmready left is refused, with a
sentence naming it: somebody changed it since, and a rollback must not undo their change.
The rollback is journaled in a journal of its own, and can itself be rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lmready.estate import FactsUnavailable
from lmready.inventory import Inventory
from lmready.live import LiveCollector
from lmready.remediation.apply import SecretFor, SessionFor, run_changes
from lmready.remediation.change import ALREADY, APPLIED, REFUSED, Change, Outcome, Value, show
from lmready.remediation.journal import PLANNED, ROLLED_BACK, Journal, change_of, read_journal
from lmready.remediation.plan import inverse
from lmready.remediation.verify import Collect, read_back

MADE = (APPLIED, ROLLED_BACK)


@dataclass
class Rollback:
    journal: Path  # the rollback's own journal
    outcomes: list[Outcome]  # refusals first, then the restores, newest change first


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
        status = "found in place" if entry["reason"] == ALREADY else entry["status"]
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
) -> list[Outcome]:
    estate = (collect or LiveCollector().collect)(inventory)
    refused: list[Outcome] = []
    restores: list[Change] = []
    for ident in sorted(changes, reverse=True):
        change, seen = changes[ident], statuses[ident]
        if not seen & set(MADE):
            if seen == {PLANNED}:  # the run stopped before it recorded an outcome
                why = (
                    f"{_name(change)}: its outcome was never recorded, so it is left alone; check it by hand."
                )
                refused.append(_refuse(change, change.after, why))
            continue
        try:
            now = read_back(change, estate)
        except FactsUnavailable as exc:
            refused.append(_refuse(change, change.after, f"{_name(change)} was not restored: {exc}"))
            continue
        if now != change.after:
            refused.append(
                _refuse(
                    change,
                    now,
                    f"{_name(change)} is now {show(now)}, not {show(change.after)} as lmready left it: it "
                    "changed since, so it is left as it is.",
                )
            )
            continue
        restores.append(inverse(change, now))
    for outcome in refused:
        own.record(outcome.change, REFUSED, outcome.reason)
    outcomes = run_changes(
        restores,
        inventory,
        own,
        done=ROLLED_BACK,
        directory_secret_for=directory_secret_for,
        host_session_for=host_session_for,
    )
    return refused + outcomes


def _refuse(change: Change, now: Value, reason: str) -> Outcome:
    return Outcome(inverse(change, now), REFUSED, reason)


def _name(change: Change) -> str:
    where = f"{change.target} {change.account_dn}" if change.account_dn else change.target
    return f"{where}: {change.setting} ({show(change.before)} -> {show(change.after)})"
