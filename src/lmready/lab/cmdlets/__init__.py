"""The cmdlets a lab host has, over its model state: one module per Windows module (Hyper-V,
NetSecurity, networking, the system's CIM classes, services and registry) and the native
programs. Each cmdlet is a LabCmdlet: the real cmdlet's metadata (parameters, binding), the
parameters the lab implements, and a handler that reads the host's state, writes objects shaped
like the real ones (shapes.py) and returns the new state if it changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lmready.facts import HostFacts
from lmready.lab.metadata import Cmdlet, load
from lmready.lab.powershell.evaluator import Call

if TYPE_CHECKING:
    from lmready.lab.model import HyperVHost

Handler = Callable[["HyperVHost", Call], HostFacts | None]
META = load()


@dataclass(frozen=True)
class LabCmdlet:
    name: str
    handler: Handler
    modelled: frozenset[str]  # the parameters the lab implements; the others stop the script
    info: Cmdlet = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "info", META.cmdlet(self.name))

    @property
    def module(self) -> str:
        return self.info.module


def cmdlet(name: str, handler: Handler, *modelled: str) -> LabCmdlet:
    return LabCmdlet(name, handler, frozenset(modelled))


def table(*cmdlets: LabCmdlet) -> dict[str, LabCmdlet]:
    return {c.name.lower(): c for c in cmdlets}
