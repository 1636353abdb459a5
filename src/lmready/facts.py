"""Typed facts: what a host and a directory say about themselves.

Collectors (saved JSON files, PowerShell Remoting, LDAP) fill these models; checks only read
them. The models are the contract between the two, so they carry a schema version and are
exported as JSON Schema into ``schema/``.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

SCHEMA_VERSION = 1


class AuthenticationType(StrEnum):
    """Get-VMHost .VirtualMachineMigrationAuthenticationType (CredSSP = 0, Kerberos = 1)."""

    CREDSSP = "CredSSP"
    KERBEROS = "Kerberos"


class PerformanceOption(StrEnum):
    """Get-VMHost .VirtualMachineMigrationPerformanceOption; there is no SMBTransport."""

    TCPIP = "TCPIP"
    COMPRESSION = "Compression"
    SMB = "SMB"


def _enum_by_number_or_name(enum: type[StrEnum]):
    """Windows PowerShell 5.1 prints enums as numbers unless cast to [string]: accept both."""
    members = list(enum)
    by_lower = {m.value.lower(): m for m in members}

    def parse(value: Any) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and 0 <= value < len(members):
            return members[value]
        if isinstance(value, str):
            text = value.strip()
            if text.isdigit() and int(text) < len(members):
                return members[int(text)]
            return by_lower.get(text.lower(), text)
        return value

    return BeforeValidator(parse)


AuthType = Annotated[AuthenticationType, _enum_by_number_or_name(AuthenticationType)]
PerfOption = Annotated[PerformanceOption, _enum_by_number_or_name(PerformanceOption)]


def _as_list(value: Any) -> Any:
    """PowerShell 5.1 prints a one-element array as a bare object and an empty one as null."""
    if value is None:
        return []
    if isinstance(value, dict | str):
        return [value]
    return value


def ListOf(item: Any) -> Any:
    return Annotated[list[item], BeforeValidator(_as_list)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class OperatingSystem(Model):
    caption: str
    build: int = Field(description="Windows build number, e.g. 20348 for Windows Server 2022")


class HyperV(Model):
    feature_installed: bool = Field(description="Windows feature Hyper-V is Installed")
    powershell_module: bool = Field(description="Hyper-V PowerShell module (Hyper-V-PowerShell)")
    vmms_status: str = Field(description="Status of the vmms service, e.g. Running")


class Migration(Model):
    """The live migration properties of Get-VMHost."""

    enabled: bool = Field(description="VirtualMachineMigrationEnabled")
    authentication_type: AuthType
    performance_option: PerfOption
    use_any_network: bool = Field(description="UseAnyNetworkForMigration")
    maximum_migrations: int = Field(description="MaximumVirtualMachineMigrations")


class MigrationNetwork(Model):
    subnet: str = Field(description="Get-VMMigrationNetwork .Subnet, e.g. 10.10.0.0/24")
    priority: int = 0

    @property
    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        return ipaddress.ip_network(self.subnet, strict=False)


class Address(Model):
    address: str
    prefix_length: int

    @property
    def ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        return ipaddress.ip_address(self.address.split("%")[0])


class FirewallRule(Model):
    name: str
    enabled: bool


class Smb(Model):
    rdma_enabled: bool = Field(description="Get-NetAdapterRdma reports an enabled adapter")
    multichannel_enabled: bool


class VirtualMachine(Model):
    name: str
    state: str = Field(description="Running, Off, Saved, ...")
    version: str = Field(description="Get-VM .Version, e.g. '9.0'")
    memory_bytes: int = Field(description="memory assigned (running) or at startup (off)")
    switches: ListOf(str) = Field(default_factory=list)
    processor_compatibility: bool = False


class VirtualSwitch(Model):
    name: str
    switch_type: str = "External"


class Cpu(Model):
    vendor: str = Field(description="GenuineIntel or AuthenticAMD")
    model: str = ""


class Clock(Model):
    """The host's clock and the runner's clock, read in the same round trip."""

    host_utc: datetime
    runner_utc: datetime

    @property
    def offset_seconds(self) -> float:
        return (self.host_utc - self.runner_utc).total_seconds()


class Session(Model):
    user: str
    group_sids: ListOf(str) = Field(default_factory=list)


class PortProbe(Model):
    """A TCP connect from this host to another host's migration address (pair round)."""

    dst: str = Field(description="inventory name of the destination host")
    address: str
    port: int
    open: bool


class Preflight(Model):
    """What the machine running the suite saw before collecting (X5)."""

    resolved: bool
    winrm_port_open: bool
    detail: str = ""


