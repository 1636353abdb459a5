"""The networking modules' cmdlets over a lab host: NetTCPIP's Get-NetIPAddress, NetAdapter's
Get-NetAdapterRdma and SmbShare's Get-SmbClientConfiguration (CIM instances, as on Windows)."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from lmready.lab.cmdlets import LabCmdlet, table
from lmready.lab.powershell.binding import CmdletSpec, Param, unmodelled
from lmready.lab.powershell.evaluator import Call
from lmready.lab.powershell.values import PSObject, enum_value, register_enum

if TYPE_CHECKING:
    from lmready.lab.model import HyperVHost

ADDRESS_FAMILY = "Microsoft.PowerShell.Cmdletization.GeneratedTypes.NetIPAddress.AddressFamily"
ADDRESS_STATE = "Microsoft.PowerShell.Cmdletization.GeneratedTypes.NetIPAddress.AddressState"
register_enum(ADDRESS_FAMILY, {"IPv4": 2, "IPv6": 23})
register_enum(ADDRESS_STATE, {"Invalid": 0, "Tentative": 1, "Duplicate": 2, "Deprecated": 3, "Preferred": 4})
_CIM = "Microsoft.Management.Infrastructure.CimInstance#ROOT/StandardCimv2/{}"


def _spec(name: str, *params: Param) -> CmdletSpec:
    return CmdletSpec(name, params, name)


def _addresses(host: HyperVHost, call: Call) -> None:
    # The lab's interfaces carry only the scenario's addresses (no loopback or link-local ones).
    for index, a in enumerate(host.state.addresses, 1):
        version = ipaddress.ip_address(a.address.split("%")[0]).version
        call.write(
            PSObject(
                _CIM.format("MSFT_NetIPAddress"),
                {
                    "IPAddress": a.address,
                    "InterfaceIndex": index,
                    "InterfaceAlias": f"Ethernet {index}",
                    "AddressFamily": enum_value(ADDRESS_FAMILY, "IPv4" if version == 4 else "IPv6"),
                    "PrefixLength": a.prefix_length,
                    "AddressState": enum_value(ADDRESS_STATE, "Preferred"),
                    "SkipAsSource": False,
                },
            )
        )


def _rdma(host: HyperVHost, call: Call) -> None:
    call.write(
        PSObject(
            _CIM.format("MSFT_NetAdapterRdmaSettingData"),
            {
                "Name": "Ethernet 1",
                "InterfaceDescription": "Lab Virtual Adapter",
                "Enabled": host.state.smb.rdma_enabled,
            },
        )
    )


def _smb_client(host: HyperVHost, call: Call) -> None:
    call.write(
        PSObject(
            _CIM.format("MSFT_SmbClientConfiguration").replace("StandardCimv2", "Microsoft/Windows/SMB"),
            {
                "EnableMultiChannel": host.state.smb.multichannel_enabled,
                "ConnectionCountPerRssNetworkInterface": 4,
                "RequireSecuritySignature": False,
            },
        )
    )


_CIM_COMMON = unmodelled("CimSession", "ThrottleLimit", "AsJob")
CMDLETS = table(
    LabCmdlet(
        _spec(
            "Get-NetIPAddress",
            *unmodelled(
                "IPAddress",
                "InterfaceIndex",
                "InterfaceAlias",
                "AddressFamily",
                "Type",
                "PrefixLength",
                "PrefixOrigin",
                "SuffixOrigin",
                "AddressState",
                "ValidLifetime",
                "PreferredLifetime",
                "SkipAsSource",
                "AssociatedIPInterface",
                "PolicyStore",
                "IncludeAllCompartments",
            ),
            *_CIM_COMMON,
        ),
        _addresses,
        "NetTCPIP",
    ),
    LabCmdlet(
        _spec(
            "Get-NetAdapterRdma", *unmodelled("Name", "InterfaceDescription", "IncludeHidden"), *_CIM_COMMON
        ),
        _rdma,
        "NetAdapter",
    ),
    LabCmdlet(_spec("Get-SmbClientConfiguration", *_CIM_COMMON), _smb_client, "SmbShare"),
)
