"""What Hyper-V says when a VM cannot move, and the requirement that explains it.

One table (REQUIREMENTS.md section 6) shared by V1 (Compare-VM's MessageIds and messages) and
`lmready explain` (the VMMS-Admin event log: event IDs, error codes, message text). Anything
the table does not know is returned as unknown, for the caller to report as such.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from lmready.catalogue import CheckMeta, load_catalogue


@dataclass(frozen=True)
class Rule:
    refs: tuple[str, ...]  # requirements (REQUIREMENTS.md refs) that explain it, first the likeliest
    why: str  # what it means, in a few words
    pattern: re.Pattern[str] | None = None  # on the message text
    message_ids: tuple[int, ...] = ()  # Compare-VM MessageIds
    event_ids: tuple[int, ...] = ()  # VMMS-Admin event IDs


def _p(text: str) -> re.Pattern[str]:
    return re.compile(text, re.IGNORECASE)


# Order matters: the first rule that matches a message wins (error codes before event IDs, since
# one event ID such as 21502 carries many causes).
RULES: tuple[Rule, ...] = (
    Rule(
        ("A4", "A2"),
        "no credentials for the migration (CredSSP started remotely, Credential Guard, "
        "or Kerberos without delegation)",
        _p(r"0x8009030E|no credentials are available|no suitable credentials"),
        event_ids=(20306,),
    ),
    Rule(
        ("A1", "A2"),
        "credentials not recognized (authentication types differ, or protocol transition "
        "missing); purge the Kerberos tickets",
        _p(r"0x8009030D|credentials supplied to the package were not recognized"),
    ),
    Rule(("A2",), "SPN or name mismatch", _p(r"0x80090322|target principal name is incorrect")),
    Rule(
        ("N5", "N4"),
        "the destination refused, dropped or reset the migration connection",
        _p(r"0x8007274D|0x8007274C|0x80072746|actively refused|connection attempt failed|forcibly closed"),
    ),
    Rule(
        ("N1",),
        "the destination's migration listener is disabled (or Group Policy failed: gpupdate /force)",
        _p(r"disabled the listener for Virtual Machine migration"),
    ),
    Rule(
        ("V3",), "an ISO or other medium the VM references is missing on the destination", _p(r"0xC03A0014")
    ),
    Rule(
        ("V2",),
        "the destination cannot unwrap the VM's key protector (vTPM)",
        _p(r"key protector for the virtual machine.*could not be unwrapped"),
    ),
    Rule(
        ("X1",),
        "a virtual switch the VM uses is missing on the destination",
        _p(r"could not find (ethernet|virtual) switch|switch .* (was )?not found"),
        message_ids=(33012,),
        event_ids=(21125,),
    ),
    Rule(
        ("X2",),
        "the destination's processor lacks features the VM uses (also mismatched Spectre/Meltdown "
        "mitigations)",
        _p(
            r"processor-specific features not supported|hardware on the destination computer (isn't|is not) compatible"
        ),
    ),
    Rule(
        ("R3",),
        "the VM's configuration version is not supported by the destination",
        _p(r"configuration version"),
        event_ids=(10698,),
    ),
    Rule(
        ("X4",),
        "not enough memory or resources on the destination",
        _p(r"0x800705AA|0x8007000E|insufficient (system )?resources|ran out of memory|not enough memory"),
    ),
    Rule(
        ("N6",),
        "the destination's simultaneous migration limit was reached",
        _p(r"migration limit .*(was )?reached"),
        event_ids=(21501,),
    ),
    Rule(
        ("R1",),
        "the operator lacks a logon right (logon rights policy, KB 2779204)",
        _p(r"0x80070569|not been granted the requested logon type"),
    ),
    Rule(
        ("A2",),
        "access denied: SPN or delegation, or SMB share permissions for SMB-stored VMs",
        _p(r"0x80070005|access (is )?denied"),
        event_ids=(20100,),
    ),
)


@dataclass(frozen=True)
class Meaning:
    refs: tuple[str, ...]  # empty: unknown
    why: str

    @property
    def known(self) -> bool:
        return bool(self.refs)


UNKNOWN = Meaning((), "")


def for_incompatibility(message_id: int, message: str) -> Meaning:
    """A Compare-VM incompatibility: by its MessageId where the table knows it, else by its text."""
    for rule in RULES:
        if message_id in rule.message_ids:
            return Meaning(rule.refs, rule.why)
    return _by_text(message)


def for_event(event_id: int, message: str) -> Meaning:
    """A VMMS-Admin event: its text (error codes, known sentences) first, then its event ID."""
    found = _by_text(message)
    if found.known:
        return found
    for rule in RULES:
        if event_id in rule.event_ids:
            return Meaning(rule.refs, rule.why)
    return UNKNOWN


def _by_text(message: str) -> Meaning:
    for rule in RULES:
        if rule.pattern is not None and rule.pattern.search(message):
            return Meaning(rule.refs, rule.why)
    return UNKNOWN


@functools.cache
def _checks_by_ref() -> dict[str, CheckMeta]:
    return {meta.ref: meta for meta in load_catalogue()}


def check_for(ref: str) -> CheckMeta | None:
    """The catalogue's check for a requirement (REQUIREMENTS.md ref), if there is one."""
    return _checks_by_ref().get(ref)


def refs_text(refs: tuple[str, ...]) -> str:
    """'X1 (LMR-051)' or 'A4 (LMR-024) or A2 (LMR-022)'."""
    return " or ".join(f"{ref} ({meta.id})" if (meta := check_for(ref)) else ref for ref in refs)
