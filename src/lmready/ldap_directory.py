"""Active Directory facts over LDAP (ldap3): one connection per domain and the same handful of
searches whatever the number of hosts (REQUIREMENTS.md A2, A3, A5, R1, R4).

Transport: LDAPS with certificate and host name validation, StartTLS on request, plain LDAP for
sealed binds or when the inventory allows it. Binds: simple (UPN, DN or DOMAIN\\user) over TLS, or
NTLM (SASL GSS-SPNEGO, sealed) with the inventory's credential; Kerberos (SASL GSSAPI, the caller's
ticket cache) without one, sealed over plain LDAP or with a channel binding token over TLS
(lmready.ldap_sasl). So a DC that requires LDAP signing and channel binding is read too.
"""

from __future__ import annotations

import base64
import contextlib
import re
import ssl
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import ldap3
from ldap3.core import exceptions as lx
from ldap3.protocol.formatters.formatters import format_sid
from ldap3.utils.conv import escape_filter_chars
from spnego.exceptions import SpnegoError

from lmready import ldap_sasl
from lmready.credentials import Secret
from lmready.estate import FactsUnavailable, names_host
from lmready.facts import ComputerAccount, DomainFacts, OperatorAccount, Trust
from lmready.inventory import DomainEntry, is_ip
from lmready.security_descriptor import DescriptorError
from lmready.security_descriptor import parse as parse_descriptor

DOMAIN_ADMINS_RID = 512
PROTECTED_USERS_RID = 525
# LDAP_MATCHING_RULE_IN_CHAIN: membership through nested groups, without the tokenGroups read right.
IN_CHAIN = "1.2.840.113556.1.4.1941"
PAGE_SIZE = 500
READ_TIMEOUT = 60  # seconds; ldap3 packs it into a socket option as an integer

# What Active Directory's "data" code in a failed bind's message means.
_BIND_REASONS = {
    "525": "the user does not exist",
    "52e": "the user name or password is wrong",
    "530": "the account may not log on at this time",
    "531": "the account may not log on from this computer",
    "532": "the password has expired",
    "533": "the account is disabled",
    "701": "the account has expired",
    "773": "the password must be changed before it can be used",
    "775": "the account is locked out",
}
_COMPUTER_ATTRIBUTES = [
    "sAMAccountName",
    "dNSHostName",
    "userAccountControl",
    "msDS-AllowedToDelegateTo",
    "servicePrincipalName",
    "msDS-AllowedToActOnBehalfOfOtherIdentity",
    "objectSid",
    "primaryGroupID",
]
_TRUST_ATTRIBUTES = ["trustPartner", "flatName", "trustDirection", "trustType", "trustAttributes"]


class DirectoryError(FactsUnavailable):
    """One sentence: which domain and DC, what failed, how to fix it."""


def collect_domain(
    entry: DomainEntry,
    secret: Secret | None,
    hosts: dict[str, str],
    *,
    connect_timeout: float = 10,
    auth: Literal["simple", "ntlm"] = "simple",
    tls_server_name: str | None = None,
    operators: list[str] | tuple[str, ...] = (),
) -> DomainFacts:
    """Read the facts of one domain.

    ``operators`` are the session users the hosts reported (DOMAIN\\user); those of this domain
    are read for R1's delegability (Protected Users, NOT_DELEGATED).

    ``hosts`` maps inventory names to the DNS name the inventory expects the host to have (its
    FQDN, or a single label): a host's account is found by what the inventory says, never by
    what the host says about itself (REQUIREMENTS.md 3b; lmready.identity compares the two). With a
    ``secret`` the bind is ``auth`` (simple or NTLM); without one it is Kerberos. ``tls_server_name``
    is the name the DC's certificate must carry when the URL holds another (an address, say).
    Raises DirectoryError.
    """
    where = f"domain {entry.name} ({entry.url})"
    conn = _connect(entry, secret, where, connect_timeout, auth, tls_server_name)
    try:
        return _Reader(conn, entry, where).facts(_principal(secret), hosts, operators)
    except lx.LDAPException as exc:
        raise DirectoryError(f"{where}: reading the directory failed: {_failure(exc)}.") from None
    finally:
        _close(conn)


