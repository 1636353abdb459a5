"""The Microsoft-Windows-Hyper-V-VMMS-Admin log of a lab host, from the scenario.

A scenario lists, per host, the events its log holds (``events:`` in the scenario file), each
with its age relative to the lab's start, so that ``lmready explain --since 7d`` finds them
whenever the lab runs. ``records`` makes them shaped like Get-WinEvent's EventLogRecord (Id,
TimeCreated, Message, LevelDisplayName, ProviderName), which the lab's Get-WinEvent
(lab/cmdlets/eventlog.py) filters.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

PROVIDER = "Microsoft-Windows-Hyper-V-VMMS"
LOG = "Microsoft-Windows-Hyper-V-VMMS-Admin"
LEVELS = ("Critical", "Error", "Warning", "Information")  # Level 1, 2, 3, 4
_AGE = re.compile(r"^(\d{1,5})([mhd])$")
_KEYS = ("id", "ago", "level", "message")


def parse_events(
    value: Any, hosts: list[str], where: str
) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """The scenario's ``events:`` (host -> list of {id, ago, level, message}): the events and
    one sentence per problem."""
    problems: list[str] = []
    out: dict[str, list[dict[str, Any]]] = {}
    if value is None:
        return out, problems
    if not isinstance(value, dict):
        return out, [f"{where}: events must map host names to lists of {{id, ago, level, message}}."]
    for host, entries in value.items():
        if host not in hosts:
            problems.append(f"{where}: events name host '{host}', which the scenario does not list.")
            continue
        for i, e in enumerate(entries if isinstance(entries, list) else [None]):
            at = f"{where}: events.{host}[{i}]"
            if not isinstance(e, dict) or set(e) - set(_KEYS) or not {"id", "ago", "message"} <= set(e):
                problems.append(
                    f"{at}: an event is a mapping with id, ago (like 30h or 2d), level and message."
                )
                continue
            if not isinstance(e["id"], int) or not _AGE.match(str(e["ago"])):
                problems.append(f"{at}: id must be a number and ago an age like 45m, 30h or 2d.")
                continue
            level = str(e.get("level", "Error"))
            if level not in LEVELS:
                problems.append(f"{at}: level must be one of {', '.join(LEVELS)}.")
                continue
            out.setdefault(host, []).append(
                {"id": e["id"], "ago": str(e["ago"]), "level": level, "message": str(e["message"])}
            )
    return out, problems


def _age(text: str) -> timedelta:
    number, unit = _AGE.match(text).groups()  # type: ignore[union-attr]
    return timedelta(**{{"m": "minutes", "h": "hours", "d": "days"}[unit]: int(number)})


def records(specs: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """EventLogRecord-shaped events, newest first."""
    out = [
        {
            "Id": s["id"],
            "TimeCreated": now - _age(s["ago"]),
            "Message": s["message"],
            "LevelDisplayName": s["level"],
            "ProviderName": PROVIDER,
        }
        for s in specs
    ]
    return sorted(out, key=lambda r: r["TimeCreated"], reverse=True)
