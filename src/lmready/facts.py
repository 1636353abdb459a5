"""Typed facts: what a host and a directory say about themselves.

Collectors (saved JSON files, PowerShell Remoting, LDAP) fill these models; checks only read
them. The models are the contract between the two, so they carry a schema version and are
exported as JSON Schema into ``schema/``.
"""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)

from lmready.text import printable

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
            if text.isdecimal() and len(text) <= 2 and int(text) < len(members):
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


# Facts come from hosts and directories, which may answer anything: values that checks parse
# are validated here, so that a bad one is the host's error, never a crash inside a check.
VERSION_PATTERN = r"^(\d{1,6}(\.\d{1,6}){0,3})?$"


def _version(value: str) -> str:
    if not re.fullmatch(VERSION_PATTERN, value):
        raise ValueError("a version is up to four dot-separated numbers of at most 6 digits, like 9.0")
    return value


def _subnet(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError("not a subnet like 10.10.0.0/24 or fd00::/64") from None
    return value


def _ip(value: str) -> str:
    try:
        ipaddress.ip_address(value.split("%")[0])
    except ValueError:
        raise ValueError("not an IP address") from None
    return value


Version = Annotated[
    str, AfterValidator(_version), WithJsonSchema({"type": "string", "pattern": VERSION_PATTERN})
]
Subnet = Annotated[str, AfterValidator(_subnet)]
IpAddress = Annotated[str, AfterValidator(_ip)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)

    @model_validator(mode="before")
    @classmethod
    def _printable(cls, data: Any) -> Any:
        """Control characters, lone surrogates and the like in host text become visible escapes
        here, once, so no output (terminal, HTML, XML, JSON) ever carries them raw.

        One level only (strings and lists of strings): nested dicts are models that clean
        their own, and a hostile document nested a thousand levels deep is no reason to recurse."""
        if not isinstance(data, dict):
            return data
        return {
            printable(k) if isinstance(k, str) else k: printable(v)
            if isinstance(v, str)
            else [printable(x) if isinstance(x, str) else x for x in v]
            if isinstance(v, list)
            else v
            for k, v in data.items()
        }


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
    subnet: Subnet = Field(description="Get-VMMigrationNetwork .Subnet, e.g. 10.10.0.0/24")
    priority: int = 0

    @property
    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        return ipaddress.ip_network(self.subnet, strict=False)


class Address(Model):
    address: IpAddress
    prefix_length: int

    @property
    def ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        return ipaddress.ip_address(self.address.split("%")[0])


class FirewallRule(Model):
    """VIRT-MIGL-In-TCP-NoScope as the effective policy has it (Get-NetFirewallRule -PolicyStore
    ActiveStore: local and Group Policy rules merged)."""

    name: str
    enabled: bool
    action: str = Field(default="Allow", description="Allow or Block")
    source: str = Field(default="", description="PolicyStoreSourceType: Local, GroupPolicy, ...")


class FirewallProfile(Model):
    """Get-NetFirewallProfile -PolicyStore ActiveStore: a disabled profile filters nothing."""

    name: str = Field(description="Domain, Private or Public")
    enabled: bool


class Smb(Model):
    rdma_enabled: bool = Field(description="Get-NetAdapterRdma reports an enabled adapter")
    multichannel_enabled: bool


class VirtualMachine(Model):
    name: str
    state: str = Field(description="Running, Off, Saved, ...")
    version: Version = Field(description="Get-VM .Version, e.g. '9.0'")
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
    """The host's clock and the runner's clock, read in the same round trip (both with a time
    zone: a naive timestamp cannot be compared with another one)."""

    host_utc: AwareDatetime
    runner_utc: AwareDatetime

    @property
    def offset_seconds(self) -> float:
        return (self.host_utc - self.runner_utc).total_seconds()


class Session(Model):
    user: str
    group_sids: ListOf(str) = Field(default_factory=list)


class PortProbe(Model):
    """A TCP connect from this host to another host's migration address (pair round)."""

    dst: str = Field(description="inventory name of the destination host")
    address: IpAddress
    port: int
    open: bool
    error: str = Field(
        default="", description="why it is not open: refused, no answer, or the probe's own error"
    )


class Incompatibility(Model):
    """One entry of Compare-VM's VMCompatibilityReport.Incompatibilities, in the host's words."""

    message_id: int = Field(description="MessageId, e.g. 33012 (switch not found)")
    message: str = Field(description="Message, as the host wrote it")


class VmComparison(Model):
    """Compare-VM -Name <vm> -DestinationHost <dst>, run on the source (V1)."""

    vm: str
    dst: str = Field(description="inventory name of the destination host")
    compared: bool = Field(
        description="false: not compared (budget reached, or Compare-VM failed; see error)"
    )
    incompatibilities: ListOf(Incompatibility) = Field(default_factory=list)
    error: str = Field(
        default="", description="why it could not be compared; the check says 'could not tell'"
    )


class VmMedia(Model):
    """What a VM references that live migration does not move (V3), and its virtual TPM (V2)."""

    vm: str
    iso_paths: ListOf(str) = Field(default_factory=list, description="Get-VMDvdDrive .Path")
    passthrough_disks: ListOf(str) = Field(
        default_factory=list, description="Get-VMHardDiskDrive with a DiskNumber: 'disk <n>'"
    )
    vtpm: bool | None = Field(default=None, description="Get-VMSecurity .TpmEnabled; null: could not tell")
    key_protector_owner: str = Field(
        default="",
        description="the guardian that owns the key protector, name|thumbprint of its signing certificate "
        "(ConvertTo-HgsKeyProtector .Owner); empty: no vTPM or could not tell",
    )
    key_protector_error: str = Field(
        default="", description="why the key protector's owner could not be read"
    )
    error: str = Field(default="", description="why some of it could not be read")


class PathPresence(Model):
    """Test-Path on this host (a destination) of a path its sources' VMs reference (V3)."""

    path: str
    exists: bool


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
    collected_at: AwareDatetime
    os: OperatingSystem
    hyperv: HyperV
    migration: Migration | None = Field(
        default=None, description="null when Get-VMHost could not be read (see unread)"
    )
    migration_networks: ListOf(MigrationNetwork) = Field(default_factory=list)
    supported_versions: ListOf(Version) = Field(
        default_factory=list, description="Get-VMHostSupportedVersion .Version as strings"
    )
    addresses: ListOf(Address) = Field(default_factory=list)
    firewall_rule: FirewallRule | None = Field(
        default=None,
        description="VIRT-MIGL-In-TCP-NoScope in the effective policy; null when the rule does not exist",
    )
    firewall_profiles: ListOf(FirewallProfile) = Field(
        default_factory=list, description="the effective firewall profiles; empty when not reported"
    )
    smb: Smb
    vms: ListOf(VirtualMachine) = Field(default_factory=list)
    switches: ListOf(VirtualSwitch) = Field(default_factory=list)
    cpu: Cpu
    free_memory_bytes: int
    clock: Clock
    session: Session
    credential_guard_running: bool | None = Field(
        default=None, description="Win32_DeviceGuard SecurityServicesRunning has 1; false before 2016"
    )
    isolated_credentials_root_secret: bool | None = Field(
        default=None,
        description="HKLM\\SYSTEM\\CurrentControlSet\\Control\\Lsa\\MSV1_0 has IsolatedCredentialsRootSecret: "
        "a sign that Credential Guard turns on at the upgrade (a heuristic, A4)",
    )
    probes: ListOf(PortProbe) = Field(default_factory=list)
    compare_vm: ListOf(VmComparison) = Field(
        default_factory=list, description="Compare-VM of this host's VMs against its destinations (V1)"
    )
    vm_media: ListOf(VmMedia) = Field(
        default_factory=list, description="media, pass-through disks and vTPM of this host's VMs (V2, V3)"
    )
    guardians: ListOf(str) = Field(
        default_factory=list,
        description="Get-HgsGuardian on this host, name|thumbprint of each signing certificate: whose key "
        "protectors it can unwrap (V2); "
        "unread when they could not be read",
    )
    paths_present: ListOf(PathPresence) = Field(
        default_factory=list, description="Test-Path here of the paths its sources' VMs reference (V3)"
    )
    preflight: Preflight | None = None
    unread: dict[str, str] = Field(
        default_factory=dict,
        description="facts (field names of this model) that could not be read, each with the reason; "
        "a check that needs one is an error, never a pass",
    )
    script_errors: ListOf(str) = Field(
        default_factory=list, description="errors the collection script wrote that no fact claims"
    )

    @classmethod
    def not_collected(
        cls, name: str, reason: str, collected_at: AwareDatetime, preflight: Preflight | None = None
    ) -> HostFacts:
        """A host whose facts could not be collected at all: everything but what the runner saw
        itself (the preflight, X5) is unread with the one reason."""
        placeholder = cls(
            name=name,
            computer_name="",
            domain="",
            part_of_domain=False,
            collected_at=collected_at,
            os=OperatingSystem(caption="", build=0),
            hyperv=HyperV(feature_installed=False, powershell_module=False, vmms_status=""),
            smb=Smb(rdma_enabled=False, multichannel_enabled=False),
            cpu=Cpu(vendor=""),
            free_memory_bytes=0,
            clock=Clock(host_utc=collected_at, runner_utc=collected_at),
            session=Session(user=""),
            preflight=preflight,
        )
        unread = dict.fromkeys(cls.model_fields.keys() - NEVER_UNREAD, reason)
        return placeholder.model_copy(update={"unread": unread})

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


# What a host's facts always have, collected or not: who it is and what the runner saw.
NEVER_UNREAD = {"schema_version", "kind", "name", "collected_at", "preflight", "unread", "script_errors"}


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


class OperatorAccount(Model):
    """The account that runs migrations (the session user of the host facts), as the directory has
    it: REQUIREMENTS.md R1/A2, it must be delegable for Kerberos."""

    name: str = Field(description="DOMAIN\\user, as the hosts reported the session user")
    dn: str
    user_account_control: int
    protected_user: bool = Field(description="member of Protected Users (RID 525), nested groups included")


class Trust(Model):
    """A trustedDomain object under CN=System (MS-ADTS 6.1.6.7)."""

    partner: str
    flat_name: str = ""
    direction: int = Field(description="1 inbound, 2 outbound, 3 two-way")
    trust_type: int = Field(default=2, description="1 downlevel, 2 uplevel (Active Directory), 3 MIT")
    attributes: int = Field(
        default=0,
        description="trustAttributes: 0x1 NON_TRANSITIVE, 0x4 QUARANTINED_DOMAIN, 0x8 FOREST_TRANSITIVE, "
        "0x10 CROSS_ORGANIZATION (selective authentication), 0x20 WITHIN_FOREST",
    )


class DomainFacts(Model):
    schema_version: Literal[1] = SCHEMA_VERSION
    kind: Literal["domain"] = "domain"
    name: str = Field(description="DNS name of the domain")
    netbios_name: str = ""
    sid: str = ""
    forest_root: str
    collected_at: AwareDatetime
    computers: ListOf(ComputerAccount) = Field(default_factory=list)
    trusts: ListOf(Trust) = Field(default_factory=list)
    operators: ListOf(OperatorAccount) = Field(
        default_factory=list, description="the operator accounts of this domain that the hosts reported"
    )
    bind_account: str = ""
    bind_account_is_domain_admin: bool | None = None


# trustAttributes and trustDirection (MS-ADTS 6.1.6.7.9, 6.1.6.7.12) that R4 reads.
TRUST_INBOUND, TRUST_OUTBOUND, TRUST_TWO_WAY = 1, 2, 3
TRUST_FOREST_TRANSITIVE = 0x8
TRUST_CROSS_ORGANIZATION = 0x10
TRUST_WITHIN_FOREST = 0x20

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
