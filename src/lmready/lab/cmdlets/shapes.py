"""Objects shaped like the real ones: a lab cmdlet gives the values it models, the metadata of
the real type gives every other property (as $null) and the property types; a value given as a
name for an enum property becomes that enum's value. A property the real type does not have is
a lab bug, refused here, so a script can never read what Windows would not give it."""

from __future__ import annotations

import functools
from typing import Any

from lmready.lab.metadata import load
from lmready.lab.powershell.values import PSObject

META = load()


@functools.cache
def _properties(type_name: str) -> tuple[tuple[str, str, bool], ...]:
    return tuple((name, kind, META.is_enum(kind)) for name, kind in META.properties(type_name).items())


def shaped(type_name: str, values: dict[str, Any]) -> PSObject:
    properties = _properties(type_name)
    known = {name for name, _, _ in properties}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"the lab gives {type_name} properties the real type lacks: {sorted(unknown)}")
    out = {}
    for name, kind, is_enum in properties:
        value = values.get(name)
        if is_enum and isinstance(value, str):
            value = META.enum(kind).parse(value)
        out[name] = value
    return PSObject(type_name, out)
