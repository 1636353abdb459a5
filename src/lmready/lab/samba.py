"""A lab Active Directory domain controller: Samba on 127.0.0.1, with the directory a scenario
describes (users, groups, Hyper-V computer accounts and their delegation, trusts).

Samba's LDAP server has no port option (389 and 636 are fixed in source4/ldap_server), and it
binds only to addresses an interface carries, so one lab DC runs at a time on 127.0.0.1: a lock
file serialises concurrent test sessions. Provisioning takes seconds, so a provisioned and once
started domain is kept as a template (per realm, domain, password and Samba version) in
``template_cache`` and copied for each DC; only ``etc/smb.conf`` holds absolute paths.

The certificate Samba generates names ``<NETBIOS>.<dns domain>`` in its CN only (no SAN); its CA
is ``private/tls/ca.pem``. Clients connect to 127.0.0.1 and validate against ``dc_hostname``.

A scenario's ``directory`` section (YAML) describes what ``apply()`` adds::

    directory:
      realm: LAB.EXAMPLE.TEST          # must be the DC's realm and NetBIOS domain
      netbios: LAB
      groups:                          # created in order; groups: what the group is a member of
        - {name: Hyper-V Delegation Admins, groups: [Domain Admins]}
      users:
        - {name: auditor, password: "...", groups: []}
      computers:
        - name: LAB-HV01               # computer name; sAMAccountName is LAB-HV01$
          dns_host_name: lab-hv01.lab.example.test
          uac: [WORKSTATION_TRUST_ACCOUNT, TRUSTED_TO_AUTH_FOR_DELEGATION]  # names or an integer
          spns: [...]                  # default: HOST/ and the migration service, both name forms
          delegate_to:                 # msDS-AllowedToDelegateTo, verbatim
            - Microsoft Virtual System Migration Service/LAB-HV02
          allowed_to_act: [LAB-HV02]   # resource-based delegation: these computers may delegate here
      trusts:                          # trustedDomain objects under CN=System
        - {partner: trusted.example.test, flat_name: TRUSTED, direction: 3, type: 2, attributes: 8}

``uac`` flag names are those of userAccountControl (``UAC_FLAGS``). A trust's ``sid`` (text)
defaults to one derived from the partner's name.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import socket
import ssl
import stat
import struct
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

import ldap3
import yaml
from ldap3.core.exceptions import LDAPException
from ldap3.protocol.formatters.formatters import format_sid
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lmready.constants import MIGRATION_SERVICE

ADDRESS = "127.0.0.1"
LDAPS_PORT = 636
KDC_PORT = 88
DEFAULT_ADMIN_PASSWORD = "Lab-Admin-2026!"
DEFAULT_DIRECTORY = Path(__file__).parent / "scenarios" / "directory.yml"
HOST_NAME = "DC1"

UAC_FLAGS = {
    "ACCOUNTDISABLE": 0x2,
    "NORMAL_ACCOUNT": 0x200,
    "WORKSTATION_TRUST_ACCOUNT": 0x1000,
    "TRUSTED_FOR_DELEGATION": 0x80000,
    "NOT_DELEGATED": 0x100000,
    "TRUSTED_TO_AUTH_FOR_DELEGATION": 0x1000000,
}
_GLOBAL_SECURITY_GROUP = -2147483646  # groupType: global scope | security enabled
_PLACEHOLDER = "@LMREADY_SAMBA_DIR@"
_LOCK = Path(tempfile.gettempdir()) / f"lmready-samba-{ADDRESS}.lock"
# Fewer services than a real DC: no file serving, DNS or winbind, nothing beyond loopback.
_SERVICES = "ldap kdc"
# A hardened DC, as Windows Server 2025 ships ("LDAP server signing requirements"): a simple bind
# needs TLS, a SASL bind needs signing or sealing. Samba before 4.20 cannot check TLS channel
# bindings, so with "yes" it refuses every SASL bind over TLS; SASL binds go over ldap://, sealed.
_STRONG_AUTH = "yes"


class SambaError(Exception):
    """The lab DC could not be provisioned, started or configured; one sentence."""


def samba_available() -> bool:
    return all(shutil.which(tool) for tool in ("samba", "samba-tool", "ldbadd"))


# --- scenario ----------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GroupSpec(_Strict):
    name: str
    groups: list[str] = Field(default_factory=list)


class UserSpec(_Strict):
    name: str
    password: str
    groups: list[str] = Field(default_factory=list)


class ComputerSpec(_Strict):
    name: str
    dns_host_name: str
    uac: int = UAC_FLAGS["WORKSTATION_TRUST_ACCOUNT"]
    spns: list[str] | None = None
    delegate_to: list[str] = Field(default_factory=list)
    allowed_to_act: list[str] = Field(default_factory=list)

    @field_validator("uac", mode="before")
    @classmethod
    def _flags(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        unknown = [v for v in value if v not in UAC_FLAGS]
        if unknown:
            raise ValueError(f"unknown flag {unknown[0]}; use one of {', '.join(UAC_FLAGS)}")
        return sum(UAC_FLAGS[v] for v in set(value))


class TrustSpec(_Strict):
    partner: str
    flat_name: str
    direction: Literal[1, 2, 3]
    type: int = 2
    attributes: int = 8
    sid: str | None = None


class DirectoryScenario(_Strict):
    realm: str
    netbios: str
    groups: list[GroupSpec] = Field(default_factory=list)
    users: list[UserSpec] = Field(default_factory=list)
    computers: list[ComputerSpec] = Field(default_factory=list)
    trusts: list[TrustSpec] = Field(default_factory=list)


def parse_directory(section: dict[str, Any]) -> DirectoryScenario:
    try:
        return DirectoryScenario.model_validate(section)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"]) or "directory"
        raise SambaError(f"directory scenario: {where}: {err['msg']}") from None


def load_directory(path: Path = DEFAULT_DIRECTORY) -> DirectoryScenario:
    """The ``directory`` section of a scenario file."""
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("directory"), dict):
        raise SambaError(f"{path}: a directory scenario is a mapping under the key directory:")
    return parse_directory(data["directory"])


# --- the domain controller ---------------------------------------------------------------------


class SambaDC:
    def __init__(
        self,
        workdir: Path,
        realm: str = "LAB.EXAMPLE.TEST",
        domain: str = "LAB",
        admin_password: str = DEFAULT_ADMIN_PASSWORD,
        *,
        template_cache: Path | None = None,
        lock_timeout: float = 300,
    ):
        self.workdir = Path(workdir).resolve()
        self.realm = realm.upper()
        self.domain = domain.upper()
        self.dns_domain = realm.lower()
        self.admin_password = admin_password
        self.base_dn = ",".join(f"DC={label}" for label in self.dns_domain.split("."))
        self.dc_hostname = f"{HOST_NAME}.{self.dns_domain}".lower()
        self.url = f"ldaps://{ADDRESS}:{LDAPS_PORT}"
        self.ca_bundle = self.workdir / "private" / "tls" / "ca.pem"
        self.admin = f"{self.domain}\\Administrator"
        self.template_cache = template_cache or _default_cache()
        self.lock_timeout = lock_timeout
        self._process: subprocess.Popen | None = None
        self._lock: int | None = None
        self._ldap: ldap3.Connection | None = None

    @classmethod
    def for_scenario(cls, workdir: Path, scenario: DirectoryScenario, **kwargs: Any) -> SambaDC:
        return cls(workdir, realm=scenario.realm, domain=scenario.netbios, **kwargs)

    @property
    def conf(self) -> Path:
        return self.workdir / "etc" / "smb.conf"

    @property
    def _sam(self) -> Path:
        return self.workdir / "private" / "sam.ldb"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> SambaDC:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> SambaDC:
        """Start the DC (from a copy of the template the first time); returns when LDAPS answers."""
        if self.running:
            return self
        self._lock = _acquire_lock(self.lock_timeout)
        try:
            if _answers(ADDRESS, LDAPS_PORT):
                raise SambaError(
                    f"{ADDRESS}:{LDAPS_PORT} already answers: another LDAP server runs there (a packaged "
                    "samba service?); stop it, the lab DC needs that port"
                )
            if not self.conf.exists():
                self._copy_template(self._template())
            self._process = _launch(self.workdir)
            _wait_ready(self._process, self.workdir)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """SIGTERM the samba process group and wait for it; the directory stays for a restart."""
        if self._ldap is not None:
            with contextlib.suppress(LDAPException):
                self._ldap.unbind()
            self._ldap = None
        if self._process is not None:
            _terminate(self._process)
            self._process = None
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor releases the flock
            self._lock = None

    def require_strong_auth(self, value: Literal["yes", "allow_sasl_over_tls", "no"]) -> None:
        """Set Samba's "ldap server require strong auth" for this DC (restarting it if it runs):
        "yes" is a DC that requires LDAP signing, as the lab's DCs do; "allow_sasl_over_tls" also
        takes SASL binds over TLS without checking their channel binding."""
        text = self.conf.read_text()
        setting = "ldap server require strong auth = "
        start = text.index(setting) + len(setting)
        self.conf.write_text(text[:start] + value + text[text.index("\n", start) :])
        if self.running:
            self.stop()
            self.start()

    # --- directory content -----------------------------------------------------------------

    def apply(self, scenario: dict[str, Any] | DirectoryScenario) -> None:
        """Add what a scenario's directory section describes (see the module docstring)."""
        spec = scenario if isinstance(scenario, DirectoryScenario) else parse_directory(scenario)
        if (spec.realm.upper(), spec.netbios.upper()) != (self.realm, self.domain):
            raise SambaError(
                f"the directory scenario is for {spec.realm} ({spec.netbios}) but this DC serves "
                f"{self.realm} ({self.domain}); start a DC for that realm"
            )
        for group in spec.groups:
            self.add_group(group.name, group.groups)
        for user in spec.users:
            self.add_user(user.name, user.password, user.groups)
        for c in spec.computers:
            self.add_computer(c.name, c.dns_host_name, c.uac, c.spns, c.delegate_to)
        # Resource-based delegation names other accounts by SID, so every account exists first.
        for c in spec.computers:
            if c.allowed_to_act:
                self.allow_to_act(c.name, c.allowed_to_act)
        for t in spec.trusts:
            self.add_trust(t.partner, t.flat_name, t.direction, t.type, t.attributes, t.sid)

    def add_group(self, name: str, groups: tuple[str, ...] | list[str] = ()) -> str:
        dn = f"CN={escape_rdn(name)},CN=Users,{self.base_dn}"
        self._add(dn, ["top", "group"], {"sAMAccountName": name, "groupType": str(_GLOBAL_SECURITY_GROUP)})
        self._join(dn, groups)
        return dn

    def add_user(self, name: str, password: str, groups: tuple[str, ...] | list[str] = ()) -> str:
        dn = f"CN={escape_rdn(name)},CN=Users,{self.base_dn}"
        self._add(
            dn,
            ["top", "person", "organizationalPerson", "user"],
            {
                "sAMAccountName": name,
                "userPrincipalName": f"{name}@{self.dns_domain}",
                "unicodePwd": _password(password),
                "userAccountControl": str(UAC_FLAGS["NORMAL_ACCOUNT"]),
            },
        )
        self._join(dn, groups)
        return dn

    def add_computer(
        self,
        name: str,
        dns_host_name: str,
        uac: int = UAC_FLAGS["WORKSTATION_TRUST_ACCOUNT"],
        spns: list[str] | None = None,
        delegate_to: list[str] | tuple[str, ...] = (),
    ) -> str:
        if spns is None:
            spns = [f"{s}/{n}" for s in ("HOST", MIGRATION_SERVICE) for n in (name, dns_host_name)]
        dn = f"CN={escape_rdn(name)},CN=Computers,{self.base_dn}"
        attributes: dict[str, Any] = {
            "sAMAccountName": f"{name}$",
            "dNSHostName": dns_host_name,
            "userAccountControl": str(uac),
            # A password the lab never uses: Samba's policy refuses enabled accounts without one.
            "unicodePwd": _password(f"Lab-{hashlib.sha256(name.encode()).hexdigest()[:16]}!"),
        }
        if spns:
            attributes["servicePrincipalName"] = list(spns)
        if delegate_to:
            attributes["msDS-AllowedToDelegateTo"] = list(delegate_to)
        self._add(dn, ["top", "person", "organizationalPerson", "user", "computer"], attributes)
        return dn

    def allow_to_act(self, computer: str, principals: list[str]) -> None:
        """Resource-based constrained delegation: ``principals`` (computer names) may delegate to
        ``computer``; the security descriptor is written over LDAP, as an admin would."""
        sd = _allow_sd([self._sid(f"{p}$") for p in principals])
        dn = self._dn(f"{computer}$")
        try:
            self._admin().modify(
                dn, {"msDS-AllowedToActOnBehalfOfOtherIdentity": [(ldap3.MODIFY_REPLACE, [sd])]}
            )
        except LDAPException as exc:
            raise SambaError(f"the lab DC refused resource-based delegation to {dn}: {exc}") from None

    def add_trust(
        self,
        partner: str,
        flat_name: str,
        direction: int,
        trust_type: int = 2,
        attributes: int = 8,
        sid: str | None = None,
    ) -> None:
        """A trustedDomain object. Samba refuses creating them over LDAP, so ldbadd writes it into
        sam.ldb; without securityIdentifier (as text) ldbadd silently adds nothing."""
        ldif = (
            f"dn: CN={partner},CN=System,{self.base_dn}\n"
            "objectClass: trustedDomain\n"
            f"trustPartner: {partner}\n"
            f"flatName: {flat_name}\n"
            f"trustDirection: {direction}\n"
            f"trustType: {trust_type}\n"
            f"trustAttributes: {attributes}\n"
            f"securityIdentifier: {sid or _derived_sid(partner)}\n"
        )
        _run(["ldbadd", "-H", str(self._sam)], f"adding the trust to {partner}", ldif)

    def deny_read(self, name: str) -> None:
        """Deny account ``name`` reading the domain object's properties (a rights failure to test)."""
        _run(
            [
                "samba-tool",
                "dsacl",
                "set",
                "-H",
                str(self._sam),
                f"--objectdn={self.base_dn}",
                f"--sddl=(D;;RP;;;{self._sid(name)})",
            ],
            f"denying {name} read access",
        )

    # --- helpers ----------------------------------------------------------------------------

    def _admin(self) -> ldap3.Connection:
        if not self.running:
            raise SambaError(f"the lab DC for {self.realm} is not running; start() it first")
        if self._ldap is None:
            tls = ldap3.Tls(
                validate=ssl.CERT_REQUIRED, ca_certs_file=str(self.ca_bundle), valid_names=[self.dc_hostname]
            )
            server = ldap3.Server(ADDRESS, LDAPS_PORT, use_ssl=True, tls=tls, get_info=ldap3.NONE)
            self._ldap = ldap3.Connection(
                server, self.admin, self.admin_password, auto_bind=True, raise_exceptions=True
            )
        return self._ldap

    def _add(self, dn: str, object_class: list[str], attributes: dict[str, Any]) -> None:
        try:
            self._admin().add(dn, object_class, attributes)
        except LDAPException as exc:
            raise SambaError(f"the lab DC refused to add {dn}: {exc}") from None

    def _dn(self, sam_account_name: str) -> str:
        conn = self._admin()
        conn.search(self.base_dn, f"(sAMAccountName={escape_filter_chars(sam_account_name)})", attributes=[])
        found = [e["dn"] for e in conn.response if e["type"] == "searchResEntry"]
        if not found:
            raise SambaError(f"the lab directory has no account or group named {sam_account_name}")
        return found[0]

    def _sid(self, sam_account_name: str) -> str:
        conn = self._admin()
        conn.search(self._dn(sam_account_name), "(objectClass=*)", ldap3.BASE, attributes=["objectSid"])
        return format_sid(conn.response[0]["raw_attributes"]["objectSid"][0])

    def _join(self, member: str, groups: tuple[str, ...] | list[str]) -> None:
        for group in groups:
            self._admin().modify(self._dn(group), {"member": [(ldap3.MODIFY_ADD, [member])]})

    def _template(self) -> Path:
        """A provisioned, once started domain for these parameters, created when missing. Runs
        under the port lock, so concurrent sessions never build the same template twice."""
        version = subprocess.run(["samba", "--version"], capture_output=True, text=True).stdout.strip()
        key = hashlib.sha256(
            "\0".join(
                [
                    version,
                    self.realm,
                    self.domain,
                    self.admin_password,
                    _SERVICES,
                    _STRONG_AUTH,
                    "rbcd-writable",
                ]
            ).encode()
        ).hexdigest()[:16]
        template = self.template_cache / f"{self.dns_domain}-{key}"
        if (template / "etc" / "smb.conf").exists():
            return template
        self.template_cache.mkdir(parents=True, exist_ok=True)
        build = Path(tempfile.mkdtemp(prefix=f".{template.name}.", dir=self.template_cache))
        try:
            self._provision(build)
            # The first start generates the TLS certificate; later starts are faster, too.
            process = _launch(build)
            try:
                _wait_ready(process, build)
            finally:
                _terminate(process)
            conf = build / "etc" / "smb.conf"
            conf.write_text(conf.read_text().replace(str(build), _PLACEHOLDER))
            shutil.rmtree(template, ignore_errors=True)  # an incomplete one, from an interrupted build
            build.rename(template)
        finally:
            shutil.rmtree(build, ignore_errors=True)
        return template

    def _provision(self, target: Path) -> None:
        options = {
            "netbios name": HOST_NAME,
            "interfaces": ADDRESS,
            "bind interfaces only": "yes",
            "server services": _SERVICES,
            "dns forwarder": ADDRESS,
            "pid directory": f"{target}/run",
            "ncalrpc dir": f"{target}/run/ncalrpc",
            "winbindd socket directory": f"{target}/run/winbindd",
            "log file": f"{target}/samba.log",
        }
        command = [
            "samba-tool",
            "domain",
            "provision",
            f"--targetdir={target}",
            f"--realm={self.realm}",
            f"--domain={self.domain}",
            f"--adminpass={self.admin_password}",
            "--server-role=dc",
            "--dns-backend=NONE",
            f"--host-name={HOST_NAME.lower()}",
            *(f"--option={k}={v}" for k, v in options.items()),
        ]
        _run(command, f"provisioning {self.realm}")
        conf = target / "etc" / "smb.conf"
        # Provisioning drops this option, so it goes into smb.conf afterwards.
        conf.write_text(
            conf.read_text().replace(
                "[global]\n", f"[global]\n\tldap server require strong auth = {_STRONG_AUTH}\n", 1
            )
        )
        # The dnsupdate service would register the DC's SPNs (ldap/...); it is not run, so register
        # them once here: Kerberos binds need ldap/<dc_hostname>.
        _run(["samba_spnupdate", "-s", str(conf)], f"registering the SPNs of {self.realm}")
        # Samba 4.17's schema marks msDS-AllowedToActOnBehalfOfOtherIdentity systemOnly, which
        # Windows' schema (2012 and later) does not: admins set it over LDAP (Set-ADComputer
        # -PrincipalsAllowedToDelegateToAccount), and so does lmready's remediation. Match Windows.
        schema_dn = (
            f"CN=ms-DS-Allowed-To-Act-On-Behalf-Of-Other-Identity,CN=Schema,CN=Configuration,{self.base_dn}"
        )
        _run(
            [
                "ldbmodify",
                "-H",
                str(target / "private" / "sam.ldb"),
                "--option=dsdb:schema update allowed=true",
            ],
            f"making resource-based delegation writable in {self.realm}",
            f"dn: {schema_dn}\nchangetype: modify\nreplace: systemOnly\nsystemOnly: FALSE\n",
        )

    def _copy_template(self, template: Path) -> None:
        def skip(directory: str, names: list[str]) -> list[str]:
            return [
                n
                for n in names
                if n in ("run", "msg.sock", "msg.lock", "samba.log")
                or stat.S_ISSOCK(os.lstat(os.path.join(directory, n)).st_mode)
            ]

        self.workdir.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(template, self.workdir, ignore=skip, dirs_exist_ok=True)
        self.conf.write_text(self.conf.read_text().replace(_PLACEHOLDER, str(self.workdir)))


