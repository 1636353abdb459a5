"""Live collection: preflight, then one PowerShell round trip per host, then one batched port
probe per migration source, all hosts concurrently. A host that fails gets one sentence on each
of its checks; the others are not disturbed.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

from lmready import preflight
from lmready.constants import MIGRATION_PORT, SMB_PORT
from lmready.credentials import CredentialError, resolve
from lmready.estate import Estate, FactsUnavailable, bind_identities, expected_name
from lmready.facts import DomainFacts, HostFacts, PerformanceOption, Preflight
from lmready.inventory import DomainEntry, Host, Inventory
from lmready.ldap_directory import DirectoryError, collect_domain
from lmready.per_vm import Selection, run_rounds
from lmready.psrp import RemoteError, Session, open_session
from lmready.wire import WireError, collection_script, parse_host, parse_probes, probe_script

MAX_WORKERS = 32  # sessions in flight; each is mostly waiting on the network
PREFLIGHT_TIMEOUT = 3.0

Progress = Callable[[str, int, int], None]


class LiveCollector:
    def __init__(
        self,
        progress: Progress | None = None,
        workers: int = MAX_WORKERS,
        selection: Selection | None = None,
        extra_round: Callable | None = None,
    ):
        self.progress = progress or (lambda what, done, total: None)
        self.workers = workers
        self.selection = selection or Selection()
        # Another round on the open sessions (lmready explain's event logs):
        # extra_round(inventory, hosts, sessions, run_each).
        self.extra_round = extra_round

    def collect(self, inventory: Inventory) -> Estate:
        hosts: dict[str, HostFacts | FactsUnavailable] = {}
        checked = preflight.run(
            [preflight.Probe(h.name, h.address, h.connection.port) for h in inventory.hosts.values()],
            PREFLIGHT_TIMEOUT,
        )
        reachable = []
        for host in inventory.hosts.values():
            outcome = checked[host.name]
            if outcome.ok:
                reachable.append(host)
            else:
                # X5 fails on this; every other check on the host is an error pointing to it.
                hosts[host.name] = HostFacts.not_collected(
                    host.name,
                    f"{host.name}: preflight failed (LMR-055, X5): {outcome.detail}; check the name, DNS "
                    f"and that WinRM listens on port {host.connection.port}.",
                    datetime.now(UTC),
                    Preflight(
                        resolved=outcome.resolved, winrm_port_open=outcome.port_open, detail=outcome.detail
                    ),
                )

        sessions: dict[str, Session] = {}
        try:
            results = self._each(
                reachable, lambda h: self._first_round(h, inventory, checked[h.name]), "collecting facts"
            )
            for host, result in zip(reachable, results, strict=True):
                if isinstance(result, FactsUnavailable):
                    outcome = checked[host.name]
                    hosts[host.name] = HostFacts.not_collected(
                        host.name,
                        str(result),
                        datetime.now(UTC),
                        Preflight(resolved=outcome.resolved, winrm_port_open=outcome.port_open),
                    )
                else:
                    sessions[host.name], hosts[host.name] = result
            # The names are bound before the probe round, so that no host probes addresses that an
            # impostor reported; the directory's part of the binding follows below.
            hosts = bind_identities(inventory, hosts, {})
            self._pair_round(inventory, hosts, sessions)
            run_rounds(inventory, hosts, sessions, self._each, self.selection, deadline)  # V1-V3
            if self.extra_round is not None:
                self.extra_round(inventory, hosts, sessions, self._each)
        finally:
            close_all(list(sessions.values()))
        domains = self._domains(inventory, hosts)
        # Facts count only once they are bound to their inventory entry (REQUIREMENTS.md 3b).
        bound = bind_identities(inventory, hosts, domains)
        return Estate(inventory, {name: bound[name] for name in inventory.hosts}, domains)

    def _domains(
        self, inventory: Inventory, hosts: dict[str, HostFacts | FactsUnavailable]
    ) -> dict[str, DomainFacts | FactsUnavailable]:
        """One LDAP session per domain, after the hosts said which domain they are in."""
        entries = list(inventory.domains)
        # The accounts that run migrations (R1: they must be delegable), read in their domain.
        operators = sorted(
            {
                facts.session.user
                for facts in hosts.values()
                if isinstance(facts, HostFacts) and facts.session.user
            }
        )
        ports = preflight.run(
            [preflight.Probe(e.name, *ldap_endpoint(e.url)) for e in entries], PREFLIGHT_TIMEOUT
        )

        def read(entry: DomainEntry) -> DomainFacts | FactsUnavailable:
            outcome = ports[entry.name]
            if not outcome.ok:
                return FactsUnavailable(
                    f"domain {entry.name} ({entry.url}): preflight failed: {outcome.detail}; check the URL "
                    "and that the domain controller answers."
                )
            # Accounts are looked up by the inventory's expectation: an FQDN in the domain it names
            # and the one the host reports, a single label in every domain (so that binding can
            # refuse a short name that two domains answer); binding then compares them with the
            # host's word.
            members = {}
            for name, facts in hosts.items():
                expected = expected_name(inventory.hosts[name])
                if (
                    "." not in expected
                    or expected.lower().endswith("." + entry.name.lower())
                    or (isinstance(facts, HostFacts) and facts.domain.lower() == entry.name.lower())
                ):
                    members[name] = expected
            try:
                secret = (
                    None
                    if entry.auth == "kerberos"
                    else resolve(entry.credential, inventory.credentials.get(entry.credential or ""))
                )
            except CredentialError as exc:
                return FactsUnavailable(f"domain {entry.name}: {exc}")
            try:
                return collect_domain(
                    entry,
                    secret,
                    members,
                    connect_timeout=entry.connect_timeout,
                    auth="ntlm" if entry.auth == "ntlm" else "simple",
                    tls_server_name=entry.tls_server_name,
                    operators=operators,
                )
            except DirectoryError as exc:  # already one sentence about this domain
                return exc

        results = self._each(entries, read, "reading the directory") if entries else []
        return {e.name: r for e, r in zip(entries, results, strict=True)}

    def _each(self, items: list, work: Callable, what: str) -> list:
        return run_each(items, work, what, progress=self.progress, workers=self.workers)

    def _first_round(
        self, host: Host, inventory: Inventory, outcome: preflight.Outcome
    ) -> tuple[Session, HostFacts] | FactsUnavailable:
        try:
            secret = resolve(
                host.connection.credential, inventory.credentials.get(host.connection.credential or "")
            )
        except CredentialError as exc:
            return FactsUnavailable(f"{host.name}: {exc}")
        try:
            session = open_session(host, secret)
        except RemoteError as exc:
            return FactsUnavailable(str(exc))
        try:
            sent = datetime.now(UTC)
            output = session.run(collection_script(), "the collection script")
            received = datetime.now(UTC)
            # The host read its clock somewhere between sending and receiving: compare with the middle.
            runner = sent + (received - sent) / 2
            facts = parse_host(
                output.text, host.name, runner, Preflight(resolved=True, winrm_port_open=outcome.port_open)
            )
            if output.errors:
                facts = facts.model_copy(update={"script_errors": [*facts.script_errors, *output.errors]})
        except RemoteError as exc:
            session.close()
            return FactsUnavailable(str(exc))
        except WireError as exc:
            session.close()
            return FactsUnavailable(f"{host.name}: {exc}.")
        return session, facts

    def _pair_round(
        self,
        inventory: Inventory,
        hosts: dict[str, HostFacts | FactsUnavailable],
        sessions: dict[str, Session],
    ) -> None:
        targets: dict[str, list[dict]] = {}
        for src, dst in inventory.pairs:
            a, b = hosts.get(src), hosts.get(dst)
            if not isinstance(a, HostFacts) or not isinstance(b, HostFacts) or src not in sessions:
                continue
            if {"addresses", "migration", "migration_networks"} & b.unread.keys():
                continue  # where to probe is unknown; the checks that need it say why
            ports = [MIGRATION_PORT]
            options = {end.migration.performance_option for end in (a, b) if end.migration is not None}
            if PerformanceOption.SMB in options:
                ports.append(SMB_PORT)
            for address in migration_addresses(b):
                targets.setdefault(src, []).extend({"dst": dst, "address": address, "port": p} for p in ports)
        sources = [host for name, host in inventory.hosts.items() if name in targets]

        def probe(src: Host) -> list | str:
            try:
                output = sessions[src.name].run(probe_script(targets[src.name]), "the port probe script")
                return parse_probes(output.text)
            except (RemoteError, WireError) as exc:
                return str(exc)

        for host, result in zip(sources, self._each(sources, probe, "probing migration ports"), strict=True):
            src = host.name
            facts = hosts[src]
            assert isinstance(facts, HostFacts)
            if not isinstance(result, list):  # a sentence: the probes could not be taken
                unread = {**facts.unread, "probes": f"the port probe round failed: {result}"}
                hosts[src] = facts.model_copy(update={"unread": unread})
            else:
                hosts[src] = facts.model_copy(update={"probes": result})


def run_each(
    items: Sequence[Host | DomainEntry],
    work: Callable,
    what: str,
    *,
    progress: Progress | None = None,
    workers: int = MAX_WORKERS,
) -> list:
    """work(item) for every host or domain, concurrently (at most ``workers`` at once), in order.

    A bug in one item's work becomes that item's one-sentence result, and an item that runs
    past its deadline() is given up on (the result is FactsUnavailable naming the time it was
    given): pypsrp retries a read timeout five times, so a hung host would otherwise hold the
    whole run for minutes. Threads are daemons, so one that is still stuck on a dead host does
    not keep the process from exiting either. Collection, remediation and rollback all use it."""
    report = progress or (lambda what, done, total: None)
    total = len(items)
    report(what, 0, total)
    out: list = [None] * total
    results: queue.SimpleQueue = queue.SimpleQueue()
    slots = threading.Semaphore(workers)
    started: dict[int, float] = {}

    def run(i: int, item) -> None:
        try:
            result = work(item)
        except Exception as exc:
            result = FactsUnavailable(
                f"{item.name}: {what} failed: {type(exc).__name__}: {exc} (a bug in lmready; please report it)."
            )
        finally:
            slots.release()
        results.put((i, result))

    def launch() -> None:
        for i, item in enumerate(items):
            slots.acquire()
            started[i] = time.monotonic()
            threading.Thread(target=run, args=(i, item), daemon=True, name=f"lmready-{what}").start()

    threading.Thread(target=launch, daemon=True).start()
    done = 0
    while done < total:
        try:
            i, result = results.get(timeout=0.2)
            finished = [(i, result)]
        except queue.Empty:
            now = time.monotonic()
            finished = [
                (
                    i,
                    FactsUnavailable(
                        f"{items[i].name}: {what} did not finish within {deadline(items[i]):.0f} s (given up "
                        f"after {now - t:.1f} s); the host may be hung or overloaded; check WinRM on it, or "
                        "raise winrm.operation_timeout."
                    ),
                )
                for i, t in list(started.items())
                if out[i] is None and now - t > deadline(items[i])
            ]
        for i, result in finished:
            if out[i] is None:
                out[i] = result
                done += 1
                report(what, done, total)
    return out


def close_all(sessions: list[Session], wait: float = 10.0) -> None:
    """Close the sessions concurrently (one Delete each: a round trip apiece, so one after the
    other they cost as much as the whole collection), waiting a bounded time for them."""
    threads = [threading.Thread(target=s.close, daemon=True) for s in sessions]
    for t in threads:
        t.start()
    end = time.monotonic() + wait
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))


def deadline(item: Host | DomainEntry) -> float:
    """How long one host may take for one round: connecting, then the script itself, which
    WinRM keeps alive with OperationTimeout faults every operation_timeout seconds. A domain
    gets a few searches' worth after connecting."""
    if isinstance(item, DomainEntry):
        return item.connect_timeout + 60
    return item.connection.connect_timeout + 3 * item.connection.operation_timeout + 5


def ldap_endpoint(url: str) -> tuple[str, int]:
    parsed = urlsplit(url)
    return parsed.hostname or "", parsed.port or (636 if parsed.scheme == "ldaps" else 389)


def migration_addresses(facts: HostFacts, limit: int = 4) -> list[str]:
    """Where a source would send migration traffic: the host's addresses on its migration
    networks, or, when it takes any network, its addresses that are not loopback or link-local."""
    addresses = []
    networks = [n.network for n in facts.migration_networks]
    for a in facts.addresses:
        ip = a.ip  # validated by the facts model
        if ip.is_loopback or ip.is_link_local:
            continue
        if networks and not facts.migration.use_any_network and not any(ip in n for n in networks):
            continue
        addresses.append(str(ip))
    return addresses[:limit]
