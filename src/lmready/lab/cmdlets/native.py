"""The native programs remediation calls on a lab host: hostname, and klist purge."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from lmready.lab.powershell.errors import NotModelled

if TYPE_CHECKING:
    from lmready.lab.model import HyperVHost

LOGON_ID = "0x5f1a3"  # the remote session's logon, as klist prints it


def _hostname(host: HyperVHost, args: list[str]) -> list[object]:
    if args:
        raise NotModelled("hostname with arguments")
    return [host.state.computer_name]


def _klist(host: HyperVHost, args: list[str]) -> list[object]:
    lowered = [a.lower() for a in args]
    if lowered == ["purge"]:
        target = None
    elif len(args) == 3 and lowered[0] == "purge" and lowered[1] == "-li":
        target = args[2]
    elif len(args) == 3 and lowered[0] == "-li" and lowered[2] == "purge":
        target = args[1]
    else:
        raise NotModelled(f"klist {' '.join(args)} (only klist purge [-li <logon id>] is)")
    lines = ["", f"Current LogonId is 0:{LOGON_ID}"]
    if target is not None:
        lines.append(f"Targeted LogonId is 0:{target}")
    return [*lines, "\tDeleting all tickets:", "\tTicket(s) purged!"]


NATIVE: dict[str, Callable[[HyperVHost, list[str]], list[object]]] = {"hostname": _hostname, "klist": _klist}
