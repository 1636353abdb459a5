"""The binary security descriptor of msDS-AllowedToActOnBehalfOfOtherIdentity (resource-based
constrained delegation, REQUIREMENTS.md A2/A3): read which SIDs it allows, and add one.

Layout (MS-DTYP 2.4.6 SECURITY_DESCRIPTOR_RELATIVE, 2.4.5 ACL, 2.4.4 ACE, 2.4.2 SID). The KDC
grants delegation to a SID that an ACCESS_ALLOWED ACE (type 0) of the DACL names, unless an
ACCESS_DENIED ACE (type 1) names it too ([MS-SFU] 3.2.5.2.3, [MS-KILE] 3.3.5.7.4: an access check
over the descriptor). Other ACE types (object ACEs, callback ACEs) are kept untouched, never read
as a grant.

Our own parser rather than a library: lmready needs two ACE types and a writer that keeps every
other byte as it was (impacket is a large dependency for this; winacl re-serialises the whole
descriptor), and a Domain Admin tool should not carry code it does not need.
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass

ACCESS_ALLOWED, ACCESS_DENIED = 0, 1
# What ADUC, Set-ADComputer -PrincipalsAllowedToDelegateToAccount and rbcd tools write.
GENERIC_ALL_MASK = 0x000F01FF
_SELF_RELATIVE, _DACL_PRESENT = 0x8000, 0x0004
_ADMINISTRATORS = "S-1-5-32-544"


INHERIT_ONLY = 0x08
# Deny ACEs for these shut out everyone (the KDC's caller is always in both).
_EVERYONE = {"S-1-1-0", "S-1-5-11"}


class DescriptorError(ValueError):
    """The bytes are not a security descriptor lmready can read; the message says where."""


@dataclass(frozen=True)
class Ace:
    type: int
    flags: int
    mask: int
    sid: str | None  # None for ACE types whose SID lmready does not read
    raw: bytes


@dataclass(frozen=True)
class Descriptor:
    control: int
    owner: bytes | None
    group: bytes | None
    sacl: bytes | None
    dacl_revision: int
    aces: tuple[Ace, ...]
    has_dacl: bool

    def allowed_sids(self) -> list[str]:
        """SIDs the KDC lets delegate here, read as Windows evaluates a DACL: in order, the first
        ACE that names a SID decides, inherit-only ACEs do not apply to the object itself, and a
        deny for Everyone or Authenticated Users shuts out every allow after it (groups are not
        expanded otherwise, so a grant through a group is not counted: conservative)."""
        decided: dict[str, bool] = {}
        shut = False
        for ace in self.aces:
            if not ace.sid or ace.flags & INHERIT_ONLY or ace.type not in (ACCESS_ALLOWED, ACCESS_DENIED):
                continue
            if ace.type == ACCESS_DENIED and ace.sid in _EVERYONE:
                shut = True
            decided.setdefault(ace.sid, ace.type == ACCESS_ALLOWED and not shut)
        return [sid for sid, allowed in decided.items() if allowed]


def sid_from_bytes(data: bytes, offset: int = 0) -> tuple[str, int]:
    """(text form, length) of the SID at ``offset``."""
    if len(data) < offset + 8:
        raise DescriptorError(f"a SID at byte {offset} is cut short")
    revision, count = data[offset], data[offset + 1]
    end = offset + 8 + 4 * count
    if revision != 1 or count > 15 or len(data) < end:
        raise DescriptorError(f"the SID at byte {offset} is malformed")
    authority = int.from_bytes(data[offset + 2 : offset + 8], "big")
    subs = struct.unpack_from(f"<{count}I", data, offset + 8)
    return "S-1-" + "-".join(str(v) for v in (authority, *subs)), end - offset


def sid_to_bytes(text: str) -> bytes:
    parts = text.split("-")
    if len(parts) < 3 or parts[0].upper() != "S" or not all(p.isdigit() for p in parts[1:]):
        raise DescriptorError(f"'{text}' is not a SID")
    revision, authority, *subs = (int(p) for p in parts[1:])
    return (
        struct.pack("<BB", revision, len(subs))
        + authority.to_bytes(6, "big")
        + b"".join(struct.pack("<I", s) for s in subs)
    )


def parse(data: bytes) -> Descriptor:
    if len(data) < 20:
        raise DescriptorError("the security descriptor is shorter than its 20-byte header")
    revision, _, control, o_owner, o_group, o_sacl, o_dacl = struct.unpack_from("<BBHIIII", data)
    if revision != 1 or not control & _SELF_RELATIVE:
        raise DescriptorError("it is not a self-relative security descriptor of revision 1")

    def sid_at(offset: int) -> bytes | None:
        if not offset:
            return None
        _, length = sid_from_bytes(data, offset)
        return data[offset : offset + length]

    def acl_at(offset: int) -> bytes | None:
        if not offset:
            return None
        if len(data) < offset + 8:
            raise DescriptorError(f"the ACL at byte {offset} is cut short")
        size = struct.unpack_from("<H", data, offset + 2)[0]
        if size < 8 or len(data) < offset + size:
            raise DescriptorError(f"the ACL at byte {offset} runs past the end")
        return data[offset : offset + size]

    if not control & _DACL_PRESENT or not o_dacl:
        # No DACL (a NULL DACL) lets everyone in: not a list of SIDs lmready can judge, and
        # appending one ACE would take that from everyone else.
        raise DescriptorError("it has no DACL (a NULL DACL allows everyone); review it by hand")
    dacl = acl_at(o_dacl)
    aces: list[Ace] = []
    if dacl is not None:
        count = struct.unpack_from("<H", dacl, 4)[0]
        at = 8
        for i in range(count):
            if len(dacl) < at + 4:
                raise DescriptorError(f"ACE {i} of the DACL is cut short")
            ace_type, flags, size = struct.unpack_from("<BBH", dacl, at)
            if size < 4 or len(dacl) < at + size:
                raise DescriptorError(f"ACE {i} of the DACL runs past the end of the DACL")
            raw = dacl[at : at + size]
            mask, sid = 0, None
            if ace_type in (ACCESS_ALLOWED, ACCESS_DENIED):
                if size < 16:
                    raise DescriptorError(f"ACE {i} of the DACL is too short for its SID")
                mask = struct.unpack_from("<I", raw, 4)[0]
                sid, _ = sid_from_bytes(raw, 8)
            aces.append(Ace(ace_type, flags, mask, sid, raw))
            at += size
    return Descriptor(
        control=control,
        owner=sid_at(o_owner),
        group=sid_at(o_group),
        sacl=acl_at(o_sacl),
        dacl_revision=dacl[0] if dacl else 2,
        aces=tuple(aces),
        has_dacl=dacl is not None,
    )


def build(descriptor: Descriptor) -> bytes:
    """The self-relative bytes: header, owner, group, SACL, DACL (the order Windows writes)."""
    body = b""
    offsets = []
    header = 20
    for part in (descriptor.owner, descriptor.group, descriptor.sacl):
        offsets.append(header + len(body) if part else 0)
        body += part or b""
    control = descriptor.control | _SELF_RELATIVE
    dacl_offset = 0
    if descriptor.has_dacl:
        aces = b"".join(a.raw for a in descriptor.aces)
        dacl_offset = header + len(body)
        body += (
            struct.pack("<BBHHH", descriptor.dacl_revision, 0, 8 + len(aces), len(descriptor.aces), 0) + aces
        )
        control |= _DACL_PRESENT
    return struct.pack("<BBHIIII", 1, 0, control, *offsets, dacl_offset) + body


def allow_ace(sid: str) -> Ace:
    body = struct.pack("<I", GENERIC_ALL_MASK) + sid_to_bytes(sid)
    return Ace(
        ACCESS_ALLOWED, 0, GENERIC_ALL_MASK, sid, struct.pack("<BBH", ACCESS_ALLOWED, 0, 4 + len(body)) + body
    )


def with_allowed(existing: bytes | None, sid: str) -> bytes:
    """``existing`` (or a new descriptor owned by Administrators) with an allow ACE for ``sid``
    appended after every ACE it has; unchanged when ``sid`` is already allowed."""
    if not existing:
        descriptor = Descriptor(
            _SELF_RELATIVE | _DACL_PRESENT, sid_to_bytes(_ADMINISTRATORS), None, None, 2, (), True
        )
    else:
        descriptor = parse(existing)
        if sid in descriptor.allowed_sids():
            return existing
    return build(
        Descriptor(
            descriptor.control,
            descriptor.owner,
            descriptor.group,
            descriptor.sacl,
            descriptor.dacl_revision,
            (*descriptor.aces, allow_ace(sid)),
            True,
        )
    )


def allowed_sids_b64(text: str) -> list[str]:
    return parse(base64.b64decode(text)).allowed_sids() if text else []
