"""Making planned changes: one PowerShell round trip per host and one LDAP session per domain,
all at once, each with the same deadline as collection (lmready.live.deadline). Each change is
journaled as planned, as attempted just before it is sent, and as soon as its outcome is known."""

from __future__ import annotations

from collections.abc import Callable

from lmready.credentials import CredentialError, Secret, resolve
from lmready.estate import Estate, FactsUnavailable
from lmready.inventory import DomainEntry, Host, Inventory
from lmready.live import run_each
from lmready.psrp import RemoteError, Session, open_session
from lmready.remediation import directory_changes, host_changes
from lmready.remediation.change import ALREADY, APPLIED, FAILED, HOST, UNKNOWN, Change, ChangeResult
from lmready.remediation.journal import ATTEMPTED, PLANNED, Journal
from lmready.remediation.plan import Plan

SessionFor = Callable[[Host], Session]
SecretFor = Callable[[DomainEntry], Secret | None]


def apply_plan(
    plan: Plan,
    estate: Estate,
    journal: Journal,
    *,
    directory_secret_for: SecretFor | None = None,
    host_session_for: SessionFor | None = None,
) -> list[ChangeResult]:
    """Make the plan's changes; an outcome per change, in plan order. An empty plan changes nothing."""
    return run_changes(
        plan.changes,
        estate.inventory,
        journal,
        directory_secret_for=directory_secret_for,
        host_session_for=host_session_for,
    )


def run_changes(
    changes: list[Change],
    inventory: Inventory,
    journal: Journal,
    *,
    done: str = APPLIED,
    directory_secret_for: SecretFor | None = None,
    host_session_for: SessionFor | None = None,
) -> list[ChangeResult]:
    """``done`` is the journal status of a change that was made ("rolled back" for a rollback)."""
    session_for = host_session_for or (lambda host: _open(host, inventory))
    secret_for = directory_secret_for or (lambda entry: _secret(entry, inventory))
    groups: dict[tuple[str, str], list[Change]] = {}
    for change in changes:
        groups.setdefault((change.kind, change.target.lower()), []).append(change)
        journal.record(change, PLANNED)

    def attempt(group: list[Change]) -> None:
        for change in group:  # fsync'ed before anything is sent
            journal.record(change, ATTEMPTED)

    def finish(outcomes: list[ChangeResult]) -> list[ChangeResult]:
        for outcome in outcomes:
            status = done if outcome.status == APPLIED else outcome.status
            journal.record(outcome.change, status, outcome.reason)
        return outcomes

    outcomes: dict[Change, ChangeResult] = {}
    # Each group runs against a host or a domain entry, the items collection gives a deadline.
    jobs: dict[int, tuple[Host | DomainEntry, list[Change]]] = {}
    for (kind, target), group in groups.items():
        if kind == HOST:
            host = inventory.hosts[group[0].target]
            jobs[id(host)] = (host, group)
            continue
        entry = next((e for e in inventory.domains if e.name.lower() == target), None)
        if entry is None:
            sentence = f"{group[0].target}: the inventory has no directory entry for this domain; add it under directory:."
            outcomes.update((o.change, o) for o in finish([ChangeResult(c, FAILED, sentence) for c in group]))
        else:
            jobs[id(entry)] = (entry, group)

    def run(item: Host | DomainEntry) -> list[ChangeResult]:
        _, group = jobs[id(item)]
        if isinstance(item, Host):
            return finish(_host_group(item, group, session_for, attempt))
        return finish(_domain_group(item, group, secret_for, attempt))

    items = [item for item, _ in jobs.values()]
    for item, result in zip(items, run_each(items, run, "applying changes"), strict=True):
        if isinstance(result, FactsUnavailable):  # given up at its deadline, or a bug
            reason = f"{result} Whether it changed anything is unknown."
            result = finish([ChangeResult(c, UNKNOWN, reason) for c in jobs[id(item)][1]])
        outcomes.update((o.change, o) for o in result)
    return [outcomes[c] for c in dict.fromkeys(changes)]


def _host_group(
    host: Host, changes: list[Change], session_for: SessionFor, attempt: Callable[[list[Change]], None]
) -> list[ChangeResult]:
    try:
        session = session_for(host)
    except (RemoteError, CredentialError) as exc:
        return [ChangeResult(c, FAILED, str(exc)) for c in changes]
    try:
        attempt(changes)
        return host_changes.apply_host(host, changes, session)
    finally:
        session.close()


def _domain_group(
    entry: DomainEntry,
    changes: list[Change],
    secret_for: SecretFor,
    attempt: Callable[[list[Change]], None],
) -> list[ChangeResult]:
    try:
        secret = secret_for(entry)
    except CredentialError as exc:
        return [ChangeResult(c, FAILED, f"domain {entry.name}: {exc}") for c in changes]
    return directory_changes.apply_domain(entry, changes, secret, attempt)


def _open(host: Host, inventory: Inventory) -> Session:
    credential = host.connection.credential
    return open_session(host, resolve(credential, inventory.credentials.get(credential or "")))


def _secret(entry: DomainEntry, inventory: Inventory) -> Secret | None:
    if entry.auth == "kerberos":
        return None
    return resolve(entry.credential, inventory.credentials.get(entry.credential or ""))


def purge_advice(plan: Plan, outcomes: list[ChangeResult]) -> str | None:
    """The klist advice for the hosts whose delegation changed, or None when none did."""
    made = {
        o.change for o in outcomes if o.status == APPLIED and o.reason != ALREADY and o.change.kind != HOST
    }
    names = {h for finding, changes in plan.covered if made.intersection(changes) for h in finding.hosts}
    return directory_changes.klist_advice(sorted(names)) if names else None
