"""The real modules' cmdlets, types and enums (metadata/cmdlets.json), and Windows PowerShell
5.1's parameter binding over them: what the lab's interpreter calls to bind a command line.

Binding follows PowerShell's ParameterBinder (MergedCommandParameterMetadata.GetMatchingParameter,
LanguagePrimitives.ConvertTo, EnumMinimumDisambiguation; messages from ParameterBinderStrings,
ExtendedTypeSystem and EnumExpressionEvaluatorStrings). Every failure is one BindingError with
PowerShell's message, FullyQualifiedErrorId and category, which the interpreter turns into an
ErrorRecord. Values the interpreter passes: str, bool, int, float, None, list (an array), dict (a
hashtable), PSEnumValue, or any other object (opaque: a scriptblock, a CIM instance, a VM...).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATA = Path(__file__).with_name("metadata") / "cmdlets.json"

SWITCH = "System.Management.Automation.SwitchParameter"
ALL_SETS = "__AllParameterSets"


class BindingError(Exception):
    """A statement-terminating error as PowerShell reports it."""

    def __init__(self, message: str, fully_qualified_error_id: str, category: str):
        super().__init__(message)
        self.message = message
        self.fully_qualified_error_id = fully_qualified_error_id
        self.category = category


class CommandNotFound(BindingError):
    def __init__(self, name: str):
        super().__init__(
            f"The term '{name}' is not recognized as the name of a cmdlet, function, script file, or "
            "operable program. Check the spelling of the name, or if a path was included, verify that "
            "the path is correct and try again.",
            "CommandNotFoundException",
            "ObjectNotFound",
        )


class ConversionError(ValueError):
    """A PSInvalidCastException: the message is the whole sentence PowerShell prints."""


class _NoArgument:
    def __repr__(self) -> str:
        return "NO_ARGUMENT"


# Pass as the value of a named parameter written without an argument (``-Name`` at the end of
# the line, or before another parameter): a switch takes it as $true, anything else is an error.
NO_ARGUMENT: Any = _NoArgument()


@dataclass(frozen=True)
class PSEnumValue:
    """An enum value: str() is its name (what [string] and Format-* print), int() its number
    (what ConvertTo-Json writes). A flags value's name is .NET's "A, B"."""

    type_name: str
    name: str
    value: int

    def __str__(self) -> str:
        return self.name

    def __int__(self) -> int:
        return self.value

    def __index__(self) -> int:
        return self.value


@dataclass(frozen=True)
class Enum:
    type_name: str
    values: dict[str, int]  # as declared
    flags: bool
    source: str
    verified: bool

    @property
    def names(self) -> list[str]:
        """Enum.GetNames order: by value, unsigned."""
        return [n for n, _ in sorted(self.values.items(), key=lambda kv: kv[1] & 0xFFFFFFFFFFFFFFFF)]

    def value(self, number: int) -> PSEnumValue:
        """``number`` as this enum; ConversionError when it is not a defined value (or, for a
        flags enum, not a combination of defined bits) as LanguagePrimitives refuses it."""
        if not self._defined(number):
            raise ConversionError(
                f'Cannot convert value "{number}" to type "{self.type_name}" due to enumeration values '
                "that are not valid. Specify one of the following enumeration values and try again. "
                f'The possible enumeration values are "{",".join(self.names)}".'
            )
        return PSEnumValue(self.type_name, self._name_of(number), number)

    def _defined(self, number: int) -> bool:
        if not self.flags:
            return number in self.values.values()
        bits = 0
        for v in self.values.values():
            bits |= v
        return number & ~bits == 0

    def _name_of(self, number: int) -> str:
        for name, v in self.values.items():
            if v == number:
                return name
        # .NET's Enum.ToString of a flags combination: the set flags, highest value first
        # matched, printed in ascending order, joined by ", ".
        parts, rest = [], number
        for name, v in sorted(self.values.items(), key=lambda kv: -kv[1]):
            if v and rest & v == v:
                parts.append(name)
                rest &= ~v
        return ", ".join(reversed(parts)) if not rest and parts else str(number)

    def parse(self, text: str) -> PSEnumValue:
        """LanguagePrimitives.ConvertStringToEnum: Enum.Parse (names, numbers, comma lists),
        case-sensitive then case-insensitive, then EnumMinimumDisambiguation (an unambiguous
        prefix of one name). Windows PowerShell 5.1 does accept prefixes: `[ConsoleColor]'Yel'` is
        Yellow (decompiled System.Management.Automation 3.0.0.0, ConvertStringToEnum)."""
        number = self._enum_parse(text, ignore_case=False)
        if number is None:
            number = self._enum_parse(text, ignore_case=True)
        if number is None:
            try:
                name = self._disambiguate(text)
            except ConversionError as exc:
                raise ConversionError(
                    f'Cannot convert value "{text}" to type "{self.type_name}". Error: "{exc}"'
                ) from None
            number = self.values[name]
        return self.value(number)

    def _enum_parse(self, text: str, ignore_case: bool) -> int | None:
        """.NET Framework Enum.Parse: comma-separated names or integers, each trimmed; the
        values are ORed (for any enum, flags or not). None where Enum.Parse would throw."""
        if not text.strip():
            return None
        total = 0
        for part in text.split(","):
            part = part.strip()
            if re.fullmatch(r"[+-]?\d+", part):
                total |= int(part)
                continue
            match = next(
                (
                    v
                    for n, v in self.values.items()
                    if (n.lower() == part.lower() if ignore_case else n == part)
                ),
                None,
            )
            if match is None:
                return None
            total |= match
        return total

    def _disambiguate(self, text: str) -> str:
        matches = [n for n in self.names if n.lower().startswith(text.lower())]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            # The resource string has a line break before the list; Windows builds carry it as CRLF.
            raise ConversionError(
                f"Unable to match the identifier name {text} to a valid enumerator name. Specify one of "
                f"the following enumerator names and try again:\r\n{', '.join(self.names)}"
            )
        for name in matches:
            if name.lower() == text.lower():
                return name
        raise ConversionError(
            f"The identifier name {text} cannot be processed because it is either too similar or "
            f"identical to the following enumerator names: {', '.join(matches)}. Use a more specific "
            "identifier name."
        )


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    aliases: tuple[str, ...]
    sets: tuple[str, ...]
    positions: dict[str, int | None]  # per parameter set
    mandatory_in: frozenset[str]  # the sets in which it is mandatory
    pipeline: bool
    switch: bool
    common: bool = False  # a common or ShouldProcess parameter, not the cmdlet's own

    def in_set(self, name: str) -> bool:
        return ALL_SETS in self.sets or name in self.sets


@dataclass(frozen=True)
class Cmdlet:
    name: str
    module: str
    source: str
    verified: bool
    outputs: tuple[str, ...]
    implementing_type: str
    default_set: str | None
    parameters: dict[str, Parameter] = field(repr=False)  # own, then ShouldProcess, then common

    @property
    def sets(self) -> list[str]:
        """The named parameter sets, in declaration order; [ALL_SETS] when it declares none."""
        names: list[str] = []
        for p in self.parameters.values():
            names += [s for s in p.sets if s != ALL_SETS and s not in names]
        return names or [ALL_SETS]

    def error(self, message: str, error_id: str, category: str = "InvalidArgument") -> BindingError:
        return BindingError(message, f"{error_id},{self.implementing_type}", category)


class BoundParameters(dict):
    """{canonical parameter name: converted value}; .parameter_set is the set PowerShell chose."""

    parameter_set: str = ALL_SETS


class Metadata:
    def __init__(self, data: dict[str, Any]):
        self.provenance = data["provenance"]
        self.natives: list[str] = data["natives"]
        self._enums = {
            k.lower(): Enum(k, v["values"], v["flags"], v["source"], v["verified"])
            for k, v in data["enums"].items()
        }
        self._types = {k.lower(): (k, v) for k, v in data["types"].items()}
        common = [
            self._parameter(n, p, common=True) for n, p in data["common_parameters"]["parameters"].items()
        ]
        should = [
            self._parameter(n, p, common=True)
            for n, p in data["should_process_parameters"]["parameters"].items()
        ]
        self._cmdlets: dict[str, Cmdlet] = {}
        for name, c in data["cmdlets"].items():
            own = [self._parameter(n, p) for n, p in c["parameters"].items()]
            params = own + (should if c["should_process"] else []) + common
            self._cmdlets[name.lower()] = Cmdlet(
                name=name,
                module=c["module"],
                source=c["source"],
                verified=c["verified"],
                outputs=tuple(c["outputs"]),
                implementing_type=c["implementing_type"],
                default_set=c["default_parameter_set"],
                parameters={p.name: p for p in params},
            )

    @staticmethod
    def _parameter(name: str, p: dict[str, Any], common: bool = False) -> Parameter:
        per_set = p.get("per_set") or {
            s: {"position": p["position"], "mandatory": p["mandatory"]} for s in p["sets"]
        }
        return Parameter(
            name=name,
            type=p["type"],
            aliases=tuple(p["aliases"]),
            sets=tuple(p["sets"]),
            positions={s: v["position"] for s, v in per_set.items()},
            mandatory_in=frozenset(s for s, v in per_set.items() if v["mandatory"]),
            pipeline=p["pipeline"],
            switch=p["switch"],
            common=common,
        )

    # --- lookups ----------------------------------------------------------------------------

    def cmdlet(self, name: str) -> Cmdlet:
        """The cmdlet, whatever the case of ``name``; CommandNotFound as PowerShell words it."""
        found = self._cmdlets.get(name.lower())
        if found is None:
            raise CommandNotFound(name)
        return found

    @property
    def cmdlets(self) -> list[str]:
        return [c.name for c in self._cmdlets.values()]

    def properties(self, type_name: str) -> dict[str, str]:
        """{property: type name} in the order the real type lists them; KeyError if unknown."""
        return dict(self._types[type_name.lower()][1]["properties"])

    def type_info(self, type_name: str) -> dict[str, Any]:
        """The type's whole entry (source, verified, properties)."""
        return self._types[type_name.lower()][1]

    def has_type(self, type_name: str) -> bool:
        return type_name.lower() in self._types

    def enum(self, type_name: str) -> Enum:
        """The enum; KeyError if the metadata has no such enum."""
        return self._enums[type_name.lower()]

    def is_enum(self, type_name: str) -> bool:
        return type_name.lower() in self._enums

    def resolve(self, cmdlet: Cmdlet | str, written: str) -> Parameter:
        """The parameter ``-written`` names: an exact name or alias, else an unambiguous prefix of
        names and aliases; among several prefix matches the cmdlet's own parameter wins over
        common ones when it is the only one (GetMatchingParameter, tryExactMatching)."""
        c = cmdlet if isinstance(cmdlet, Cmdlet) else self.cmdlet(cmdlet)
        key = written.lstrip("-").lower()
        for p in c.parameters.values():
            if key == p.name.lower():
                return p
        for p in c.parameters.values():
            if key in (a.lower() for a in p.aliases):
                return p
        matches = [p for p in c.parameters.values() if p.name.lower().startswith(key)]
        matches += [
            p
            for p in c.parameters.values()
            if p not in matches and any(a.lower().startswith(key) for a in p.aliases)
        ]
        if len(matches) > 1:
            own = [p for p in matches if not p.common]
            if len(own) == 1:
                return own[0]
            raise c.error(
                f"Parameter cannot be processed because the parameter name '{written.lstrip('-')}' is "
                f"ambiguous. Possible matches include:{''.join(' -' + p.name for p in matches)}.",
                "AmbiguousParameter",
            )
        if not matches:
            raise c.error(
                f"A parameter cannot be found that matches parameter name '{written.lstrip('-')}'.",
                "NamedParameterNotFound",
            )
        return matches[0]

    # --- binding ----------------------------------------------------------------------------

    def bind(
        self,
        cmdlet: Cmdlet | str,
        named: list[tuple[str, object]],
        positional: list[object],
        *,
        is_scriptblock: Callable[[object], bool] | None = None,
        expecting_input: bool = False,
    ) -> BoundParameters:
        """Named arguments (as written, with their values; NO_ARGUMENT for none), then positional
        ones, bound as PowerShell 5.1 does: names resolved, parameter set narrowed, positional
        arguments given to the unbound positional parameters in position order, values converted
        to the parameter's type, mandatory parameters checked (a remote session cannot prompt).
        ``is_scriptblock`` tells a scriptblock from other opaque objects; without it, any object
        that is not a string, number, bool, list or dict is accepted for a ScriptBlock parameter.
        ``expecting_input``: the command is not first in its pipeline, so a mandatory parameter that
        takes pipeline input is left for the input to fill (the interpreter binds it per object)."""
        c = cmdlet if isinstance(cmdlet, Cmdlet) else self.cmdlet(cmdlet)
        bound = BoundParameters()
        candidates = list(c.sets)
        for written, value in named:
            p = self.resolve(c, written)
            if p.name in bound:
                raise c.error(
                    f"Cannot bind parameter because parameter '{p.name}' is specified more than once. To "
                    "provide multiple values to parameters that can accept multiple values, use the array "
                    'syntax. For example, "-parameter value1,value2,value3".',
                    "ParameterAlreadyBound",
                )
            if value is NO_ARGUMENT:
                if not p.switch:
                    raise c.error(
                        f"Missing an argument for parameter '{p.name}'. Specify a parameter of type "
                        f"'{p.type}' and try again.",
                        "MissingArgument",
                    )
                value = True
            bound[p.name] = self._convert_argument(c, p, value, is_scriptblock)
            candidates = self._narrow(c, candidates, p)
        for value in positional:
            p = self._next_positional(c, candidates, bound, value, is_scriptblock)
            if p is None:
                raise c.error(
                    f"A positional parameter cannot be found that accepts argument '{_text(value)}'.",
                    "PositionalParameterNotFound",
                )
            bound[p.name] = self._convert_argument(c, p, value, is_scriptblock)
            candidates = self._narrow(c, candidates, p)
        bound.parameter_set = self._choose_set(c, candidates, bound)
        missing = [
            p.name
            for p in c.parameters.values()
            if p.name not in bound
            and p.in_set(bound.parameter_set)
            and self._mandatory(p, bound.parameter_set)
            and not (expecting_input and p.pipeline)
        ]
        if missing:
            raise c.error(
                "Cannot process command because of one or more missing mandatory parameters:"
                f"{''.join(' ' + m for m in missing)}.",
                "MissingMandatoryParameter",
            )
        return bound

    @staticmethod
    def _mandatory(p: Parameter, set_name: str) -> bool:
        return set_name in p.mandatory_in or ALL_SETS in p.mandatory_in

    @staticmethod
    def _position(p: Parameter, set_name: str) -> int | None:
        return p.positions.get(set_name, p.positions.get(ALL_SETS))

    def _narrow(self, c: Cmdlet, candidates: list[str], p: Parameter) -> list[str]:
        if ALL_SETS in p.sets:
            return candidates
        left = [s for s in candidates if s in p.sets]
        if not left:
            raise c.error(
                "Parameter set cannot be resolved using the specified named parameters.",
                "AmbiguousParameterSet",
            )
        return left

    def _next_positional(
        self,
        c: Cmdlet,
        candidates: list[str],
        bound: dict[str, Any],
        value: object,
        is_scriptblock: Callable[[object], bool] | None,
    ) -> Parameter | None:
        """The unbound parameter at the lowest position left in a remaining set. When several
        sets put different parameters there, PowerShell first tries them without type coercion
        (`Where-Object {...}` binds -FilterScript, not -Property), then the default set's."""
        at: list[tuple[int, int, Parameter]] = []
        for p in c.parameters.values():
            if p.name in bound:
                continue
            ranks = [
                (pos, 0 if s == c.default_set else 1)
                for s in candidates
                if p.in_set(s) and (pos := self._position(p, s)) is not None
            ]
            if ranks:
                at.append((*min(ranks), p))
        if not at:
            return None
        lowest = min(pos for pos, _, _ in at)
        tied = [p for _, _, p in sorted((t for t in at if t[0] == lowest), key=lambda t: t[:2])]
        exact = [p for p in tied if _fits(p.type, value, is_scriptblock)]
        return (exact or tied)[0]

    def _choose_set(self, c: Cmdlet, candidates: list[str], bound: dict[str, Any]) -> str:
        if len(candidates) == 1:
            return candidates[0]
        if c.default_set in candidates:
            return c.default_set
        complete = [
            s
            for s in candidates
            if all(p.name in bound for p in c.parameters.values() if p.in_set(s) and self._mandatory(p, s))
        ]
        if len(complete) == 1:
            return complete[0]
        if not complete:
            return candidates[0]
        raise c.error(
            "Parameter set cannot be resolved using the specified named parameters.", "AmbiguousParameterSet"
        )

    def _convert_argument(
        self, c: Cmdlet, p: Parameter, value: object, is_scriptblock: Callable[[object], bool] | None
    ) -> object:
        if p.switch or p.type == "System.Boolean":
            # Boolean and switch parameters take only booleans and numbers (ParameterBinderBase).
            if value is None or isinstance(value, bool | int | float | PSEnumValue):
                return bool(int(value) if isinstance(value, PSEnumValue) else value)
            source = "System.Object[]" if isinstance(value, list) else _dotnet_type(value)
            raise c.error(
                f"Cannot process argument transformation on parameter '{p.name}'. Cannot convert value "
                f'"{source}" to type "{p.type}". Boolean parameters accept only Boolean values and numbers, '
                "such as $True, $False, 1 or 0.",
                "ParameterArgumentTransformationError",
                "InvalidData",
            )
        if p.mandatory_in:
            self._validate_mandatory_value(c, p, value)
        element = p.type[:-2] if p.type.endswith("[]") else None
        if element is None and isinstance(value, list) and not self._takes_collection(p.type):
            raise c.error(
                f"Cannot convert 'System.Object[]' to the type '{p.type}' required by parameter '{p.name}'. "
                "Specified method is not supported.",
                "CannotConvertArgument",
            )
        try:
            if element is not None:
                items = value if isinstance(value, list) else [value]
                if value is None:
                    return None
                return [self.convert(element, v, is_scriptblock=is_scriptblock) for v in items]
            return self.convert(p.type, value, is_scriptblock=is_scriptblock)
        except ConversionError as exc:
            raise c.error(
                f"Cannot bind parameter '{p.name}'. {exc}", "CannotConvertArgumentNoMessage"
            ) from None

    def _takes_collection(self, type_name: str) -> bool:
        # An array given to a scalar enum becomes one comma list (ConvertEnumerableToEnum); an
        # object parameter takes the array itself.
        return self.is_enum(type_name) or type_name in _ANY

    @staticmethod
    def _validate_mandatory_value(c: Cmdlet, p: Parameter, value: object) -> None:
        # A mandatory parameter refuses $null, '' and @() unless it says AllowNull/AllowEmpty*;
        # the metadata does not record those attributes, so this assumes their absence.
        if value is None:
            raise c.error(
                f"Cannot bind argument to parameter '{p.name}' because it is null.",
                "ParameterArgumentValidationErrorNullNotAllowed",
                "InvalidData",
            )
        if value == "" and p.type in ("System.String", "System.String[]"):
            raise c.error(
                f"Cannot bind argument to parameter '{p.name}' because it is an empty string.",
                "ParameterArgumentValidationErrorEmptyStringNotAllowed",
                "InvalidData",
            )
        if value == [] and p.type.endswith("[]"):
            raise c.error(
                f"Cannot bind argument to parameter '{p.name}' because it is an empty array.",
                "ParameterArgumentValidationErrorEmptyArrayNotAllowed",
                "InvalidData",
            )

    # --- conversion -------------------------------------------------------------------------

    def convert(
        self, type_name: str, value: object, *, is_scriptblock: Callable[[object], bool] | None = None
    ) -> object:
        """``value`` as LanguagePrimitives.ConvertTo makes it ``type_name``; ConversionError with
        PowerShell's sentence otherwise. Types the lab does not model are passed through."""
        if type_name.endswith("[]"):
            if value is None:
                return None
            items = value if isinstance(value, list) else [value]
            return [self.convert(type_name[:-2], v, is_scriptblock=is_scriptblock) for v in items]
        if type_name in _ANY:
            return value
        if self.is_enum(type_name):
            return self._to_enum(self.enum(type_name), value)
        if type_name == "System.String":
            return _text(value)
        if type_name in _INTEGERS:
            return _to_integer(type_name, value)
        if type_name in ("System.Boolean", SWITCH):
            return _truthy(value)
        if type_name == "System.Collections.Hashtable":
            # The interpreter's hashtables are not dicts (their keys ignore case): their type says.
            if isinstance(value, dict) or getattr(value, "type_name", None) == type_name:
                return value
            raise _invalid_cast(value, type_name)
        if type_name == "System.Management.Automation.ScriptBlock":
            ok = is_scriptblock(value) if is_scriptblock else not isinstance(value, _PLAIN)
            if ok:
                return value
            raise _invalid_cast(value, type_name)
        return value  # an opaque .NET type (CimSession, VirtualMachine, Guid...): not checked here

    def _to_enum(self, enum: Enum, value: object) -> PSEnumValue:
        if isinstance(value, PSEnumValue):
            return value if value.type_name == enum.type_name else enum.parse(value.name)
        if isinstance(value, bool):
            return enum.value(int(value))
        if isinstance(value, int):
            return enum.value(value)
        if isinstance(value, float):
            return enum.value(_round_half_even(value, enum.type_name))
        if isinstance(value, list):
            return enum.parse(
                ",".join(str(v) if isinstance(v, str) else self._to_enum(enum, v).name for v in value)
            )
        if value is None:
            raise ConversionError(
                f'Cannot convert null to type "{enum.type_name}" due to enumeration values that are not valid. '
                "Specify one of the following enumeration values and try again. The possible enumeration "
                f'values are "{",".join(enum.names)}".'
            )
        return enum.parse(_text(value))


