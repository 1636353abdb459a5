"""Directory changes for Kerberos constrained delegation (A2), over ldap3, one session per domain.

Only computer accounts of hosts whose identity was verified are planned (remediation.plan), and
before any modify the account is read again here: a domain controller's account (or anything
that is not a computer account) is refused whatever the plan says.

msDS-AllowedToDelegateTo values are added (or, by a rollback, deleted) one at a time, so an
"already there" answer means exactly that value is in place. userAccountControl is changed by
ONE modify that deletes the value read and adds the new one: if anybody changed it since it
was read, the delete finds no such value and the whole modify fails instead of overwriting.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Callable

import ldap3
from ldap3.core import exceptions as lx

from lmready import security_descriptor as sd
from lmready.credentials import Secret
from lmready.facts import (
    DOMAIN_CONTROLLERS_RID,
    READONLY_DOMAIN_CONTROLLERS_RID,
    UAC_PARTIAL_SECRETS_ACCOUNT,
    UAC_SERVER_TRUST_ACCOUNT,
    DomainFacts,
)
from lmready.inventory import DomainEntry
from lmready.ldap_directory import DirectoryError, is_domain_admin, open_for_changes
from lmready.remediation.change import ALREADY, APPLIED, FAILED, REFUSED, Change, ChangeResult, Value

DELEGATE_TO = "msDS-AllowedToDelegateTo"  # multi-valued: one value per change, None = absent
UAC = "userAccountControl"
# Resource-based delegation: the whole security descriptor (base64 in changes), replaced by ONE
# modify that deletes the value read and adds the new one, so a concurrent change fails the modify.
ALLOWED_TO_ACT = "msDS-AllowedToActOnBehalfOfOtherIdentity"
# LDAP result codes that mean the value is already as wanted, for one value added or deleted.
_ATTRIBUTE_OR_VALUE_EXISTS, _NO_SUCH_ATTRIBUTE = 20, 16
PURGE = "klist purge -li 0x3e7"


def command(dn: str, setting: str, before: Value, after: Value) -> str:
    """The LDAP modification, as plans show it."""
    if setting == DELEGATE_TO:
        op, value = ("add", after) if after is not None else ("delete", before)
        return f"modify {dn}: {op} {DELEGATE_TO}: {value}"
    if setting == UAC:
        return f"modify {dn}: delete {UAC}: {before}, add {UAC}: {after} (one request)"
    if setting == ALLOWED_TO_ACT:
        return f"modify {dn}: {_descriptor_change(before, after)} (one request)"
    raise ValueError(f"no directory change sets {setting}")


def current(setting: str, member: Value, dn: str, domain: DomainFacts) -> Value:
    """The value in freshly read domain facts; for DELEGATE_TO, ``member`` or None."""
    account = next((a for a in domain.computers if a.dn.lower() == dn.lower()), None)
    if account is None:
        raise LookupError(f"{dn} was not found in {domain.name}")
    if setting == UAC:
        return account.user_account_control
    if setting == ALLOWED_TO_ACT:
        return account.allowed_to_act_descriptor or None
    have = {v.lower() for v in account.allowed_to_delegate_to}
    return member if str(member).lower() in have else None


def apply_domain(
    entry: DomainEntry,
    changes: list[Change],
    secret: Secret | None,
    attempt: Callable[[list[Change]], None] = lambda changes: None,
) -> list[ChangeResult]:
    """All of one domain's changes in one LDAP session. Without Domain Admins none is tried;
    ``attempt`` (which journals them) is called just before the first modify is sent."""
    try:
        conn = open_for_changes(
            entry,
            secret,
            connect_timeout=entry.connect_timeout,
            auth="ntlm" if entry.auth == "ntlm" else "simple",
            tls_server_name=entry.tls_server_name,
        )
    except DirectoryError as exc:
        return [ChangeResult(c, FAILED, str(exc)) for c in changes]
    try:
        admin = is_domain_admin(conn, entry, secret)
        if not admin:
            who = secret.username if secret else "the Kerberos ticket's account"
            why = "is not in Domain Admins" if admin is False else "could not be shown to be in Domain Admins"
            sentence = (
                f"{entry.name}: delegation changes need Domain Admins and {who} {why}, so none was made; "
                "name a Domain Admins credential for the domain, or have an admin make them."
            )
            return [ChangeResult(c, REFUSED, sentence) for c in changes]
        guarded = {dn: _refusal(conn, entry, dn) for dn in {c.account_dn or "" for c in changes}}
        attempt([c for c in changes if not guarded[c.account_dn or ""]])
        return [
            ChangeResult(c, REFUSED, guarded[c.account_dn or ""])
            if guarded[c.account_dn or ""]
            else _modify(conn, entry, c)
            for c in changes
        ]
    except lx.LDAPException as exc:
        return [ChangeResult(c, FAILED, f"{entry.name}: the LDAP session failed: {exc}.") for c in changes]
    finally:
        with contextlib.suppress(lx.LDAPException):
            conn.unbind()


def _modify(conn: ldap3.Connection, entry: DomainEntry, change: Change) -> ChangeResult:
    dn = change.account_dn or ""
    if change.setting == UAC:
        operations = [(ldap3.MODIFY_DELETE, [str(change.before)]), (ldap3.MODIFY_ADD, [str(change.after)])]
    elif change.setting == ALLOWED_TO_ACT:
        operations = [(ldap3.MODIFY_DELETE, [base64.b64decode(str(change.before))])] if change.before else []
        if change.after:
            operations.append((ldap3.MODIFY_ADD, [base64.b64decode(str(change.after))]))
    elif change.after is not None:
        operations = [(ldap3.MODIFY_ADD, [change.after])]
    else:
        operations = [(ldap3.MODIFY_DELETE, [change.before])]
    try:
        conn.modify(dn, {change.setting: operations})
        return ChangeResult(change, APPLIED)
    except lx.LDAPOperationResult as exc:
        code, message = exc.result, " ".join(str(exc.message or exc.description).split()).rstrip(".")
    if change.setting == DELEGATE_TO and code in (_ATTRIBUTE_OR_VALUE_EXISTS, _NO_SUCH_ATTRIBUTE):
        return ChangeResult(change, APPLIED, ALREADY)
    if change.setting == ALLOWED_TO_ACT and code in (_ATTRIBUTE_OR_VALUE_EXISTS, _NO_SUCH_ATTRIBUTE):
        return ChangeResult(
            change,
            FAILED,
            f"{entry.name}: {ALLOWED_TO_ACT} of {dn} is no longer the descriptor read: somebody changed it "
            "since, and it was not overwritten; audit again and plan anew.",
        )
    if change.setting == UAC and code == _NO_SUCH_ATTRIBUTE:
        return ChangeResult(
            change,
            FAILED,
            f"{entry.name}: {UAC} of {dn} is no longer {change.before}, the value read: somebody changed "
            "it since, and it was not overwritten; audit again and plan anew.",
        )
    return ChangeResult(change, FAILED, f"{entry.name}: the DC refused `{change.command}`: {message}.")


def _descriptor_change(before: Value, after: Value) -> str:
    def aces(value: Value) -> str:
        return ", ".join(sd.allowed_sids_b64(str(value))) or "nobody" if value else "(absent)"

    return f"{ALLOWED_TO_ACT}: allowed {aces(before)} -> allowed {aces(after)}"


def _refusal(conn: ldap3.Connection, entry: DomainEntry, dn: str) -> str:
    """Why ``dn`` must not be changed (a DC's account, not a computer), or "" when it may."""
    try:
        conn.search(
            dn,
            "(objectClass=*)",
            ldap3.BASE,
            attributes=["objectClass", "userAccountControl", "primaryGroupID"],
        )
        found = [r["raw_attributes"] for r in conn.response if r["type"] == "searchResEntry"]
    except lx.LDAPNoSuchObjectResult:
        found = []
    if not found:
        return f"{entry.name}: {dn} was not found, so nothing was changed on it; audit again and plan anew."
    attrs = found[0]

    def number(name: str) -> int:
        values = attrs.get(name) or [b"0"]
        return int(values[0])

    classes = {c.decode().lower() for c in attrs.get("objectClass", [])}
    uac, group = number("userAccountControl"), number("primaryGroupID")
    if "computer" not in classes:
        return (
            f"{entry.name}: {dn} is not a computer account, and lmready changes only Hyper-V hosts' accounts."
        )
    if uac & (UAC_SERVER_TRUST_ACCOUNT | UAC_PARTIAL_SECRETS_ACCOUNT) or group in (
        DOMAIN_CONTROLLERS_RID,
        READONLY_DOMAIN_CONTROLLERS_RID,
    ):
        return (
            f"{entry.name}: {dn} is a domain controller's account, which lmready never changes; nothing was."
        )
    return ""


def klist_advice(hosts: list[str]) -> str:
    """Hosts keep the Kerberos tickets they hold: new delegation counts only with new tickets."""
    return (
        f"after AD replication, run `{PURGE}` on {', '.join(sorted(hosts))} so that their computer "
        "accounts get tickets with the new delegation"
    )
