"""PowerShell Remoting to a host: one RunspacePool, scripts run with add_script, and every
failure turned into one sentence that says what failed and what to try.

``pypsrp.client.Client.execute_ps`` is not used: it wraps the script in ``Out-String``, so the
output is text and non-terminating errors do not count as errors. Here each script writes one
JSON string, and ``ps.streams.error`` is read.
"""

from __future__ import annotations

import contextlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import requests
from pypsrp.exceptions import AuthenticationError, WinRMError, WinRMTransportError, WSManFaultError
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from lmready.credentials import Secret
from lmready.inventory import Host
from lmready.text import printable


class RemoteError(Exception):
    """One sentence about a host, for every check of that host."""


@dataclass(frozen=True)
class Output:
    text: str
    errors: list[str]


@dataclass
class Session:
    """An open RunspacePool on one host."""

    host: Host
    pool: RunspacePool

    def run(self, script: str, what: str) -> Output:
        """Run a script that writes one string. A terminating error fails the call;
        non-terminating ones (which pypsrp does not count in had_errors) come back with the text."""
        try:
            ps = PowerShell(self.pool)
            ps.add_script(script)
            output = ps.invoke()
        except Exception as exc:
            raise RemoteError(explain(self.host, exc, what)) from None
        errors = [first_line(str(e)) for e in ps.streams.error]
        if ps.had_errors:
            first = errors[0] if errors else "the pipeline failed"
            raise RemoteError(f"{self.host.name}: {what} failed on the host: {first}.")
        texts = [o for o in output if isinstance(o, str)]
        if not texts:
            detail = f" ({errors[0]})" if errors else ""
            raise RemoteError(
                f"{self.host.name}: {what} printed nothing{detail}; is this a Windows PowerShell host?"
            )
        return Output("".join(texts), errors)

    def close(self) -> None:
        # Best effort: the facts are in hand, and a host that hangs up now changes nothing.
        with contextlib.suppress(Exception):
            self.pool.close()


def open_session(host: Host, secret: Secret | None) -> Session:
    c = host.connection
    kwargs = {}
    if c.auth == "certificate":
        kwargs = {"certificate_pem": c.client_certificate, "certificate_key_pem": c.client_key}
    wsman = WSMan(
        host.address,
        port=c.port,
        ssl=c.scheme == "https",
        auth=c.auth,
        username=None if c.auth == "certificate" or secret is None else secret.username,
        password=None if c.auth == "certificate" or secret is None else secret.password,
        cert_validation=(c.ca_bundle or True) if c.verify_tls else False,
        connection_timeout=c.connect_timeout,
        operation_timeout=max(1, int(c.operation_timeout)),
        read_timeout=c.operation_timeout + 5,
        no_proxy=True,
        encryption="auto",
        **kwargs,
    )
    try:
        pool = RunspacePool(wsman)
        pool.open()
    except Exception as exc:
        raise RemoteError(explain(host, exc, "opening a PowerShell session")) from None
    return Session(host, pool)


def first_line(text: str, default: str | None = None) -> str:
    """The first line of an error text, without its full stop (sentences are built around it).

    The text is the host's: made printable, since it reaches the terminal and the reports."""
    lines = text.strip().splitlines()
    if not lines:
        return printable(text) if default is None else default
    return printable(lines[0].rstrip("."))


def explain(host: Host, exc: BaseException, what: str) -> str:
    """The one sentence for a transport failure: host, what failed, likely fix."""
    c = host.connection
    where = f"{c.scheme}://{host.address}:{c.port}/wsman"
    name = host.name
    if isinstance(exc, requests.exceptions.SSLError):
        return (
            f"{name}: the TLS certificate of {where} could not be validated ({first_line(str(exc))[:160]}); "
            "give the CA bundle in winrm.ca_bundle, or fix the certificate's name."
        )
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"{name}: no connection to {where} within {c.connect_timeout:g} s; check the address, routing and firewall."
    if isinstance(exc, requests.exceptions.Timeout):
        return (
            f"{name}: {where} did not answer {what} within {c.operation_timeout:g} s; the host may be hung "
            "or overloaded; raise winrm.operation_timeout or check WinRM on the host."
        )
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = str(exc)
        if "refused" in text.lower():
            return (
                f"{name}: connection to {where} refused; check that WinRM listens there (winrm quickconfig)."
            )
        return (
            f"{name}: the connection to {where} failed during {what} ({first_line(text)[:160]}); "
            "check WinRM on the host and the network in between."
        )
    if isinstance(exc, AuthenticationError) or (isinstance(exc, WinRMTransportError) and exc.code == 401):
        return (
            f"{name}: {where} refused the credentials ({c.auth} authentication); check the user name and "
            f"password of credential '{c.credential}'."
        )
    if isinstance(exc, WinRMTransportError):
        return f"{name}: {where} answered HTTP {exc.code} during {what}; check the WinRM service and its event log."
    if isinstance(exc, WSManFaultError):
        return f"{name}: WinRM at {where} reported a fault during {what}: {first_line(str(exc.reason or exc))[:200]}."
    if isinstance(exc, ET.ParseError):
        return f"{name}: {where} answered {what} with something that is not WS-Management XML; is this a WinRM endpoint?"
    if isinstance(exc, WinRMError):
        return f"{name}: PowerShell Remoting to {where} failed during {what}: {first_line(str(exc))[:200]}."
    return f"{name}: {what} on {where} failed: {type(exc).__name__}: {first_line(str(exc))[:200]}."