def open_for_changes(
    entry: DomainEntry,
    secret: Secret | None,
    *,
    connect_timeout: float = 10,
    auth: Literal["simple", "ntlm"] = "simple",
    tls_server_name: str | None = None,
) -> ldap3.Connection:
    """A bound, writable connection with the same transport rules as ``collect_domain``; failed
    operations raise. Raises DirectoryError; the caller unbinds."""
    where = f"domain {entry.name} ({entry.url})"
    return _connect(entry, secret, where, connect_timeout, auth, tls_server_name, read_only=False)


def is_domain_admin(conn: ldap3.Connection, entry: DomainEntry, secret: Secret | None) -> bool | None:
    """Whether the connection's bind account is in Domain Admins (nested groups included);
    None when it cannot be told."""
    reader = _Reader(conn, entry, f"domain {entry.name} ({entry.url})")
    domain_nc = _text(reader._base("", ["defaultNamingContext"]), "defaultNamingContext")
    sid_values = reader._base(domain_nc, ["objectSid"]).get("objectSid") if domain_nc else None
    if not sid_values:
        return None
    return reader._is_domain_admin(domain_nc, entry.name, format_sid(sid_values[0]), _principal(secret))


# --- connection and bind -----------------------------------------------------------------------


def _connect(
    entry: DomainEntry,
    secret: Secret | None,
    where: str,
    timeout: float,
    auth: str,
    tls_server_name: str | None,
    read_only: bool = True,
) -> ldap3.Connection:
    url = urlsplit(entry.url)
    ldaps = url.scheme == "ldaps"
    host = url.hostname or ""
    port = url.port or (636 if ldaps else 389)
    kind = "kerberos" if secret is None else auth  # simple, ntlm or kerberos
    over_tls = ldaps or entry.start_tls
    # A SASL bind (Kerberos, NTLM) seals a plain LDAP session, as Windows does on port 389.
    if not over_tls and not entry.allow_plain_ldap and kind == "simple":
        raise DirectoryError(
            f"{where}: plain ldap:// would send the credentials unprotected; use ldaps://, "
            "start_tls: true, auth: kerberos or ntlm (sealed), or say allow_plain_ldap: true."
        )
    if kind == "ntlm" and over_tls:
        # Samba refuses NTLM over TLS whether it signs (not allowed on TLS) or not (pyspnego then
        # sends a one-byte exchanged key that Samba rejects), so no NTLM bind over TLS was tested.
        raise DirectoryError(
            f"{where}: an NTLM bind is sealed over plain ldap:// (port 389), not sent over TLS; use an "
            "ldap:// URL without start_tls, or auth: kerberos or a simple bind over TLS."
        )
    _check_credential(entry, secret, kind, where)
    tls = _tls(entry, host, tls_server_name, where) if over_tls else None
    server = ldap3.Server(host, port, use_ssl=ldaps, tls=tls, get_info=ldap3.NONE, connect_timeout=timeout)
    simple = {"user": secret.username, "password": secret.password} if secret and kind == "simple" else {}
    conn = ldap3.Connection(
        server,
        read_only=read_only,
        # The bind reports its own result: on a failed Kerberos exchange the SASL bind is aborted,
        # and with exceptions on, the abort's error would hide Kerberos's reason.
        raise_exceptions=False,
        auto_referrals=False,
        receive_timeout=READ_TIMEOUT,
        authentication=ldap3.SIMPLE if simple else ldap3.ANONYMOUS,
        **simple,
    )
    errors = (lx.LDAPException, OSError, ldap_sasl.SaslError, SpnegoError, *_gss_errors(secret))
    try:
        conn.open()
        if not ldaps and entry.start_tls and not conn.start_tls():
            raise lx.LDAPStartTLSError(_clause(conn.result.get("message")) or "refused by the DC")
        if simple:
            bound = conn.bind()
        else:
            # The service ticket is for ldap/<name>: the DC's name, not the address in the URL.
            context = ldap_sasl.context(
                kind,
                tls_server_name or host,
                conn.socket if over_tls else None,
                secret.username if secret else "",
                secret.password if secret else "",
            )
            mechanism = ldap_sasl.GSSAPI if kind == "kerberos" else ldap_sasl.GSS_SPNEGO
            bound = ldap_sasl.bind(conn, mechanism, context, layer=not over_tls)["result"] == 0
    except errors as exc:
        _close(conn)
        raise DirectoryError(f"{where}: {_bind_failure(exc, kind, port, timeout)}.") from None
    if not bound:
        _close(conn)
        raise DirectoryError(f"{where}: {_bind_refused(conn.result, entry, secret, kind, over_tls)}.")
    conn.raise_exceptions = True  # from here on every failed search raises
    return conn


