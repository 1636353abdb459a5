"""The cmdlets a lab host has, over its model state: one module per Windows module (Hyper-V,
NetSecurity, networking, the system's CIM classes, services and registry) and the native
programs. Each cmdlet is a LabCmdlet: its parameters (CmdletSpec) and a handler that reads the
host's state, writes objects shaped like the real ones, and returns the new state if it changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lmready.facts import HostFacts
from lmready.lab.powershell.binding import CmdletSpec
from lmready.lab.powershell.errors import record
from lmready.lab.powershell.evaluator import Call

if TYPE_CHECKING:
    from lmready.lab.model import HyperVHost

Handler = Callable[["HyperVHost", Call], HostFacts | None]


@dataclass(frozen=True)
class LabCmdlet:
    spec: CmdletSpec
    handler: Handler
    module: str  # the Windows module that provides it: Hyper-V, NetSecurity, ...


def fail(
    call: Call, spec: CmdletSpec, message: str, error_id: str, category: str, exception: str, **extra: Any
) -> None:
    """A non-terminating error of a lab cmdlet, with its id as PowerShell composes it."""
    call.error(record(message, f"{error_id},{spec.implementing_type}", category, exception, **extra))


def table(*cmdlets: LabCmdlet) -> dict[str, LabCmdlet]:
    return {c.spec.name.lower(): c for c in cmdlets}
