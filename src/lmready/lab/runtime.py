"""A running lab: one WS-Management server per scenario host, on loopback, and the inventory
that points lmready at them.

``lmready lab up`` runs this in a background process (``python -m lmready.lab.serve``) and
records it in a state file; tests start it in-process.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml

from lmready.lab.events import records
from lmready.lab.model import HyperVHost, LabNetwork
from lmready.lab.samba import SambaDC, load_directory, samba_available
from lmready.lab.scenario import Scenario
from lmready.lab.wsman import Knobs, LabServer, TlsFiles, make_tls

USER_ENV, PASSWORD_ENV = "LMREADY_LAB_USER", "LMREADY_LAB_PASSWORD"
LDAP_USER_ENV, LDAP_PASSWORD_ENV = "LMREADY_LAB_LDAP_USER", "LMREADY_LAB_LDAP_PASSWORD"
DIRECTORY_READER = "auditor"  # the directory scenario's account without admin rights
LOOPBACK = "127.0.0.1"


@dataclass
class LabHostRuntime:
    name: str
    model: HyperVHost
    server: LabServer

    @property
    def knobs(self) -> Knobs:
        return self.server.knobs


@dataclass
class Lab:
    scenario: Scenario
    workdir: Path
    transport: str = "https"  # "https" (Basic over TLS, validated) or "ntlm" (HTTP, message encryption)
    latency: float = 0.0  # seconds added to every request (benchmarks)
    directory: bool = True  # start the scenario's domain controller (when samba is installed)
    # The domain controller: one the caller runs (tests share one; Samba's ports are fixed), or
    # None to start the scenario's own when samba is installed.
    dc: SambaDC | None = None
    hosts: dict[str, LabHostRuntime] = field(default_factory=dict)
    tls: TlsFiles | None = None
    network: LabNetwork = field(default_factory=LabNetwork)
    _own_dc: bool = False

    def start(self) -> Lab:
        os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.transport == "https":
            self.tls = make_tls(self.workdir / "tls", ["localhost", *self.scenario.hosts])
        try:
            for name, facts in self.scenario.hosts.items():
                model = HyperVHost(facts, self.network)
                model.events = records(self.scenario.events.get(name, []), datetime.now(UTC))
                model.denied = dict(self.scenario.denied.get(name, {}))
                self.network.add(model)
                server = LabServer(
                    model,
                    username=self.scenario.username,
                    password=self.scenario.password,
                    auth="basic" if self.transport == "https" else "ntlm",
                    tls=self.tls,
                    bind=LOOPBACK,
                    knobs=Knobs(latency=self.latency),
                )
                server.start()
                self.hosts[name] = LabHostRuntime(name, model, server)
            if (
                self.directory
                and self.dc is None
                and self.scenario.directory is not None
                and samba_available()
            ):
                directory = load_directory(self.scenario.directory)
                # A DC left by an earlier run already holds the scenario: start from a clean copy.
                shutil.rmtree(self.workdir / "dc", ignore_errors=True)
                self.dc = SambaDC.for_scenario(self.workdir / "dc", directory).start()
                self._own_dc = True
                self.dc.apply(directory)
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def without_directory(self) -> str:
        """Why a lab whose scenario has a directory runs without its DC, or ""."""
        if self.directory and self.scenario.directory is not None and self.dc is None:
            return "samba is not installed, so the lab runs without its domain controller (make system installs it)"
        return ""

    def stop(self) -> None:
        for runtime in self.hosts.values():
            runtime.server.stop()
        if self._own_dc and self.dc is not None:
            self.dc.stop()
            shutil.rmtree(self.workdir / "dc", ignore_errors=True)  # lab down removes what up made

    def _directory_password(self) -> str:
        directory = load_directory(self.scenario.directory) if self.scenario.directory else None
        users = {u.name: u.password for u in directory.users} if directory else {}
        return users.get(DIRECTORY_READER, "")

    def inventory(self, **extra: object) -> dict[str, object]:
        """An inventory for the lab: credentials by environment variable, TLS validated."""
        winrm = (
            {"auth": "basic", "scheme": "https", "ca_bundle": str(self.tls.ca)}
            if self.tls
            else {"auth": "ntlm", "scheme": "http"}
        )
        names = list(self.hosts)
        doc: dict[str, object] = {
            "version": 1,
            "credentials": {"lab": {"username_env": USER_ENV, "password_env": PASSWORD_ENV}},
            "defaults": {
                "winrm": {**winrm, "credential": "lab", "connect_timeout": 5, "operation_timeout": 20}
            },
            "hosts": [
                {"name": n, "address": LOOPBACK, "winrm": {"port": r.server.port}}
                for n, r in self.hosts.items()
            ],
            "groups": {"lab": names},
            "pairs": [{"mesh": "lab"}],
            "policy": self.scenario.policy,
        }
        if self.dc is not None:
            doc["credentials"]["lab-directory"] = {
                "username_env": LDAP_USER_ENV,
                "password_env": LDAP_PASSWORD_ENV,
            }
            doc["directory"] = {
                "domains": [
                    {
                        "name": self.dc.dns_domain,
                        "url": self.dc.url,
                        "credential": "lab-directory",
                        "ca_bundle": str(self.dc.ca_bundle),
                        "tls_server_name": self.dc.dc_hostname,
                    }
                ]
            }
        doc.update(extra)
        return doc

    def write_inventory(self, path: Path, **extra: object) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        header = (
            "# Written by `lmready lab up`: the lab hosts on loopback. The credentials come from\n"
            f"# ${USER_ENV} and ${PASSWORD_ENV} (the lab's values are printed by `lmready lab up`).\n"
        )
        path.write_text(header + yaml.safe_dump(self.inventory(**extra), sort_keys=False), encoding="utf-8")
        return path

    def env(self) -> dict[str, str]:
        env = {USER_ENV: self.scenario.username, PASSWORD_ENV: self.scenario.password}
        if self.dc is not None:
            env |= {
                LDAP_USER_ENV: f"{DIRECTORY_READER}@{self.dc.dns_domain}",
                LDAP_PASSWORD_ENV: self._directory_password(),
            }
        return env
