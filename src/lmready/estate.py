"""The estate: every host's and domain's facts for one run, and the views checks receive."""

from __future__ import annotations

from dataclasses import dataclass, field

from lmready.facts import ComputerAccount, DomainFacts, HostFacts
from lmready.inventory import Inventory, Policy
from lmready.text import printable


class FactsUnavailable(Exception):
    """Facts could not be had; the message is one sentence naming the host or domain. ``cause``
    is the reason shared by every check it stops (reports say it once), when there is one."""

    def __init__(self, message: str, cause: str = ""):
        # The sentence often quotes the host's own words: made printable here, once for every output.
        super().__init__(printable(message))
        self.cause = printable(cause) if cause else str(self)


# Properties of HostFacts and the fields they are computed from.
_DERIVED = {"fqdn": ("computer_name", "domain", "part_of_domain")}


class ReadFacts:
    """A host's facts as checks see them: reading a fact the collection could not read raises
    FactsUnavailable with the reason, so a check that needs it is an error, never a pass on a
    default value. Checks cannot forget to ask: every attribute read goes through here."""

    __slots__ = ("_facts", "_host")

    def __init__(self, facts: HostFacts, host: str):
        self._facts = facts
        self._host = host

    def __getattr__(self, name: str):
        unread = self._facts.unread
        if unread:
            for field_name in _DERIVED.get(name, (name,)):
                if field_name in unread:
                    reason = unread[field_name]
                    cause = reason if reason.startswith(f"{self._host}:") else f"{self._host}: {reason}"
                    raise FactsUnavailable(f"{cause} [this check needs {field_name}]", cause)
        return getattr(self._facts, name)

    @property
    def raw(self) -> HostFacts:
        """The model itself, for code that handles unread facts on its own (reports, remediation)."""
        return self._facts


@dataclass(frozen=True)
class HostView:
    """What a host-scoped check sees."""

    name: str
    facts: HostFacts  # a ReadFacts when made by Estate.host_view
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
        guarded: HostFacts = ReadFacts(facts, name)  # type: ignore[assignment]
        domain = self._domain(guarded.domain) if with_directory else None
        return HostView(name, guarded, self.inventory.hosts[name].policy, domain)

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