def _close(conn: ldap3.Connection) -> None:
    with contextlib.suppress(lx.LDAPException, OSError):
        conn.unbind()


def _tls(entry: DomainEntry, host: str, server_name: str | None, where: str) -> ldap3.Tls:
    if entry.ca_bundle and not Path(entry.ca_bundle).is_file():
        raise DirectoryError(
            f"{where}: ca_bundle {entry.ca_bundle} is not a file; give the PEM file of the CA "
            "that issued the DC's certificate."
        )
    return ldap3.Tls(
        validate=ssl.CERT_REQUIRED,
        ca_certs_file=entry.ca_bundle,  # None: the system's trusted CAs
        # ldap3 checks the URL's host first, then these names.
        valid_names=[server_name] if server_name else None,
        sni=server_name or (None if is_ip(host) else host),
    )


def _check_credential(entry: DomainEntry, secret: Secret | None, kind: str, where: str) -> None:
    if secret is None:
        try:
            import gssapi  # noqa: F401 - the Kerberos bind needs it
        except ImportError:
            raise DirectoryError(
                f"{where}: no credential is configured, so the bind is Kerberos, which needs the "
                "Python package gssapi; pip install gssapi, or name a credential for the domain."
            ) from None
        return
    if not secret.password:
        raise DirectoryError(
            f"{where}: credential '{entry.credential}' has no password, and an LDAP bind without "
            "one is anonymous; give it password_env or keyring_service."
        )
    if kind == "ntlm" and secret.username.count("\\") != 1:
        raise DirectoryError(
            f"{where}: an NTLM bind needs the user name as DOMAIN\\user, not '{secret.username}'; "
            f"fix credential '{entry.credential}'."
        )


def _gss_errors(secret: Secret | None) -> tuple[type[Exception], ...]:
    if secret is not None:
        return ()
    from gssapi.exceptions import GSSError

    return (GSSError,)


_BIND_NAMES = {"simple": "a simple bind", "ntlm": "an NTLM bind", "kerberos": "a Kerberos bind"}
# What a DC that requires signing or channel binding is told to do, by Windows' policy names
# (Microsoft KB4520412; Samba: "ldap server require strong auth").
_SIGNING = 'LDAP signing ("Domain controller: LDAP server signing requirements")'
_CHANNEL_BINDING = (
    'LDAP channel binding ("Domain controller: LDAP server channel binding token requirements")'
)


def _bind_refused(
    result: dict[str, Any], entry: DomainEntry, secret: Secret | None, kind: str, over_tls: bool
) -> str:
    """Why the DC answered the bind with an error, and how to fix it, as one clause."""
    message = _clause(result.get("message"))
    if result.get("description") == "strongerAuthRequired":
        if not over_tls:
            way_out = "use ldaps:// or start_tls: true, or auth: kerberos or ntlm, which seal the session"
        elif kind == "simple":
            way_out = "use auth: kerberos or ntlm over ldap://, which seal the session"
        else:  # Samba before 4.20 cannot check channel binding: it wants SASL binds sealed, not on TLS
            way_out = (
                "use an ldap:// URL without start_tls so that the bind seals the session, or a simple bind"
            )
        on = "over TLS" if over_tls else "on plain LDAP"
        return f"the DC requires {_SIGNING} and refuses {_BIND_NAMES[kind]} {on} ({message}); {way_out}"
    code = re.search(r"data ([0-9a-f]+)", message)
    if code and code.group(1) == "80090346":  # SEC_E_BAD_BINDINGS
        return (
            f"the DC enforces {_CHANNEL_BINDING} and the bind's token does not match the TLS session "
            f"({message}); connect to the DC directly, not through a TLS-inspecting proxy, or use an "
            "ldap:// URL with auth: kerberos or ntlm, which seal the session"
        )
    if result.get("description") == "invalidCredentials":
        reason = _BIND_REASONS.get(code.group(1) if code else "", "invalid credentials")
        return (
            f"the DC refused the bind of {secret.username if secret else 'the Kerberos ticket'}: "
            f"{reason}; fix credential '{entry.credential}'"
        )
    return f"the bind failed: {result.get('description')} ({message})"


