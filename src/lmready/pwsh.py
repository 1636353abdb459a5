"""The one way lmready writes a value into PowerShell text: a single-quoted literal.

Windows PowerShell 5.1 takes U+2018, U+2019, U+201A and U+201B as single quotes too, in any
mix: each of them ends a single-quoted string, and any two in a row stand for the second one.
Doubling every one of the five therefore keeps the value whole whatever it contains, and
nothing in it can end the string and start a command. Single-quoted strings expand nothing
($, backtick and double quotes are plain characters inside them).
"""

from __future__ import annotations

SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"


def quote(text: str) -> str:
    """``text`` as a PowerShell single-quoted string literal."""
    return "'" + "".join(ch + ch if ch in SINGLE_QUOTES else ch for ch in text) + "'"


def literal(value: bool | int | str | None) -> str:
    """A plan value as PowerShell source: $true/$false, $null, a number, or a quoted string."""
    if value is None:
        return "$null"
    if isinstance(value, bool):
        return "$true" if value else "$false"
    if isinstance(value, int):
        return str(value)
    return quote(str(value))
