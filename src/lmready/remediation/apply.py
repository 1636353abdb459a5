"""Making planned changes: one PowerShell round trip per host and one LDAP session per domain,
all at once, each change journaled before it is attempted and as soon as its outcome is known."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from lmready.credentials import CredentialError, Secret, resolve
from lmready.estate import Estate
from lmready.inventory import DomainEntry, Host, Inventory
from lmready.psrp import RemoteError, Session, open_session
from lmready.remediation import directory, hosts
from lmready.remediation.change import ALREADY, APPLIED, FAILED, HOST, Change, Outcome
from lmready.remediation.journal import PLANNED, Journal
from lmready.remediation.plan import Plan

MAX_WORKERS = 32

SessionFor = Callable[[Host], Session]
SecretFor = Callable[[DomainEntry], Secret | None]


def apply_plan(
    plan: Plan,
    estate: Estate,
    journal: Journal,
    *,
    directory_secret_for: SecretFor | None = None,
    host_session_for: SessionFor | None = None,
) -> list[Outcome]:
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
) -> list[Outcome]:
    """``done`` is the journal status of a change that was made ("rolled back" for a rollback)."""
    session_for = host_session_for or (lambda host: _open(host, inventory))
    secret_for = directory_secret_for or (lambda entry: _secret(entry, inventory))
    groups: dict[tuple[str, str], list[Change]] = {}
    for change in changes:
        groups.setdefault((change.kind, change.target.lower()), []).append(change)
        journal.record(change, PLANNED)

    def run(group: list[Change]) -> list[Outcome]:
        first = group[0]
        if first.kind == HOST:
            outcomes = _host_group(inventory.hosts[first.target], group, session_for)
        else:
            outcomes = _domain_group(inventory, first.target, group, secret_for)
        for outcome in outcomes:
            status = done if outcome.status == APPLIED else outcome.status
            journal.record(outcome.change, status, outcome.reason)
        return outcomes

    if not groups:
        return []
    with ThreadPoolExecutor(min(MAX_WORKERS, len(groups)), thread_name_prefix="lmready-remediate") as pool:
        results = [o for outcomes in pool.map(run, groups.values()) for o in outcomes]
    by_change = {o.change: o for o in results}
    return [by_change[c] for c in dict.fromkeys(changes)]


def _host_group(host: Host, changes: list[Change], session_for: SessionFor) -> list[Outcome]:
    try:
        session = session_for(host)
    except (RemoteError, CredentialError) as exc:
        return [Outcome(c, FAILED, str(exc)) for c in changes]
    try:
        return hosts.apply_host(host, changes, session)
    finally:
        session.close()


def _domain_group(
    inventory: Inventory, name: str, changes: list[Change], secret_for: SecretFor
) -> list[Outcome]:
    entry = next((e for e in inventory.domains if e.name.lower() == name.lower()), None)
    if entry is None:
        sentence = f"{name}: the inventory has no directory entry for this domain; add it under directory:."
        return [Outcome(c, FAILED, sentence) for c in changes]
    try:
        secret = secret_for(entry)
    except CredentialError as exc:
        return [Outcome(c, FAILED, f"domain {name}: {exc}") for c in changes]
    return directory.apply_domain(entry, changes, secret)


def _open(host: Host, inventory: Inventory) -> Session:
    credential = host.connection.credential
    return open_session(host, resolve(credential, inventory.credentials.get(credential or "")))


def _secret(entry: DomainEntry, inventory: Inventory) -> Secret | None:
    if entry.auth == "kerberos":
        return None
    return resolve(entry.credential, inventory.credentials.get(entry.credential or ""))


def purge_advice(plan: Plan, outcomes: list[Outcome]) -> str | None:
    """The klist advice for the hosts whose delegation changed, or None when none did."""
    made = {
        o.change for o in outcomes if o.status == APPLIED and o.reason != ALREADY and o.change.kind != HOST
    }
    names = {h for finding, changes in plan.covered if made.intersection(changes) for h in finding.hosts}
    return directory.klist_advice(sorted(names)) if names else None