def _bind_failure(exc: Exception, kind: str, port: int, timeout: float) -> str:
    """What went wrong on the way to a bind answer, and how to fix it, as one clause."""
    text = str(exc)
    if isinstance(exc, ldap_sasl.SaslError):
        return f"{_BIND_NAMES[kind]} could not protect the session: {exc}; use ldaps:// with a simple bind"
    if "CERTIFICATE_VERIFY_FAILED" in text:
        reason = re.search(r"certificate verify failed: ([^(]+)", text)
        return (
            f"the DC's certificate is not trusted ({reason.group(1).strip() if reason else 'unverified'}); "
            "set ca_bundle to the PEM file of the CA that issued it"
        )
    if "doesn't match any name" in text:
        subject = text.split("'issuer'", 1)[0]
        carried = re.findall(r"\('(?:commonName|DNS)', '([^']+)'\)", subject)
        tried = re.findall(r"'([^']+)'", text.rsplit("any name in", 1)[1])
        return (
            f"the DC's certificate names {', '.join(dict.fromkeys(carried)) or 'another host'}, not "
            f"{' or '.join(tried)}; connect by a name the certificate carries"
        )
    if isinstance(exc, lx.LDAPStartTLSError):
        return f"StartTLS failed ({text}); use ldaps:// or check the DC's certificate"
    if "refused" in text.lower():
        return (
            f"nothing answers on port {port} (connection refused); check that the DC is running "
            "and the URL's host and port"
        )
    if "timed out" in text or isinstance(exc, lx.LDAPResponseTimeoutError):
        return (
            f"no answer within {timeout:g} s; check the host, that the DC is running and that "
            f"a firewall lets TCP {port} through"
        )
    if "invalid server address" in text or "Name or service not known" in text:
        return "the DC's host name does not resolve; fix the URL or DNS"
    if kind == "kerberos" and type(exc).__module__.startswith("gssapi"):
        minor = re.search(r"Minor \(\d+\): (.*)", text)
        return (
            f"the Kerberos bind failed ({(minor.group(1) if minor else text).strip().rstrip('.')}); "
            "get a ticket of the domain's realm with kinit, or name a credential for the domain"
        )
    if isinstance(exc, SpnegoError):
        return f"the NTLM bind failed ({_clause(text)}); check the credential and that the DC accepts NTLM"
    if isinstance(exc, lx.LDAPSessionTerminatedByServerError):
        return "the DC closed the connection during the bind; check its logs"
    return f"connecting failed: {_clause(text)}"


def _failure(exc: lx.LDAPException) -> str:
    if isinstance(exc, lx.LDAPOperationResult):
        return f"{exc.description} ({_clause(exc.message)}); check the bind account's read rights"
    if ldap_sasl.INTEGRITY_FAILURE in str(exc):
        return (
            f"{ldap_sasl.INTEGRITY_FAILURE}: something between the runner and the DC changes the "
            "sealed traffic; connect to the DC directly"
        )
    return f"{_clause(str(exc))}; check that the DC is running"


def _clause(text: str | None) -> str:
    """A server's message inside our sentence: one line, no final full stop."""
    return " ".join((text or "").replace("\x00", " ").split()).rstrip(".")  # AD ends messages with NUL


def _principal(secret: Secret | None) -> str:
    """The bind account as a name: the credential's user name, or the Kerberos ticket's client."""
    if secret is not None:
        return secret.username
    import gssapi

    try:
        return str(gssapi.Credentials(usage="initiate").name)
    except gssapi.exceptions.GSSError:
        return ""


# --- reading ----------------------------------------------------------------------------------


