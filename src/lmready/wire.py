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

from lmready import pwsh
from lmready.facts import HostFacts, PortProbe, Preflight
from lmready.windows import OLDEST_SUPPORTED_BUILD, VERSIONS_2012_R2, WINDOWS_SERVER_2012_R2

WIRE_VERSION = 2
COLLECT_MARKER = "# lmready:collect-host v2"
PROBE_MARKER = "# lmready:probe-ports v2"

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
# NetSecurity.Action (NotConfigured = 0, Allow = 2, Block = 4) and PolicyStoreType.
FIREWALL_ACTIONS = {0: "NotConfigured", 2: "Allow", 4: "Block"}
POLICY_STORE_SOURCES = {0: "None", 1: "Local", 2: "GroupPolicy", 3: "Dynamic", 4: "Generated", 5: "Hardcoded"}


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
    "firewall_profiles": ("firewall_profiles",),
    "rdma": ("smb",),
    "smb_client": ("smb",),
    "vms": ("vms",),
    "switches": ("switches",),
    "cpu": ("cpu",),
    "credential_guard": ("credential_guard_running",),
    "credential_guard_upgrade": ("isolated_credentials_root_secret",),
}
# Facts read with cmdlets of the Hyper-V PowerShell module: without the module they are unread
# because of R5, and the reason says so (REQUIREMENTS.md R5: a failure of R5, not a connection error).
HYPERV_MODULE_FIELDS = ("migration", "migration_networks", "supported_versions", "vms", "switches")
NO_HYPERV_MODULE = (
    "the Hyper-V PowerShell module is not installed (see R5: Install-WindowsFeature Hyper-V-PowerShell)"
)


class WireError(Exception):
    """The host's answer cannot be turned into facts; the message says why, in one sentence."""


def script(name: str) -> str:
    return resources.files("lmready.scripts").joinpath(name).read_text(encoding="utf-8")


def collection_script() -> str:
    return script("collect_host.ps1")


def probe_script(targets: list[dict[str, Any]], timeout_ms: int = 2000) -> str:
    """The pair-round script for one source host; targets are {dst, address, port}."""
    return (
        script("probe_ports.ps1")
        .replace("{targets}", pwsh.quote(json.dumps(targets)))
        .replace("{timeout_ms}", str(int(timeout_ms)))
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
    except ValueError:  # int() refuses numbers of more than 4,300 digits
        raise WireError("the host's answer holds a number too long to read") from None
    except RecursionError:
        raise WireError("the host's answer is nested too deeply to read") from None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _enum(value: Any, names: dict[int, str]) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return names.get(value, str(value))
    # isdecimal, not isdigit: int() refuses '²'; and no enum number is longer than 5 digits.
    if isinstance(value, str) and value.strip().isdecimal() and len(value.strip()) <= 5:
        return names.get(int(value), value)
    return value


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    if isinstance(value, int) and not isinstance(value, bool):
        return GPO_BOOLEAN.get(value, bool(value))
    return bool(value)


def _int(value: Any) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return 0


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
    os_, session = _dict(doc.get("os")), _dict(doc.get("session"))
    build = _int(os_.get("build"))
    supported_versions = [str(v) for v in _list(doc.get("supported_versions"))]
    module = "hyperv" not in unread and features.get("Hyper-V-PowerShell", False)
    if not module and "hyperv" not in unread:
        for field in HYPERV_MODULE_FIELDS:
            if field in unread:
                unread[field] = NO_HYPERV_MODULE
    elif (
        build == WINDOWS_SERVER_2012_R2
        and "supported_versions" in unread
        and "not recognized" in unread["supported_versions"]
    ):
        # 2012 R2 predates Get-VMHostSupportedVersion: its one version is known by its build.
        del unread["supported_versions"]
        supported_versions = list(VERSIONS_2012_R2)
    guard = doc.get("credential_guard_running")
    if build and build < OLDEST_SUPPORTED_BUILD:
        # Before 2016 the DeviceGuard WMI namespace does not exist: no Credential Guard at all.
        unread.pop("credential_guard_running", None)
        guard = False
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
                    "caption": os_.get("caption", ""),
                    "build": os_.get("build", 0),
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
                "supported_versions": supported_versions,
                "addresses": _list(doc.get("addresses")),
                "firewall_rule": None
                if not isinstance(rule, dict)
                else {
                    "name": str(rule.get("name", "")),
                    "enabled": _bool(rule.get("enabled")),
                    "action": str(_enum(rule.get("action"), FIREWALL_ACTIONS) or "Allow"),
                    "source": str(_enum(rule.get("source"), POLICY_STORE_SOURCES) or ""),
                },
                "firewall_profiles": [
                    {"name": str(_enum(p.get("name"), {})), "enabled": _bool(p.get("enabled"))}
                    for p in _list(doc.get("firewall_profiles"))
                    if isinstance(p, dict)
                ],
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
                    "user": str(session.get("user", "")),
                    "group_sids": [str(s) for s in _list(session.get("group_sids"))],
                },
                "credential_guard_running": guard,
                "isolated_credentials_root_secret": doc.get("isolated_credentials_root_secret"),
                "preflight": preflight,
                "unread": unread,
                "script_errors": script_errors,
            }
        )
    except RecursionError:
        raise WireError("the host's answer is nested too deeply to read") from None
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        msg = first["msg"].removeprefix("Value error, ")
        raise WireError(f"the host's answer does not fit the facts model ({where}: {msg})") from None


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
            PortProbe.model_validate({**p, "open": _bool(p.get("open")), "error": str(p.get("error") or "")})
            for p in _list(doc)
            if isinstance(p, dict)
        ]
    except (ValidationError, AttributeError) as exc:
        raise WireError(
            f"the host's probe answer does not fit the facts model ({exc.__class__.__name__})"
        ) from None
