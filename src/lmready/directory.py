"""Active Directory facts over LDAP (ldap3): one connection per domain and the same handful of
searches whatever the number of hosts (REQUIREMENTS.md A2, A3, A5, R1, R4).

Transport: LDAPS with certificate and host name validation, StartTLS on request, plain LDAP
only when the inventory allows it. Binds: simple (UPN, DN or DOMAIN\\user) or NTLM with the
inventory's credential, Kerberos (SASL GSSAPI, the caller's ticket cache) without one.
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

from lmready.credentials import Secret
from lmready.estate import FactsUnavailable, names_host
from lmready.facts import ComputerAccount, DomainFacts, Trust
from lmready.inventory import DomainEntry, is_ip
from lmready.security_descriptor import DescriptorError
from lmready.security_descriptor import parse as parse_descriptor

DOMAIN_ADMINS_RID = 512
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
) -> DomainFacts:
    """Read the facts of one domain.

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
        return _Reader(conn, entry, where).facts(_principal(secret), hosts)
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
    if not ldaps and not entry.start_tls and not entry.allow_plain_ldap:
        raise DirectoryError(
            f"{where}: plain ldap:// would send the credentials unprotected; use ldaps://, "
            "start_tls: true, or say allow_plain_ldap: true."
        )
    tls = _tls(entry, host, tls_server_name, where) if ldaps or entry.start_tls else None
    server = ldap3.Server(host, port, use_ssl=ldaps, tls=tls, get_info=ldap3.NONE, connect_timeout=timeout)
    conn = ldap3.Connection(
        server,
        read_only=read_only,
        # The bind reports its own result: on a failed Kerberos exchange ldap3 aborts the SASL bind,
        # and with exceptions on, the abort's error would hide Kerberos's reason.
        raise_exceptions=False,
        auto_referrals=False,
        receive_timeout=READ_TIMEOUT,
        **_bind_arguments(entry, secret, auth, tls_server_name or host, where),
    )
    errors = (lx.LDAPException, OSError, *_gss_errors(secret))
    try:
        conn.open()
        if not ldaps and entry.start_tls and not conn.start_tls():
            raise lx.LDAPStartTLSError(_clause(conn.result.get("message")) or "refused by the DC")
        bound = conn.bind()
    except errors as exc:
        _close(conn)
        raise DirectoryError(f"{where}: {_bind_failure(exc, secret, auth, port, timeout)}.") from None
    if not bound:
        _close(conn)
        raise DirectoryError(f"{where}: {_bind_refused(conn.result, entry, secret)}.")
    conn.raise_exceptions = True  # from here on every failed search raises
    return conn


def _close(conn: ldap3.Connection) -> None:
    with contextlib.suppress(lx.LDAPException):
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


def _bind_arguments(
    entry: DomainEntry, secret: Secret | None, auth: str, target: str, where: str
) -> dict[str, Any]:
    if secret is None:
        try:
            import gssapi  # noqa: F401 - ldap3 needs it for GSSAPI and says so less clearly
        except ImportError:
            raise DirectoryError(
                f"{where}: no credential is configured, so the bind is Kerberos, which needs the "
                "Python package gssapi; pip install gssapi, or name a credential for the domain."
            ) from None
        # The service ticket is for ldap/<target>: the DC's name, not the address in the URL.
        return {
            "authentication": ldap3.SASL,
            "sasl_mechanism": ldap3.KERBEROS,
            "sasl_credentials": (target, None, None),
        }
    if not secret.password:
        raise DirectoryError(
            f"{where}: credential '{entry.credential}' has no password, and an LDAP bind without "
            "one is anonymous; give it password_env or keyring_service."
        )
    if auth == "ntlm":
        if secret.username.count("\\") != 1:
            raise DirectoryError(
                f"{where}: an NTLM bind needs the user name as DOMAIN\\user, not '{secret.username}'; "
                f"fix credential '{entry.credential}'."
            )
        return {"user": secret.username, "password": secret.password, "authentication": ldap3.NTLM}
    return {"user": secret.username, "password": secret.password, "authentication": ldap3.SIMPLE}


def _gss_errors(secret: Secret | None) -> tuple[type[Exception], ...]:
    if secret is not None:
        return ()
    from gssapi.exceptions import GSSError

    return (GSSError,)


def _bind_refused(result: dict[str, Any], entry: DomainEntry, secret: Secret | None) -> str:
    """Why the DC answered the bind with an error, and how to fix it, as one clause."""
    message = _clause(result.get("message"))
    if result.get("description") == "invalidCredentials":
        code = re.search(r"data ([0-9a-f]+)", message)
        reason = _BIND_REASONS.get(code.group(1) if code else "", "invalid credentials")
        return (
            f"the DC refused the bind of {secret.username if secret else 'the Kerberos ticket'}: "
            f"{reason}; fix credential '{entry.credential}'"
        )
    if result.get("description") == "strongerAuthRequired":
        return f"the DC refuses this bind on an unencrypted connection ({message}); use ldaps:// or start_tls: true"
    return f"the bind failed: {result.get('description')} ({message})"


def _bind_failure(exc: Exception, secret: Secret | None, auth: str, port: int, timeout: float) -> str:
    """What went wrong on the way to a bind answer, and how to fix it, as one clause."""
    text = str(exc)
    if isinstance(exc, lx.LDAPSessionTerminatedByServerError) and auth == "ntlm" and secret:
        return (
            "the DC closed the connection on ldap3's NTLM bind, which uses Microsoft's Sicily "
            "exchange that Samba does not implement; use a simple bind over LDAPS, or Kerberos"
        )
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
    if secret is None and type(exc).__module__.startswith("gssapi"):
        minor = re.search(r"Minor \(\d+\): (.*)", text)
        return (
            f"the Kerberos bind failed ({(minor.group(1) if minor else text).strip().rstrip('.')}); "
            "get a ticket of the domain's realm with kinit, or name a credential for the domain"
        )
    if isinstance(exc, lx.LDAPSessionTerminatedByServerError):
        return "the DC closed the connection during the bind; check its logs"
    return f"connecting failed: {_clause(text)}"


def _failure(exc: lx.LDAPException) -> str:
    if isinstance(exc, lx.LDAPOperationResult):
        return f"{exc.description} ({_clause(exc.message)}); check the bind account's read rights"
    return f"{_clause(str(exc))}; check that the DC is running"


def _clause(text: str | None) -> str:
    """A server's message inside our sentence: one line, no final full stop."""
    return " ".join((text or "").split()).rstrip(".")


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

    def facts(self, principal: str, hosts: dict[str, tuple[str, str]]) -> DomainFacts:
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