# --- processes ---------------------------------------------------------------------------------


def _default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lmready" / "samba"


def _run(command: list[str], what: str, stdin: str | None = None) -> None:
    result = subprocess.run(command, input=stdin, capture_output=True, text=True)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise SambaError(
            f"{what} failed ({command[0]} exit {result.returncode}): {lines[-1] if lines else ''}"
        )


def _acquire_lock(timeout: float) -> int:
    fd = os.open(_LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                raise SambaError(
                    f"another lab DC held {_LOCK} for {timeout:.0f} s; wait for its session to end"
                ) from None
            time.sleep(0.2)


def _launch(directory: Path) -> subprocess.Popen:
    log = open(directory / "samba.log", "ab")  # noqa: SIM115 - the child keeps it
    try:
        return subprocess.Popen(
            ["samba", "-s", str(directory / "etc" / "smb.conf"), "-i", "-M", "standard"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() reaches every task
        )
    finally:
        log.close()


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _ldaps_answers() -> bool:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # readiness only; clients validate
    try:
        with socket.create_connection((ADDRESS, LDAPS_PORT), timeout=0.5) as sock:
            context.wrap_socket(sock).close()
        return True
    except OSError:
        return False


def _wait_ready(process: subprocess.Popen, directory: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not (_ldaps_answers() and _answers(ADDRESS, KDC_PORT)):
        if process.poll() is not None:
            tail = (directory / "samba.log").read_text(errors="replace").strip().splitlines()[-3:]
            raise SambaError(
                f"samba exited with {process.returncode} before LDAPS answered: {' / '.join(tail)}"
            )
        if time.monotonic() > deadline:
            raise SambaError(f"samba did not answer on {ADDRESS}:{LDAPS_PORT} within {timeout:.0f} s")
        time.sleep(0.05)


def _terminate(process: subprocess.Popen) -> None:
    """SIGTERM the group (samba exits 127 then, which is normal) and wait until no member runs;
    SIGKILL what is left after 10 s."""
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while _group_running(process.pid) and time.monotonic() < deadline:
            process.poll()
            time.sleep(0.02)
        if not _group_running(process.pid):
            break
    process.wait()


def _group_running(pgid: int) -> bool:
    """Whether a process of the group still runs. Zombies do not count: the tasks samba leaves
    behind are reaped by init whenever it gets to it, and they hold no sockets."""
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


# --- encodings ---------------------------------------------------------------------------------


def _password(text: str) -> bytes:
    return f'"{text}"'.encode("utf-16-le")


def _derived_sid(name: str) -> str:
    digest = hashlib.sha256(name.lower().encode()).digest()
    parts = struct.unpack("<3I", digest[:12])
    return "S-1-5-21-" + "-".join(str(p) for p in parts)


def _binary_sid(text: str) -> bytes:
    _, revision, authority, *subs = text.split("-")
    return (
        struct.pack("<BB", int(revision), len(subs))
        + int(authority).to_bytes(6, "big")
        + b"".join(struct.pack("<I", int(s)) for s in subs)
    )


def _allow_sd(sids: list[str]) -> bytes:
    """A self-relative security descriptor, owner BUILTIN\\Administrators, whose DACL grants each
    SID full access: what ADUC writes into msDS-AllowedToActOnBehalfOfOtherIdentity."""
    aces = b""
    for sid in sids:
        body = struct.pack("<I", 0x000F01FF) + _binary_sid(sid)
        aces += struct.pack("<BBH", 0, 0, 4 + len(body)) + body  # ACCESS_ALLOWED_ACE
    dacl = struct.pack("<BBHHH", 2, 0, 8 + len(aces), len(sids), 0) + aces
    owner = _binary_sid("S-1-5-32-544")
    header = 20
    # revision 1, control SE_SELF_RELATIVE | SE_DACL_PRESENT, owner, no group, no SACL, DACL
    return struct.pack("<BBHIIII", 1, 0, 0x8004, header, 0, 0, header + len(owner)) + owner + dacl
