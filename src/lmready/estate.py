"""The estate: every host's and domain's facts for one run, and the views checks receive."""

from __future__ import annotations

from dataclasses import dataclass, field

from lmready.facts import ComputerAccount, DomainFacts, HostFacts
from lmready.inventory import Inventory, Policy
from lmready.text import printable


class FactsUnavailable(Exception):
    """Facts could not be had; the message is one sentence naming the host or domain.

    The sentence often quotes the host's own words (an error text, a key of its answer), so it
    is made printable here, once for every output."""

    def __init__(self, message: str):
        super().__init__(printable(message))


@dataclass(frozen=True)
class HostView:
    """What a host-scoped check sees."""

    name: str
    facts: HostFacts
    policy: Policy
    # The host's domain in the directory: None when the inventory configures no directory for it.
    domain: DomainFacts | None = None

    @property
    def account(self) -> ComputerAccount | None:
        if self.domain is None:
            return None
        return find_account(self.domain, self.name, self.facts)

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class PairView:
    """What a pair-scoped check sees: one migration direction, src -> dst."""

    src: HostView
    dst: HostView
    # Facts of every domain the directory knows, for trust evaluation.
    domains: dict[str, DomainFacts] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return pair_id(self.src.name, self.dst.name)

    def __str__(self) -> str:
        return self.id


def pair_id(src: str, dst: str) -> str:
    return f"{src}->{dst}"


def require_directory(view: HostView | PairView) -> None:
    """For checks that cannot judge without Active Directory: no directory is an error, not a pass."""
    for end in (view.src, view.dst) if isinstance(view, PairView) else (view,):
        if end.domain is None:
            raise FactsUnavailable(
                f"{end}: its domain {end.facts.domain} has no entry under directory: in the "
                "inventory, so its Active Directory facts cannot be read; add it there."
            )


def find_account(domain: DomainFacts, name: str, facts: HostFacts) -> ComputerAccount | None:
    sam = f"{facts.computer_name}$".lower()
    for account in domain.computers:
        if (
            account.host == name
            or account.dns_host_name.lower() == facts.fqdn
            or account.sam_account_name.lower() == sam
        ):
            return account
    return None


@dataclass
class Estate:
    """Facts of one run. A value that is an exception says why those facts are missing."""

    inventory: Inventory
    hosts: dict[str, HostFacts | FactsUnavailable]
    domains: dict[str, DomainFacts | FactsUnavailable]

    def host_view(self, name: str, with_directory: bool = False) -> HostView:
        facts = self.hosts.get(name)
        if facts is None:
            raise FactsUnavailable(f"{name}: no facts were collected for this host.")
        if isinstance(facts, FactsUnavailable):
            raise facts
        domain = self._domain(facts.domain) if with_directory else None
        return HostView(name, facts, self.inventory.hosts[name].policy, domain)

    def pair_view(self, src: str, dst: str, with_directory: bool = False) -> PairView:
        a = self.host_view(src, with_directory)
        b = self.host_view(dst, with_directory)
        domains = {}
        if with_directory:
            domains = {n: d for n, d in self.domains.items() if isinstance(d, DomainFacts)}
        return PairView(a, b, domains)

    def _domain(self, name: str) -> DomainFacts | None:
        for key, value in self.domains.items():
            if key.lower() == name.lower():
                if isinstance(value, FactsUnavailable):
                    raise value
                return value
        return None
