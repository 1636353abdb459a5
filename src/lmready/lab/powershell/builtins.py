"""The Microsoft.PowerShell.* cmdlets scripts use, with their Windows PowerShell 5.1 parameters
(no -Parallel, -AsHashtable, -Depth on ConvertFrom-Json, ...: 7 added those, and 5.1 answers
them with NamedParameterNotFound, as here)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cmp_to_key
from typing import Any

from lmready.lab.metadata import Cmdlet
from lmready.lab.powershell import dotnet
from lmready.lab.powershell.binding import META
from lmready.lab.powershell.errors import NotModelled, PSError, record
from lmready.lab.powershell.evaluator import Call, ScriptBlock, binary, get_member
from lmready.lab.powershell.json import JsonError, convert_from_json, convert_to_json
from lmready.lab.powershell.values import (
    PSCustomObject,
    PSObject,
    compare,
    enumerate_value,
    equal,
    to_bool,
    to_double,
    to_string,
    unwrap,
)


@dataclass(frozen=True)
class Builtin:
    name: str
    body: Callable[[Call], None]
    modelled: frozenset[str]  # the parameters implemented here; the others stop the script
    info: Cmdlet = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "info", META.cmdlet(self.name))

    def run(self, call: Call) -> None:
        self.body(call)


def _builtin(name: str, body: Callable[[Call], None], *modelled: str) -> Builtin:
    return Builtin(name, body, frozenset(("InputObject", *modelled)))


def _input(call: Call) -> list[Any]:
    if "InputObject" in call.params:
        return [call.params["InputObject"]]
    return call.input if call.input is not None else []


def _with_item(call: Call, block: ScriptBlock, item: Any) -> list[Any]:
    """A script block run for one pipeline object, in the caller's scope, with $_ set."""
    return call.runtime.invoke_block(block, [], new_scope=False, dollar_under=item)


def _foreach(call: Call) -> None:
    blocks = call.params.get("Process") or []
    if len(blocks) > 1:
        raise NotModelled("ForEach-Object with several process blocks")
    member = call.params.get("MemberName")
    begin, end = call.params.get("Begin"), call.params.get("End")
    if begin is not None:
        call.out.extend(_with_item(call, begin, None))
    for item in _input(call):
        if blocks:
            call.out.extend(_with_item(call, blocks[0], item))
        elif member is not None:
            value = get_member(item, member)
            call.out.extend(enumerate_value(value) if value is not None else [])
    if end is not None:
        call.out.extend(_with_item(call, end, None))


_WHERE_OPERATORS = (
    "EQ", "NE", "GT", "GE", "LT", "LE", "Like", "NotLike", "Match", "NotMatch", "Contains", "NotContains",
    "In", "NotIn", "CEQ", "CNE", "CLike", "CMatch",
)  # fmt: skip


def _where(call: Call) -> None:
    block, prop = call.params.get("FilterScript"), call.params.get("Property")
    operators = [op for op in _WHERE_OPERATORS if call.params.get(op)]
    for item in _input(call):
        if isinstance(block, ScriptBlock):
            keep = to_bool(unwrap(_with_item(call, block, item)))
        elif prop is not None:
            value = get_member(item, prop)
            if not operators:
                keep = to_bool(value)
            else:
                keep = to_bool(binary("-" + operators[0].lower(), value, call.params.get("Value")))
        else:
            keep = False
        if keep:
            call.out.append(item)


def _select(call: Call) -> None:
    items = _input(call)
    if call.params.get("Unique"):
        unique: list[Any] = []
        for item in items:
            if not any(equal(item, seen) for seen in unique):
                unique.append(item)
        items = unique
    if "Skip" in call.params:
        items = items[call.params["Skip"] :]
    if "First" in call.params or "Last" in call.params:
        first = items[: call.params["First"]] if "First" in call.params else []
        last = items[len(items) - call.params["Last"] :] if call.params.get("Last") else []
        items = first + last
    expand = call.params.get("ExpandProperty")
    properties = call.params.get("Property")
    for item in items:
        if expand is not None:
            value = get_member(item, expand)
            if value is None and not (isinstance(item, PSObject) and item.has(expand)):
                call.error(
                    record(
                        f'Property "{expand}" cannot be found.',
                        "ExpandPropertyNotFound,Microsoft.PowerShell.Commands.SelectObjectCommand",
                        "InvalidArgument",
                        "System.Management.Automation.PSArgumentException",
                        target=item,
                    )
                )
                continue
            call.out.extend(enumerate_value(value))
        elif properties is not None:
            names = [to_string(p) for p in enumerate_value(properties)]
            if any(not isinstance(p, str) for p in enumerate_value(properties)):
                raise NotModelled("calculated properties in Select-Object")
            call.out.append(PSCustomObject({name: get_member(item, name) for name in names}))
        else:
            call.out.append(item)


