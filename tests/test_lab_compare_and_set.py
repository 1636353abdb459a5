"""The PowerShell that remediation's compare-and-set scripts use, as a lab host runs it: what
Windows PowerShell 5.1 gives for each, and NotModelled (the script stops) for anything near it
that the lab does not imitate."""

from __future__ import annotations

import pytest
from powershell_syntax import syntax_errors
from test_lab_model import lab

from lmready.remediation import host_changes as hosts
from lmready.remediation.change import HOST, Change


def run(script: str, host: str = "lab-hv04"):
    return lab()[host].run_script(script)


@pytest.mark.parametrize(
    "script, output",
    [
        ("[string](Get-VMHost).MaximumVirtualMachineMigrations", ["5"]),
        ("[string](Get-VMHost).UseAnyNetworkForMigration", ["True"]),
        ("[string](Get-VMHost).VirtualMachineMigrationAuthenticationType", ["Kerberos"]),
        ("[string](Get-VMMigrationNetwork -Subnet '10.9.0.0/24' -ErrorAction SilentlyContinue).Subnet", [""]),
        (
            "if ([string](Get-VMHost).MaximumVirtualMachineMigrations -eq '5') { 'yes' } else { 'no' }",
            ["yes"],
        ),
        ("if ([string](Get-VMHost).MaximumVirtualMachineMigrations -ne '5') { 'yes' } else { 'no' }", ["no"]),
        # -eq on strings ignores case, as PowerShell's does.
        (
            "if ([string](Get-VMHost).VirtualMachineMigrationAuthenticationType -eq 'KERBEROS') { 'yes' }",
            ["yes"],
        ),
        ("if ([string](Get-VMHost).UseAnyNetworkForMigration -eq 'false') { 'yes' }", []),
        # A failing command inside a block, with Continue, goes on with the next statement there.
        ("if ('a' -eq 'a') { Get-Nothing; 'next' }", ["next"]),
    ],
)
def test_what_the_lab_host_gives(script, output):
    result = run(script)
    assert result.terminating is None, result.terminating
    assert result.output == output


@pytest.mark.parametrize(
    "script",
    [
        "if ((Get-VMHost).MaximumVirtualMachineMigrations -eq 5) { 'yes' }",  # no [string]: .NET rules
        "if ([string](Get-VMHost).MaximumVirtualMachineMigrations -like '5') { 'yes' }",
        "if ('a' -eq 'a') { 'yes' } elseif ('b' -eq 'b') { 'no' }",
        "[int](Get-VMHost).MaximumVirtualMachineMigrations",
        "if ('a' -eq (Get-VMHost).MaximumVirtualMachineMigrations) { 'yes' }",
    ],
)
def test_what_the_lab_host_does_not_model_stops_the_script(script):
    host = lab()["lab-hv04"]
    before = host.state
    result = host.run_script(script)
    assert result.terminating and "does not model" in result.terminating, result
    assert host.state == before


def test_a_remediation_script_is_powershell():
    changes = [
        Change("X", "f", "lab-hv04", HOST, setting, before, after, hosts.command(setting, before, after))
        for setting, before, after in [
            (hosts.SIMULTANEOUS, 5, 2),
            (hosts.NETWORK, None, "10.20.0.0/24"),
            (hosts.NETWORK, "10.30.0.0/24", None),
            (hosts.FIREWALL, False, True),
            (hosts.ENABLED, False, True),
            (hosts.PERFORMANCE, "TCPIP", "Compression"),
        ]
    ]
    assert syntax_errors(hosts.script(changes)) == []
