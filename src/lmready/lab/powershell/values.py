"""PowerShell's values in Python, and its conversions: what [string], [bool], [int] and the
comparison operators make of each.

$null is None; booleans, integers (Int32 and Int64 alike), doubles and strings are Python's;
an array is a list; @{} is a Hashtable, [ordered]@{} an OrderedDictionary; objects a cmdlet
returns are PSObjects with a .NET type name; enum values are EnumValues (named by [string],
numbers in ConvertTo-Json).
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from lmready.lab.metadata import ConversionError as MetadataConversionError
from lmready.lab.metadata import PSEnumValue as EnumValue
from lmready.lab.metadata import load

META = load()
# .NET enums the scripts meet that are not in the modules' metadata: type name (lower case) ->
# {member name: value}.
ENUMS: dict[str, dict[str, int]] = {}


def register_enum(type_name: str, members: dict[str, int]) -> None:
    ENUMS[type_name.lower()] = members


def is_enum(type_name: str) -> bool:
    return META.is_enum(type_name) or type_name.lower() in ENUMS


class ConversionError(Exception):
    """A conversion PowerShell refuses; the message is PowerShell's."""


def _fold(key: Any) -> Any:
    return key.lower() if isinstance(key, str) else key


class Hashtable:
    """@{}: keys compare ignoring case; it enumerates in hash order, not in insertion order."""

    type_name = "System.Collections.Hashtable"
    ordered = False

    def __init__(self, pairs: Iterable[tuple[Any, Any]] = ()):
        self._d: dict[Any, list[Any]] = {}
        for key, value in pairs:
            self[key] = value

    def __getitem__(self, key: Any) -> Any:
        entry = self._d.get(_fold(key))
        return None if entry is None else entry[1]

    def __setitem__(self, key: Any, value: Any) -> None:
        folded = _fold(key)
        entry = self._d.get(folded)
        if entry is None:
            self._d[folded] = [key, value]
        else:
            entry[1] = value

    def __contains__(self, key: Any) -> bool:
        return _fold(key) in self._d

    def __len__(self) -> int:
        return len(self._d)

    def add(self, key: Any, value: Any) -> None:
        if key in self:
            raise ConversionError(
                f"Item has already been added. Key in dictionary: '{key}'  Key being added: '{key}'"
            )
        self[key] = value

    def remove(self, key: Any) -> None:
        self._d.pop(_fold(key), None)

    def items(self) -> list[tuple[Any, Any]]:
        entries = [(k, v) for k, v in self._d.values()]
        if not self.ordered:
            # .NET's Hashtable enumerates in bucket order; a stable order unrelated to insertion stands in.
            entries.sort(key=lambda kv: zlib.crc32(str(kv[0]).lower().encode()))
        return entries

    def keys(self) -> list[Any]:
        return [k for k, _ in self.items()]

    def values(self) -> list[Any]:
        return [v for _, v in self.items()]


class OrderedDictionary(Hashtable):
    """[ordered]@{}: a Hashtable that keeps insertion order."""

    type_name = "System.Collections.Specialized.OrderedDictionary"
    ordered = True


class PSObject:
    """An object with a .NET type name and properties (looked up ignoring case). A property it
    does not have reads as $null, as in PowerShell."""

    def __init__(self, type_name: str, properties: dict[str, Any] | None = None):
        self.type_name = type_name
        self.properties: dict[str, Any] = dict(properties or {})
        self._names = {name.lower(): name for name in self.properties}

    def has(self, name: str) -> bool:
        return name.lower() in self._names

    def get(self, name: str) -> Any:
        actual = self._names.get(name.lower())
        return None if actual is None else self.properties[actual]

    def set(self, name: str, value: Any) -> None:
        actual = self._names.get(name.lower())
        if actual is None:
            raise ConversionError(
                f"The property '{name}' cannot be found on this object. Verify that the property exists "
                "and can be set."
            )
        self.properties[actual] = value

    def call(self, name: str, args: list[Any]) -> Any:
        if name.lower() == "tostring" and not args:
            return self.to_string()
        raise ConversionError(
            f"Method invocation failed because [{self.type_name}] does not contain a method named '{name}'."
        )

    def to_string(self) -> str:
        return self.type_name


class PSCustomObject(PSObject):
    """[pscustomobject] and what ConvertFrom-Json makes: properties in their order."""

    def __init__(self, properties: dict[str, Any]):
        super().__init__("System.Management.Automation.PSCustomObject", properties)

    def to_string(self) -> str:
        return "@{" + "; ".join(f"{k}={to_string(v)}" for k, v in self.properties.items()) + "}"


class ArrayList(list):
    """System.Collections.ArrayList: Add returns the new index (hence [void])."""

    type_name = "System.Collections.ArrayList"


class TypedArray(list):
    """An array cast to [T[]]: the element type is kept for GetType()."""

    def __init__(self, items: Iterable[Any], element: str):
        super().__init__(items)
        self.type_name = element + "[]"


