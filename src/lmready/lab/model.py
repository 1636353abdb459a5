"""A modelled Hyper-V host: it runs the PowerShell lmready sends through the lab's Windows
PowerShell 5.1 interpreter, against cmdlets implemented over its state (lab/cmdlets), and
LabNetwork answers the TCP connects between the hosts of one lab from their states.

Fault knobs: ``denied`` maps a command or CIM class to the access-denied message it fails with
here (a scenario's ``denied:`` sets it per host; tests set it directly); ``malformed_json`` cuts
the answer short, as a host that died mid-answer; a host whose
state lacks the Hyper-V PowerShell module has no Hyper-V cmdlets (CommandNotFoundException).
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable
from typing import Any

from lmready.constants import MIGRATION_PORT, SMB_PORT
from lmready.facts import HostFacts
from lmready.lab.cmdlets import LabCmdlet, eventlog, hyperv, native, netsecurity, network, pervm, system
from lmready.lab.cmdlets.hyperv import env_computername
from lmready.lab.powershell.builtins import BUILTINS, Builtin
from lmready.lab.powershell.errors import NotModelled, PSError, record
from lmready.lab.powershell.evaluator import Call, Runtime
from lmready.lab.powershell.values import PSObject, plain
from lmready.lab.result import ScriptResult

_CMDLETS: dict[str, LabCmdlet] = {
    **hyperv.CMDLETS,
    **pervm.CMDLETS,
    **eventlog.CMDLETS,
    **netsecurity.CMDLETS,
    **network.CMDLETS,
    **system.CMDLETS,
}


# Hyper-V cmdlets Windows Server 2016 brought (configuration versions, the virtual TPM); the
# HgsClient module came with it too.
_SINCE_2016 = frozenset({"get-vmhostsupportedversion", "get-vmsecurity", "get-vmkeyprotector"})


class _HostCmdlet:
    """A lab cmdlet bound to one host: the knobs, then the handler, then the new state."""

    def __init__(self, host: HyperVHost, cmdlet: LabCmdlet):
        self.host = host
        self.cmdlet = cmdlet
        self.info = cmdlet.info
        self.modelled = cmdlet.modelled

    def run(self, call: Call) -> None:
        host = self.host
        denied = host.denied_message(self.info.name)
        if denied is not None:
            # Ids and categories as an access check failing in the cmdlet (not verified per cmdlet).
            call.fail(denied, "AccessDenied", "PermissionDenied", "System.UnauthorizedAccessException")
            return
        _refuse_other_computers(host, call.params.get("ComputerName"))
        changed = self.cmdlet.handler(host, call)
        if changed is not None and not call.params.get("WhatIf"):
            host._state = changed


class _Denied:
    """A builtin cmdlet this host's session may not run (a constrained endpoint)."""

    def __init__(self, builtin: Builtin, message: str):
        self.info = builtin.info
        self.modelled = builtin.modelled
        self.message = message

    def run(self, call: Call) -> None:
        raise PSError(record(self.message, f"AccessDenied,{self.info.implementing_type}", "PermissionDenied"))


def _refuse_other_computers(host: HyperVHost, names: list[str] | None) -> None:
    state = host.state
    this = {
        "localhost",
        ".",
        env_computername(state).lower(),
        system.dns_host_name(host).lower(),
        f"{system.dns_host_name(host)}.{state.domain}".lower(),
        *(a.address for a in state.addresses),
    }
    for name in names or []:
        if name.lower() not in this:
            raise NotModelled(f"-ComputerName {name}: a lab host only manages itself")