_ANY = frozenset(
    {
        "System.Object",
        "System.Management.Automation.PSObject",
        "System.Collections.IDictionary",
    }
)
_PLAIN = (str, bool, int, float, list, dict, type(None))
_INTEGERS = {
    "System.Byte": (0, 2**8 - 1, "Byte"),
    "System.Int16": (-(2**15), 2**15 - 1, "Int16"),
    "System.UInt16": (0, 2**16 - 1, "UInt16"),
    "System.Int32": (-(2**31), 2**31 - 1, "Int32"),
    "System.UInt32": (0, 2**32 - 1, "UInt32"),
    "System.Int64": (-(2**63), 2**63 - 1, "Int64"),
    "System.UInt64": (0, 2**64 - 1, "UInt64"),
}


def _fits(type_name: str, value: object, is_scriptblock: Callable[[object], bool] | None) -> bool:
    """Whether ``value`` is already of ``type_name`` (binding without coercion)."""
    element = type_name[:-2] if type_name.endswith("[]") else type_name
    if element in _ANY:
        return True
    if element == "System.Management.Automation.ScriptBlock":
        return is_scriptblock(value) if is_scriptblock else not isinstance(value, _PLAIN)
    if isinstance(value, bool):
        return element in ("System.Boolean", SWITCH)
    exact = {str: "System.String", int: "System.Int32", dict: "System.Collections.Hashtable"}
    return exact.get(type(value)) == element or (
        isinstance(value, PSEnumValue) and value.type_name == element
    )


