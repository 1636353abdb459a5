"""What the PowerShell scripts print, turned into facts.

The scripts (``lmready/scripts/*.ps1``) cast enums with [string], but this parser does not rely
on it: Windows PowerShell 5.1 prints enums as numbers when they are not cast, a one-element list
as a bare object and an empty one as null, and output may carry a BOM and CRLF line ends.
"""

from __future__ import annotations

import json
from datetime import datetime
from importlib import resources
from typing import Any

from pydantic import ValidationError

from lmready.facts import HostFacts, PortProbe, Preflight

WIRE_VERSION = 2
COLLECT_MARKER = "# lmready:collect-host v2"
PROBE_MARKER = "# lmready:probe-ports v1"

# Enum numbers as Windows PowerShell 5.1 prints them when a value is not cast to [string].
VM_STATES = {
    1: "Other",
    2: "Running",
    3: "Off",
    4: "Stopping",
    6: "Saved",
    9: "Paused",
    10: "Starting",
    11: "Reset",
    32773: "Saving",
    32776: "Pausing",
    32777: "Resuming",
    32779: "FastSaved",
    32780: "FastSaving",
}
SERVICE_STATES = {
    1: "Stopped",
    2: "StartPending",
    3: "StopPending",
    4: "Running",
    5: "ContinuePending",
    6: "PausePending",
    7: "Paused",
}
SWITCH_TYPES = {0: "Private", 1: "Internal", 2: "External"}
# NetSecurity's Enabled enum: True = 1, False = 2.
GPO_BOOLEAN = {1: True, 2: False}


# What one read of the collection script ("fact" in its problems) feeds in HostFacts: when the
# read fails, every field it feeds is unread.
FACT_FIELDS: dict[str, tuple[str, ...]] = {
    "computer_system": ("domain", "part_of_domain", "dns_host_name"),
    "operating_system": ("os", "free_memory_bytes"),
    "features": ("hyperv",),
    "vmms": ("hyperv",),
    "vmhost": ("migration",),
    "migration_networks": ("migration_networks",),
    "supported_versions": ("supported_versions",),
    "addresses": ("addresses",),
    "firewall_rule": ("firewall_rule",),
    "rdma": ("smb",),
    "smb_client": ("smb",),
    "vms": ("vms",),
    "switches": ("switches",),
    "cpu": ("cpu",),
    "credential_guard": ("credential_guard_running",),
}


class WireError(Exception):
    """The host's answer cannot be turned into facts; the message says why, in one sentence."""


def script(name: str) -> str:
    return resources.files("lmready.scripts").joinpath(name).read_text(encoding="utf-8")


def collection_script() -> str:
    return script("collect_host.ps1")


def probe_script(targets: list[dict[str, Any]], timeout_ms: int = 2000) -> str:
    """The pair-round script for one source host; targets are {dst, address, port}."""
    payload = json.dumps(targets).replace("'", "''")  # inside a single-quoted PowerShell string
    return (
        script("probe_ports.ps1").replace("{targets}", payload).replace("{timeout_ms}", str(int(timeout_ms)))
    )


def loads(text: str | bytes) -> Any:
    if isinstance(text, bytes):
        text = text.decode("utf-8-sig", errors="replace")
    text = text.lstrip("\ufeff").strip()
    if not text:
        raise WireError("the host printed nothing")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise WireError(f"the host's answer is not JSON ({exc.msg} at character {exc.pos})") from None


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _enum(value: Any, names: dict[int, str]) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return names.get(value, str(value))
    if isinstance(value, str) and value.strip().isdigit():
        return names.get(int(value), value)
    return value


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    if isinstance(value, int) and not isinstance(value, bool):
        return GPO_BOOLEAN.get(value, bool(value))
    return bool(value)


