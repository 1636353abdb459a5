"""The .NET types lmready's scripts reach: [DateTime] (and its Parse with the invariant culture),
[IPAddress], TcpClient and its Task, [WindowsIdentity], ArrayList, Stopwatch, and the PSObject
view (.PSObject.Properties). Those that touch the
machine (who am I, can I connect) ask the lab host the script runs on."""

from __future__ import annotations

import ipaddress
import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lmready.lab.powershell.errors import DotNetException, NotModelled, PSError, record
from lmready.lab.powershell.values import (
    ArrayList,
    ConversionError,
    EnumValue,
    Hashtable,
    PSObject,
    register_enum,
    to_integer,
    to_string,
    type_name_of,
)

if TYPE_CHECKING:
    from lmready.lab.powershell.evaluator import Runtime

ADDRESS_FAMILY = "System.Net.Sockets.AddressFamily"
register_enum(ADDRESS_FAMILY, {"Unspecified": 0, "InterNetwork": 2, "InterNetworkV6": 23})
DATETIME_STYLES = "System.Globalization.DateTimeStyles"
register_enum(
    DATETIME_STYLES,
    {
        "None": 0,
        "AllowLeadingWhite": 1,
        "AllowTrailingWhite": 2,
        "AllowInnerWhite": 4,
        "AllowWhiteSpaces": 7,
        "NoCurrentDateDefault": 8,
        "AdjustToUniversal": 16,
        "AssumeLocal": 32,
        "AssumeUniversal": 64,
        "RoundtripKind": 128,
    },
)

# Short names PowerShell accepts for the types the scripts use (the System. prefix is optional).
_FULL_NAMES = {
    "datetime": "System.DateTime",
    "string": "System.String",
    "int": "System.Int32",
    "long": "System.Int64",
    "bool": "System.Boolean",
    "double": "System.Double",
    "hashtable": "System.Collections.Hashtable",
    "scriptblock": "System.Management.Automation.ScriptBlock",
    "pscustomobject": "System.Management.Automation.PSCustomObject",
    "ipaddress": "System.Net.IPAddress",
    "net.ipaddress": "System.Net.IPAddress",
    "net.sockets.tcpclient": "System.Net.Sockets.TcpClient",
    "threading.tasks.task": "System.Threading.Tasks.Task",
    "security.principal.windowsidentity": "System.Security.Principal.WindowsIdentity",
    "collections.arraylist": "System.Collections.ArrayList",
    "math": "System.Math",
    "diagnostics.stopwatch": "System.Diagnostics.Stopwatch",
    "globalization.cultureinfo": "System.Globalization.CultureInfo",
    "globalization.datetimestyles": DATETIME_STYLES,
    "environment": "System.Environment",
    "object": "System.Object",
}


def full_name(name: str) -> str:
    lowered = name.lower().removeprefix("system.")
    return _FULL_NAMES.get(lowered, name)


class DotNetError(Exception):
    """A .NET method threw: PowerShell wraps it as 'Exception calling "M" with "n" argument(s)'."""

    def __init__(self, type_name: str, message: str):
        super().__init__(message)
        self.exception = DotNetException(type_name, message)


class TypeRef:
    """A type literal, [string] or [System.Net.IPAddress]."""

    type_name = "System.RuntimeType"

    def __init__(self, name: str):
        self.name = full_name(name)

    @property
    def text(self) -> str:
        return self.name


def type_ref(name: str) -> TypeRef:
    return TypeRef(name)


def _unknown_type(name: str) -> PSError:
    return PSError(record(f"Unable to find type [{name}].", "TypeNotFound", "InvalidOperation", target=name))


def static_member(runtime: Runtime, target: Any, name: str) -> Any:
    type_name = target.name if isinstance(target, TypeRef) else type_name_of(target)
    lowered = (type_name.lower(), name.lower())
    if lowered == ("system.datetime", "utcnow"):
        return datetime.now(UTC)
    if lowered == ("system.datetime", "now"):
        return datetime.now(UTC)
    if lowered[0] in (ADDRESS_FAMILY.lower(), DATETIME_STYLES.lower()):
        from lmready.lab.powershell.values import to_enum

        return to_enum(name, full_name(type_name))
    if lowered == ("system.globalization.cultureinfo", "invariantculture"):
        return INVARIANT_CULTURE
    raise NotModelled(f"the static member [{type_name}]::{name}")