class HostFacts(Model):
    schema_version: Literal[1] = SCHEMA_VERSION
    kind: Literal["host"] = "host"
    name: str = Field(description="inventory name of the host")
    computer_name: str = Field(description="$env:COMPUTERNAME: the NetBIOS name, at most 15 characters")
    dns_host_name: str = Field(
        default="",
        description="Win32_ComputerSystem.DNSHostName: the host label of its DNS name, never cut to 15 "
        "characters; empty in snapshots taken before it was collected",
    )
    domain: str
    part_of_domain: bool
    collected_at: datetime
    os: OperatingSystem
    hyperv: HyperV
    migration: Migration | None = Field(
        default=None, description="null when Get-VMHost could not be read (see unread)"
    )
    migration_networks: ListOf(MigrationNetwork) = Field(default_factory=list)
    supported_versions: ListOf(str) = Field(
        default_factory=list, description="Get-VMHostSupportedVersion .Version as strings"
    )
    addresses: ListOf(Address) = Field(default_factory=list)
    firewall_rule: FirewallRule | None = Field(
        default=None, description="VIRT-MIGL-In-TCP-NoScope; null when the rule does not exist"
    )
    smb: Smb
    vms: ListOf(VirtualMachine) = Field(default_factory=list)
    switches: ListOf(VirtualSwitch) = Field(default_factory=list)
    cpu: Cpu
    free_memory_bytes: int
    clock: Clock
    session: Session
    credential_guard_running: bool | None = None
    probes: ListOf(PortProbe) = Field(default_factory=list)
    preflight: Preflight | None = None
    unread: dict[str, str] = Field(
        default_factory=dict,
        description="facts (field names of this model) that could not be read, each with the reason; "
        "a check that needs one is an error, never a pass",
    )
    script_errors: ListOf(str) = Field(
        default_factory=list, description="errors the collection script wrote that no fact claims"
    )

    @model_validator(mode="before")
    @classmethod
    def _earlier_snapshots(cls, data: Any) -> Any:
        # Snapshots before unread facts existed listed problems without saying which fact.
        if isinstance(data, dict) and "collection_problems" in data:
            data = dict(data)
            data["script_errors"] = data.pop("collection_problems")
        return data

    @property
    def fqdn(self) -> str:
        """DNSHostName.Domain as the host reports it, lower case; "" when the host did not report
        its DNS host name (the NetBIOS name is cut to 15 characters, so it cannot stand in)."""
        if not self.dns_host_name:
            return ""
        if self.part_of_domain and self.domain:
            return f"{self.dns_host_name}.{self.domain}".lower()
        return self.dns_host_name.lower()


class ComputerAccount(Model):
    """A host's computer account in Active Directory."""

    host: str = Field(description="inventory name of the host")
    dn: str
    sam_account_name: str
    dns_host_name: str = ""
    user_account_control: int
    allowed_to_delegate_to: ListOf(str) = Field(default_factory=list)
    service_principal_names: ListOf(str) = Field(default_factory=list)
    sid: str = Field(default="", description="objectSid, e.g. S-1-5-21-...-1105")
    primary_group_id: int = Field(
        default=515, description="primaryGroupID: 515 computers, 516 DCs, 521 RODCs"
    )
    allowed_to_act: ListOf(str) = Field(
        default_factory=list,
        description="SIDs that msDS-AllowedToActOnBehalfOfOtherIdentity allows to delegate to this "
        "account (resource-based constrained delegation), read from its security descriptor",
    )
    allowed_to_act_descriptor: str = Field(
        default="",
        description="msDS-AllowedToActOnBehalfOfOtherIdentity as stored (base64), kept so that a change "
        "adds one ACE and keeps every other",
    )

    @model_validator(mode="before")
    @classmethod
    def _earlier_snapshots(cls, data: Any) -> Any:
        # Snapshots before the descriptor was parsed said only whether it was set: unknown grants.
        if isinstance(data, dict) and "resource_based_delegation_set" in data:
            data = {k: v for k, v in data.items() if k != "resource_based_delegation_set"}
        return data

    @property
    def is_domain_controller(self) -> bool:
        """SERVER_TRUST_ACCOUNT, PARTIAL_SECRETS_ACCOUNT (RODC) or a DC's primary group."""
        return bool(self.user_account_control & (UAC_SERVER_TRUST_ACCOUNT | UAC_PARTIAL_SECRETS_ACCOUNT)) or (
            self.primary_group_id in (DOMAIN_CONTROLLERS_RID, READONLY_DOMAIN_CONTROLLERS_RID)
        )

    @property
    def netbios_name(self) -> str:
        return self.sam_account_name.removesuffix("$")


class Trust(Model):
    """A trustedDomain object under CN=System."""

    partner: str
    flat_name: str = ""
    direction: int = Field(description="1 inbound, 2 outbound, 3 two-way")
    trust_type: int = 2
    attributes: int = 0


class DomainFacts(Model):
    schema_version: Literal[1] = SCHEMA_VERSION
    kind: Literal["domain"] = "domain"
    name: str = Field(description="DNS name of the domain")
    netbios_name: str = ""
    sid: str = ""
    forest_root: str
    collected_at: datetime
    computers: ListOf(ComputerAccount) = Field(default_factory=list)
    trusts: ListOf(Trust) = Field(default_factory=list)
    bind_account: str = ""
    bind_account_is_domain_admin: bool | None = None


# userAccountControl flags that the delegation checks read.
UAC_ACCOUNTDISABLE = 0x2
UAC_SERVER_TRUST_ACCOUNT = 0x2000
UAC_PARTIAL_SECRETS_ACCOUNT = 0x4000000
UAC_TRUSTED_FOR_DELEGATION = 0x80000
UAC_NOT_DELEGATED = 0x100000
UAC_TRUSTED_TO_AUTH_FOR_DELEGATION = 0x1000000

DOMAIN_CONTROLLERS_RID = 516
READONLY_DOMAIN_CONTROLLERS_RID = 521

FACT_MODELS: dict[str, type[Model]] = {"host": HostFacts, "domain": DomainFacts}


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schemas checked into schema/, keyed by file name."""
    out = {}
    for kind, model in FACT_MODELS.items():
        schema = model.model_json_schema()
        schema["$id"] = f"https://lmready.invalid/schema/{kind}-facts.v{SCHEMA_VERSION}.json"
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        out[f"{kind}-facts.v{SCHEMA_VERSION}.json"] = schema
    return out