def parse_host(
    text: str | bytes, name: str, runner_utc: datetime, preflight: Preflight | None = None
) -> HostFacts:
    """The collection script's JSON -> HostFacts."""
    doc = loads(text)
    if not isinstance(doc, dict) or doc.get("wire") != WIRE_VERSION:
        raise WireError("the host's answer is not lmready's collection document (wrong script version?)")
    unread, script_errors = _unread(doc.get("problems"))
    vmhost = doc.get("vmhost")
    if not isinstance(vmhost, dict) and "migration" not in unread:
        unread["migration"] = "Get-VMHost returned nothing"
    features = {
        str(f.get("name")): _bool(f.get("installed"))
        for f in _list(doc.get("features"))
        if isinstance(f, dict)
    }
    rule = doc.get("firewall_rule")
    try:
        return HostFacts.model_validate(
            {
                "name": name,
                "computer_name": doc.get("computer_name"),
                "dns_host_name": str(doc.get("dns_host_name") or ""),
                "domain": doc.get("domain") or "",
                "part_of_domain": _bool(doc.get("part_of_domain")),
                "collected_at": runner_utc,
                "os": {
                    "caption": (doc.get("os") or {}).get("caption", ""),
                    "build": (doc.get("os") or {}).get("build", 0),
                },
                "hyperv": {
                    "feature_installed": features.get("Hyper-V", False),
                    "powershell_module": features.get("Hyper-V-PowerShell", False),
                    "vmms_status": str(_enum(doc.get("vmms_status"), SERVICE_STATES) or "NotFound"),
                },
                "migration": None
                if not isinstance(vmhost, dict)
                else {
                    "enabled": _bool(vmhost.get("VirtualMachineMigrationEnabled")),
                    "authentication_type": vmhost.get("VirtualMachineMigrationAuthenticationType"),
                    "performance_option": vmhost.get("VirtualMachineMigrationPerformanceOption"),
                    "use_any_network": _bool(vmhost.get("UseAnyNetworkForMigration")),
                    "maximum_migrations": vmhost.get("MaximumVirtualMachineMigrations"),
                },
                "migration_networks": _list(doc.get("migration_networks")),
                "supported_versions": [str(v) for v in _list(doc.get("supported_versions"))],
                "addresses": _list(doc.get("addresses")),
                "firewall_rule": None
                if not isinstance(rule, dict)
                else {
                    "name": str(rule.get("name", "")),
                    "enabled": _bool(rule.get("enabled")),
                },
                "smb": {
                    "rdma_enabled": _bool(doc.get("rdma_enabled")),
                    "multichannel_enabled": _bool(doc.get("smb_multichannel")),
                },
                "vms": [
                    {
                        **vm,
                        "state": str(_enum(vm.get("state"), VM_STATES)),
                        "version": str(vm.get("version", "")),
                        "switches": [str(s) for s in _list(vm.get("switches"))],
                        "processor_compatibility": _bool(vm.get("processor_compatibility")),
                    }
                    for vm in _list(doc.get("vms"))
                    if isinstance(vm, dict)
                ],
                "switches": [
                    {
                        "name": str(s.get("name", "")),
                        "switch_type": str(_enum(s.get("switch_type"), SWITCH_TYPES)),
                    }
                    for s in _list(doc.get("switches"))
                    if isinstance(s, dict)
                ],
                "cpu": doc.get("cpu") or {"vendor": "", "model": ""},
                "free_memory_bytes": doc.get("free_memory_bytes") or 0,
                "clock": {"host_utc": doc.get("clock_utc"), "runner_utc": runner_utc},
                "session": {
                    "user": str((doc.get("session") or {}).get("user", "")),
                    "group_sids": [str(s) for s in _list((doc.get("session") or {}).get("group_sids"))],
                },
                "credential_guard_running": doc.get("credential_guard_running"),
                "preflight": preflight,
                "unread": unread,
                "script_errors": script_errors,
            }
        )
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise WireError(f"the host's answer does not fit the facts model ({where}: {first['msg']})") from None


def _unread(problems: Any) -> tuple[dict[str, str], list[str]]:
    """The script's problems -> unread fields with their reasons, and errors no fact claims."""
    unread: dict[str, str] = {}
    loose: list[str] = []
    for problem in _list(problems):
        if isinstance(problem, dict) and str(problem.get("fact")) in FACT_FIELDS:
            reason = str(problem.get("reason") or "no reason given").strip()
            for field in FACT_FIELDS[str(problem["fact"])]:
                unread.setdefault(field, reason)
        else:
            loose.append(str(problem))
    return unread, loose


def parse_probes(text: str | bytes) -> list[PortProbe]:
    doc = loads(text)
    try:
        return [
            PortProbe.model_validate({**p, "open": _bool(p.get("open"))})
            for p in _list(doc)
            if isinstance(p, dict)
        ]
    except (ValidationError, AttributeError) as exc:
        raise WireError(
            f"the host's probe answer does not fit the facts model ({exc.__class__.__name__})"
        ) from None