def static_call(runtime: Runtime, target: Any, name: str, args: list[Any]) -> Any:
    type_name = target.name if isinstance(target, TypeRef) else type_name_of(target)
    key = (type_name.lower(), name.lower())
    if key == ("system.security.principal.windowsidentity", "getcurrent"):
        return runtime.machine.identity()
    if key == ("system.net.ipaddress", "parse"):
        return parse_address(to_string(args[0]))
    if key == ("system.threading.tasks.task", "waitall"):
        tasks = list(args[0]) if isinstance(args[0], list) else [args[0]]
        faulted = [t for t in tasks if isinstance(t, ConnectTask) and t.faulted]
        if faulted:
            raise DotNetError("System.AggregateException", "One or more errors occurred.")
        return all(isinstance(t, ConnectTask) and t.completed for t in tasks)
    if key == ("system.diagnostics.stopwatch", "startnew") and not args:
        return Stopwatch()
    if key == ("system.datetime", "parse"):
        return _parse_datetime(args)
    if key[0] == "system.math" and key[1] in ("max", "min"):
        return (max if key[1] == "max" else min)(args[0], args[1])
    if type_name.lower() not in {v.lower() for v in _FULL_NAMES.values()}:
        raise _unknown_type(type_name)
    raise NotModelled(f"the static method [{type_name}]::{name}()")


# --- time ------------------------------------------------------------------------------------

INVARIANT_CULTURE = PSObject(
    "System.Globalization.CultureInfo", {"Name": "", "DisplayName": "Invariant Language"}
)


def timespan(seconds: float) -> PSObject:
    return PSObject(
        "System.TimeSpan",
        {"TotalSeconds": seconds, "TotalMilliseconds": seconds * 1000, "Seconds": int(seconds) % 60},
    )


class Stopwatch(PSObject):
    """[Diagnostics.Stopwatch]::StartNew(): Elapsed reads the time at each access."""

    def __init__(self) -> None:
        super().__init__("System.Diagnostics.Stopwatch", {"Elapsed": None, "IsRunning": True})
        self.started = time.monotonic()

    def get(self, name: str) -> Any:
        if name.lower() == "elapsed":
            return timespan(time.monotonic() - self.started)
        return super().get(name)


