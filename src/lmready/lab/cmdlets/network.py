"""The networking modules' cmdlets over a lab host: NetTCPIP's Get-NetIPAddress, NetAdapter's
Get-NetAdapterRdma and SmbShare's Get-SmbClientConfiguration (CIM instances, as on Windows)."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from lmready.lab.cmdlets import cmdlet, table
from lmready.lab.cmdlets.shapes import shaped
from lmready.lab.powershell.evaluator import Call

if TYPE_CHECKING:
    from lmready.lab.model import HyperVHost

_CIM = "Microsoft.Management.Infrastructure.CimInstance#root/StandardCimv2/{}"


def _addresses(host: HyperVHost, call: Call) -> None:
    # The lab's interfaces carry only the scenario's addresses (no loopback or link-local ones).
    for index, a in enumerate(host.state.addresses, 1):
        version = ipaddress.ip_address(a.address.split("%")[0]).version
        call.write(
            shaped(
                _CIM.format("MSFT_NetIPAddress"),
                {
                    "IPAddress": a.address,
                    "InterfaceIndex": index,
                    "InterfaceAlias": f"Ethernet {index}",
                    "AddressFamily": "IPv4" if version == 4 else "IPv6",
                    "PrefixLength": a.prefix_length,
                    "AddressState": "Preferred",
                    "SkipAsSource": False,
                },
            )
        )


def _rdma(host: HyperVHost, call: Call) -> None:
    call.write(
        shaped(
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
        shaped(
            "Microsoft.Management.Infrastructure.CimInstance#root/Microsoft/Windows/SMB/MSFT_SmbClientConfiguration",
            {
                "EnableMultiChannel": host.state.smb.multichannel_enabled,
                "ConnectionCountPerRssNetworkInterface": 4,
                "RequireSecuritySignature": False,
            },
        )
    )


CMDLETS = table(
    cmdlet("Get-NetIPAddress", _addresses),
    cmdlet("Get-NetAdapterRdma", _rdma),
    cmdlet("Get-SmbClientConfiguration", _smb_client),
)
