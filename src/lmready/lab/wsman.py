"""Lab hosts: loopback HTTP(S) servers that speak WS-Management, WinRS and PSRP like a Windows host.

An unmodified pypsrp client (RunspacePool / PowerShell) or pywinrm client (the cmd shell, as
pytest-testinfra's winrm backend uses it) talks to a LabServer on the wire. Behind the wire a
ScriptHost answers every PowerShell script the client runs; the server only carries scripts and
their results.

What the wire looks like, and why:
- WS-Management over HTTP/1.1 keep-alive: Create, Command, Send, Receive, Signal, Delete and Get.
  Faults go out as HTTP 500 with a SOAP Fault, as Windows sends them; a Receive with nothing to
  return before the client's OperationTimeout gets the w:TimedOut fault (2150858793), which both
  clients retry. Large output is split across Receive responses to fit the client's
  MaxEnvelopeSize.
- PSRP is psrpcore's server side. psrpcore keeps one send buffer per runspace pool; it is sorted
  into one queue per pool and per pipeline because the client receives for each separately.
- Authentication: Basic, or NTLM (see lab.ntlm) with WinRM message encryption over HTTP. The NTLM
  context belongs to the TCP connection, hence the keep-alive.
- Knobs break the host in the ways real hosts break, for the collector's error handling.
"""

from __future__ import annotations

import base64
import codecs
import contextlib
import ipaddress
import logging
import re
import socket
import socketserver
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

import psrpcore
import spnego
from psrpcore.types import (
    ClixmlStream,
    ErrorCategory,
    ErrorCategoryInfo,
    ErrorRecord,
    NETException,
    PipelineState,
    PSCustomObject,
    PSDouble,
    PSInvocationState,
    serialize_clixml,
)

from lmready import pwsh
from lmready.lab.ntlm import SEALED_CONTENT_TYPE, NtlmAcceptor, is_sealed, seal, unseal
from lmready.lab.result import ScriptResult  # shared with the script hosts, which need no server
from lmready.lab.tls import TlsFiles, make_tls

__all__ = ["Knobs", "LabServer", "ScriptHost", "ScriptResult", "TlsFiles", "make_tls"]

log = logging.getLogger(__name__)

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "p": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "cfg": "http://schemas.microsoft.com/wbem/wsman/1/config",
    "pwsh": "http://schemas.microsoft.com/powershell",
}
_XMLNS = " ".join(f'xmlns:{prefix}="{uri}"' for prefix, uri in NS.items() if prefix != "pwsh")
_FAULT_NS = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"
_ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"

_TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
_SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
CREATE, DELETE, GET = _TRANSFER + "Create", _TRANSFER + "Delete", _TRANSFER + "Get"
COMMAND, SEND, RECEIVE, SIGNAL = _SHELL + "Command", _SHELL + "Send", _SHELL + "Receive", _SHELL + "Signal"
_FAULT_ACTION = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
_DONE, _RUNNING = _SHELL + "CommandState/Done", _SHELL + "CommandState/Running"

PSRP_RESOURCE_PREFIX = "http://schemas.microsoft.com/powershell/"
CMD_RESOURCE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
_SHELL_RESOURCE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
_CONFIG_RESOURCE = "http://schemas.microsoft.com/wbem/wsman/1/config"

ERROR_WSMAN_OPERATION_TIMEDOUT = 0x80338029  # 2150858793: pypsrp and pywinrm retry the Receive on it
ERROR_WSMAN_INVALID_SELECTORS = 0x8033805B  # 2150858843: what Windows answers for an unknown ShellId
E_FAIL = 0x80004005

SERVER_MAX_ENVELOPE_KB = 500  # the Windows Server 2012+ default, reported by the config Get
_DEFAULT_MAX_ENVELOPE = 153600
_DEFAULT_OPERATION_TIMEOUT = 60.0
_ENVELOPE_OVERHEAD = 2048  # SOAP header and ReceiveResponse markup around the base64 stream data
_MIN_CHUNK = 1024
_POLL = 0.05
_TLS_HANDSHAKE_TIMEOUT = 10.0


class ScriptHost(Protocol):
    def run_script(self, script: str) -> ScriptResult: ...


@dataclass
class Knobs:
    """Faults to inject; tests flip them while the server runs."""

    latency: float = 0.0  # seconds added to every HTTP request
    refuse: bool = False  # close the listening socket and live connections: clients get connection refused
    http_500: bool = False  # answer every request with HTTP 500 and a WS-Man fault body
    drop_on_receive: bool = False  # close the TCP connection without answering a Receive
    hang: float = 0.0  # on a Receive, wait this long before answering (beyond the client's timeout)
    malformed_xml: bool = False  # answer 200 with a body that is not XML
    wrong_credentials: bool = False  # answer 401 as if the password were wrong

    def __setattr__(self, name: str, value: object) -> None:
        super().__setattr__(name, value)
        # Refusing is applied at once, so a test can flip the knob and connect on the next line.
        if name == "refuse":
            for watcher in list(self.__dict__.get("_refuse_watchers", ())):
                watcher(bool(value))

    def _watch_refuse(self, watcher: Callable[[bool], None]) -> None:
        self.__dict__.setdefault("_refuse_watchers", []).append(watcher)

    def _unwatch_refuse(self, watcher: Callable[[bool], None]) -> None:
        watchers = self.__dict__.get("_refuse_watchers", [])
        if watcher in watchers:
            watchers.remove(watcher)


class _Fault(Exception):
    """A WS-Management fault: HTTP 500 with a SOAP Fault body, as Windows sends it."""

    def __init__(self, subcode: str, message: str, code: int | None = None, *, sender: bool = False) -> None:
        super().__init__(message)
        self.subcode, self.message, self.code, self.sender = subcode, message, code, sender