class _Reader:
    """The searches of one collection, on one bound connection."""

    def __init__(self, conn: ldap3.Connection, entry: DomainEntry, where: str):
        self.conn = conn
        self.entry = entry
        self.where = where

    def facts(
        self, principal: str, hosts: dict[str, tuple[str, str]], operators: list[str] | tuple[str, ...] = ()
    ) -> DomainFacts:
        root = self._base(
            "", ["defaultNamingContext", "rootDomainNamingContext", "configurationNamingContext"]
        )
        domain_nc = _text(root, "defaultNamingContext")
        if not domain_nc:
            raise DirectoryError(
                f"{self.where}: the server is not an Active Directory domain controller (its rootDSE "
                "has no defaultNamingContext); point the URL at a DC."
            )
        forest_nc = _text(root, "rootDomainNamingContext") or domain_nc
        partitions = {
            _text(attrs, "nCName").lower(): attrs
            for _, attrs in self._search(
                f"CN=Partitions,{_text(root, 'configurationNamingContext')}",
                f"(&(objectClass=crossRef)(|(nCName={escape_filter_chars(domain_nc)})"
                f"(nCName={escape_filter_chars(forest_nc)})))",
                ldap3.LEVEL,
                ["nCName", "dnsRoot", "nETBIOSName"],
            )
        }
        own = partitions.get(domain_nc.lower(), {})
        name = _text(own, "dnsRoot") or _dns_name(domain_nc)
        if name.lower() != self.entry.name.lower():
            raise DirectoryError(
                f"{self.where}: the DC serves the domain {name}, not {self.entry.name}; fix the "
                "entry's name or its URL."
            )
        sid_values = self._base(domain_nc, ["objectSid"]).get("objectSid")
        if not sid_values:
            raise DirectoryError(
                f"{self.where}: {principal or 'the bind account'} may not read the domain object "
                f"({domain_nc}); grant it read access, as Authenticated Users have by default."
            )
        sid = format_sid(sid_values[0])
        return DomainFacts(
            name=name,
            netbios_name=_text(own, "nETBIOSName"),
            sid=sid,
            forest_root=_text(partitions.get(forest_nc.lower(), {}), "dnsRoot") or _dns_name(forest_nc),
            collected_at=datetime.now(UTC),
            computers=self._computers(domain_nc, hosts),
            trusts=self._trusts(domain_nc),
            operators=self._operators(domain_nc, sid, _text(own, "nETBIOSName"), operators),
            bind_account=principal,
            bind_account_is_domain_admin=self._is_domain_admin(domain_nc, name, sid, principal),
        )

    def _computers(self, domain_nc: str, hosts: dict[str, str]) -> list[ComputerAccount]:
        terms = []
        for expected in hosts.values():
            # A single label matches the first label of dNSHostName: "hv01" finds hv01.corp.example.com.
            value = escape_filter_chars(expected) if "." in expected else f"{escape_filter_chars(expected)}.*"
            terms.append(f"(dNSHostName={value})")
        if not terms:
            return []
        found = self._search(
            domain_nc, f"(&(objectCategory=computer)(|{''.join(terms)}))", ldap3.SUBTREE, _COMPUTER_ATTRIBUTES
        )
        accounts = []
        for host, expected in hosts.items():
            matches = [f for f in found if names_host(_text(f[1], "dNSHostName"), expected)]
            # Two accounts claiming one DNS name: which is the host cannot be told, so neither is.
            if len(matches) != 1:
                continue
            dn, attrs = matches[0]
            sid_values = attrs.get("objectSid") or [b""]
            descriptor = (attrs.get("msDS-AllowedToActOnBehalfOfOtherIdentity") or [b""])[0]
            accounts.append(
                ComputerAccount(
                    host=host,
                    dn=dn,
                    sam_account_name=_text(attrs, "sAMAccountName"),
                    dns_host_name=_text(attrs, "dNSHostName"),
                    user_account_control=int(_text(attrs, "userAccountControl") or 0),
                    allowed_to_delegate_to=_texts(attrs, "msDS-AllowedToDelegateTo"),
                    service_principal_names=_texts(attrs, "servicePrincipalName"),
                    sid=format_sid(sid_values[0]) if sid_values[0] else "",
                    primary_group_id=int(_text(attrs, "primaryGroupID") or 0),
                    allowed_to_act=self._allowed_to_act(dn, descriptor),
                    allowed_to_act_descriptor=base64.b64encode(descriptor).decode() if descriptor else "",
                )
            )
        return accounts

    def _allowed_to_act(self, dn: str, descriptor: bytes) -> list[str]:
        if not descriptor:
            return []
        try:
            return parse_descriptor(descriptor).allowed_sids()
        except DescriptorError as exc:
            raise DirectoryError(
                f"{self.where}: msDS-AllowedToActOnBehalfOfOtherIdentity of {dn} cannot be read ({exc}); "
                "check the attribute with Get-ADComputer -Properties PrincipalsAllowedToDelegateToAccount."
            ) from None

    def _trusts(self, domain_nc: str) -> list[Trust]:
        return [
            Trust(
                partner=_text(attrs, "trustPartner"),
                flat_name=_text(attrs, "flatName"),
                direction=int(_text(attrs, "trustDirection") or 0),
                trust_type=int(_text(attrs, "trustType") or 0),
                attributes=int(_text(attrs, "trustAttributes") or 0),
            )
            for _, attrs in self._search(
                f"CN=System,{domain_nc}", "(objectClass=trustedDomain)", ldap3.LEVEL, _TRUST_ATTRIBUTES
            )
        ]

    def _operators(
        self, domain_nc: str, sid: str, netbios: str, names: list[str] | tuple[str, ...]
    ) -> list[OperatorAccount]:
        """The operators of this domain: userAccountControl and Protected Users membership."""
        ours = {}
        for name in names:
            domain, _, user = name.partition("\\")
            if user and domain.lower() == netbios.lower():
                ours[user.lower()] = name
        if not ours:
            return []
        group = self._search(domain_nc, f"(objectSid={sid}-{PROTECTED_USERS_RID})", ldap3.SUBTREE, ["cn"])
        group_dn = group[0][0] if group else None
        found = []
        for user, name in sorted(ours.items()):
            hits = self._search(
                domain_nc,
                f"(&(objectCategory=person)(sAMAccountName={escape_filter_chars(user)}))",
                ldap3.SUBTREE,
                ["userAccountControl"],
            )
            if not hits:
                continue  # the check says the operator was not found
            dn, attrs = hits[0]
            protected = bool(group_dn) and bool(
                self._search(
                    domain_nc,
                    f"(&(distinguishedName={escape_filter_chars(dn)})"
                    f"(memberOf:{IN_CHAIN}:={escape_filter_chars(group_dn)}))",
                    ldap3.SUBTREE,
                    ["cn"],
                )
            )
            found.append(
                OperatorAccount(
                    name=name,
                    dn=dn,
                    user_account_control=int(_text(attrs, "userAccountControl") or 0),
                    protected_user=protected,
                )
            )
        return found

    def _is_domain_admin(self, domain_nc: str, name: str, sid: str, principal: str) -> bool | None:
        """Domain Admins (RID 512) among the account's tokenGroups, which include nested groups.
        None when the account is not in this domain or cannot be read."""
        dn = self._account_dn(domain_nc, name, principal)
        if dn is None:
            return None
        groups = self._base(dn, ["tokenGroups"]).get("tokenGroups")
        if not groups:  # every account has at least Domain Users: none means it cannot be read
            return None
        return f"{sid}-{DOMAIN_ADMINS_RID}" in {format_sid(g) for g in groups}

    def _account_dn(self, domain_nc: str, name: str, principal: str) -> str | None:
        if "=" in principal:
            return principal
        user, _, suffix = principal.partition("@")
        if "\\" in user:
            user = user.split("\\", 1)[1]
        terms = []
        if suffix:
            terms.append(f"(userPrincipalName={escape_filter_chars(principal)})")
        # user@<domain> is every account's implicit UPN, and what a Kerberos principal looks like.
        if not suffix or suffix.lower() == name.lower():
            terms.append(f"(sAMAccountName={escape_filter_chars(user)})")
        if not user or not terms:
            return None
        found = self._search(domain_nc, f"(|{''.join(terms)})", ldap3.SUBTREE, ["userPrincipalName"])
        by_upn = [dn for dn, attrs in found if _text(attrs, "userPrincipalName").lower() == principal.lower()]
        return (by_upn or [dn for dn, _ in found] or [None])[0]

    def _base(self, dn: str, attributes: list[str]) -> dict[str, list[bytes]]:
        found = self._search(dn, "(objectClass=*)", ldap3.BASE, attributes, paged=False)
        return found[0][1] if found else {}

    def _search(
        self, base: str, search_filter: str, scope: str, attributes: list[str], paged: bool = True
    ) -> list[tuple[str, dict[str, list[bytes]]]]:
        if paged:
            responses = self.conn.extend.standard.paged_search(
                base, search_filter, scope, attributes=attributes, paged_size=PAGE_SIZE, generator=True
            )
        else:
            self.conn.search(base, search_filter, scope, attributes=attributes)
            responses = self.conn.response
        # Referrals to other naming contexts come back as searchResRef entries: not objects.
        return [(r["dn"], r["raw_attributes"]) for r in responses if r["type"] == "searchResEntry"]


def _texts(attrs: dict[str, list[bytes]], name: str) -> list[str]:
    return [v.decode("utf-8") for v in attrs.get(name, [])]


def _text(attrs: dict[str, list[bytes]], name: str) -> str:
    values = _texts(attrs, name)
    return values[0] if values else ""


def _dns_name(dn: str) -> str:
    return ".".join(part[3:] for part in dn.split(",") if part.upper().startswith("DC="))
