"""ConvertTo-Json and ConvertFrom-Json as Windows PowerShell 5.1 does them: through
JavaScriptSerializer, so enums print as numbers, DateTime as \\/Date(ms)\\/, and ' < > & as \\uXXXX;
anything deeper than -Depth (2 by default) prints as its [string]; without -Compress, 5.1's own
indentation (four spaces, two after the colon, nested values aligned under their key).

Sources: PowerShell/PowerShell#7693 (5.1 prints {"abc":  "\\u0027def\\u0027"} with that indentation),
MicrosoftDocs/PowerShell-Docs#5160 (-EscapeHandling does not exist in 5.1), and ConvertToJsonCommand's
5.1 ProcessValue for the depth rule. The escaping of U+0085, U+2028 and U+2029 is not verified."""

from __future__ import annotations

import json as _json
from datetime import UTC, datetime
from typing import Any

from lmready.lab.powershell.values import (
    EnumValue,
    Hashtable,
    PSCustomObject,
    PSObject,
    format_double,
    to_string,
)

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
# HttpUtility.JavaScriptStringEncode, which JavaScriptSerializer uses, also escapes these.
_HTML_SENSITIVE = "'<>&\u0085\u2028\u2029"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _string(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch < " " or ch in _HTML_SENSITIVE:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _process(value: Any, depth: int, max_depth: int) -> Any:
    """ConvertToJsonCommand.ProcessValue: a tree of dict/list/scalars, deep values as strings."""
    if value is None or isinstance(value, str | bool | int | float | datetime | EnumValue):
        return value
    if depth > max_depth:
        return to_string(value)
    if isinstance(value, Hashtable):
        return {to_string(k): _process(v, depth + 1, max_depth) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_process(v, depth + 1, max_depth) for v in value]
    if isinstance(value, PSObject):
        return {k: _process(v, depth + 1, max_depth) for k, v in value.properties.items()}
    return to_string(value)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, EnumValue):
        return str(value.value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_double(value)
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        ms = int((moment - _EPOCH).total_seconds() * 1000)
        return f'"\\/Date({ms})\\/"'
    return _string(value)


def _compact(tree: Any) -> str:
    if isinstance(tree, dict):
        return "{" + ",".join(f"{_string(k)}:{_compact(v)}" for k, v in tree.items()) + "}"
    if isinstance(tree, list):
        return "[" + ",".join(_compact(v) for v in tree) + "]"
    return _scalar(tree)


def _pretty(tree: Any, indent: int) -> str:
    pad = " " * indent
    if isinstance(tree, dict):
        if not tree:
            return "{\r\n\r\n" + pad + "}"
        lines = []
        for key, value in tree.items():
            head = f"{pad}    {_string(key)}:  "
            lines.append(head + _pretty(value, len(head)))
        return "{\r\n" + ",\r\n".join(lines) + "\r\n" + pad + "}"
    if isinstance(tree, list):
        if not tree:
            return "[\r\n\r\n" + pad + "]"
        inner = pad + "    "
        return "[\r\n" + ",\r\n".join(inner + _pretty(v, len(inner)) for v in tree) + "\r\n" + pad + "]"
    return _scalar(tree)


def convert_to_json(value: Any, depth: int = 2, compress: bool = False) -> str:
    tree = _process(value, 0, depth)
    return _compact(tree) if compress else _pretty(tree, 0)


class JsonError(Exception):
    pass


def _to_ps(value: Any) -> Any:
    if isinstance(value, dict):
        return PSCustomObject({k: _to_ps(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_to_ps(v) for v in value]
    return value


def convert_from_json(text: str) -> Any:
    """A JSON text as 5.1 gives it back: objects are PSCustomObjects, an array is one array."""
    try:
        return _to_ps(_json.loads(text))
    except ValueError:
        primitive = text.strip().split()[0] if text.strip() else text
        raise JsonError(f"Invalid JSON primitive: {primitive[:40]}.") from None
