"""The estate: every host's and domain's facts for one run, and the views checks receive."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from lmready.facts import ComputerAccount, DomainFacts, HostFacts
from lmready.inventory import Host, Inventory, Policy, is_ip
from lmready.text import printable
from lmready.values import Target


class FactsUnavailable(Exception):
    """Facts could not be had; the message is one sentence naming the host or domain. ``cause``
    is the reason shared by every check it stops (reports say it once), when there is one."""

    def __init__(self, message: str, cause: str = ""):
        # The sentence often quotes the host's own words: made printable here, once for every output.
        super().__init__(printable(message))
        self.cause = printable(cause) if cause else str(self)

    def __reduce__(self):
        # Facts travel to xdist workers pickled: keep the cause, which args alone would lose.
        return (type(self), (str(self), self.cause))


# Properties of HostFacts and the fields they are computed from.
_DERIVED = {"fqdn": ("dns_host_name", "domain", "part_of_domain")}


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
        return find_account(self.domain, self.name)

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
    return Target.pair(src, dst)


def require_directory(view: HostView | PairView) -> None:
    """For checks that cannot judge without Active Directory: no directory is an error, not a pass."""
    for end in (view.src, view.dst) if isinstance(view, PairView) else (view,):
        if end.domain is None:
            raise FactsUnavailable(
                f"{end}: its domain {end.facts.domain} has no entry under directory: in the "
                "inventory, so its Active Directory facts cannot be read; add it there."
            )


def find_account(domain: DomainFacts, name: str) -> ComputerAccount | None:
    """The account the directory reader found for inventory host ``name`` by the inventory's
    expectation (see ``expected_name``); never one found by what the host says of itself."""
    return next((a for a in domain.computers if a.host == name), None)


# --- identity (REQUIREMENTS.md 3b) ---------------------------------------------------------------
#
# What "agree" means, precisely. E is the inventory's expectation of the host's DNS name: its
# address when that is a DNS name, else (an IP address) its inventory name.
#   1. The host reports Win32_ComputerSystem.DNSHostName (D) and .Domain: when E has a dot,
#      D.Domain equals E; when E is one label, D equals E (case-insensitive, trailing dot ignored).
#   2. When the inventory's address is an IP address that is not loopback, the host reports that
#      address among its own (Get-NetIPAddress). A loopback address proves nothing (a tunnel or
#      the lab), so the name alone binds it.
#   3. Where the host's domain is read from the directory: exactly one computer account there has
#      dNSHostName E (or first label E), found by E alone; its dNSHostName equals D.Domain, its
#      sAMAccountName is the host's $env:COMPUTERNAME plus $, and it is no domain controller's
#      account (SERVER_TRUST_ACCOUNT, PARTIAL_SECRETS_ACCOUNT, primaryGroupID 516 or 521).
# A host that fails any of these gets one "identity mismatch" sentence instead of its facts: every
# check on it and every pair with it is an error, and remediation plans nothing for or towards it.
# What the transport authenticates (WinRM over HTTPS with a validated certificate, Kerberos) is
# what makes "the address lmready connected to" mean something; over plain HTTP with NTLM or Basic
# these comparisons are all there is.


def expected_name(host: Host) -> str:
    return host.name if is_ip(host.address) else host.address


def names_host(dns_name: str, expected: str) -> bool:
    """Whether a DNS name is the expected one: equal when ``expected`` is an FQDN, equal in its
    first label when it is a single label."""
    have, want = dns_name.lower().rstrip("."), expected.lower().rstrip(".")
    return have == want if "." in want else have.split(".")[0] == want


def bind_identity(
    host: Host, facts: HostFacts, domain: DomainFacts | FactsUnavailable | None
) -> HostFacts | FactsUnavailable:
    """``facts`` when they are bound to ``host`` (the rules above), else one sentence why not."""
    expected = expected_name(host)
    reported = (
        f"{facts.computer_name} ({facts.dns_host_name}.{facts.domain})"
        if facts.dns_host_name
        else facts.computer_name
    )

    def mismatch(why: str) -> FactsUnavailable:
        return FactsUnavailable(
            f"{host.name}: identity mismatch: {why}; none of its facts are trusted and nothing is changed "
            "for or towards it; correct the inventory's address, or find out why the host answers with "
            "another identity."
        )

    unread = {f: facts.unread[f] for f in ("dns_host_name", "domain") if f in facts.unread}
    if unread:
        return mismatch(f"its DNS host name could not be read ({next(iter(unread.values()))})")
    if not facts.dns_host_name:
        return mismatch("it reported no DNS host name (Win32_ComputerSystem.DNSHostName)")
    if "." in facts.dns_host_name.strip("."):
        # Windows' DNSHostName is one label; a dotted one would let the host pick the domain whose
        # directory binds it (hv01.corp + example.com reads as hv01.corp.example.com).
        return mismatch(f"it reports the DNS host name {facts.dns_host_name}, which is not a single label")
    if not names_host(facts.fqdn, expected):
        return mismatch(f"the inventory expects {expected}, and the host reports {reported}")
    if is_ip(host.address) and not ipaddress.ip_address(host.address).is_loopback:
        if "addresses" in facts.unread:
            return mismatch(
                f"its addresses could not be read ({facts.unread['addresses']}), so it cannot be "
                f"shown to own {host.address}"
            )
        owned = set()
        for a in facts.addresses:
            try:
                owned.add(a.ip)
            except ValueError:
                continue
        if ipaddress.ip_address(host.address) not in owned:
            return mismatch(f"lmready connected to {host.address}, which is not among the host's addresses")
    if not isinstance(domain, DomainFacts):
        return facts  # no directory, or it could not be read: its checks say so; nothing is written there
    account = find_account(domain, host.name)
    if account is None:
        return mismatch(
            f"no single computer account in {domain.name} has the DNS host name {expected} (none, or "
            "several), so the host's account cannot be told"
        )
    if account.is_domain_controller:
        return mismatch(
            f"{account.dn} is a domain controller's account (userAccountControl {account.user_account_control:#x}, "
            f"primaryGroupID {account.primary_group_id}), and lmready neither audits nor changes domain controllers"
        )
    if account.dns_host_name.lower() != facts.fqdn:
        return mismatch(
            f"its account {account.dn} has dNSHostName {account.dns_host_name}, the host reports {reported}"
        )
    if account.netbios_name.lower() != facts.computer_name.lower():
        return mismatch(
            f"its account {account.dn} is {account.sam_account_name}, the host reports the computer name "
            f"{facts.computer_name}"
        )
    return facts


def bind_identities(
    inventory: Inventory,
    hosts: dict[str, HostFacts | FactsUnavailable],
    domains: dict[str, DomainFacts | FactsUnavailable],
) -> dict[str, HostFacts | FactsUnavailable]:
    by_name = {name.lower(): value for name, value in domains.items()}
    out: dict[str, HostFacts | FactsUnavailable] = {}
    for name, facts in hosts.items():
        if not isinstance(facts, HostFacts) or "computer_name" in facts.unread:
            out[name] = facts  # nothing the host said to bind: its checks already say why
            continue
        host = inventory.hosts[name]
        answering = [d.name for d in domains.values() if isinstance(d, DomainFacts) and find_account(d, name)]
        expected = expected_name(host)
        unreadable = [d for d in domains.values() if not isinstance(d, DomainFacts)]
        own = by_name.get(facts.domain.lower())
        if (
            "." in expected
            and not facts.part_of_domain
            and any(expected.lower().endswith("." + d.lower()) for d in domains)
        ):
            out[name] = FactsUnavailable(
                f"{name}: identity mismatch: the inventory expects {expected}, whose domain the directory "
                "holds, and the host says it is not joined to a domain; nothing is changed for or towards it."
            )
            continue
        if "." not in expected and unreadable and isinstance(own, DomainFacts):
            # A short name is looked up in every domain: with one of them unread, an account of the
            # same name in another could be any domain user's.
            out[name] = FactsUnavailable(
                f"{name}: identity mismatch: its inventory name {expected_name(host)} is a single label and "
                "not every domain of the directory could be read, so which account is the host's cannot "
                "be told; nothing is changed for or towards it; give its FQDN as address: in the inventory."
            )
            continue
        if len(answering) > 1:
            # A short name two domains answer: which account is the host's cannot be told.
            out[name] = FactsUnavailable(
                f"{name}: identity mismatch: computer accounts named {expected_name(host)} exist in "
                f"{' and '.join(sorted(answering))}, so which one is the host's cannot be told; nothing "
                "is changed for or towards it; give its FQDN as address: in the inventory."
            )
            continue
        out[name] = bind_identity(host, facts, own)
    return out


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