def is_enumerable(value: Any) -> bool:
    """What a pipeline unrolls: arrays and lists, not strings and not dictionaries."""
    return isinstance(value, list | tuple)


def enumerate_value(value: Any) -> Iterator[Any]:
    if is_enumerable(value):
        yield from value
    else:
        yield value


def unwrap(items: list[Any]) -> Any:
    """A pipeline's output as one value: none is $null, one is itself, more an array."""
    if not items:
        return None
    if len(items) == 1:
        return items[0]
    return items


# --- [string] ---------------------------------------------------------------------------------


def format_double(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        sign = exponent[0] if exponent[0] in "+-" else "+"
        text = f"{mantissa.removesuffix('.0')}E{sign}{exponent.lstrip('+-').zfill(2)}"
    return text


def to_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_double(value)
    if isinstance(value, EnumValue):
        return value.name
    if isinstance(value, list | tuple):
        return " ".join(to_string(v) for v in value)
    if isinstance(value, datetime):
        return value.strftime("%m/%d/%Y %H:%M:%S")
    if isinstance(value, Hashtable):
        return value.type_name
    if isinstance(value, PSObject):
        return value.to_string()
    text = getattr(value, "text", None)
    if isinstance(text, str):
        return text
    return str(value)


# --- [bool] -----------------------------------------------------------------------------------


def to_bool(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        return value != ""
    if isinstance(value, EnumValue):
        return value.value != 0
    if isinstance(value, list | tuple):
        if not value:
            return False
        if len(value) == 1:
            return to_bool(value[0])
        return True
    return True


# --- numbers ----------------------------------------------------------------------------------

_INTEGER_TYPES = {
    "int": ("System.Int32", -(2**31), 2**31 - 1, "an Int32"),
    "int32": ("System.Int32", -(2**31), 2**31 - 1, "an Int32"),
    "long": ("System.Int64", -(2**63), 2**63 - 1, "an Int64"),
    "int64": ("System.Int64", -(2**63), 2**63 - 1, "an Int64"),
    "uint32": ("System.UInt32", 0, 2**32 - 1, "a UInt32"),
    "uint64": ("System.UInt64", 0, 2**64 - 1, "a UInt64"),
    "byte": ("System.Byte", 0, 255, "an unsigned byte"),
    "uint16": ("System.UInt16", 0, 2**16 - 1, "a UInt16"),
    "int16": ("System.Int16", -(2**15), 2**15 - 1, "an Int16"),
}
_NUMERIC_TEXT = re.compile(
    r"^\s*[+-]?(0x[0-9a-f]+|\d+\.?\d*(e[+-]?\d+)?|\.\d+(e[+-]?\d+)?)\s*$", re.IGNORECASE
)


def _display(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "System.Object[]"
    return to_string(value)


def cannot_convert(value: Any, type_name: str, error: str) -> ConversionError:
    return ConversionError(
        f'Cannot convert value "{_display(value)}" to type "{type_name}". Error: "{error}"'
    )


def parse_number(text: str) -> int | float | None:
    """A string as PowerShell reads a number from it, or None."""
    if not _NUMERIC_TEXT.match(text):
        return None
    t = text.strip()
    sign = -1 if t.startswith("-") else 1
    t = t.lstrip("+-")
    if t[:2].lower() == "0x":
        return sign * int(t[2:], 16)
    if any(c in t for c in ".eE"):
        return sign * float(t)
    return sign * int(t)


def _round_half_even(value: float) -> int:
    return round(value)


def to_integer(value: Any, kind: str = "int") -> int:
    type_name, low, high, article = _INTEGER_TYPES[kind]
    if value is None:
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, EnumValue):
        number: int | float = value.value
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise cannot_convert(value, type_name, f"Value was either too large or too small for {article}.")
        number = _round_half_even(value)
    elif isinstance(value, str):
        parsed = parse_number(value) if value.strip() else 0
        if parsed is None:
            raise cannot_convert(value, type_name, "Input string was not in a correct format.")
        number = _round_half_even(parsed) if isinstance(parsed, float) else parsed
    elif isinstance(value, list | tuple):
        if len(value) == 1:
            return to_integer(value[0], kind)
        raise ConversionError(
            f'Cannot convert the "System.Object[]" value of type "System.Object[]" to type "{type_name}".'
        )
    else:
        raise ConversionError(
            f'Cannot convert the "{to_string(value)}" value of type "{type_name_of(value)}" to type '
            f'"{type_name}".'
        )
    if not low <= number <= high:
        raise cannot_convert(value, type_name, f"Value was either too large or too small for {article}.")
    return int(number)


def to_double(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool | int | float):
        return float(value)
    if isinstance(value, EnumValue):
        return float(value.value)
    if isinstance(value, str):
        parsed = parse_number(value) if value.strip() else 0
        if parsed is None:
            raise cannot_convert(value, "System.Double", "Input string was not in a correct format.")
        return float(parsed)
    raise ConversionError(f'Cannot convert value "{_display(value)}" to type "System.Double".')


def to_number(value: Any) -> int | float:
    """An operand of arithmetic: numbers stay, strings are parsed, $null is 0."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    if value is None:
        return 0
    if isinstance(value, EnumValue):
        return value.value
    if isinstance(value, str):
        parsed = parse_number(value) if value.strip() else 0
        if parsed is None:
            raise cannot_convert(value, "System.Int32", "Input string was not in a correct format.")
        return parsed
    raise ConversionError(f'Cannot convert value "{_display(value)}" to type "System.Int32".')


def to_enum(value: Any, type_name: str) -> EnumValue:
    """An enum conversion as LanguagePrimitives does it: a member name (any case, or an
    unambiguous prefix), a number, or a comma list of names for flags."""
    if META.is_enum(type_name):
        try:
            return META.convert(type_name, value)  # type: ignore[return-value]
        except MetadataConversionError as exc:
            raise ConversionError(str(exc)) from None
    members = ENUMS.get(type_name.lower())
    if members is None:
        raise ConversionError(f"Unable to find type [{type_name}].")
    if isinstance(value, EnumValue) and value.type_name.lower() == type_name.lower():
        return value
    by_value = {v: k for k, v in members.items()}
    if isinstance(value, int) and not isinstance(value, bool) and value in by_value:
        return EnumValue(type_name, by_value[value], value)
    text = to_string(value).strip()
    for name, number in members.items():
        if name.lower() == text.lower():
            return EnumValue(type_name, name, number)
    raise cannot_convert(
        value,
        type_name,
        f"Unable to match the identifier name {text} to a valid enumerator name. Specify one of the "
        f"following enumerator names and try again:\r\n{', '.join(members)}",
    )


def type_name_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "System.Boolean"
    if isinstance(value, int):
        return "System.Int32" if -(2**31) <= value < 2**31 else "System.Int64"
    if isinstance(value, float):
        return "System.Double"
    if isinstance(value, str):
        return "System.String"
    if isinstance(value, datetime):
        return "System.DateTime"
    type_name = getattr(value, "type_name", None)
    if isinstance(type_name, str):
        return type_name
    if isinstance(value, list | tuple):
        return "System.Object[]"
    return "System.Object"


# --- comparison -------------------------------------------------------------------------------


def _convert_like(right: Any, left: Any) -> Any:
    """The right operand converted to the left's type, as -eq and -lt do; raises ConversionError."""
    if isinstance(left, str):
        return to_string(right)
    if isinstance(left, bool):
        return to_bool(right)
    if isinstance(left, EnumValue):
        return to_enum(right, left.type_name)
    if isinstance(left, int | float):
        if isinstance(right, str):
            parsed = parse_number(right)
            if parsed is None:
                raise cannot_convert(right, type_name_of(left), "Input string was not in a correct format.")
            return parsed
        return to_number(right)
    if isinstance(left, datetime) and isinstance(right, str):
        return datetime.fromisoformat(right)
    return right


def equal(left: Any, right: Any, case_sensitive: bool = False) -> bool:
    """Scalar -eq: the right side converted to the left side's type."""
    if left is None or right is None:
        return left is None and right is None
    try:
        converted = _convert_like(right, left)
    except (ConversionError, ValueError):
        return False
    if isinstance(left, str):
        return left == converted if case_sensitive else left.lower() == converted.lower()
    if isinstance(left, EnumValue):
        return left.value == converted.value
    if isinstance(left, datetime) and isinstance(converted, datetime):
        return left.astimezone(UTC) == converted.astimezone(UTC)
    return left == converted


def compare(left: Any, right: Any, case_sensitive: bool = False) -> int:
    """Scalar ordering for -lt/-gt and Sort-Object: -1, 0 or 1."""
    if left is None and right is None:
        return 0
    if left is None:
        return -1
    if right is None:
        return 1
    converted = _convert_like(right, left)
    a, b = left, converted
    if isinstance(left, str):
        if not case_sensitive:
            a, b = left.lower(), converted.lower()
    elif isinstance(left, EnumValue):
        a, b = left.value, converted.value
    elif isinstance(left, bool):
        a, b = int(left), int(converted)
    elif not isinstance(left, int | float | datetime):
        a, b = to_string(left).lower(), to_string(right).lower()
    return (a > b) - (a < b)


def wildcard(pattern: str, case_sensitive: bool = False) -> re.Pattern[str]:
    """-like's pattern: * ? and [a-z], with ` escaping."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "`" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(ch))
            else:
                out.append("[" + pattern[i + 1 : end].replace("\\", "\\\\") + "]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL | (0 if case_sensitive else re.IGNORECASE))


def plain(value: Any) -> Any:
    """A value as the lab's WS-Management server sends it: str, int, float, bool, None, dict, list."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, EnumValue):
        return value.name
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Hashtable):
        return {to_string(k): plain(v) for k, v in value.items()}
    if isinstance(value, PSObject) and type(value) in (PSObject, PSCustomObject):
        return {k: plain(v) for k, v in value.properties.items()}
    return to_string(value)
