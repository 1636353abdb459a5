"""The msDS-AllowedToActOnBehalfOfOtherIdentity parser and writer (MS-DTYP 2.4.6) on descriptors
built byte by byte, as Windows and the lab DC write them."""

from __future__ import annotations

import struct

import pytest

from lmready import security_descriptor as sd
from lmready.lab.samba import _allow_sd

HV01 = "S-1-5-21-1004336348-1177238915-682003330-1105"
HV02 = "S-1-5-21-1004336348-1177238915-682003330-1106"
HV03 = "S-1-5-21-1004336348-1177238915-682003330-1107"


def test_sid_round_trip():
    for text in (HV01, "S-1-5-32-544", "S-1-1-0"):
        raw = sd.sid_to_bytes(text)
        assert sd.sid_from_bytes(raw) == (text, len(raw))
    with pytest.raises(sd.DescriptorError):
        sd.sid_to_bytes("S-1-5-x")


def test_reads_what_aduc_writes():
    # The lab writes descriptors the way ADUC and Set-ADComputer do: owner Administrators, allow ACEs.
    descriptor = sd.parse(_allow_sd([HV01, HV02]))
    assert descriptor.allowed_sids() == [HV01, HV02]
    assert sd.sid_from_bytes(descriptor.owner)[0] == "S-1-5-32-544"


def test_a_deny_ace_wins_and_other_ace_types_are_kept_not_read():
    base = sd.parse(_allow_sd([HV01, HV02]))
    deny_body = struct.pack("<I", sd.GENERIC_ALL_MASK) + sd.sid_to_bytes(HV02)
    deny = sd.Ace(
        sd.ACCESS_DENIED,
        0,
        sd.GENERIC_ALL_MASK,
        HV02,
        struct.pack("<BBH", 1, 0, 4 + len(deny_body)) + deny_body,
    )
    # An object ACE (type 5): lmready keeps its bytes and never reads it as a grant.
    obj_body = struct.pack("<II", sd.GENERIC_ALL_MASK, 0) + sd.sid_to_bytes(HV03)
    obj = sd.Ace(5, 0, 0, None, struct.pack("<BBH", 5, 0, 4 + len(obj_body)) + obj_body)
    raw = sd.build(sd.Descriptor(base.control, base.owner, None, None, 2, (*base.aces, deny, obj), True))
    parsed = sd.parse(raw)
    # In order, as the KDC evaluates it: HV02's allow comes first and decides.
    assert parsed.allowed_sids() == [HV01, HV02]
    assert [a.type for a in parsed.aces] == [0, 0, 1, 5]
    # A deny before the allow decides the other way.
    first = sd.parse(
        sd.build(sd.Descriptor(base.control, base.owner, None, None, 2, (deny, *base.aces), True))
    )
    assert first.allowed_sids() == [HV01]
    # An inherit-only allow does not apply to the account itself.
    raw_inherit = bytearray(sd.allow_ace(HV03).raw)
    raw_inherit[1] = sd.INHERIT_ONLY
    inherit = sd.Ace(sd.ACCESS_ALLOWED, sd.INHERIT_ONLY, sd.GENERIC_ALL_MASK, HV03, bytes(raw_inherit))
    with_inherit = sd.build(
        sd.Descriptor(base.control, base.owner, None, None, 2, (inherit, *base.aces), True)
    )
    assert HV03 not in sd.parse(with_inherit).allowed_sids()
    # A deny for Everyone shuts out every allow after it.
    everyone = sd.allow_ace("S-1-1-0")
    raw_everyone = bytearray(everyone.raw)
    raw_everyone[0] = sd.ACCESS_DENIED
    deny_all = sd.Ace(sd.ACCESS_DENIED, 0, everyone.mask, "S-1-1-0", bytes(raw_everyone))
    shut = sd.build(sd.Descriptor(base.control, base.owner, None, None, 2, (deny_all, *base.aces), True))
    assert sd.parse(shut).allowed_sids() == []


def test_a_null_dacl_is_refused_not_rewritten():
    header = struct.pack("<BBHIIII", 1, 0, 0x8000 | 0x0004, 0, 0, 0, 0)  # DACL present, offset 0
    with pytest.raises(sd.DescriptorError, match="NULL DACL"):
        sd.parse(header)
    with pytest.raises(sd.DescriptorError):
        sd.with_allowed(header, HV01)


def test_adding_keeps_every_existing_ace_byte_for_byte():
    before = _allow_sd([HV01, HV02])
    after = sd.with_allowed(before, HV03)
    old, new = sd.parse(before), sd.parse(after)
    assert [a.raw for a in new.aces[:2]] == [a.raw for a in old.aces]
    assert new.owner == old.owner and new.allowed_sids() == [HV01, HV02, HV03]
    assert sd.with_allowed(after, HV03) == after  # already allowed: unchanged
    fresh = sd.parse(sd.with_allowed(None, HV01))
    assert fresh.allowed_sids() == [HV01] and sd.sid_from_bytes(fresh.owner)[0] == "S-1-5-32-544"


@pytest.mark.parametrize("cut", [0, 10, 19, 30, 45, 60])
def test_truncated_or_garbage_is_one_error(cut):
    raw = _allow_sd([HV01])
    with pytest.raises(sd.DescriptorError):
        sd.parse(raw[:cut])
    with pytest.raises(sd.DescriptorError):
        sd.parse(b"\x02" + raw[1:])  # revision 2 is not a security descriptor
