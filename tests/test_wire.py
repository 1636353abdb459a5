"""The parser of what the PowerShell scripts print, fed Windows PowerShell 5.1's quirks."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from powershell_syntax import syntax_errors

from lmready import wire
from lmready.facts import AuthenticationType, PerformanceOption

RUNNER = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)

# As `ConvertTo-Json -Compress` prints collect_host.ps1's document on Windows Server 2022.
DOCUMENT = {
    "wire": 2,
    "clock_utc": "2026-11-20T09:00:02.1234567Z",
    "computer_name": "HV01",
    "dns_host_name": "hv01",
    "domain": "corp.example.com",
    "part_of_domain": True,
    "os": {"caption": "Microsoft Windows Server 2022 Datacenter", "build": "20348"},
    "free_memory_bytes": 68719476736,
    "features": [{"installed": True, "name": "Hyper-V"}, {"installed": True, "name": "Hyper-V-PowerShell"}],
    "vmms_status": "Running",
    "vmhost": {
        "VirtualMachineMigrationEnabled": True,
        "VirtualMachineMigrationAuthenticationType": "Kerberos",
        "VirtualMachineMigrationPerformanceOption": "Compression",
        "UseAnyNetworkForMigration": False,
        "MaximumVirtualMachineMigrations": 2,
    },
    "migration_networks": [{"priority": 0, "subnet": "10.10.0.0/24"}],
    "supported_versions": ["8.0", "9.0", "10.0"],
    "addresses": [
        {"prefix_length": 24, "address": "10.10.0.11"},
        {"prefix_length": 8, "address": "127.0.0.1"},
    ],
    "firewall_rule": {"name": "VIRT-MIGL-In-TCP-NoScope", "enabled": "True"},
    "rdma_enabled": False,
    "smb_multichannel": True,
    "vms": [
        {
            "name": "web01",
            "state": "Running",
            "version": "10.0",
            "memory_bytes": 8589934592,
            "switches": ["Prod"],
            "processor_compatibility": False,
        }
    ],
    "switches": [{"name": "Prod", "switch_type": "External"}],
    "cpu": {"vendor": "GenuineIntel", "model": "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz"},
    "session": {"user": "CORP\\auditor", "group_sids": ["S-1-5-21-1-2-3-513", "S-1-5-32-544"]},
    "credential_guard_running": False,
    "problems": [],
}


def test_parses_the_document():
    facts = wire.parse_host(json.dumps(DOCUMENT), "hv01", RUNNER)
    assert facts.name == "hv01" and facts.computer_name == "HV01" and facts.fqdn == "hv01.corp.example.com"
    assert facts.os.build == 20348
    assert facts.migration.authentication_type is AuthenticationType.KERBEROS
    assert facts.firewall_rule and facts.firewall_rule.enabled is True
    assert facts.clock.offset_seconds == pytest.approx(2.1234567)
    assert facts.vms[0].switches == ["Prod"]
    assert facts.hyperv.feature_installed and facts.hyperv.powershell_module


def test_windows_powershell_quirks():
    """Enums as numbers, one-element lists as bare objects, null lists, BOM and CRLF."""
    doc = json.loads(json.dumps(DOCUMENT))
    doc["vmhost"]["VirtualMachineMigrationAuthenticationType"] = 0
    doc["vmhost"]["VirtualMachineMigrationPerformanceOption"] = 2
    doc["vms"] = {**DOCUMENT["vms"][0], "state": 3, "switches": "Prod"}
    doc["migration_networks"] = {"priority": 0, "subnet": "10.10.0.0/24"}
    doc["supported_versions"] = None
    doc["switches"] = {"name": "Prod", "switch_type": 2}
    doc["firewall_rule"]["enabled"] = 2  # NetSecurity's Enabled enum: False
    doc["vmms_status"] = 4
    text = "\ufeff" + json.dumps(doc, indent=4).replace("\n", "\r\n")
    facts = wire.parse_host(text.encode("utf-8"), "hv01", RUNNER)
    assert facts.migration.authentication_type is AuthenticationType.CREDSSP
    assert facts.migration.performance_option is PerformanceOption.SMB
    assert facts.vms[0].state == "Off" and facts.vms[0].switches == ["Prod"]
    assert [n.subnet for n in facts.migration_networks] == ["10.10.0.0/24"]
    assert facts.supported_versions == []
    assert facts.switches[0].switch_type == "External"
    assert facts.firewall_rule.enabled is False
    assert facts.hyperv.vmms_status == "Running"


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "printed nothing"),
        ('{"wire": 1, "computer', "not JSON"),
        ('{"hello": 1}', "not lmready's collection document"),
        (
            json.dumps({**DOCUMENT, "os": {"caption": "x", "build": "twenty"}}),
            "does not fit the facts model (os.build",
        ),
    ],
)
def test_bad_answers_are_one_sentence(text, message):
    with pytest.raises(wire.WireError, match=message.replace("(", r"\(").replace(")", r"\)")):
        wire.parse_host(text, "hv01", RUNNER)


def test_a_fact_that_could_not_be_read_is_unread_with_its_reason_never_empty():
    problems = [
        {"fact": "vms", "reason": "Get-VM: Access is denied."},
        {"fact": "vmhost", "reason": "Get-VMHost: The term 'Get-VMHost' is not recognized"},
        "Write-Error: something no fact claims",
    ]
    facts = wire.parse_host(
        json.dumps({**DOCUMENT, "vmhost": None, "vms": [], "problems": problems}), "hv01", RUNNER
    )
    assert facts.unread == {
        "vms": "Get-VM: Access is denied.",
        "migration": "Get-VMHost: The term 'Get-VMHost' is not recognized",
    }
    assert facts.migration is None
    assert facts.script_errors == ["Write-Error: something no fact claims"]
    # A one-element list and a bare problem object are the same to PowerShell 5.1.
    single = wire.parse_host(json.dumps({**DOCUMENT, "problems": problems[0]}), "hv01", RUNNER)
    assert single.unread == {"vms": "Get-VM: Access is denied."}


NOT_RECOGNIZED = (
    "The term '{}' is not recognized as the name of a cmdlet, function, script file, or operable program."
)


def test_windows_server_2012_r2_and_a_missing_module():
    """2012 R2 lacks Get-VMHostSupportedVersion (5.0 by its build) and the DeviceGuard namespace
    (no Credential Guard); a host without the Hyper-V module has R5 as the reason of its unread facts."""
    missing = {
        "fact": "supported_versions",
        "reason": "Get-VMHostSupportedVersion: " + NOT_RECOGNIZED.format("x"),
    }
    guard = {"fact": "credential_guard", "reason": "Win32_DeviceGuard: Invalid namespace "}
    r2 = {**DOCUMENT, "os": {"caption": "Windows Server 2012 R2", "build": "9600"}, "supported_versions": []}
    facts = wire.parse_host(json.dumps({**r2, "problems": [missing, guard]}), "hv01", RUNNER)
    assert facts.unread == {} and facts.supported_versions == ["5.0"]
    assert facts.credential_guard_running is False
    # On 2016 and later a missing cmdlet stays unread: the list is not guessed.
    facts = wire.parse_host(json.dumps({**DOCUMENT, "problems": [missing]}), "hv01", RUNNER)
    assert "supported_versions" in facts.unread
    no_module = {
        **r2,
        "features": [
            {"name": "Hyper-V", "installed": True},
            {"name": "Hyper-V-PowerShell", "installed": False},
        ],
        "problems": [missing, {"fact": "vms", "reason": "Get-VM: " + NOT_RECOGNIZED.format("Get-VM")}],
    }
    facts = wire.parse_host(json.dumps(no_module), "hv01", RUNNER)
    assert facts.unread == {"supported_versions": wire.NO_HYPERV_MODULE, "vms": wire.NO_HYPERV_MODULE}
    assert "Install-WindowsFeature Hyper-V-PowerShell" in wire.NO_HYPERV_MODULE
    assert facts.hyperv.powershell_module is False


def test_probe_answers():
    probes = wire.parse_probes('{"dst":"hv02","address":"10.10.0.12","port":6600,"open":true}')
    assert len(probes) == 1 and probes[0].open
    assert wire.parse_probes("[]") == []


def test_probe_script_embeds_targets_safely():
    text = wire.probe_script([{"dst": "hv02", "address": "10.0.0.2", "port": 6600, "note": "it's"}], 1500)
    assert '\'[{"dst": "hv02", "address": "10.0.0.2", "port": 6600, "note": "it\'\'s"}]\'' in text
    assert "WaitAll" in text and ", 1500)" in text and "{targets}" not in text


@pytest.mark.parametrize(
    "name, text",
    [
        ("collect_host.ps1", wire.collection_script()),
        ("probe_ports.ps1", wire.probe_script([{"dst": "hv02", "address": "10.0.0.2", "port": 6600}])),
        ("probe_ports.ps1 without targets", wire.probe_script([])),
    ],
)
def test_every_script_parses_as_powershell(name, text):
    assert text.splitlines()[0] in (wire.COLLECT_MARKER, wire.PROBE_MARKER)
    assert syntax_errors(text) == [], name


def test_the_syntax_test_can_fail():
    assert syntax_errors("Get-VM | ForEach-Object { $_.Name ")