def _text(value: object) -> str:
    """A value as PowerShell converts it to a string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, list):
        return " ".join(_text(v) for v in value)  # $OFS
    if isinstance(value, dict):
        return "System.Collections.Hashtable"
    return str(value)


def _dotnet_type(value: object) -> str:
    if isinstance(value, str):
        return "System.String"
    if isinstance(value, dict):
        return "System.Collections.Hashtable"
    if isinstance(value, PSEnumValue):
        return value.type_name
    return getattr(value, "type_name", None) or "System.Object"


def _invalid_cast(value: object, type_name: str) -> ConversionError:
    return ConversionError(
        f'Cannot convert the "{_text(value)}" value of type "{_dotnet_type(value)}" to type "{type_name}".'
    )


def _truthy(value: object) -> bool:
    if isinstance(value, PSEnumValue):
        return value.value != 0
    if isinstance(value, str):
        return value != ""
    if isinstance(value, list):
        return len(value) > 0 and (len(value) > 1 or _truthy(value[0]))
    return bool(value)


def _round_half_even(number: float, type_name: str) -> int:
    if number != number or number in (float("inf"), float("-inf")):
        raise ConversionError(
            f'Cannot convert value "{number}" to type "{type_name}". Error: "Value was either too large or '
            f'too small for an {type_name.split(".")[-1]}."'
        )
    return round(number)  # Python's round is banker's rounding, as .NET's Convert.ToInt32


def _to_integer(type_name: str, value: object) -> int:
    low, high, short = _INTEGERS[type_name]
    if value is None:
        return 0
    if isinstance(value, PSEnumValue):
        number = value.value
    elif isinstance(value, bool | int):
        number = int(value)
    elif isinstance(value, float):
        number = _round_half_even(value, type_name)
    elif isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"[+-]?\d+", text):
            number = int(text)
        elif re.fullmatch(r"0[xX][0-9a-fA-F]+", text):
            number = int(text, 16)
        elif re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text):
            number = _round_half_even(float(text), type_name)
        else:
            raise ConversionError(
                f'Cannot convert value "{value}" to type "{type_name}". Error: "Input string was not in a '
                'correct format."'
            )
    else:
        raise _invalid_cast(value, type_name)
    if not low <= number <= high:
        article = "an" if short[0] in "AEIO" else "a"  # .NET: "an Int32", "a UInt32"
        raise ConversionError(
            f'Cannot convert value "{_text(value)}" to type "{type_name}". Error: "Value was either too '
            f'large or too small for {article} {short}."'
        )
    return number


@functools.cache
def load() -> Metadata:
    """The checked-in metadata, read once."""
    return Metadata(json.loads(DATA.read_text(encoding="utf-8")))