def _sort_key(call: Call, item: Any) -> list[Any]:
    properties = call.params.get("Property")
    if properties is None:
        return [item]
    keys = []
    for prop in enumerate_value(properties):
        if isinstance(prop, ScriptBlock):
            keys.append(unwrap(_with_item(call, prop, item)))
        elif isinstance(prop, str):
            keys.append(get_member(item, prop))
        else:
            raise NotModelled("hashtable sort properties")
    return keys


def _sort(call: Call) -> None:
    keyed = [(_sort_key(call, item), item) for item in _input(call)]
    descending = bool(call.params.get("Descending"))
    case_sensitive = bool(call.params.get("CaseSensitive"))

    def order(a: tuple[list[Any], Any], b: tuple[list[Any], Any]) -> int:
        for x, y in zip(a[0], b[0], strict=True):
            try:
                c = compare(x, y, case_sensitive)
            except Exception:
                c = compare(to_string(x), to_string(y), case_sensitive)
            if c:
                return -c if descending else c
        return 0

    keyed.sort(key=cmp_to_key(order))  # a stable sort, as Sort-Object's is in practice
    result = [item for _, item in keyed]
    if call.params.get("Unique"):
        unique: list[Any] = []
        for item in result:
            if not any(equal(item, seen) for seen in unique):
                unique.append(item)
        result = unique
    call.out.extend(result)


def _measure(call: Call) -> None:
    prop = call.params.get("Property")
    values = [get_member(i, prop[0]) if prop else i for i in _input(call)]
    numbers = (
        [to_double(v) for v in values if v is not None]
        if any(call.params.get(k) for k in ("Sum", "Average", "Maximum", "Minimum"))
        else []
    )
    call.out.append(
        PSObject(
            "Microsoft.PowerShell.Commands.GenericMeasureInfo",
            {
                "Count": len([v for v in values if v is not None]) if prop else len(values),
                "Average": sum(numbers) / len(numbers) if call.params.get("Average") and numbers else None,
                "Sum": sum(numbers) if call.params.get("Sum") else None,
                "Maximum": max(numbers) if call.params.get("Maximum") and numbers else None,
                "Minimum": min(numbers) if call.params.get("Minimum") and numbers else None,
                "Property": prop[0] if prop else None,
            },
        )
    )


def _new_object(call: Call) -> None:
    args = call.params.get("ArgumentList")
    arguments = [] if args is None else list(args) if isinstance(args, list) else [args]
    call.out.append(dotnet.new_object(call.runtime, call.params["TypeName"], arguments))


def _to_json(call: Call) -> None:
    if "InputObject" in call.params:
        value = call.params["InputObject"]
    else:
        items = call.input or []
        if not items:
            return
        value = items[0] if len(items) == 1 else items
    depth = call.params.get("Depth", 2)
    call.out.append(convert_to_json(value, depth, bool(call.params.get("Compress"))))


def _from_json(call: Call) -> None:
    texts = [to_string(t) for t in _input(call)]
    try:
        value = convert_from_json("\n".join(texts))
    except JsonError as exc:
        raise PSError(
            record(
                str(exc),
                "System.ArgumentException,Microsoft.PowerShell.Commands.ConvertFromJsonCommand",
                "NotSpecified",
                "System.ArgumentException",
            )
        ) from None
    call.out.append(value)  # 5.1 writes an array as one object


def _write_output(call: Call) -> None:
    value = call.params.get("InputObject")
    if call.input is not None:
        call.out.extend(call.input)
    elif call.params.get("NoEnumerate"):
        call.out.append(value)
    else:
        call.out.extend(enumerate_value(value))


def _discard(call: Call) -> None:
    return None


BUILTINS: dict[str, Builtin] = {
    b.name.lower(): b
    for b in (
        _builtin("ForEach-Object", _foreach, "Process", "Begin", "End", "MemberName"),
        _builtin("Where-Object", _where, "FilterScript", "Property", "Value", *_WHERE_OPERATORS),
        _builtin("Select-Object", _select, "Property", "ExpandProperty", "First", "Last", "Skip", "Unique"),
        _builtin("Sort-Object", _sort, "Property", "Descending", "Unique", "CaseSensitive"),
        _builtin("Measure-Object", _measure, "Property", "Sum", "Average", "Maximum", "Minimum"),
        _builtin("New-Object", _new_object, "TypeName", "ArgumentList"),
        _builtin("ConvertTo-Json", _to_json, "Depth", "Compress"),
        _builtin("ConvertFrom-Json", _from_json),
        _builtin("Write-Output", _write_output, "NoEnumerate"),
        _builtin("Out-Null", _discard),
    )
}
