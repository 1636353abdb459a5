"""Cmdlet parameter binding as PowerShell does it: names, aliases and unambiguous prefixes, then
positions, then mandatory parameters; each argument converted to the parameter's type; every
failure a ParameterBindingException with PowerShell's message and FullyQualifiedErrorId."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lmready.lab.powershell.errors import NotModelled, PSError, record
from lmready.lab.powershell.values import (
    ConversionError,
    EnumValue,
    to_bool,
    to_enum,
    to_integer,
    to_string,
    type_name_of,
)

SWITCH = object()  # a switch written without a value: -PassThru

_TYPE_NAMES = {
    "string": "System.String",
    "strings": "System.String[]",
    "int": "System.Int32",
    "uint32": "System.UInt32",
    "bool": "System.Boolean",
    "switch": "System.Management.Automation.SwitchParameter",
    "object": "System.Object",
    "objects": "System.Object[]",
    "scriptblock": "System.Management.Automation.ScriptBlock",
}


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # a key of _TYPE_NAMES, or "enum:<type name>"
    position: int | None = None
    mandatory: bool = False
    aliases: tuple[str, ...] = ()
    modelled: bool = True  # False: a real parameter of the cmdlet that the lab does not imitate
    pipeline: bool = False  # takes pipeline input by value

    @property
    def type_name(self) -> str:
        return self.kind[5:] if self.kind.startswith("enum:") else _TYPE_NAMES[self.kind]


def unmodelled(*names: str) -> tuple[Param, ...]:
    return tuple(Param(name, "string", modelled=False) for name in names)


_ACTION = "enum:System.Management.Automation.ActionPreference"
SHOULD_PROCESS = (Param("WhatIf", "switch", aliases=("wi",)), Param("Confirm", "switch", aliases=("cf",)))
COMMON = (
    Param("Verbose", "switch", aliases=("vb",)),
    Param("Debug", "switch", aliases=("db",)),
    Param("ErrorAction", _ACTION, aliases=("ea",)),
    Param("WarningAction", _ACTION, aliases=("wa",)),
    Param("InformationAction", _ACTION, aliases=("infa",)),
    *(
        Param(name, "string", aliases=(alias,), modelled=False)
        for name, alias in (
            ("ErrorVariable", "ev"),
            ("WarningVariable", "wv"),
            ("InformationVariable", "iv"),
            ("OutVariable", "ov"),
            ("OutBuffer", "ob"),
            ("PipelineVariable", "pv"),
        )
    ),
)


@dataclass(frozen=True)
class CmdletSpec:
    name: str
    params: tuple[Param, ...]
    implementing_type: str  # the .NET class, the second half of a binding error's id
    should_process: bool = False
    all_params: tuple[Param, ...] = field(init=False)

    def __post_init__(self) -> None:
        extra = (SHOULD_PROCESS if self.should_process else ()) + COMMON
        object.__setattr__(self, "all_params", self.params + extra)


@dataclass(frozen=True)
class Argument:
    name: str | None  # the parameter name as written, or None for a positional argument
    value: Any  # SWITCH for -Name without a value


def binding_error(spec: CmdletSpec, error_id: str, message: str) -> PSError:
    return PSError(
        record(
            message,
            f"{error_id},{spec.implementing_type}",
            "InvalidArgument",
            "System.Management.Automation.ParameterBindingException",
        )
    )


def resolve(spec: CmdletSpec, written: str) -> Param:
    """PowerShell's lookup: exact name or alias, else an unambiguous prefix of one."""
    key = written.lower()
    for param in spec.all_params:
        if key == param.name.lower() or key in (a.lower() for a in param.aliases):
            return param
    matches = [p for p in spec.all_params if any(n.lower().startswith(key) for n in (p.name, *p.aliases))]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise binding_error(
            spec,
            "NamedParameterNotFound",
            f"A parameter cannot be found that matches parameter name '{written}'.",
        )
    raise binding_error(
        spec,
        "AmbiguousParameter",
        f"Parameter cannot be processed because the parameter name '{written}' is ambiguous. "
        f"Possible matches include: {' '.join('-' + p.name for p in matches)}.",
    )


