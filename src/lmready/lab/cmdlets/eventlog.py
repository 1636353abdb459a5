"""Get-WinEvent -FilterHashtable over a lab host's Microsoft-Windows-Hyper-V-VMMS-Admin log
(HyperVHost.events, from the scenario: lab/events.py): EventLogRecords newest first, filtered
by StartTime, EndTime, Level and Id as the real filter does; none found is the real cmdlet's
error, which scripts catch by its FullyQualifiedErrorId."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lmready.lab.cmdlets import cmdlet, table
from lmready.lab.cmdlets.hyperv import env_computername
from lmready.lab.cmdlets.shapes import shaped
from lmready.lab.events import LEVELS, LOG
from lmready.lab.powershell.errors import NotModelled
from lmready.lab.powershell.evaluator import Call, convert
from lmready.lab.powershell.values import Hashtable, enumerate_value, to_integer, to_string

if TYPE_CHECKING:
    from lmready.lab.model import HyperVHost

_KEYS = {"logname", "starttime", "endtime", "level", "id"}


def _moment(value: Any) -> datetime:
    moment = convert("datetime", value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _get_winevent(host: HyperVHost, call: Call) -> None:
    query = call.params["FilterHashtable"]
    if len(query) != 1 or not isinstance(query[0], Hashtable):
        raise NotModelled("Get-WinEvent with other than one filter hashtable")
    keys = {to_string(k).lower(): v for k, v in query[0].items()}
    if set(keys) - _KEYS:
        raise NotModelled(f"the Get-WinEvent filter keys {sorted(set(keys) - _KEYS)}")
    logs = [to_string(n) for n in enumerate_value(keys.get("logname"))]
    unknown = [n for n in logs if n.lower() != LOG.lower()]
    if unknown or not logs:
        call.fail(
            f'There is not an event log on the localhost computer that matches "{(unknown or [""])[0]}".',
            "NoMatchingLogsFound",
            "ObjectNotFound",
            "System.Exception",
        )
        return
    since = _moment(keys["starttime"]) if "starttime" in keys else None
    until = _moment(keys["endtime"]) if "endtime" in keys else None
    levels = {to_integer(v) for v in enumerate_value(keys["level"])} if "level" in keys else None
    ids = {to_integer(v) for v in enumerate_value(keys["id"])} if "id" in keys else None
    chosen = [
        r
        for r in sorted(host.events, key=lambda r: r["TimeCreated"], reverse=True)
        if (since is None or r["TimeCreated"] >= since)
        and (until is None or r["TimeCreated"] <= until)
        and (levels is None or LEVELS.index(r["LevelDisplayName"]) + 1 in levels)
        and (ids is None or r["Id"] in ids)
    ]
    if "MaxEvents" in call.params:
        chosen = chosen[: call.params["MaxEvents"]]
    if not chosen:
        call.fail(
            "No events were found that match the specified selection criteria.",
            "NoMatchingEventsFound",
            "ObjectNotFound",
            "System.Exception",
        )
        return
    machine = f"{env_computername(host.state)}.{host.state.domain}".lower()
    for r in chosen:
        call.write(
            shaped(
                "System.Diagnostics.Eventing.Reader.EventLogRecord",
                {
                    "Id": r["Id"],
                    "Level": LEVELS.index(r["LevelDisplayName"]) + 1,
                    "LevelDisplayName": r["LevelDisplayName"],
                    "TimeCreated": r["TimeCreated"],
                    "ProviderName": r["ProviderName"],
                    "LogName": LOG,
                    "MachineName": machine,
                    "Message": r["Message"],
                },
            )
        )


CMDLETS = table(cmdlet("Get-WinEvent", _get_winevent, "FilterHashtable", "MaxEvents"))
