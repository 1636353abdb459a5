"""Cmdlet parameter binding through the metadata of the real modules (lab/metadata): names,
aliases and unambiguous prefixes, parameter sets, positions, conversions, mandatory parameters,
each failure a ParameterBindingException with PowerShell's message and FullyQualifiedErrorId.

The lab implements only some parameters of each cmdlet: binding one it does not implement stops
the script (NotModelled) rather than ignoring it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lmready.lab.metadata import NO_ARGUMENT, BindingError, BoundParameters, Cmdlet, load
from lmready.lab.powershell.errors import NotModelled, PSError, record

META = load()
# Common parameters every lab cmdlet honours (through Call); the others are not modelled.
HONOURED = frozenset(
    {"ErrorAction", "WhatIf", "Confirm", "Verbose", "Debug", "WarningAction", "InformationAction"}
)


@dataclass(frozen=True)
class Argument:
    name: str | None  # the parameter name as written, or None for a positional argument
    value: Any  # NO_ARGUMENT for -Name without a value (-PassThru)


def _error(exc: BindingError) -> PSError:
    return PSError(
        record(
            exc.message,
            exc.fully_qualified_error_id,
            exc.category,
            "System.Management.Automation.ParameterBindingException",
        )
    )


def command(name: str) -> Cmdlet | None:
    """The real cmdlet of that name, or None when the metadata has none (CommandNotFound)."""
    try:
        return META.cmdlet(name)
    except BindingError:
        return None


def bind(
    cmdlet: Cmdlet,
    arguments: list[Argument],
    modelled: frozenset[str],
    has_input: bool,
    is_scriptblock: Callable[[object], bool],
) -> BoundParameters:
    """The arguments bound as Windows PowerShell 5.1 binds them: -Name value pairs are formed as
    its parser does (a switch takes no value; any other parameter takes the next argument)."""
    named: list[tuple[str, object]] = []
    positional: list[object] = []
    try:
        i = 0
        while i < len(arguments):
            arg = arguments[i]
            i += 1
            if arg.name is None:
                positional.append(arg.value)
                continue
            value = arg.value
            if value is NO_ARGUMENT:
                param = META.resolve(cmdlet, arg.name)
                if not param.switch and i < len(arguments) and arguments[i].name is None:
                    value = arguments[i].value
                    i += 1
            named.append((arg.name, value))
        bound = META.bind(cmdlet, named, positional, is_scriptblock=is_scriptblock, expecting_input=has_input)
    except BindingError as exc:
        raise _error(exc) from None
    for name in bound:
        if name not in modelled and name not in HONOURED:
            raise NotModelled(f"the parameter -{name} of {cmdlet.name}")
    return bound


def action(value: Any) -> str:
    """An ActionPreference's name."""
    return str(value)
