"""Kerberos delegation as A2 and A3 both read it (REQUIREMENTS.md section 2)."""

from __future__ import annotations

from lmready.catalogue import applies_only_if
from lmready.estate import HostView, PairView


def kerberos_on_both_ends(pair: PairView) -> None:
    """A2's and A3's precondition: both hosts migrate with Kerberos."""
    auth = {str(e.facts.migration.authentication_type) for e in (pair.src, pair.dst)}
    applies_only_if(auth == {"Kerberos"}, "Kerberos on both hosts", f"{'/'.join(sorted(auth))}")


def rbcd_allows(src: HostView, dst: HostView) -> bool:
    """dst's msDS-AllowedToActOnBehalfOfOtherIdentity grants src's account, by SID."""
    s, d = src.account, dst.account
    return bool(s and d and s.sid and s.sid in d.allowed_to_act)
