"""The inventory: which hosts, which pairs, which policy, which waivers.

Validation reports every mistake as one sentence that starts with ``file:line:``; the plugin
turns them into pytest's usage error (exit code 4). Nothing here opens a connection.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import types
import typing
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lmready.facts import AuthenticationType, AuthType, PerfOption, PerformanceOption
from lmready.yamlsource import Loc, Located, YamlError, dotted, load, may_be_secret

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
CHECK_ID = re.compile(r"^LMR-\d{3}$")


class InventoryError(Exception):
    """Every problem found, one sentence each."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def is_dns_name(name: str) -> bool:
    """RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens."""
    if not name or len(name) > 253:
        return False
    return all(_LABEL.match(label) for label in name.rstrip(".").split("."))


def _dns_name(value: str) -> str:
    if not is_dns_name(value):
        raise ValueError(f"'{value}' is not a valid host name (letters, digits, hyphens and dots only)")
    return value


def _address(value: str) -> str:
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        return _dns_name(value)


def _network(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise ValueError(f"'{value}' is not a subnet; write it like 10.10.0.0/24 or fd00::/64") from None


def _env_name(value: str) -> str:
    if not _ENV_NAME.match(value):
        # Not quoted: a password written here by mistake must not be printed back.
        raise ValueError(
            "must be the name of an environment variable (letters, digits and underscores), "
            "never the value itself"
        )
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WinRM(Strict):
    scheme: Literal["https", "http"] | None = None
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    auth: Literal["negotiate", "kerberos", "ntlm", "basic", "credssp", "certificate"] | None = None
    credential: str | None = None
    verify_tls: bool | None = None
    ca_bundle: str | None = None
    client_certificate: str | None = None  # auth: certificate (PEM files)
    client_key: str | None = None
    connect_timeout: Annotated[float, Field(gt=0, le=600)] | None = None
    operation_timeout: Annotated[float, Field(gt=0, le=3600)] | None = None


@dataclass(frozen=True)
class Connection:
    """The effective WinRM settings of one host (defaults merged with its overrides)."""

    scheme: str
    port: int
    auth: str
    credential: str | None
    verify_tls: bool
    ca_bundle: str | None
    client_certificate: str | None
    client_key: str | None
    connect_timeout: float
    operation_timeout: float


class Credential(Strict):
    username: str | None = None
    username_env: str | None = None
    password_env: str | None = None
    keyring_service: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_passwords(cls, data: Any) -> Any:
        if isinstance(data, dict) and "password" in data:
            raise ValueError(
                "passwords are never read from the inventory; use password_env (an environment "
                "variable name) or keyring_service instead"
            )
        return data

    @field_validator("username_env", "password_env")
    @classmethod
    def _env(cls, value: str | None) -> str | None:
        return value and _env_name(value)

    @model_validator(mode="after")
    def _one_username(self) -> Credential:
        if (self.username is None) == (self.username_env is None):
            raise ValueError("give exactly one of username or username_env")
        if self.password_env and self.keyring_service:
            raise ValueError("give one of password_env or keyring_service, not both")
        return self


def _no_smbtransport(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() == "smbtransport":
        raise ValueError(
            "SMBTransport is not a value of VirtualMachineMigrationPerformanceOption "
            "(the article is wrong); use SMB"
        )
    return value


class PolicyFields(Strict):
    authentication: AuthType | None = None
    performance: PerfOption | None = None
    simultaneous_migrations: Annotated[int, Field(ge=1, le=64)] | None = None
    trusted_subnets: list[str] | None = None
    migration_networks: list[str] | None = None  # subnets the N2 fix adds with Add-VMMigrationNetwork
    require_isolation: bool | None = None
    require_rdma: bool | None = None
    max_clock_skew_seconds: Annotated[int, Field(ge=1, le=3600)] | None = None
    # The estate's Kerberos delegation mechanism: what A2's fix adds (both pass A2).
    delegation: Literal["classic", "rbcd"] | None = None

    @field_validator("performance", mode="before")
    @classmethod
    def _perf(cls, value: Any) -> Any:
        return _no_smbtransport(value)

    @field_validator("trusted_subnets", "migration_networks")
    @classmethod
    def _subnets(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [_network(v) for v in value]


@dataclass(frozen=True)
class Policy:
    """What the estate should look like; defaults are Microsoft's recommendations."""

    authentication: AuthenticationType = AuthenticationType.KERBEROS
    performance: PerformanceOption = PerformanceOption.COMPRESSION
    simultaneous_migrations: int = 2
    trusted_subnets: tuple[str, ...] = ()
    migration_networks: tuple[str, ...] = ()
    require_isolation: bool = True
    require_rdma: bool = False
    max_clock_skew_seconds: int = 300
    delegation: str = "classic"

    def merged(self, fields: PolicyFields | None) -> Policy:
        if fields is None:
            return self
        changes = {k: v for k, v in fields.model_dump(exclude_none=True).items()}
        for key in ("trusted_subnets", "migration_networks"):
            if key in changes:
                changes[key] = tuple(changes[key])
        return Policy(**{**self.__dict__, **changes})


class HostEntry(Strict):
    name: str
    address: str | None = None
    winrm: WinRM | None = None
    policy: PolicyFields | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _dns_name(value)

    @field_validator("address")
    @classmethod
    def _addr(cls, value: str | None) -> str | None:
        return value and _address(value)


class DomainEntry(Strict):
    name: str
    url: str
    credential: str | None = None  # none: a Kerberos bind with the caller's ticket
    auth: Literal["simple", "ntlm", "kerberos"] = "simple"
    ca_bundle: str | None = None
    tls_server_name: str | None = None  # the name in the DC's certificate, when the URL holds another
    start_tls: bool = False
    allow_plain_ldap: bool = False
    connect_timeout: Annotated[float, Field(gt=0, le=600)] = 10.0

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _dns_name(value)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        match = re.match(r"^(ldaps?)://([^/:]+)(?::(\d{1,5}))?/?$", value)
        if not match or (not is_dns_name(match.group(2)) and not is_ip(match.group(2))):
            if "@" in value:  # user:password@ in the URL: never printed back
                raise ValueError(
                    "holds a user name or password (user:password@); put the URL without them "
                    "here and name a credential with credential:"
                )
            shown = re.split(r"[?#]", value)[0]
            raise ValueError(f"'{shown}' is not an LDAP URL like ldaps://dc01.corp.example.com")
        return value

    @model_validator(mode="after")
    def _plain(self) -> DomainEntry:
        # Kerberos and NTLM binds seal a plain LDAP session (lmready.ldap_sasl); a simple bind does not.
        sealed = self.auth in ("kerberos", "ntlm")
        if self.url.startswith("ldap://") and not (self.start_tls or self.allow_plain_ldap or sealed):
            raise ValueError(
                "plain ldap:// sends a simple bind's credentials unprotected; use ldaps://, start_tls: "
                "true, auth: kerberos or ntlm (sealed), or say allow_plain_ldap: true"
            )
        return self


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


class Directory(Strict):
    domains: list[DomainEntry] = Field(default_factory=list)


class PairEntry(Strict):
    src: str | None = None
    dst: str | None = None
    both_ways: bool = False
    mesh: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> PairEntry:
        if self.mesh is not None:
            if self.src or self.dst or self.both_ways:
                raise ValueError("a pair is either {src, dst[, both_ways]} or {mesh: GROUP}, not both")
        elif not (self.src and self.dst):
            raise ValueError("a pair needs src and dst (or mesh: GROUP)")
        elif self.src == self.dst:
            raise ValueError(f"src and dst are both '{self.src}'; a host cannot migrate to itself")
        return self


class WaiverEntry(Strict):
    check: str
    target: str = "*"
    justification: str
    expires: date | None = None

    @field_validator("check")
    @classmethod
    def _check(cls, value: str) -> str:
        if not CHECK_ID.match(value):
            raise ValueError(f"'{value}' is not a check ID like LMR-042 (see the check catalogue)")
        return value

    @field_validator("justification")
    @classmethod
    def _why(cls, value: str) -> str:
        if len(value.strip()) < 10:
            raise ValueError("a waiver needs a real justification (at least 10 characters)")
        return value.strip()


class Defaults(Strict):
    winrm: WinRM | None = None


class InventoryFile(Strict):
    version: Literal[1] = 1
    facts: str | None = None
    defaults: Defaults | None = None
    credentials: dict[str, Credential] = Field(default_factory=dict)
    directory: Directory | None = None
    hosts: list[HostEntry] = Field(min_length=1)
    groups: dict[str, list[str]] = Field(default_factory=dict)
    pairs: list[PairEntry] = Field(default_factory=list)
    policy: PolicyFields | None = None
    waivers: list[WaiverEntry] = Field(default_factory=list)


class WaiverFile(Strict):
    waivers: list[WaiverEntry] = Field(default_factory=list)


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    connection: Connection
    policy: Policy


@dataclass(frozen=True)
class Waiver:
    check: str
    target: str
    justification: str
    expires: date | None
    where: str  # file:line, for messages

    def is_expired(self, today: date) -> bool:
        return self.expires is not None and self.expires < today


@dataclass(frozen=True)
class Inventory:
    path: Path
    hosts: dict[str, Host]
    pairs: tuple[tuple[str, str], ...]
    policy: Policy
    credentials: dict[str, Credential]
    domains: tuple[DomainEntry, ...]
    waivers: tuple[Waiver, ...]
    facts_dir: Path | None


_DEFAULT_CONNECTION = Connection(
    scheme="https",
    port=5986,
    auth="negotiate",
    credential=None,
    verify_tls=True,
    ca_bundle=None,
    client_certificate=None,
    client_key=None,
    connect_timeout=10.0,
    operation_timeout=60.0,
)


def load_inventory(path: Path) -> Inventory:
    """Read and validate an inventory; raises InventoryError listing every problem."""
    try:
        located = load(path)
    except YamlError as exc:
        raise InventoryError(exc.problems) from None
    if not isinstance(located.data, dict):
        raise InventoryError(
            [f"{path}:1: an inventory is a mapping with at least a hosts: list; see README.md."]
        )
    data = dict(located.data)

    problems: list[str] = []
    waiver_source = located
    if isinstance(data.get("waivers"), str):
        waiver_source, waivers_data = _load_waiver_file(path.parent / data["waivers"], located)
        data["waivers"] = []
        try:
            WaiverFile.model_validate(waivers_data)
        except ValidationError as exc:
            problems += _explain(exc, waiver_source, WaiverFile)
    else:
        waivers_data = {"waivers": data.get("waivers", [])}

    raw = None
    try:
        raw = InventoryFile.model_validate(data)
    except ValidationError as exc:
        problems += _explain(exc, located, InventoryFile)
    # References are checked on the raw data too, so one run lists every mistake.
    problems += _reference_problems(data, located)
    if raw is not None and raw.facts is not None:
        facts_dir = (path.parent / raw.facts).resolve()
        try:
            is_dir = facts_dir.is_dir()
        except OSError as exc:  # a name longer than the file system allows, say
            problems.append(
                f"{located.where(('facts',))}: facts directory '{raw.facts}' cannot be read "
                f"({exc.strerror or exc}); fix the path or remove the key."
            )
            is_dir = True
        if not is_dir:
            problems.append(
                f"{located.where(('facts',))}: facts directory '{raw.facts}' does not exist "
                f"(resolved to {facts_dir}); fix the path or remove the key."
            )
    if problems or raw is None:
        raise InventoryError(problems)

    waivers_raw = WaiverFile.model_validate(waivers_data).waivers
    base = _merge_winrm(_DEFAULT_CONNECTION, raw.defaults.winrm if raw.defaults else None)
    policy = Policy().merged(raw.policy)
    hosts = {
        entry.name: Host(
            entry.name,
            entry.address or entry.name,
            _merge_winrm(base, entry.winrm),
            policy.merged(entry.policy),
        )
        for entry in raw.hosts
    }
    pairs: dict[tuple[str, str], None] = {}
    for pair in raw.pairs:
        if pair.mesh is not None:
            members = list(dict.fromkeys(raw.groups[pair.mesh]))
            pairs.update({(a, b): None for a in members for b in members if a != b})
        else:
            pairs[(pair.src, pair.dst)] = None
            if pair.both_ways:
                pairs[(pair.dst, pair.src)] = None
    return Inventory(
        path=path,
        hosts=hosts,
        pairs=tuple(pairs),
        policy=policy,
        credentials=dict(raw.credentials),
        domains=tuple(raw.directory.domains if raw.directory else ()),
        waivers=tuple(
            Waiver(w.check, w.target, w.justification, w.expires, waiver_source.where(("waivers", i)))
            for i, w in enumerate(waivers_raw)
        ),
        facts_dir=(path.parent / raw.facts).resolve() if raw.facts else None,
    )


def _load_waiver_file(path: Path, inventory: Located) -> tuple[Located, Any]:
    if not path.is_file():
        raise InventoryError(
            [
                f"{inventory.where(('waivers',))}: waiver file '{path}' does not exist; fix the path, or list the "
                "waivers inline."
            ]
        )
    try:
        source = load(path.resolve(), display=_display(path.resolve()))
    except YamlError as exc:
        raise InventoryError(exc.problems) from None
    data = source.data if source.data is not None else {}
    if not isinstance(data, dict):
        raise InventoryError([f"{source.path}:1: a waiver file is a mapping with a waivers: list."])
    return source, data


def _items(value: Any) -> list[tuple[int, dict]]:
    return [(i, v) for i, v in enumerate(value) if isinstance(v, dict)] if isinstance(value, list) else []


def _reference_problems(data: dict[str, Any], located: Located) -> list[str]:
    """Names that must refer to something defined elsewhere in the file, checked leniently so
    that they are reported even when other parts of the file are malformed."""
    problems: list[str] = []
    hosts: list[str] = []
    credentials = data.get("credentials") if isinstance(data.get("credentials"), dict) else {}
    groups = data.get("groups") if isinstance(data.get("groups"), dict) else {}

    def credential(name: Any, loc: Loc, whose: str) -> None:
        if isinstance(name, str) and name not in credentials:
            # The name is not repeated: a password written here by mistake must not be printed.
            defined = ", ".join(f"'{c}'" for c in credentials) or "none"
            problems.append(
                f"{located.where(loc)}: {whose} names a credential that is not defined under "
                f"credentials: (defined: {defined}); write one of those names here, never a password."
            )

    defaults = data.get("defaults")
    if isinstance(defaults, dict) and isinstance(defaults.get("winrm"), dict):
        credential(defaults["winrm"].get("credential"), ("defaults", "winrm", "credential"), "defaults")
    for i, entry in _items(data.get("hosts")):
        name = entry.get("name")
        if not isinstance(name, str):
            continue
        if name in hosts:
            problems.append(
                f"{located.where(('hosts', i, 'name'))}: host '{name}' is listed twice; keep one entry."
            )
        hosts.append(name)
        if isinstance(entry.get("winrm"), dict):
            credential(
                entry["winrm"].get("credential"), ("hosts", i, "winrm", "credential"), f"host '{name}'"
            )
    directory = data.get("directory")
    for i, domain in _items(directory.get("domains") if isinstance(directory, dict) else None):
        credential(domain.get("credential"), ("directory", "domains", i, "credential"), "the domain entry")

    def known(name: Any, loc: Loc, what: str) -> None:
        if not isinstance(name, str) or name in hosts:
            return
        hint = difflib.get_close_matches(name, hosts, n=1, cutoff=0.5)
        suggestion = f"; did you mean '{hint[0]}'?" if hint else "; add it under hosts: or fix the name."
        problems.append(f"{located.where(loc)}: {what} '{name}' is not a host of this inventory{suggestion}")

    for group, members in groups.items():
        for j, member in enumerate(members if isinstance(members, list) else []):
            known(member, ("groups", group, j), f"group '{group}' member")
    for i, pair in _items(data.get("pairs")):
        mesh = pair.get("mesh")
        if isinstance(mesh, str) and mesh not in groups:
            problems.append(
                f"{located.where(('pairs', i, 'mesh'))}: mesh names group '{mesh}', which is not "
                "defined under groups:; define it or fix the name."
            )
        known(pair.get("src"), ("pairs", i, "src"), "src")
        known(pair.get("dst"), ("pairs", i, "dst"), "dst")
    return problems


def _display(path: Path) -> Path:
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def _merge_winrm(base: Connection, override: WinRM | None) -> Connection:
    if override is None:
        return base
    values = {**base.__dict__, **override.model_dump(exclude_none=True)}
    if override.port is None and override.scheme is not None and base.port in (5985, 5986):
        values["port"] = 5986 if override.scheme == "https" else 5985
    return Connection(**values)


# --- turning pydantic's errors into sentences -------------------------------------------------


def _explain(exc: ValidationError, located: Located, root: type[BaseModel]) -> list[str]:
    problems = []
    for err in exc.errors(include_url=False):
        loc: Loc = tuple(err["loc"])
        where = located.where(loc)
        path_text = dotted(loc) or "top level"
        kind = err["type"]
        if kind == "extra_forbidden" and loc:
            allowed = _allowed_keys(root, loc[:-1])
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"allowed keys here: {', '.join(allowed)}."
            problems.append(f"{where}: unknown key '{loc[-1]}' in {dotted(loc[:-1]) or 'top level'}; {hint}")
        elif kind == "missing" and loc:
            problems.append(
                f"{where}: {dotted(loc[:-1]) or 'top level'} is missing the required key '{loc[-1]}'; add it."
            )
        elif kind == "value_error":
            message = str(err["msg"]).removeprefix("Value error, ")
            problems.append(f"{where}: {path_text}: {message}.")
        elif may_be_secret(loc):
            problems.append(f"{where}: {path_text}: {_lower_first(err['msg'])} (value not shown); fix it.")
        else:
            shown = repr(err.get("input"))
            if len(shown) > 60:
                shown = shown[:57] + "..."
            problems.append(f"{where}: {path_text}: {_lower_first(err['msg'])} (got {shown}); fix the value.")
    return problems


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _allowed_keys(model: type[BaseModel], loc: Loc) -> list[str]:
    """Walk the model along ``loc`` to list the keys allowed where an unknown key was found."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel) and isinstance(part, str):
            field = current.model_fields.get(part)
            current = field.annotation if field else None
        elif typing.get_origin(current) in (list, dict):
            current = typing.get_args(current)[-1]
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = args[0] if len(args) == 1 else tp
            if len(args) != 1:
                return tp
        else:
            return tp