class HyperVHost:
    """One lab host. ``state`` is its current HostFacts; remediation cmdlets replace it."""

    def __init__(self, facts: HostFacts, network: LabNetwork, *, malformed_json: bool = False):
        self._lock = threading.RLock()  # one script at a time changes the state
        self._state = facts
        self.network = network
        self.malformed_json = malformed_json
        self.denied: dict[str, str] = {}
        self.smb_server_running = True  # the Server (LanmanServer) service: port 445
        self.events: list[dict[str, Any]] = []  # its VMMS-Admin log (lmready.lab.events)
        self._cmdlets = {name: _HostCmdlet(self, c) for name, c in _CMDLETS.items()}

    def denied_message(self, name: str) -> str | None:
        """The access-denied message of a command or CIM class on this host (names ignore case)."""
        return next((m for c, m in self.denied.items() if c.lower() == name.lower()), None)

    @property
    def state(self) -> HostFacts:
        # Not under the lock: another host's probe reads this while its own script holds its lock.
        return self._state

    @state.setter
    def state(self, facts: HostFacts) -> None:
        with self._lock:
            self._state = facts

    def run_script(self, script: str) -> ScriptResult:
        with self._lock:
            try:
                outcome = Runtime(self, BUILTINS).run(script)
            except Exception as exc:  # a bug in the lab: one sentence for the client, never a traceback
                message = (
                    f"The lab host failed on this script ({type(exc).__name__}: {exc}); this is a lab bug."
                )
                return ScriptResult([], [], message)
        output = [plain(o) for o in outcome.output]
        if self.malformed_json and output and isinstance(output[-1], str):
            output[-1] = output[-1][: len(output[-1]) // 2]  # cut short, as by a host that died mid-answer
        return ScriptResult(output, outcome.errors, outcome.terminating)

    # --- what the interpreter asks of the machine ---------------------------------------------

    def cmdlet(self, name: str) -> _HostCmdlet | _Denied | None:
        found = self._cmdlets.get(name)
        if found is None:
            builtin = BUILTINS.get(name)
            denied = self.denied_message(name)
            return _Denied(builtin, denied) if builtin and denied is not None else None
        if found.info.module == "Hyper-V" and not self._state.hyperv.powershell_module:
            return None
        if self._state.os.build < system.BUILD_2016 and (
            name in _SINCE_2016 or found.info.module == "HgsClient"
        ):
            return None
        return found

    def native(self, name: str) -> Callable[[list[str]], list[Any]] | None:
        program = native.NATIVE.get(name)
        return None if program is None else (lambda args: program(self, args))

    def environment(self, name: str) -> str | None:
        if name == "computername":
            return env_computername(self._state)
        if name == "userdomain":
            return self._state.session.user.split("\\")[0]
        if name == "username":
            return self._state.session.user.split("\\")[-1]
        return None

    def identity(self) -> PSObject:
        session = self._state.session
        groups = [
            PSObject("System.Security.Principal.SecurityIdentifier", {"Value": sid})
            for sid in session.group_sids
        ]
        return PSObject(
            "System.Security.Principal.WindowsIdentity",
            {
                "Name": session.user,
                "Groups": groups,
                "AuthenticationType": "Kerberos",
                "IsAuthenticated": True,
            },
        )

    def connect(self, address: str, port: int) -> str:
        return self.network.connect(address, port)


# --- the lab network --------------------------------------------------------------------------


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return None


class LabNetwork:
    """The hosts of one lab, and how their TCP ports answer a connect."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hosts: list[HyperVHost] = []

    def add(self, host: HyperVHost) -> None:
        with self._lock:
            self._hosts.append(host)

    def states(self) -> list[HostFacts]:
        with self._lock:
            return [host.state for host in self._hosts]

    def owner(self, address: str) -> HyperVHost | None:
        wanted = _ip(address)
        with self._lock:
            hosts = list(self._hosts)
        for host in hosts:
            if wanted is not None and any(_ip(a.address) == wanted for a in host.state.addresses):
                return host
        return None

    def connect(self, address: str, port: int) -> str:
        """ "open", "refused" (the firewall lets it in, nothing listens) or "dropped" (no host, or
        the firewall drops it: the connect never answers)."""
        host = self.owner(address)
        if host is None:
            return "dropped"
        state = host.state
        firewall_off = bool(state.firewall_profiles) and not any(p.enabled for p in state.firewall_profiles)
        rule = state.firewall_rule
        if port == MIGRATION_PORT:
            allowed = firewall_off or (rule is not None and rule.enabled and rule.action.lower() == "allow")
            listening = (
                state.migration is not None
                and state.migration.enabled
                and state.hyperv.vmms_status == "Running"
            )
        elif port == SMB_PORT:
            allowed = True  # File and Printer Sharing (SMB-In) is on wherever the Server service runs
            listening = host.smb_server_running
        else:
            allowed, listening = firewall_off, False
        if not allowed:
            return "dropped"
        return "open" if listening else "refused"

    def is_open(self, address: str, port: int) -> bool:
        return self.connect(address, port) == "open"