def bind(spec: CmdletSpec, arguments: list[Argument], has_input: bool = False) -> dict[str, Any]:
    """Named, then positional arguments -> {parameter name: converted value}."""
    bound: dict[str, Any] = {}
    positional: list[Any] = []
    i = 0
    while i < len(arguments):
        arg = arguments[i]
        i += 1
        if arg.name is None:
            positional.append(arg.value)
            continue
        param = resolve(spec, arg.name)
        if param.name in bound:
            raise binding_error(
                spec,
                "ParameterAlreadyBound",
                f"Cannot bind parameter because parameter '{param.name}' is specified more than once. "
                "To provide multiple values to parameters that can accept multiple values, use the "
                'array syntax. For example, "-parameter value1,value2,value3".',
            )
        value = arg.value
        if value is SWITCH:
            if param.kind == "switch":
                bound[param.name] = _checked(spec, param, True)
                continue
            if i < len(arguments) and arguments[i].name is None:
                value = arguments[i].value
                i += 1
            else:
                raise binding_error(
                    spec,
                    "MissingArgument",
                    f"Missing an argument for parameter '{param.name}'. Specify a parameter of type "
                    f"'{param.type_name}' and try again.",
                )
        bound[param.name] = _checked(spec, param, value)
    slots = sorted((p for p in spec.all_params if p.position is not None), key=lambda p: p.position or 0)
    for value in positional:
        slot = next((p for p in slots if p.name not in bound), None)
        if slot is None:
            raise binding_error(
                spec,
                "PositionalParameterNotFound",
                f"A positional parameter cannot be found that accepts argument '{_display(value)}'.",
            )
        bound[slot.name] = _checked(spec, slot, value)
    missing = [
        p.name
        for p in spec.all_params
        if p.mandatory and p.name not in bound and not (p.pipeline and has_input)
    ]
    if missing:
        raise binding_error(
            spec,
            "MissingMandatoryParameter",
            f"Cannot process command because of one or more missing mandatory parameters: {' '.join(missing)}.",
        )
    return bound


def _display(value: Any) -> str:
    return "System.Object[]" if isinstance(value, list) else to_string(value)


def _checked(spec: CmdletSpec, param: Param, value: Any) -> Any:
    if not param.modelled:
        raise NotModelled(f"the parameter -{param.name} of {spec.name}")
    try:
        return convert(param, value)
    except ConversionError as exc:
        if param.kind in ("bool", "switch"):
            raise binding_error(spec, "ParameterArgumentTransformationError", str(exc)) from None
        raise binding_error(
            spec, "CannotConvertArgumentNoMessage", f"Cannot bind parameter '{param.name}'. {exc}"
        ) from None


def convert(param: Param, value: Any) -> Any:
    """A bound argument converted to the parameter's type; ConversionError with .NET's words."""
    kind = param.kind
    if kind in ("object", "objects"):
        return value
    if kind == "scriptblock":
        if getattr(value, "is_scriptblock", False):
            return value
        raise ConversionError(
            f'Cannot convert the "{_display(value)}" value of type "{type_name_of(value)}" to type '
            '"System.Management.Automation.ScriptBlock".'
        )
    if kind == "strings":
        return [to_string(v) for v in (value if isinstance(value, list) else [value])]
    if isinstance(value, list) and len(value) != 1:
        if kind in ("bool", "switch"):
            raise ConversionError(_boolean_only(param, "System.Object[]"))
        raise ConversionError(
            f"Cannot convert 'System.Object[]' to the type '{param.type_name}' required by parameter "
            f"'{param.name}'. Specified method is not supported."
        )
    if isinstance(value, list):
        value = value[0]
    if kind == "string":
        text = to_string(value)
        if param.mandatory and text == "":
            raise ConversionError(
                f"Cannot bind argument to parameter '{param.name}' because it is an empty string."
            )
        return text
    if kind in ("bool", "switch"):
        if value is None or isinstance(value, bool | int | float):
            return to_bool(value)
        raise ConversionError(_boolean_only(param, type_name_of(value)))
    if kind in ("int", "uint32"):
        return to_integer(value, kind)
    return to_enum(value, param.type_name)


def _boolean_only(param: Param, source: str) -> str:
    return (
        f"Cannot process argument transformation on parameter '{param.name}'. Cannot convert value "
        f'"{source}" to type "{param.type_name}". Boolean parameters accept only Boolean values and '
        "numbers, such as $True, $False, 1 or 0."
    )


def action(value: Any) -> str:
    """An ActionPreference's name."""
    return value.name if isinstance(value, EnumValue) else to_string(value)
