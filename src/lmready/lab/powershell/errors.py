"""ErrorRecord, and the Python exceptions that carry one: how a script's error stops a statement,
the script, or (with -ErrorAction Stop / $ErrorActionPreference = 'Stop') becomes terminating."""

from __future__ import annotations

from typing import Any

from lmready.lab.powershell.values import EnumValue, PSObject

ERROR_CATEGORY = "System.Management.Automation.ErrorCategory"
# System.Management.Automation.ErrorCategory, in value order.
CATEGORIES = (
    "NotSpecified", "OpenError", "CloseError", "DeviceError", "DeadlockDetected", "InvalidArgument",
    "InvalidData", "InvalidOperation", "InvalidResult", "InvalidType", "MetadataError", "NotImplemented",
    "NotInstalled", "ObjectNotFound", "OperationStopped", "OperationTimeout", "SyntaxError", "ParserError",
    "PermissionDenied", "ResourceBusy", "ResourceExists", "ResourceUnavailable", "ReadError", "WriteError",
    "FromStdErr", "SecurityError", "ProtocolError", "ConnectionError", "AuthenticationError",
    "LimitsExceeded", "QuotaExceeded", "NotEnabled",
)  # fmt: skip


def category(name: str) -> EnumValue:
    return EnumValue(ERROR_CATEGORY, name, CATEGORIES.index(name))


class DotNetException(PSObject):
    """A .NET exception: Message, an inner exception, and GetBaseException()."""

    def __init__(self, type_name: str, message: str, inner: DotNetException | None = None, **extra: Any):
        super().__init__(type_name, {"Message": message, "InnerException": inner, **extra})
        self.message = message
        self.inner = inner

    def call(self, name: str, args: list[Any]) -> Any:
        lowered = name.lower()
        if lowered == "getbaseexception":
            found = self
            while found.inner is not None:
                found = found.inner
            return found
        if lowered == "tostring":
            return f"{self.type_name}: {self.message}"
        return super().call(name, args)


class ErrorRecord(PSObject):
    def __init__(
        self,
        exception: DotNetException,
        error_id: str,
        category_name: str,
        target: Any = None,
    ):
        info = PSObject(
            "System.Management.Automation.ErrorCategoryInfo",
            {"Category": category(category_name), "Reason": exception.type_name.rsplit(".", 1)[-1]},
        )
        super().__init__(
            "System.Management.Automation.ErrorRecord",
            {
                "Exception": exception,
                "FullyQualifiedErrorId": error_id,
                "CategoryInfo": info,
                "TargetObject": target,
            },
        )
        self.exception = exception

    @property
    def message(self) -> str:
        return self.exception.message

    def to_string(self) -> str:
        return self.message  # [string] of an ErrorRecord, and "$_", is its message


def record(
    message: str,
    error_id: str,
    category_name: str = "NotSpecified",
    exception_type: str = "System.Management.Automation.RuntimeException",
    target: Any = None,
    **extra: Any,
) -> ErrorRecord:
    return ErrorRecord(DotNetException(exception_type, message, **extra), error_id, category_name, target)


class PSError(Exception):
    """An error that ends the statement it happened in (PowerShell's terminating error). ``throw``
    and errors made terminating by Stop end the script unless a try catches them; the others end
    only their statement, unless $ErrorActionPreference is Stop."""

    def __init__(self, rec: ErrorRecord, script_terminating: bool = False):
        super().__init__(rec.message)
        self.record = rec
        self.script_terminating = script_terminating


def not_recognized(name: str) -> PSError:
    return PSError(
        record(
            f"The term '{name}' is not recognized as the name of a cmdlet, function, script file, or "
            "operable program. Check the spelling of the name, or if a path was included, verify that "
            "the path is correct and try again.",
            "CommandNotFoundException",
            "ObjectNotFound",
            "System.Management.Automation.CommandNotFoundException",
            target=name,
        )
    )


def method_error(name: str, args: list[Any], inner: DotNetException) -> PSError:
    """A .NET method that threw, as PowerShell wraps it."""
    message = f'Exception calling "{name}" with "{len(args)}" argument(s): "{inner.message}"'
    return PSError(
        ErrorRecord(
            DotNetException("System.Management.Automation.MethodInvocationException", message, inner),
            inner.type_name.rsplit(".", 1)[-1],
            "NotSpecified",
        )
    )


class NotModelled(Exception):
    """Valid PowerShell the lab does not imitate: the script always stops there, so a lab host
    never pretends that a script it did not understand succeeded."""

    def __init__(self, what: str):
        super().__init__(f"The lab host does not model {what}; the script was stopped there.")


class Flow(Exception):
    """break, continue, return and exit, unwinding to their loop, function or script."""

    def __init__(self, keyword: str, value: Any = None):
        super().__init__(keyword)
        self.keyword = keyword
        self.value = value
