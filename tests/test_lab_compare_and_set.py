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
        # Without [string], .NET's rules: the right side is converted to the left side's type.
        ("if ((Get-VMHost).MaximumVirtualMachineMigrations -eq '5') { 'yes' }", ["yes"]),
        ("if ('a' -eq (Get-VMHost).MaximumVirtualMachineMigrations) { 'yes' } else { 'no' }", ["no"]),
        ("if ([string](Get-VMHost).MaximumVirtualMachineMigrations -like '[4-6]') { 'yes' }", ["yes"]),
        ("if ('a' -eq 'b') { 'yes' } elseif ('b' -eq 'B') { 'no' }", ["no"]),
        ("[int](Get-VMHost).MaximumVirtualMachineMigrations + 1", [6]),
        ("(Get-VMHost).VirtualMachineMigrationPerformanceOption -eq 'compression'", [True]),
    ],
)
def test_what_the_lab_host_gives(script, output):
    result = run(script)
    assert result.terminating is None, result.terminating
    assert result.output == output


@pytest.mark.parametrize(
    "script, output",
    [
        ("[string](Get-VMMigrationNetwork -Subnet '10.20.0.0/24').Subnet", ["10.20.0.0/24"]),
        ("[string](Get-VMMigrationNetwork -Subnet '10.20.0.*', '10.9.*').Priority", ["0"]),
    ],
)
def test_reading_a_migration_network_back(script, output):
    result = run(script, "lab-hv01")
    assert (result.terminating, result.errors, result.output) == (None, [], output)


@pytest.mark.parametrize(
    "script, needle",
    [
        ("if ('a' -eq 'a') { exit }", "does not model exit"),
        ("Get-VMHost | Format-Table", "The term 'Format-Table' is not recognized"),
    ],
)
def test_what_the_lab_host_does_not_model_stops_the_script(script, needle):
    host = lab()["lab-hv04"]
    before = host.state
    result = host.run_script("$ErrorActionPreference = 'Stop'\n" + script)
    assert result.terminating and needle in result.terminating, result
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