def _parse_datetime(args: list[Any]) -> datetime:
    """DateTime.Parse(s[, provider[, styles]]): the invariant culture's round-trip and sortable
    forms; a text with an offset or Z is UTC (RoundtripKind keeps it), one without is the lab
    host's local time, which is UTC."""
    if not args or len(args) > 3:
        raise NotModelled(f"DateTime.Parse with {len(args)} arguments")
    if len(args) > 1 and args[1] is not INVARIANT_CULTURE and args[1] is not None:
        raise NotModelled("DateTime.Parse with a culture other than the invariant one")
    text = to_string(args[0]).strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise DotNetError(
            "System.FormatException", "String was not recognized as a valid DateTime."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- IP addresses and TCP ---------------------------------------------------------------------


class IPAddressValue(PSObject):
    def __init__(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address):
        family = "InterNetwork" if address.version == 4 else "InterNetworkV6"
        super().__init__(
            "System.Net.IPAddress",
            {
                "AddressFamily": EnumValue(ADDRESS_FAMILY, family, 2 if address.version == 4 else 23),
                "IPAddressToString": str(address),
            },
        )
        self.address = address

    def to_string(self) -> str:
        return str(self.address)


def parse_address(text: str) -> IPAddressValue:
    try:
        return IPAddressValue(ipaddress.ip_address(text.split("%")[0]))
    except ValueError:
        raise DotNetError("System.FormatException", "An invalid IP address was specified.") from None


class ConnectTask(PSObject):
    """The Task ConnectAsync returns. A lab connect is decided at once: open, refused (faulted),
    or dropped by a firewall (never completes within any timeout)."""

    def __init__(self, outcome: str, address: str, port: int):
        self.completed = outcome in ("open", "refused")
        self.faulted = outcome == "refused"
        exception = None
        if self.faulted:
            inner = DotNetException(
                "System.Net.Sockets.SocketException",
                "No connection could be made because the target machine actively refused it "
                f"{address}:{port}",
            )
            exception = DotNetException("System.AggregateException", "One or more errors occurred.", inner)
        super().__init__(
            "System.Threading.Tasks.Task",
            {
                "IsCompleted": self.completed,
                "IsFaulted": self.faulted,
                "IsCanceled": False,
                "Exception": exception,
                "Status": "Faulted"
                if self.faulted
                else "RanToCompletion"
                if self.completed
                else "WaitingForActivation",
            },
        )


class TcpClient(PSObject):
    def __init__(self, runtime: Runtime, family: EnumValue | None):
        super().__init__("System.Net.Sockets.TcpClient", {"Connected": False, "Available": 0})
        self.runtime = runtime
        self.family = family.name if family is not None else "InterNetwork"

    def call(self, name: str, args: list[Any]) -> Any:
        lowered = name.lower()
        if lowered == "connectasync" and len(args) == 2:
            address = args[0] if isinstance(args[0], IPAddressValue) else parse_address(to_string(args[0]))
            port = to_integer(args[1])
            if not 0 <= port <= 65535:
                raise DotNetError(
                    "System.ArgumentOutOfRangeException",
                    "Specified argument was out of the range of valid values.\r\nParameter name: port",
                )
            wanted = "InterNetwork" if address.address.version == 4 else "InterNetworkV6"
            if wanted != self.family:
                raise DotNetError(
                    "System.Net.Sockets.SocketException",
                    "An address incompatible with the requested protocol was used",
                )
            outcome = self.runtime.machine.connect(str(address.address), port)
            if outcome == "open":
                self.properties["Connected"] = True
            return ConnectTask(outcome, str(address.address), port)
        if lowered in ("dispose", "close"):
            self.properties["Connected"] = False
            return None
        return super().call(name, args)


def new_object(runtime: Runtime, type_name: str, args: list[Any]) -> Any:
    full = full_name(type_name)
    lowered = full.lower()
    if lowered == "system.collections.arraylist":
        return ArrayList()
    if lowered == "system.net.sockets.tcpclient":
        if not args:
            return TcpClient(runtime, None)
        from lmready.lab.powershell.values import to_enum

        if len(args) == 1:
            try:
                return TcpClient(runtime, to_enum(args[0], ADDRESS_FAMILY))
            except ConversionError:
                pass
        raise NotModelled("new TcpClient(host, port)")
    if lowered == "system.collections.hashtable":
        return Hashtable()
    if lowered in ("psobject", "system.management.automation.psobject", "system.object"):
        from lmready.lab.powershell.values import PSCustomObject

        return PSCustomObject({})
    raise PSError(
        record(
            f"Cannot find type [{type_name}]: verify that the assembly containing this type is loaded.",
            "TypeNotFound,Microsoft.PowerShell.Commands.NewObjectCommand",
            "InvalidType",
            "System.Management.Automation.PSArgumentException",
        )
    )


# --- PSObject view ----------------------------------------------------------------------------


class PropertyCollection:
    def __init__(self, target: Any):
        self.target = target

    def find(self, name: str) -> PSObject | None:
        target = self.target
        if isinstance(target, PSObject) and target.has(name):
            return PSObject(
                "System.Management.Automation.PSNoteProperty",
                {"Name": name, "Value": target.get(name), "MemberType": "NoteProperty"},
            )
        return None

    @property
    def names(self) -> list[str]:
        return list(self.target.properties) if isinstance(self.target, PSObject) else []


class PSObjectInfo(PSObject):
    def __init__(self, target: Any):
        super().__init__(
            "System.Management.Automation.PSObject",
            {"Properties": PropertyCollection(target), "TypeNames": [type_name_of(target)]},
        )


def extra_member(target: Any, lowered: str) -> Any:
    """Members a value has beyond its properties (DateTime's parts...); others read as $null."""
    if isinstance(target, PropertyCollection) and lowered == "name":
        return target.names
    if isinstance(target, datetime):
        parts = {"year": target.year, "month": target.month, "day": target.day, "hour": target.hour}
        return parts.get(lowered)
    if isinstance(target, TypeRef):
        return {"fullname": target.name, "name": target.name.rsplit(".", 1)[-1]}.get(lowered)
    return None


def is_instance(value: Any, type_value: Any) -> bool:
    name = (type_value.name if isinstance(type_value, TypeRef) else full_name(to_string(type_value))).lower()
    if name in ("system.object", "object"):
        return value is not None
    actual = type_name_of(value).lower()
    if name in ("system.array", "system.object[]"):
        return isinstance(value, list)
    return actual == name


def convert_to(type_name: str, value: Any) -> Any:
    lowered = type_name.lower()
    if lowered == "system.net.ipaddress":
        if isinstance(value, IPAddressValue):
            return value
        try:
            return parse_address(to_string(value))
        except DotNetError as exc:
            raise ConversionError(
                f'Cannot convert value "{to_string(value)}" to type "System.Net.IPAddress". Error: "{exc}"'
            ) from None
    if lowered == "system.threading.tasks.task" and isinstance(value, ConnectTask):
        return value
    if type_name_of(value).lower() == lowered:
        return value
    raise ConversionError(f"Unable to find type [{type_name}].")


def parse_datetime(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConversionError(
            f'Cannot convert value "{text}" to type "System.DateTime". Error: "String was not recognized as '
            'a valid DateTime."'
        ) from None


def format_value(value: Any, spec: str) -> str:
    if isinstance(value, datetime):
        if spec in ("o", "O"):
            moment = value.astimezone(UTC)
            return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
        if spec in ("s",):
            return value.strftime("%Y-%m-%dT%H:%M:%S")
        raise NotModelled(f"the DateTime format '{spec}'")
    if isinstance(value, int) and not isinstance(value, bool):
        m = re.fullmatch(r"([xXdDnN])(\d*)", spec)
        if m:
            kind, width = m.group(1), int(m.group(2) or 0)
            if kind in "xX":
                text = format(value, "x" if kind == "x" else "X")
                return text.zfill(width)
            if kind in "dD":
                return str(value).zfill(width)
            return f"{value:,.{width if m.group(2) else 2}f}"
    raise NotModelled(f"the format '{spec}' of a {type_name_of(value)}")


def string_method(target: str, lowered: str, args: list[Any], name: str) -> Any:
    a = [to_string(x) for x in args]
    if lowered == "tolower" or lowered == "tolowerinvariant":
        return target.lower()
    if lowered == "toupper" or lowered == "toupperinvariant":
        return target.upper()
    if lowered == "trim":
        return target.strip(a[0] if a else None)
    if lowered == "trimend":
        return target.rstrip(a[0] if a else None)
    if lowered == "trimstart":
        return target.lstrip(a[0] if a else None)
    if lowered == "startswith":
        return target.startswith(a[0])
    if lowered == "endswith":
        return target.endswith(a[0])
    if lowered == "contains":
        return a[0] in target
    if lowered == "indexof":
        return target.find(a[0])
    if lowered == "replace":
        return target.replace(a[0], a[1])
    if lowered == "split":
        return re.split("[" + re.escape(a[0]) + "]", target) if a else target.split()
    if lowered == "substring":
        start = to_integer(args[0])
        return target[start : start + to_integer(args[1])] if len(args) > 1 else target[start:]
    if lowered == "equals":
        return target == a[0]
    raise PSError(
        record(
            f"Method invocation failed because [System.String] does not contain a method named '{name}'.",
            "MethodNotFound",
            "InvalidOperation",
        )
    )


def call_other(target: Any, lowered: str, args: list[Any], name: str) -> Any:
    if isinstance(target, datetime) and lowered == "touniversaltime":
        return target.astimezone(UTC)
    raise PSError(
        record(
            f"Method invocation failed because [{type_name_of(target)}] does not contain a method named '{name}'.",
            "MethodNotFound",
            "InvalidOperation",
        )
    )


def ps_version_table() -> Hashtable:
    """$PSVersionTable of Windows PowerShell 5.1 on Windows Server 2022."""
    version = PSObject("System.Version", {"Major": 5, "Minor": 1, "Build": 20348, "Revision": 1})
    version.to_string = lambda: "5.1.20348.1"  # type: ignore[method-assign]
    return Hashtable([("PSVersion", version), ("PSEdition", "Desktop"), ("CLRVersion", "4.0.30319.42000")])