def _invalid(message: str) -> _Fault:
    return _Fault("w:InvalidParameter", message, sender=True)


def _no_shell(shell_id: str) -> _Fault:
    return _Fault(
        "w:InvalidSelectors",
        f"The request for the Windows Remote Shell with ShellId {shell_id} failed because the shell was not "
        "found on the server. Possible causes are: the specified ShellId is incorrect or the shell no longer "
        "exists on the server. Provide the correct ShellId or create a new shell and retry the operation.",
        ERROR_WSMAN_INVALID_SELECTORS,
        sender=True,
    )


def _timed_out() -> _Fault:
    return _Fault(
        "w:TimedOut",
        "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.",
        ERROR_WSMAN_OPERATION_TIMEDOUT,
    )


# --- WS-Management messages --------------------------------------------------------------------


@dataclass
class _Request:
    action: str
    message_id: str
    resource_uri: str
    max_envelope: int
    timeout: float
    selectors: dict[str, str]
    options: dict[str, str]
    body: ET.Element


_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def _seconds(duration: str) -> float | None:
    """xs:duration ('PT20S', 'PT20.000S', 'PT1M') in seconds."""
    match = _DURATION.match(duration)
    if not match or not any(match.groups()):
        return None
    days, hours, minutes, seconds = (float(part or 0) for part in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def _parse_request(data: bytes) -> _Request:
    # Elements are matched by namespace URI: pypsrp and pywinrm use different prefixes.
    if b"<!DOCTYPE" in data:
        raise _invalid("The request must not contain a DOCTYPE.")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise _invalid(f"The request is not well-formed XML: {exc}") from exc
    header, body = root.find("s:Header", NS), root.find("s:Body", NS)
    if root.tag != f"{{{NS['s']}}}Envelope" or header is None or body is None:
        raise _invalid("The request is not a SOAP 1.2 envelope with a Header and a Body.")

    def text(path: str) -> str:
        return (header.findtext(path, "", NS) or "").strip()

    try:
        max_envelope = int(text("w:MaxEnvelopeSize") or _DEFAULT_MAX_ENVELOPE)
    except ValueError as exc:
        raise _invalid("MaxEnvelopeSize is not a number.") from exc
    return _Request(
        action=text("a:Action"),
        message_id=text("a:MessageID"),
        resource_uri=text("w:ResourceURI"),
        max_envelope=max_envelope,
        timeout=_seconds(text("w:OperationTimeout")) or _DEFAULT_OPERATION_TIMEOUT,
        selectors={
            el.get("Name", ""): (el.text or "").strip()
            for el in header.iterfind("w:SelectorSet/w:Selector", NS)
        },
        options={
            el.get("Name", "").upper(): (el.text or "").strip()
            for el in header.iterfind("w:OptionSet/w:Option", NS)
        },
        body=body,
    )


def _envelope(action: str, relates_to: str, body: str) -> bytes:
    relates = f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>" if relates_to else ""
    return (
        f'<s:Envelope xml:lang="en-US" {_XMLNS}><s:Header><a:Action>{action}</a:Action>'
        f"<a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID><a:To>{_ANONYMOUS}</a:To>{relates}"
        f"</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def _fault_envelope(fault: _Fault, relates_to: str, machine: str) -> bytes:
    code = f' Code="{fault.code}"' if fault.code is not None else ""
    message = escape(fault.message)
    body = (
        f"<s:Fault><s:Code><s:Value>{'s:Sender' if fault.sender else 's:Receiver'}</s:Value>"
        f"<s:Subcode><s:Value>{fault.subcode}</s:Value></s:Subcode></s:Code>"
        f'<s:Reason><s:Text xml:lang="en-US">{message}</s:Text></s:Reason>'
        f'<s:Detail><f:WSManFault xmlns:f="{_FAULT_NS}"{code} Machine={quoteattr(machine)}>'
        f"<f:Message>{message}</f:Message></f:WSManFault></s:Detail></s:Fault>"
    )
    return _envelope(_FAULT_ACTION, relates_to, body)


def _b64decode(text: str | None) -> bytes:
    try:
        return base64.b64decode(text or "")
    except ValueError as exc:
        raise _invalid("A stream is not valid base64.") from exc


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _budget(max_envelope: int) -> int:
    """Raw bytes one Receive response may carry: base64 grows them by 4/3 inside the envelope."""
    return max(_MIN_CHUNK, (max_envelope - _ENVELOPE_OVERHEAD) * 3 // 4)


# --- shells ------------------------------------------------------------------------------------


class _Shell:
    """A WS-Management shell; `cond` guards its state and wakes Receives waiting for output."""

    def __init__(self, lab: LabServer, shell_id: str, request: _Request, owner: str, client: str) -> None:
        self.lab, self.id, self.owner, self.client = lab, shell_id, owner, client
        self.resource_uri = request.resource_uri
        shell = request.body.find("rsp:Shell", NS)
        if shell is None:
            shell = ET.Element("Shell")
        self.input_streams = (shell.findtext("rsp:InputStreams", namespaces=NS) or "stdin").strip()
        self.output_streams = (shell.findtext("rsp:OutputStreams", namespaces=NS) or "stdout stderr").strip()
        self.cond = threading.Condition()
        self.closed = False

    def info(self) -> str:
        return (
            f"<rsp:Shell><rsp:ShellId>{self.id}</rsp:ShellId><rsp:ResourceUri>{escape(self.resource_uri)}</rsp:ResourceUri>"
            f"<rsp:Owner>{escape(self.owner)}</rsp:Owner><rsp:ClientIP>{escape(self.client)}</rsp:ClientIP>"
            f"<rsp:State>Connected</rsp:State><rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut>"
            f"<rsp:InputStreams>{escape(self.input_streams)}</rsp:InputStreams>"
            f"<rsp:OutputStreams>{escape(self.output_streams)}</rsp:OutputStreams>"
            f"<rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime><rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity>"
            f"</rsp:Shell>"
        )

    def created(self) -> str:
        return (
            f"<x:ResourceCreated><a:Address>{escape(self.lab.url)}</a:Address><a:ReferenceParameters>"
            f"<w:ResourceURI>{escape(self.resource_uri)}</w:ResourceURI>"
            f'<w:SelectorSet><w:Selector Name="ShellId">{self.id}</w:Selector></w:SelectorSet>'
            f"</a:ReferenceParameters></x:ResourceCreated>{self.info()}"
        )

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def _wait(self, ready: Callable[[], bool], timeout: float) -> None:
        """Wait (holding `cond`) until `ready()`; past the client's OperationTimeout, fault like WinRM."""
        if not self.cond.wait_for(lambda: self.closed or ready(), timeout):
            raise _timed_out()
        if self.closed:
            raise _no_shell(self.id)

    def command(self, request: _Request) -> str:
        raise NotImplementedError

    def send(self, request: _Request) -> str:
        raise NotImplementedError

    def receive(self, request: _Request) -> str:
        raise NotImplementedError

    def signal(self, request: _Request) -> str:
        raise NotImplementedError


def _signal_of(request: _Request) -> tuple[str, str]:
    signal = request.body.find("rsp:Signal", NS)
    if signal is None:
        raise _invalid("Signal without an rsp:Signal body.")
    command_id = (signal.get("CommandId") or "").upper()
    return command_id, (signal.findtext("rsp:Code", namespaces=NS) or "").strip().lower()


# --- PSRP --------------------------------------------------------------------------------------


def _to_psobject(value: object) -> object:
    """The psrpcore value for one ScriptResult output object."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return PSDouble(value)  # psrpcore sends a bare float as Single (32-bit)
    if isinstance(value, dict):
        return PSCustomObject(**{str(key): _to_psobject(item) for key, item in value.items()})
    if isinstance(value, (list, tuple)):
        return [_to_psobject(item) for item in value]
    raise TypeError(
        f"The lab host cannot send a {type(value).__name__} over PSRP; "
        "output str, int, float, bool, None, dict or list."
    )


def _ps_literal(value: object) -> str:
    if value is None:
        return "$null"
    if isinstance(value, bool):
        return "$true" if value else "$false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return repr(float(value))
    if isinstance(value, dict):
        return "@{" + "; ".join(f"{_ps_literal(str(k))} = {_ps_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "@(" + ", ".join(_ps_literal(item) for item in value) + ")"
    return pwsh.quote(str(value))


def _render_command(command: psrpcore.Command) -> str:
    """`Name -Param value ...` for a command added with add_cmdlet/add_command/add_parameter."""
    text = command.command_text
    parts = [f"& {{{text}}}" if command.is_script and command.parameters else text]
    for name, value in command.parameters:
        if name is None:
            parts.append(_ps_literal(value))
        elif value is None:  # pypsrp's add_parameter(name) with no value: a switch
            parts.append(f"-{name.lstrip('-')}")
        elif isinstance(value, bool):
            parts.append(f"-{name.lstrip('-')}:{_ps_literal(value)}")
        else:
            parts.append(f"-{name.lstrip('-')} {_ps_literal(value)}")
    return " ".join(parts)


def _render_pipeline(metadata: object) -> str | None:
    """The script line for a CreatePipeline; None for what the lab does not run (GetCommandMetadata)."""
    if not isinstance(metadata, psrpcore.PowerShell):
        return None
    statements: list[str] = []
    current: list[str] = []
    for command in metadata.commands:
        current.append(_render_command(command))
        if command.end_of_statement:
            statements.append(" | ".join(current))
            current = []
    if current:
        statements.append(" | ".join(current))
    return "; ".join(statements)


def _exception(message: str, *type_names: str) -> NETException:
    exception = NETException(Message=message, HResult=-2146233087)
    exception.PSObject.type_names = [*type_names, *exception.PSTypeNames]
    return exception


def _terminating_error(message: str) -> ErrorRecord:
    return ErrorRecord(
        Exception=_exception(
            message, "System.Management.Automation.RuntimeException", "System.SystemException"
        ),
        CategoryInfo=ErrorCategoryInfo(Category=ErrorCategory.OperationStopped, Reason="RuntimeException"),
        FullyQualifiedErrorId="RuntimeException",
    )


@dataclass(eq=False)
class _Pipeline:
    server: psrpcore.ServerPipeline
    started: bool = False
    finished: bool = False
    cancelled: bool = False


class _PsrpShell(_Shell):
    def __init__(self, lab: LabServer, request: _Request, owner: str, client: str) -> None:
        shell = request.body.find("rsp:Shell", NS)
        creation = shell.find("pwsh:creationXml", NS) if shell is not None else None
        if shell is None or creation is None:
            raise _invalid("A PowerShell shell Create needs rsp:Shell with creationXml.")
        # pypsrp names the shell after its runspace pool and expects that id back.
        super().__init__(lab, (shell.get("ShellId") or str(uuid.uuid4())).upper(), request, owner, client)
        self.pool = psrpcore.ServerRunspacePool()
        self.pipelines: dict[uuid.UUID, _Pipeline] = {}
        self.queues: dict[uuid.UUID | None, deque[bytes]] = {None: deque()}
        with self.cond:
            self._feed(_b64decode(creation.text), None)

    def command(self, request: _Request) -> str:
        line = request.body.find("rsp:CommandLine", NS)
        command_id = line.get("CommandId") if line is not None else None
        if line is None or not command_id:
            raise _invalid("A PowerShell Command needs rsp:CommandLine with a CommandId (the pipeline id).")
        pipeline_id = self._pipeline_id(command_id)
        with self.cond:
            # The pipeline must exist before psrpcore sees its CreatePipeline fragment.
            self.pipelines[pipeline_id] = _Pipeline(psrpcore.ServerPipeline(self.pool, pipeline_id))
            self.queues[pipeline_id] = deque()
            for argument in line.iterfind("rsp:Arguments", NS):
                self._feed(_b64decode(argument.text), pipeline_id)
        return (
            f"<rsp:CommandResponse><rsp:CommandId>{escape(command_id)}</rsp:CommandId></rsp:CommandResponse>"
        )

    def send(self, request: _Request) -> str:
        with self.cond:
            for stream in request.body.iterfind("rsp:Send/rsp:Stream", NS):
                command_id = stream.get("CommandId")
                pipeline_id = self._pipeline(command_id).server.pipeline_id if command_id else None
                self._feed(_b64decode(stream.text), pipeline_id)
        return "<rsp:SendResponse/>"

    def receive(self, request: _Request) -> str:
        desired = request.body.find("rsp:Receive/rsp:DesiredStream", NS)
        command_id = desired.get("CommandId") if desired is not None else None
        budget = _budget(request.max_envelope)
        with self.cond:
            pipeline = self._pipeline(command_id) if command_id else None
            queue = self.queues[pipeline.server.pipeline_id if pipeline else None]

            def ready() -> bool:
                self._drain(budget)
                return bool(queue) or (pipeline is not None and pipeline.finished)

            self._wait(ready, request.timeout)
            chunks = [queue.popleft()] if queue else []
            size = len(chunks[0]) if chunks else 0
            while queue and size + len(queue[0]) <= budget:
                size += len(queue[0])
                chunks.append(queue.popleft())
            done = pipeline is not None and pipeline.finished and not queue
        attr = f" CommandId={quoteattr(command_id)}" if command_id else ""
        parts = ["<rsp:ReceiveResponse>"]
        if chunks:
            parts.append(f'<rsp:Stream Name="stdout"{attr}>{_b64encode(b"".join(chunks))}</rsp:Stream>')
        if done:
            parts.append(f'<rsp:CommandState{attr} State="{_DONE}"/>')
        parts.append("</rsp:ReceiveResponse>")
        return "".join(parts)

    def signal(self, request: _Request) -> str:
        command_id, code = _signal_of(request)
        with self.cond:
            pipeline = self._pipeline(command_id)
            if code.endswith("/terminate"):
                self._close_pipeline(pipeline)
            elif code.endswith("ctrl_c"):
                self._stop_pipeline(pipeline)
            else:
                raise _invalid(f"The lab host does not handle the signal {code}.")
        return "<rsp:SignalResponse/>"

    def close(self) -> None:
        with self.cond:
            for pipeline in self.pipelines.values():
                pipeline.cancelled = True
        super().close()

    @staticmethod
    def _pipeline_id(command_id: str) -> uuid.UUID:
        try:
            return uuid.UUID(command_id)
        except ValueError as exc:
            raise _invalid(f"The CommandId {command_id} is not a GUID.") from exc

    def _pipeline(self, command_id: str) -> _Pipeline:
        pipeline = self.pipelines.get(self._pipeline_id(command_id))
        if pipeline is None:
            raise _invalid(f"The shell {self.id} has no command {command_id}.")
        return pipeline

    def _feed(self, data: bytes, pipeline_id: uuid.UUID | None) -> None:
        try:
            self.pool.receive_data(psrpcore.PSRPPayload(data, psrpcore.StreamType.default, pipeline_id))
            while (event := self.pool.next_event()) is not None:
                self._on_event(event)
        except psrpcore.PSRPCoreError as exc:
            raise _Fault("w:InternalError", f"PSRP error: {exc}", E_FAIL) from exc

    def _on_event(self, event: psrpcore.PSRPEvent) -> None:
        if isinstance(event, (psrpcore.CreatePipelineEvent, psrpcore.GetCommandMetadataEvent)):
            pipeline = self.pipelines[event.pipeline_id]
            metadata = pipeline.server.metadata
            if not isinstance(metadata, psrpcore.PowerShell) or metadata.no_input:
                self._start(pipeline)
        elif isinstance(event, psrpcore.EndOfPipelineInputEvent):
            pipeline = self.pipelines.get(event.pipeline_id)
            if pipeline is not None and not pipeline.started:
                self._start(pipeline)
        elif isinstance(event, psrpcore.GetAvailableRunspacesEvent):
            self.pool.runspace_availability_response(event.ci, self.pool.max_runspaces)
        elif isinstance(
            event,
            (psrpcore.SetMaxRunspacesEvent, psrpcore.SetMinRunspacesEvent, psrpcore.ResetRunspaceStateEvent),
        ):
            self.pool.runspace_availability_response(event.ci, True)

    def _start(self, pipeline: _Pipeline) -> None:
        pipeline.started = True
        script = _render_pipeline(pipeline.server.metadata)
        threading.Thread(target=self._run, args=(pipeline, script), daemon=True, name="lab-pipeline").start()

    def _run(self, pipeline: _Pipeline, script: str | None) -> None:
        # The script runs outside the lock; its results are queued in one go, so a Receive sees the
        # whole pipeline (and the request count stays deterministic).
        if script is None:
            result = ScriptResult([], terminating="The lab host does not answer GetCommandMetadata.")
        else:
            result = self.lab._run_script(script)
        try:
            output = [_to_psobject(item) for item in result.output]
        except TypeError as exc:
            output, result = [], ScriptResult([], result.errors, str(exc))
        with self.cond:
            if pipeline.cancelled or self.closed:
                return
            server = pipeline.server
            server.start()
            for item in output:
                server.write_output(item)
            for message in result.errors:
                server.write_error(
                    _exception(
                        message, "Microsoft.PowerShell.Commands.WriteErrorException", "System.SystemException"
                    ),
                    ErrorCategoryInfo(Category=ErrorCategory.NotSpecified, Reason="WriteErrorException"),
                    fully_qualified_error_id="Microsoft.PowerShell.Commands.WriteErrorException",
                )
            if result.terminating is None:
                server.complete()
            else:
                server.prepare_message(
                    PipelineState(
                        PipelineState=int(PSInvocationState.Failed),
                        ExceptionAsErrorRecord=_terminating_error(result.terminating),
                    )
                )
                server.state = PSInvocationState.Failed
            pipeline.finished = True
            self.cond.notify_all()

    def _drain(self, budget: int) -> None:
        """Sort psrpcore's single send buffer into the per-pool and per-pipeline queues."""
        while (payload := self.pool.data_to_send(budget)) is not None:
            queue = self.queues.get(payload.pipeline_id)
            if queue is not None:  # else the pipeline was closed: nobody will receive it
                queue.append(payload.data)

    def _stop_pipeline(self, pipeline: _Pipeline) -> None:
        if pipeline.finished:
            return
        pipeline.cancelled = True
        pipeline.server.start()
        pipeline.server.stop()
        pipeline.finished = True
        self.cond.notify_all()

    def _close_pipeline(self, pipeline: _Pipeline) -> None:
        pipeline.cancelled = True
        pipeline.server.close()
        self.pipelines.pop(pipeline.server.pipeline_id, None)
        self.queues.pop(pipeline.server.pipeline_id, None)


# --- WinRS (cmd shell) -------------------------------------------------------------------------

_VALUE_PARAMETERS = (
    "executionpolicy",
    "inputformat",
    "outputformat",
    "windowstyle",
    "workingdirectory",
    "configurationname",
    "settingsfile",
    "version",
)
_VALUE_ALIASES = {"ep", "ex", "if", "of", "wd"}


def _argv(line: str) -> list[str]:
    """Split a command line as Windows programs do (CommandLineToArgvW quoting and backslashes)."""
    args: list[str] = []
    current: list[str] = []
    quoted, backslashes, started = False, 0, False
    for char in line:
        if char == "\\":
            backslashes += 1
            started = True
            continue
        if char == '"':
            current.append("\\" * (backslashes // 2))
            if backslashes % 2:
                current.append('"')
            else:
                quoted = not quoted
            backslashes, started = 0, True
            continue
        current.append("\\" * backslashes)
        backslashes = 0
        if char in " \t" and not quoted:
            if started:
                args.append("".join(current))
                current, started = [], False
            continue
        current.append(char)
        started = True
    current.append("\\" * backslashes)
    if started:
        args.append("".join(current))
    return args


def _powershell_script(args: list[str]) -> str | None:
    """The script a WinRS command line (as argv) runs; None if it does not start PowerShell.

    Understands powershell.exe/pwsh with -EncodedCommand (what pywinrm's run_ps sends), -Command
    or a bare script, the usual switches before them, and a `cmd /c` prefix. Raises ValueError for
    an -EncodedCommand that is not base64 of UTF-16LE text.
    """
    if not args:
        return None
    program = args[0].replace("/", "\\").rsplit("\\", 1)[-1].lower().removesuffix(".exe")
    if program == "cmd" and len(args) > 2 and args[1].lower() in ("/c", "/k"):
        return _powershell_script(args[2:])
    if program not in ("powershell", "pwsh"):
        return None
    index = 1
    while index < len(args):
        if not args[index].startswith("-"):
            return " ".join(args[index:])  # PowerShell runs bare arguments as -Command
        name = args[index][1:].lower()
        if name in ("e", "ec") or (len(name) >= 3 and "encodedcommand".startswith(name)):
            encoded = args[index + 1] if index + 1 < len(args) else ""
            return base64.b64decode(encoded, validate=True).decode("utf-16-le")
        if name and "command".startswith(name):
            return " ".join(args[index + 1 :])
        takes_value = name in _VALUE_ALIASES or any(p.startswith(name) for p in _VALUE_PARAMETERS)
        index += 2 if name and takes_value else 1
    return ""


def _inline(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return "@{" + "; ".join(f"{k}={_inline(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "{" + ", ".join(_inline(v) for v in value) + "}"
    return str(value)


def _text_lines(value: object) -> list[str]:
    """Roughly what PowerShell's console formatting prints for one output object."""
    if value is None:
        return []
    if isinstance(value, dict):
        width = max((len(str(key)) for key in value), default=0)
        return ["", *(f"{str(key).ljust(width)} : {_inline(item)}" for key, item in value.items()), ""]
    if isinstance(value, (list, tuple)):
        return [line for item in value for line in _text_lines(item)]
    return _inline(value).replace("\r\n", "\n").split("\n")


def _clixml_errors(messages: list[str]) -> str:
    """stderr as powershell.exe writes it when its output is redirected (pywinrm's run_ps cleans it)."""
    records = [(f"{message}\r\n", ClixmlStream.ERROR) for message in messages]
    return "#< CLIXML\r\n" + serialize_clixml(records, psrpcore.PSRemotingCrypto())


def _codepage(option: str | None) -> str:
    try:
        name = "utf-8" if option == "65001" else f"cp{int(option or 437)}"
        codecs.lookup(name)
    except (ValueError, LookupError):
        return "cp437"
    return name


@dataclass(eq=False)
class _Process:
    output: deque[tuple[str, bytes]] = field(default_factory=deque)
    exit_code: int | None = None
    cancelled: bool = False


class _CmdShell(_Shell):
    def __init__(self, lab: LabServer, request: _Request, owner: str, client: str) -> None:
        super().__init__(lab, str(uuid.uuid4()).upper(), request, owner, client)
        self.encoding = _codepage(request.options.get("WINRS_CODEPAGE"))
        self.processes: dict[str, _Process] = {}

    def command(self, request: _Request) -> str:
        line = request.body.find("rsp:CommandLine", NS)
        if line is None:
            raise _invalid("Command without rsp:CommandLine.")
        command_id = (line.get("CommandId") or str(uuid.uuid4())).upper()
        words = [
            line.findtext("rsp:Command", "", NS) or "",
            *(a.text or "" for a in line.iterfind("rsp:Arguments", NS)),
        ]
        command_line = " ".join(word.strip() for word in words if word.strip())
        process = _Process()
        with self.cond:
            self.processes[command_id] = process
        threading.Thread(
            target=self._run, args=(process, command_line), daemon=True, name="lab-process"
        ).start()
        return f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>"

    def send(self, request: _Request) -> str:
        return "<rsp:SendResponse/>"  # stdin is accepted and ignored: lab commands read no input

    def receive(self, request: _Request) -> str:
        desired = request.body.find("rsp:Receive/rsp:DesiredStream", NS)
        if desired is None:
            raise _invalid("Receive without rsp:DesiredStream.")
        command_id = (desired.get("CommandId") or "").upper()
        names = (desired.text or "stdout stderr").split()
        budget = _budget(request.max_envelope)
        with self.cond:
            process = self._process(command_id)
            self._wait(lambda: bool(process.output) or process.exit_code is not None, request.timeout)
            chunks: list[tuple[str, bytes]] = []
            room = budget
            while process.output and room > 0:
                name, data = process.output.popleft()
                if len(data) > room:
                    process.output.appendleft((name, data[room:]))
                    data = data[:room]
                chunks.append((name, data))
                room -= len(data)
            done = process.exit_code is not None and not process.output
        attr = f' CommandId="{command_id}"'
        parts = [
            f'<rsp:Stream Name="{name}"{attr}>{_b64encode(data)}</rsp:Stream>'
            for name, data in chunks
            if name in names
        ]
        if done:
            parts += [f'<rsp:Stream Name="{name}"{attr} End="true"></rsp:Stream>' for name in names]
            parts.append(
                f'<rsp:CommandState{attr} State="{_DONE}"><rsp:ExitCode>{process.exit_code}</rsp:ExitCode></rsp:CommandState>'
            )
        else:
            parts.append(f'<rsp:CommandState{attr} State="{_RUNNING}"/>')
        return "<rsp:ReceiveResponse>" + "".join(parts) + "</rsp:ReceiveResponse>"

    def signal(self, request: _Request) -> str:
        command_id, code = _signal_of(request)
        with self.cond:
            process = self._process(command_id)
            if code.endswith(("/terminate", "/ctrl_c", "/ctrl_break")):
                process.cancelled = True
                self.processes.pop(command_id, None)
        return "<rsp:SignalResponse/>"

    def _process(self, command_id: str) -> _Process:
        process = self.processes.get(command_id)
        if process is None:
            raise _invalid(f"The shell {self.id} has no command {command_id}.")
        return process

    def _run(self, process: _Process, command_line: str) -> None:
        stdout, stderr, exit_code = self.lab._run_command_line(command_line)
        with self.cond:
            if process.cancelled or self.closed:
                return
            for name, text in (("stdout", stdout), ("stderr", stderr)):
                if text:
                    process.output.append((name, text.encode(self.encoding, errors="replace")))
            process.exit_code = exit_code
            self.cond.notify_all()


# --- HTTP --------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    """One TCP connection; HTTP/1.1 keep-alive, so an NTLM context lives as long as the connection."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # small request/response pairs on one connection: Nagle costs 40 ms each
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.auth_context: spnego.ContextProxy | None = None
        self.user = ""
        self.final_auth_header: str | None = None

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_POST(self) -> None:
        lab = self.server.lab
        lab._count_request()
        knobs = lab.knobs
        lab._pause(knobs.latency)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if urlsplit(self.path).path.rstrip("/").lower() != "/wsman":
            self._reply(404)
            return
        if knobs.http_500:
            fault = _Fault("w:InternalError", "The lab host fails every request (http_500 knob).", E_FAIL)
            self._reply(500, lab._fault_envelope(fault, ""))
            return
        if not self._authenticated(body):
            return
        sealed = is_sealed(self.headers.get("Content-Type", ""))
        if sealed:
            try:
                body = unseal(self.auth_context, body, self.headers["Content-Type"])
            except Exception:
                log.debug("cannot decrypt a request from %s", self.address_string(), exc_info=True)
                self._reply(400)
                return
        if not body:  # the empty POST clients send to set up NTLM message encryption
            self._reply(200)
            return
        if knobs.malformed_xml:
            self._reply(200, b"<s:Envelope>this is not XML", sealed=sealed)
            return
        try:
            request = _parse_request(body)
        except _Fault as fault:
            self._reply(500, lab._fault_envelope(fault, ""), sealed=sealed)
            return
        if request.action == RECEIVE:
            if knobs.drop_on_receive:
                self.close_connection = True
                return
            lab._pause(knobs.hang)
        status, envelope = lab._dispatch(request, self.user, self.client_address[0])
        self._reply(status, envelope, sealed=sealed)

    def _authenticated(self, body: bytes) -> bool:
        """True to go on with the request; otherwise the auth answer has been sent."""
        lab = self.server.lab
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        if lab.auth == "basic":
            user = lab._basic_user(scheme, token)
            if user is None:
                self._reply(401, headers=[("WWW-Authenticate", 'Basic realm="WSMAN"')])
                return False
            self.user = user
            return True
        if scheme.lower() in ("negotiate", "ntlm") and token:
            return self._ntlm_step(scheme, token, body)
        if self.auth_context is not None and self.auth_context.complete and not lab.knobs.wrong_credentials:
            return True
        self.auth_context = None
        self._reply(401, headers=[("WWW-Authenticate", "Negotiate")])
        return False

    def _ntlm_step(self, scheme: str, token: str, body: bytes) -> bool:
        lab = self.server.lab
        acceptor = lab._ntlm
        assert acceptor is not None
        if self.auth_context is None or self.auth_context.complete:
            self.auth_context = acceptor.new_context()
        try:
            out_token = acceptor.step(self.auth_context, base64.b64decode(token))
            rejected = self.auth_context.complete and lab.knobs.wrong_credentials
        except (spnego.exceptions.SpnegoError, ValueError):
            log.debug("NTLM authentication failed for %s", self.address_string(), exc_info=True)
            rejected = True
        if rejected:
            self.auth_context = None
            self._reply(401, headers=[("WWW-Authenticate", "Negotiate")])
            return False
        answer = f"{scheme} {_b64encode(out_token)}" if out_token else None
        if not self.auth_context.complete:
            self._reply(401, headers=[("WWW-Authenticate", answer or scheme)])
            return False
        self.user = self.auth_context.client_principal or lab.username
        self.final_auth_header = answer  # SPNEGO's closing token rides on the first real response
        if not body:
            self._reply(200)
            return False
        return True

    def _reply(
        self,
        status: int,
        payload: bytes = b"",
        *,
        sealed: bool = False,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        lab = self.server.lab
        content_type = "application/soap+xml;charset=UTF-8"
        if payload:
            lab._note_envelope(len(payload))
            if sealed:
                payload, content_type = seal(self.auth_context, payload), SEALED_CONTENT_TYPE
        self.send_response(status)
        if payload:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers:
            self.send_header(name, value)
        if self.final_auth_header:
            self.send_header("WWW-Authenticate", self.final_auth_header)
            self.final_auth_header = None
        self.end_headers()
        self.wfile.write(payload)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, lab: LabServer, address: tuple[str, int]) -> None:
        self.lab = lab
        super().__init__(address, _Handler, bind_and_activate=False)
        self.timeout = _POLL

    def server_bind(self) -> None:
        # HTTPServer.server_bind would resolve the loopback address to a host name; nothing needs it.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def finish_request(self, request: socket.socket, client_address: tuple[str, int]) -> None:
        self.lab._serve_connection(request, client_address)

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class LabServer:
    """A lab Windows host on loopback: WS-Management over HTTP(S) in front of a ScriptHost.

    Extra to the interface: `largest_envelope` (bytes of the largest SOAP envelope sent) lets tests
    check MaxEnvelopeSize, and the server is a context manager (start/stop).
    """

    def __init__(
        self,
        host: ScriptHost,
        *,
        username: str,
        password: str,
        auth: str = "basic",
        tls: TlsFiles | None = None,
        bind: str = "127.0.0.1",
        port: int = 0,
        knobs: Knobs | None = None,
    ) -> None:
        if auth not in ("basic", "ntlm"):
            raise ValueError(f"auth must be 'basic' or 'ntlm', not {auth!r}")
        if not ipaddress.IPv4Address(bind).is_loopback:
            raise ValueError(f"lab hosts listen on loopback only, not {bind}")
        self.host, self.username, self.password, self.auth, self.tls = host, username, password, auth, tls
        self.bind, self.port = bind, port
        self.knobs = knobs if knobs is not None else Knobs()
        self.largest_envelope = 0
        self._requests = 0
        self._lock = threading.Lock()  # counters, shells and connections
        self._shells: dict[str, _Shell] = {}
        self._connections: set[socket.socket] = set()
        self._listen_lock = threading.Lock()
        self._listening = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._ssl_context = tls.server_context() if tls else None
        self._ntlm = NtlmAcceptor(username, password) if auth == "ntlm" else None
        self._httpd = _HTTPServer(self, (bind, port))

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.bind}:{self.port}/wsman"

    @property
    def requests(self) -> int:
        with self._lock:
            return self._requests

    def start(self) -> None:
        """Listen and serve on background threads; returns once connections are accepted."""
        with self._listen_lock:
            self._listen()
        self.knobs._watch_refuse(self._apply_refuse)
        if self.knobs.refuse:
            self._apply_refuse(True)
        self._thread = threading.Thread(target=self._serve, daemon=True, name=f"lab-{self.port}")
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self.knobs._unwatch_refuse(self._apply_refuse)
        self._apply_refuse(True)
        with self._lock:
            shells = list(self._shells.values())
            self._shells.clear()
        for shell in shells:
            shell.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd.server_close()
        if self._ntlm is not None:
            self._ntlm.close()

    def __enter__(self) -> LabServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # listening and connections

    def _listen(self) -> None:
        if self._listening or self._stopping.is_set():
            return
        httpd = self._httpd
        if httpd.socket.fileno() == -1:  # closed by the refuse knob: bind the same port again
            httpd.socket = socket.socket(httpd.address_family, httpd.socket_type)
        httpd.server_address = (self.bind, self.port)
        httpd.server_bind()
        httpd.server_activate()
        self.port = httpd.server_address[1]
        self._listening = True

    def _apply_refuse(self, refuse: bool) -> None:
        with self._listen_lock:
            if not refuse:
                self._listen()
                return
            if self._listening:
                # shutdown() first: the serving thread may be polling the listener, which keeps a
                # merely closed socket listening (and resetting new connections) until the poll ends.
                with contextlib.suppress(OSError):
                    self._httpd.socket.shutdown(socket.SHUT_RDWR)
                self._httpd.socket.close()
                self._listening = False
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            # socket.socket.shutdown, not SSLSocket's: it must not touch TLS state the handler uses.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(connection, socket.SHUT_RDWR)

    def _serve(self) -> None:
        while not self._stopping.is_set():
            with self._listen_lock:
                listening = self._listening
            if not listening:
                self._stopping.wait(_POLL)
                continue
            try:
                self._httpd.handle_request()
            except (OSError, ValueError):
                continue  # the refuse knob closed the listener under us

    def _serve_connection(self, connection: socket.socket, client_address: tuple[str, int]) -> None:
        with self._lock:
            self._connections.add(connection)
        try:
            if self._ssl_context is not None:
                connection.settimeout(_TLS_HANDSHAKE_TIMEOUT)
                tls_connection = self._ssl_context.wrap_socket(connection, server_side=True)
                with self._lock:
                    self._connections.discard(connection)
                    self._connections.add(tls_connection)
                connection = tls_connection
                connection.settimeout(None)
            _Handler(connection, client_address, self._httpd)
        except OSError:
            log.debug("connection from %s failed", client_address, exc_info=True)
        finally:
            with self._lock:
                self._connections.discard(connection)
            connection.close()

    # requests

    def _count_request(self) -> None:
        with self._lock:
            self._requests += 1

    def _note_envelope(self, size: int) -> None:
        with self._lock:
            self.largest_envelope = max(self.largest_envelope, size)

    def _pause(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def _basic_user(self, scheme: str, token: str) -> str | None:
        if scheme.lower() != "basic" or self.knobs.wrong_credentials:
            return None
        try:
            user, _, password = base64.b64decode(token).decode("latin-1").partition(":")
        except ValueError:
            return None
        return user if user.lower() == self.username.lower() and password == self.password else None

    def _fault_envelope(self, fault: _Fault, relates_to: str) -> bytes:
        return _fault_envelope(fault, relates_to, self.bind)

    def _dispatch(self, request: _Request, owner: str, client: str) -> tuple[int, bytes]:
        try:
            body = self._perform(request, owner, client)
        except _Fault as fault:
            return 500, self._fault_envelope(fault, request.message_id)
        except Exception:
            log.exception("the lab host failed on %s", request.action)
            fault = _Fault("w:InternalError", "The lab host failed on this request; see its log.", E_FAIL)
            return 500, self._fault_envelope(fault, request.message_id)
        return 200, _envelope(request.action + "Response", request.message_id, body)

    def _perform(self, request: _Request, owner: str, client: str) -> str:
        action = request.action
        if action == CREATE:
            return self._create(request, owner, client)
        if action == GET:
            return self._get(request)
        if action not in (DELETE, COMMAND, SEND, RECEIVE, SIGNAL):
            raise _Fault(
                "a:ActionNotSupported", f"The lab host does not support the action {action}.", sender=True
            )
        shell = self._find_shell(request)
        if action == DELETE:
            with self._lock:
                self._shells.pop(shell.id, None)
            shell.close()
            return ""
        operation = {COMMAND: shell.command, SEND: shell.send, RECEIVE: shell.receive, SIGNAL: shell.signal}[
            action
        ]
        return operation(request)

    def _create(self, request: _Request, owner: str, client: str) -> str:
        shell: _Shell
        if request.resource_uri.startswith(PSRP_RESOURCE_PREFIX):
            shell = _PsrpShell(self, request, owner, client)
        elif request.resource_uri.lower() == CMD_RESOURCE:
            shell = _CmdShell(self, request, owner, client)
        else:
            raise _Fault(
                "a:DestinationUnreachable",
                f"The lab host has no resource {request.resource_uri}.",
                sender=True,
            )
        with self._lock:
            self._shells[shell.id] = shell
        return shell.created()

    def _get(self, request: _Request) -> str:
        resource = request.resource_uri.rstrip("/")
        if resource == _CONFIG_RESOURCE:  # pypsrp's WSMan.update_max_payload_size()
            return f"<cfg:Config><cfg:MaxEnvelopeSizekb>{SERVER_MAX_ENVELOPE_KB}</cfg:MaxEnvelopeSizekb></cfg:Config>"
        if resource == _SHELL_RESOURCE:  # pypsrp's RunspacePool.is_alive()
            return self._find_shell(request).info()
        raise _Fault(
            "a:DestinationUnreachable", f"The lab host cannot Get {request.resource_uri}.", sender=True
        )

    def _find_shell(self, request: _Request) -> _Shell:
        shell_id = request.selectors.get("ShellId", "").upper()
        with self._lock:
            shell = self._shells.get(shell_id)
        if shell is None:
            raise _no_shell(shell_id)
        return shell

    # scripts

    def _run_script(self, script: str) -> ScriptResult:
        try:
            return self.host.run_script(script)
        except Exception as exc:
            log.exception("the script host failed")
            return ScriptResult([], terminating=f"The lab script host failed: {type(exc).__name__}: {exc}")

    def _run_command_line(self, command_line: str) -> tuple[str, str, int]:
        """stdout, stderr and exit code of a WinRS command line."""
        args = _argv(command_line)
        try:
            script = _powershell_script(args)
        except ValueError:
            return (
                "",
                "Cannot process the command because the value specified with -EncodedCommand is not properly "
                "encoded. The value must be Base64 encoded.\r\n",
                1,
            )
        if script is None:
            program = args[0] if args else command_line
            return (
                "",
                f"'{program}' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n",
                1,
            )
        if not script.strip():
            return "", "", 0
        result = self._run_script(script)
        errors = [*result.errors, *([result.terminating] if result.terminating is not None else [])]
        stdout = "".join(f"{line}\r\n" for item in result.output for line in _text_lines(item))
        return stdout, _clixml_errors(errors) if errors else "", 1 if errors else 0
