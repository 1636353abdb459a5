"""Untrusted text made safe to show, and secrets kept out of what is shown.

Host answers, directory answers, inventories and CI variables may hold anything. ``printable``
is applied once where such text enters lmready (facts models, inventory values, error sentences),
so that every output can pass it through; the XML, HTML and JSON writers add what their own
format needs on top. ``redact``/``redact_url`` keep credentials out of report metadata.
"""

from __future__ import annotations

import re
from typing import Any

# Terminal-unsafe or spoofing code points: C0 controls but tab (ESC starts ANSI/OSC sequences,
# BEL ends OSC 52 "write the clipboard", CR/LF forge lines), DEL and C1 (0x9b is a one-byte
# CSI), lone surrogates (cannot be encoded: every UTF-8 writer raises), Unicode noncharacters
# (U+FFFE/U+FFFF are not XML characters) and the bidirectional overrides that reorder text.
_OTHERS = "\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff\u202a-\u202e\u2066-\u2069" + "".join(
    f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(1, 17)
)
_UNSAFE = re.compile(f"[\x00-\x08\x0a-\x1f{_OTHERS}]")
_UNSAFE_BUT_LF = re.compile(f"[\x00-\x08\x0b-\x1f{_OTHERS}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: str, newlines: bool = False) -> str:
    """``text`` with every unsafe code point written as a visible escape (``\\x1b``); with
    ``newlines``, line feeds are kept (text that lmready itself laid out in lines).

    Idempotent: the escapes are plain characters, so cleaning twice changes nothing."""
    unsafe = _UNSAFE_BUT_LF if newlines else _UNSAFE
    return unsafe.sub(_escape, text) if unsafe.search(text) else text


def printable_data(value: Any) -> Any:
    """``printable`` over every string (keys included) of JSON-like data."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable_data(k): printable_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [printable_data(v) for v in value]
    return value


# XML 1.0 Char: tab, LF, CR, U+0020-U+D7FF, U+E000-U+FFFD, U+10000-U+10FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    """``text`` with every character XML 1.0 forbids written as a visible escape."""
    return _NOT_XML.sub(_escape, text) if _NOT_XML.search(text) else text


# --- secrets --------------------------------------------------------------------------------

# Names of variables and keys whose values are credentials.
SECRET_NAME = re.compile(
    r"TOKEN|SECRET|PASSW|PWD|PASSPHRASE|CREDENTIAL|API_?KEY|ACCESS_?KEY|PRIVATE|(^|_)KEY($|_)|"
    r"AUTH|COOKIE|SESSION|SIGNATURE|JWT|BEARER",
    re.IGNORECASE,
)
# scheme://userinfo@ : the password (or a lone token) in a URL.
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#@\s]+)@")
# Tokens recognisable by their shape wherever they appear (GitHub, GitLab, Slack, AWS, JWT).
_TOKEN = re.compile(
    r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,}|"
    r"xox[abposr]-[A-Za-z0-9-]{10,}|AKIA[A-Z0-9]{16}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+)"
)
REDACTED = "***"


def _userinfo(match: re.Match[str]) -> str:
    user, colon, _ = match.group("userinfo").partition(":")
    # user:secret@ keeps the user; a lone userinfo is usually a token (https://TOKEN@host).
    shown = f"{user}:{REDACTED}" if colon else REDACTED
    return f"{match.group('scheme')}{shown}@"


def redact_url(text: str) -> str:
    """Credentials in URLs (``user:secret@`` -> ``user:***@``) and well-known token shapes."""
    return _TOKEN.sub(REDACTED, _URL_USERINFO.sub(_userinfo, text))


def redact(name: str, value: Any) -> Any:
    """The value of variable ``name`` as it may be shown: hidden when the name says secret,
    with URL credentials and token shapes removed otherwise (recursively for dicts/lists)."""
    if SECRET_NAME.search(name):
        return REDACTED
    if isinstance(value, str):
        return redact_url(value)
    if isinstance(value, dict):
        return {k: redact(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(name, v) for v in value]
    return value
