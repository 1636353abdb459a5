"""The modelled Hyper-V host: it answers lmready's scripts as Windows PowerShell 5.1 would, its
remediation cmdlets change exactly what they should, and it refuses what Windows refuses."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from powershell_syntax import syntax_errors

from lmready import wire
from lmready.catalogue import CheckFailure, NotApplicable, load_catalogue
from lmready.estate import HostView, PairView
from lmready.facts import HostFacts
from lmready.inventory import Policy, PolicyFields
from lmready.lab import scenario as scenario_module
from lmready.lab.events import records
from lmready.lab.model import HyperVHost, LabNetwork
from lmready.lab.scenario import DEFAULT_PASSWORD, DEFAULT_USERNAME, ScenarioError, load_scenario

SCENARIOS = Path(scenario_module.__file__).parent / "scenarios"
SCENARIO = load_scenario(SCENARIOS / "default.yml")
POLICY = Policy().merged(PolicyFields.model_validate(SCENARIO.policy))
# Per-collection facts, not host state.
# Facts of other rounds than the collection script's (the port probe, the per-VM rounds).
PER_VM = {"compare_vm", "vm_media", "guardians", "paths_present"}
NOT_STATE = {"collected_at", "clock", "preflight", "probes", "unread", "script_errors", *PER_VM}
RULE = "VIRT-MIGL-In-TCP-NoScope"
NOT_RECOGNIZED = (
    "The term '{}' is not recognized as the name of a cmdlet, function, script file, or operable program. "
    "Check the spelling of the name, or if a path was included, verify that the path is correct and try again."
)
# What lmready's remediation sends for N1, P1, N6, N2 and N5 (REQUIREMENTS.md section 4).
REMEDIATION = """\
$ErrorActionPreference = 'Stop'
# values come from the inventory policy
Enable-VMMigration
Set-VMHost -VirtualMachineMigrationPerformanceOption Compression -MaximumVirtualMachineMigrations 2
# isolate migration traffic: add the network first, then stop using any network
Add-VMMigrationNetwork -Subnet '10.20.0.0/24' -Priority 1
Set-VMHost -UseAnyNetworkForMigration:$false
Enable-NetFirewallRule -Name 'VIRT-MIGL-In-TCP-NoScope'
klist purge -li 0x3e7
"""


def lab(**states: HostFacts) -> dict[str, HyperVHost]:
    """The default scenario's hosts on one network, with their event logs and denied commands;
    keyword arguments replace a host's state."""
    network = LabNetwork()
    hosts = {}
    for name, facts in SCENARIO.hosts.items():
        hosts[name] = HyperVHost(states.get(name.replace("-", "_"), facts), network)
        hosts[name].events = records(SCENARIO.events.get(name, []), datetime.now(UTC))
        hosts[name].denied = dict(SCENARIO.denied.get(name, {}))
        network.add(hosts[name])
    return hosts


def state(name: str, **changes: Any) -> HostFacts:
    """A scenario host's state with top-level fields replaced (nested mappings merged)."""
    data = SCENARIO.hosts[name].model_dump(mode="json")
    for key, value in changes.items():
        data[key] = (
            {**data[key], **value} if isinstance(value, dict) and isinstance(data[key], dict) else value
        )
    return HostFacts.model_validate(data)


def answer(host: HyperVHost) -> str:
    result = host.run_script(wire.collection_script())
    assert result.errors == [] and result.terminating is None and len(result.output) == 1
    return result.output[0]


def collect(host: HyperVHost) -> HostFacts:
    return wire.parse_host(answer(host), host.state.name, datetime.now(UTC))


def flat(facts: HostFacts) -> dict[str, Any]:
    out: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else key, item)
        else:
            out[prefix] = value

    walk("", facts.model_dump(mode="json", exclude=NOT_STATE))
    return out


def changes(before: HostFacts, after: HostFacts) -> dict[str, tuple[Any, Any]]:
    a, b = flat(before), flat(after)
    return {key: (a.get(key), b.get(key)) for key in a.keys() | b.keys() if a.get(key) != b.get(key)}


# --- collection -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SCENARIO.hosts))
def test_collection_answer_parses_back_to_the_state(name):
    host = lab()[name]
    before = datetime.now(UTC)
    facts = collect(host)
    assert changes(host.state, facts) == {}
    assert facts.unread == {} and facts.script_errors == []
    assert before <= facts.clock.host_utc <= datetime.now(UTC)


def test_collection_text_is_what_windows_powershell_prints():
    text = answer(lab()["lab-hv01"])
    doc = json.loads(text)
    assert text == json.dumps(doc, separators=(",", ":"), ensure_ascii=False)  # -Compress
    script = wire.collection_script()
    assert list(doc) == ["wire", *dict.fromkeys(re.findall(r"\$facts\.(\w+) =", script))]  # [ordered] order
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z", doc["clock_utc"])  # ToString('o')
    assert doc["os"]["build"] == "20348"  # [string]$os.BuildNumber
    assert doc["part_of_domain"] is True and doc["smb_multichannel"] is True
    # [string] of the Enabled and Action enums
    assert doc["firewall_rule"] == {"name": RULE, "enabled": "True", "action": "Allow", "source": ""}
    assert doc["vmhost"]["VirtualMachineMigrationAuthenticationType"] == "Kerberos"
    assert doc["vmhost"]["VirtualMachineMigrationPerformanceOption"] == "Compression"
    assert doc["vmhost"]["MaximumVirtualMachineMigrations"] == 2
    assert doc["migration_networks"] == [{"subnet": "10.20.0.0/24", "priority": 0}]  # one element, a list
    assert doc["vms"][0]["switches"] == ["LabNet"]
    assert doc["session"]["user"] == "LAB\\operator" and "S-1-5-32-544" in doc["session"]["group_sids"]
    assert doc["problems"] == []


def test_strings_are_escaped_like_javascriptserializer():
    vm = {"name": "o'neil <dev> & co", "state": "Off", "version": "9.0", "memory_bytes": 1024, "switches": []}
    host = lab(lab_hv01=state("lab-hv01", vms=[vm]))["lab-hv01"]
    text = answer(host)
    assert '"o\\u0027neil \\u003cdev\\u003e \\u0026 co"' in text
    assert '"switches":[]' in text
    assert collect(host).vms[0].name == vm["name"]


@pytest.mark.parametrize(
    "hyperv, message",
    [
        ({"powershell_module": False}, NOT_RECOGNIZED),
        (
            {"feature_installed": False, "vmms_status": "NotFound"},
            "The Hyper-V Management Tools could not access an expected WMI class on computer 'LAB-HV01'. "
            "This may indicate that the Hyper-V Platform is not installed on the computer or that the "
            "version of the Hyper-V Platform is incompatible with these management tools.",
        ),
    ],
)
def test_without_hyperv_the_cmdlets_fail_into_problems(hyperv, message):
    host = lab(lab_hv01=state("lab-hv01", hyperv=hyperv, firewall_rule=None))["lab-hv01"]
    doc = json.loads(answer(host))
    cmdlets = ["Get-VMHost", "Get-VMMigrationNetwork", "Get-VMHostSupportedVersion", "Get-VM", "Get-VMSwitch"]
    hyperv_problems = [f"{c}: {message.format(c)}" for c in cmdlets]
    assert [p["reason"] for p in doc["problems"]] == hyperv_problems
    assert "vmhost" not in doc and "firewall_rule" not in doc
    assert doc["migration_networks"] == doc["supported_versions"] == doc["vms"] == doc["switches"] == []
    assert {f["name"]: f["installed"] for f in doc["features"]} == {
        "Hyper-V": host.state.hyperv.feature_installed,
        "Hyper-V-PowerShell": host.state.hyperv.powershell_module,
    }
    # Not a connection error: the host is audited, with what Hyper-V would have told unread; without
    # the module the reason is R5's, with its fix.
    facts = wire.parse_host(json.dumps(doc), "lab-hv01", datetime.now(UTC))
    assert facts.migration is None
    reason = wire.NO_HYPERV_MODULE if message == NOT_RECOGNIZED else f"Get-VMHost: {message}"
    assert facts.unread["migration"] == reason
    assert facts.unread.keys() == {"migration", "migration_networks", "supported_versions", "vms", "switches"}


def test_a_missing_vmms_service_is_a_fact_not_a_problem():
    host = lab(lab_hv01=state("lab-hv01", hyperv={"feature_installed": False, "vmms_status": "NotFound"}))
    facts = collect(host["lab-hv01"])
    assert facts.hyperv.vmms_status == "NotFound"
    assert "hyperv" not in facts.unread


def test_windows_server_2012_r2_lacks_supported_versions_and_device_guard():
    # 2012 R2 has no Get-VMHostSupportedVersion and no DeviceGuard namespace: its versions are 5.0 by
    # its build, and it has no Credential Guard; neither is unread (REQUIREMENTS.md R3, A4).
    old = state(
        "lab-hv04", os={"caption": "Windows Server 2012 R2", "build": 9600}, credential_guard_running=None
    )
    facts = collect(lab(lab_hv04=old)["lab-hv04"])
    assert facts.unread == {}
    assert facts.supported_versions == ["5.0"]
    assert facts.credential_guard_running is False
    # A missing module on 2012 R2 is R5's reason, not a list of 5.0.
    bare = state("lab-hv04", os={"build": 9600}, hyperv={"powershell_module": False})
    facts = collect(lab(lab_hv04=bare)["lab-hv04"])
    assert facts.unread["supported_versions"] == wire.NO_HYPERV_MODULE and facts.supported_versions == []


def test_malformed_json_is_refused_by_the_parser():
    host = HyperVHost(SCENARIO.hosts["lab-hv01"], LabNetwork(), malformed_json=True)
    with pytest.raises(wire.WireError, match="not JSON"):
        collect(host)


# --- probes -----------------------------------------------------------------------------------


def probe(host: HyperVHost, targets: list[dict[str, Any]]) -> dict[tuple[str, int], bool]:
    result = host.run_script(wire.probe_script(targets))
    assert result.terminating is None and result.output[0].startswith("[")
    return {(p.dst, p.port): p.open for p in wire.parse_probes(result.output[0])}


def test_probe_answers_follow_the_firewall_rule():
    hosts = lab()
    targets = [{"dst": f"lab-hv0{i}", "address": f"10.20.0.1{i}", "port": 6600} for i in (2, 3, 4)]
    targets += [{"dst": "lab-hv03", "address": "10.20.0.13", "port": 445}]
    targets += [{"dst": "elsewhere", "address": "10.99.0.1", "port": 445}]
    assert probe(hosts["lab-hv01"], targets) == {
        ("lab-hv02", 6600): True,
        ("lab-hv03", 6600): False,  # VIRT-MIGL-In-TCP-NoScope disabled
        ("lab-hv04", 6600): True,
        ("lab-hv03", 445): True,
        ("elsewhere", 445): False,
    }
    # Through the firewall, but nothing listens while live migration is off: refused at once.
    assert hosts["lab-hv03"].run_script(f"Enable-NetFirewallRule -Name {RULE}").errors == []
    assert probed(hosts["lab-hv01"], targets[1:2]) == [
        (
            "10.20.0.13",
            False,
            "No connection could be made because the target machine actively refused it 10.20.0.13:6600",
        )
    ]
    assert hosts["lab-hv03"].run_script("Enable-VMMigration").errors == []
    assert probe(hosts["lab-hv01"], targets[1:2]) == {("lab-hv03", 6600): True}
    # 445 answers only while the Server service runs.
    hosts["lab-hv03"].smb_server_running = False
    assert probed(hosts["lab-hv01"], targets[3:4])[0][1] is False


DUAL_STACK = [
    {"address": "10.20.0.12", "prefix_length": 24},
    {"address": "fd00:20::12", "prefix_length": 64},
]


def probed(host: HyperVHost, targets: list[dict[str, Any]]) -> list[tuple[str, bool, str]]:
    result = host.run_script(wire.probe_script(targets))
    assert result.terminating is None, result.terminating
    # Read raw: a target lmready never sends (an invalid address) is refused by parse_probes.
    raw = json.loads(result.output[0])
    return [
        (p["address"], p["open"], p.get("error") or "") for p in (raw if isinstance(raw, list) else [raw])
    ]


def test_probes_reach_ipv6_and_dual_stack_destinations_each_on_its_own():
    hosts = lab(
        lab_hv02=state("lab-hv02", addresses=DUAL_STACK),
        lab_hv03=state("lab-hv03", addresses=[{"address": "fd00:20::13", "prefix_length": 64}]),
    )
    targets = [
        {"dst": "lab-hv02", "address": "10.20.0.12", "port": 6600},
        {"dst": "lab-hv02", "address": "fd00:20::12", "port": 6600},
        {"dst": "lab-hv03", "address": "fd00:20::13", "port": 6600},  # rule disabled there
        {"dst": "bad", "address": "not-an-address", "port": 6600},
        {"dst": "bad", "address": "10.20.0.12", "port": 70000},
    ]
    assert probed(hosts["lab-hv01"], targets) == [
        ("10.20.0.12", True, ""),
        ("fd00:20::12", True, ""),
        ("fd00:20::13", False, "no answer within 2000 ms"),
        (
            "not-an-address",
            False,
            'Exception calling "Parse" with "1" argument(s): "An invalid IP address was specified."',
        ),
        (
            "10.20.0.12",
            False,
            'Exception calling "ConnectAsync" with "2" argument(s): "Specified argument was out of the range of '
            'valid values.\r\nParameter name: port"',
        ),
    ]


def test_an_ipv4_only_tcpclient_fails_on_ipv6_as_windows_does():
    """The bug this script had: new TcpClient() is IPv4 only, so ConnectAsync to an IPv6 address
    throws. The lab runs the script, so a regression of it fails here."""
    old = wire.probe_script([{"dst": "lab-hv02", "address": "fd00:20::12", "port": 6600}]).replace(
        "New-Object -TypeName System.Net.Sockets.TcpClient -ArgumentList $ip.AddressFamily",
        "New-Object System.Net.Sockets.TcpClient",
    )
    result = lab(lab_hv02=state("lab-hv02", addresses=DUAL_STACK))["lab-hv01"].run_script(old)
    (probe,) = json.loads(result.output[0])
    assert probe["open"] is False
    assert "An address incompatible with the requested protocol was used" in probe["error"]


def test_probe_answers_follow_the_effective_firewall():
    off = [{"name": n, "enabled": False} for n in ("Domain", "Private", "Public")]
    hosts = lab(
        lab_hv02=state("lab-hv02", firewall_rule={"action": "Block"}),
        # its rule is disabled, the firewall off; 6600 listens once live migration is on
        lab_hv03=state("lab-hv03", firewall_profiles=off, migration={"enabled": True}),
    )
    targets = [
        {"dst": "lab-hv02", "address": "10.20.0.12", "port": 6600},
        {"dst": "lab-hv03", "address": "10.20.0.13", "port": 6600},
    ]
    assert [(a, o) for a, o, _ in probed(hosts["lab-hv01"], targets)] == [
        ("10.20.0.12", False),
        ("10.20.0.13", True),
    ]


def test_one_probe_answers_a_list_and_quotes_survive():
    host = lab()["lab-hv01"]
    result = host.run_script(wire.probe_script([{"dst": "it's", "address": "10.0.0.12", "port": 445}]))
    assert result.output[0].startswith('[{"') and "it\\u0027s" in result.output[0]
    assert probe(host, [{"dst": "it's", "address": "10.0.0.12", "port": 445}]) == {("it's", 445): True}


def test_lab_network():
    hosts = lab()
    network = hosts["lab-hv01"].network
    assert network.owner("10.0.0.13") is hosts["lab-hv03"]
    assert network.is_open("10.20.0.12", 6600) and network.is_open("10.0.0.13", 445)
    assert not network.is_open("10.20.0.13", 6600) and not network.is_open("10.20.0.12", 80)
    assert not network.is_open("192.0.2.1", 445) and not network.is_open("not-an-address", 445)


# --- remediation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, script, expected",
    [
        ("lab-hv03", "Enable-VMMigration", {"migration.enabled": (False, True)}),
        ("lab-hv01", "Disable-VMMigration", {"migration.enabled": (True, False)}),
        (
            "lab-hv03",
            "Set-VMHost -VirtualMachineMigrationPerformanceOption Compression",
            {"migration.performance_option": ("TCPIP", "Compression")},
        ),
        (
            "lab-hv01",
            "Set-VMHost -VirtualMachineMigrationPerformanceOption smb",
            {"migration.performance_option": ("Compression", "SMB")},
        ),
        (
            "lab-hv01",
            "Set-VMHost -VirtualMachineMigrationAuthenticationType CredSSP -ComputerName localhost",
            {"migration.authentication_type": ("Kerberos", "CredSSP")},
        ),
        (
            "lab-hv04",
            "Set-VMHost -MaximumVirtualMachineMigrations 2",
            {"migration.maximum_migrations": (5, 2)},
        ),
        ("lab-hv04", "set-vmhost -maximumvirtual:3  # a prefix", {"migration.maximum_migrations": (5, 3)}),
        (
            "lab-hv04",
            "Set-VMHost -UseAnyNetworkForMigration $false",
            {"migration.use_any_network": (True, False)},
        ),
        ("lab-hv03", f"Enable-NetFirewallRule -Name {RULE}", {"firewall_rule.enabled": (False, True)}),
        ("lab-hv01", f'Disable-NetFirewallRule "{RULE}"', {"firewall_rule.enabled": (True, False)}),
        (
            "lab-hv01",
            "Add-VMMigrationNetwork 10.30.0.0/24 -Priority 5",
            {
                "migration_networks": (
                    [{"subnet": "10.20.0.0/24", "priority": 0}],
                    [{"subnet": "10.20.0.0/24", "priority": 0}, {"subnet": "10.30.0.0/24", "priority": 5}],
                )
            },
        ),
        (
            "lab-hv01",
            "Remove-VMMigrationNetwork -Subnet 10.20.*",
            {"migration_networks": ([{"subnet": "10.20.0.0/24", "priority": 0}], [])},
        ),
        ("lab-hv01", "Set-VMHost -MaximumVirtualMachineMigrations 4 -WhatIf", {}),
    ],
)
def test_each_cmdlet_changes_exactly_what_it_should(name, script, expected):
    host = lab()[name]
    before = host.state
    result = host.run_script(script)
    assert (result.output, result.errors, result.terminating) == ([], [], None)
    assert changes(before, host.state) == expected
    assert changes(host.state, collect(host)) == {}  # and the next collection sees it


def test_reading_values_back():
    host = lab()["lab-hv04"]
    result = host.run_script(
        "Get-VMHost; (Get-VMHost).MaximumVirtualMachineMigrations; (Get-Service vmms).Status\n"
        "(get-vmhost).useanynetworkformigration; hostname; (Get-NetFirewallRule -Name VIRT-MIGL*).Enabled"
    )
    assert result.errors == [] and result.terminating is None
    vmhost = result.output[0]
    assert {k: vmhost[k] for k in ("VirtualMachineMigrationEnabled", "MaximumVirtualMachineMigrations")} == {
        "VirtualMachineMigrationEnabled": True,
        "MaximumVirtualMachineMigrations": 5,
    }
    assert vmhost["VirtualMachineMigrationPerformanceOption"] == "Compression"  # an enum, sent as its name
    assert result.output[1:] == [
        5,
        "Running",
        True,
        "LAB-HV04",
        "True",
    ]
    assert host.run_script("klist purge -li 0x3e7").output[2:] == [
        "Targeted LogonId is 0:0x3e7",
        "\tDeleting all tickets:",
        "\tTicket(s) purged!",
    ]


def test_passthru_returns_the_object():
    result = lab()["lab-hv04"].run_script("Add-VMMigrationNetwork 10.20.0.0/24 -Passthru")
    (network,) = result.output
    assert (network["Subnet"], network["Priority"]) == ("10.20.0.0/24", 0)


def test_the_remediation_script_fixes_the_fixable_settings():
    hosts = lab()
    result = hosts["lab-hv04"].run_script(REMEDIATION)
    assert result.errors == [] and result.terminating is None
    assert result.output[-1] == "\tTicket(s) purged!"
    facts = collect(hosts["lab-hv04"])
    assert facts.migration.maximum_migrations == 2 and not facts.migration.use_any_network
    assert [(n.subnet, n.priority) for n in facts.migration_networks] == [("10.20.0.0/24", 1)]


# --- what Windows refuses ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "script, message",
    [
        (
            "Set-VMHost -VirtualMachineMigrationPerfOption SMB",
            "A parameter cannot be found that matches parameter name 'VirtualMachineMigrationPerfOption'.",
        ),
        (
            "Set-VMHost -VirtualMachineMigrationPerformanceOption SMBTransport",
            "Cannot bind parameter 'VirtualMachineMigrationPerformanceOption'. Cannot convert value "
            '"SMBTransport" to type "Microsoft.HyperV.PowerShell.VMMigrationPerformance". Error: "Unable to '
            "match the identifier name SMBTransport to a valid enumerator name. Specify one of the following "
            'enumerator names and try again:\r\nTCPIP, Compression, SMB"',
        ),
        (
            "Set-VMHost -MaximumVirtualMachineMigrations two",
            "Cannot bind parameter 'MaximumVirtualMachineMigrations'. Cannot convert value \"two\" to type "
            '"System.UInt32". Error: "Input string was not in a correct format."',
        ),
        (
            "Set-VMHost -MaximumVirtualMachineMigrations -1",
            "Cannot bind parameter 'MaximumVirtualMachineMigrations'. Cannot convert value \"-1\" to type "
            '"System.UInt32". Error: "Value was either too large or too small for a UInt32."',
        ),
        (
            "Set-VMHost -UseAnyNetworkForMigration no",
            "Cannot process argument transformation on parameter 'UseAnyNetworkForMigration'. Cannot convert "
            'value "System.String" to type "System.Boolean". Boolean parameters accept only Boolean values '
            "and numbers, such as $True, $False, 1 or 0.",
        ),
        (
            "Set-VMHost -Max 3",
            "Parameter cannot be processed because the parameter name 'Max' is ambiguous. Possible matches "
            "include: -MaximumStorageMigrations -MaximumVirtualMachineMigrations.",
        ),
        (
            "Set-VMHost -UseAnyNetworkForMigration",
            "Missing an argument for parameter 'UseAnyNetworkForMigration'",
        ),
        ("Enable-VMMigrations", NOT_RECOGNIZED.format("Enable-VMMigrations")),
        ("Add-VMMigrationNetwork", "missing mandatory parameters: Subnet."),
        (
            "Add-VMMigrationNetwork 10.20.0.0/24 1 extra",
            "positional parameter cannot be found that accepts argument 'extra'",
        ),
        ("Add-VMMigrationNetwork 10.20.0.0/24", "The migration network '10.20.0.0/24' already exists."),
        ("Add-VMMigrationNetwork 10.20.0.300/24", "is not a valid IPv4 or IPv6 subnet"),
        (
            "Remove-VMMigrationNetwork 10.99.0.0/24",
            'Hyper-V was unable to find a migration network with subnet "10.99.0.0/24".',
        ),
        (
            "Enable-NetFirewallRule -Name VIRT-MIGL-In-TCP",
            "No MSFT_NetFirewallRule objects found with property 'Name' equal to 'VIRT-MIGL-In-TCP'.  "
            "Verify the value of the property and retry.",
        ),
    ],
)
def test_wrong_commands_are_rejected_with_the_powershell_message(script, message):
    host = lab()["lab-hv01"]
    before = host.state
    result = host.run_script(script)
    assert result.terminating is None and result.output == []
    assert len(result.errors) == 1 and message in result.errors[0]
    assert host.state == before


def test_enable_vmmigration_needs_a_domain():
    workgroup = state("lab-hv03", domain="WORKGROUP", part_of_domain=False)
    host = lab(lab_hv03=workgroup)["lab-hv03"]
    result = host.run_script("Enable-VMMigration")
    assert len(result.errors) == 1 and "not a member of a domain" in result.errors[0]
    assert host.state.migration.enabled is False


def test_hyperv_cmdlets_need_the_module_but_firewall_cmdlets_do_not():
    host = lab(lab_hv03=state("lab-hv03", hyperv={"powershell_module": False}))["lab-hv03"]
    result = host.run_script(f"Enable-VMMigration; Enable-NetFirewallRule -Name {RULE}")
    assert result.errors == [NOT_RECOGNIZED.format("Enable-VMMigration")]
    assert host.state.firewall_rule.enabled and not host.state.migration.enabled


MISTAKE_THEN_FIX = "Set-VMHost -Bogus 1\nSet-VMHost -MaximumVirtualMachineMigrations 3"


def test_without_stop_errors_are_reported_and_the_script_goes_on():
    host = lab()["lab-hv01"]
    result = host.run_script(MISTAKE_THEN_FIX)
    assert result.errors == ["A parameter cannot be found that matches parameter name 'Bogus'."]
    assert result.terminating is None and host.state.migration.maximum_migrations == 3


@pytest.mark.parametrize(
    "script",
    [
        "$ErrorActionPreference = 'Stop'\n" + MISTAKE_THEN_FIX,
        '$ErrorActionPreference = "Stop"; Add-VMMigrationNetwork 10.20.0.0/24\n' + MISTAKE_THEN_FIX,
        "Add-VMMigrationNetwork 10.20.0.0/24 -ErrorAction Stop\n" + MISTAKE_THEN_FIX,
        "$ErrorActionPreference = 'Stop'; Get-VMHosts\n" + MISTAKE_THEN_FIX,
    ],
)
def test_with_stop_the_first_error_ends_the_script(script):
    host = lab()["lab-hv01"]
    result = host.run_script(script)
    assert result.terminating and result.errors == []
    assert host.state.migration.maximum_migrations == 2


def test_silently_continue_drops_cmdlet_errors():
    host = lab()["lab-hv01"]
    result = host.run_script("Add-VMMigrationNetwork 10.20.0.0/24 -ea SilentlyContinue\n" + MISTAKE_THEN_FIX)
    assert len(result.errors) == 1 and "Bogus" in result.errors[0]


@pytest.mark.parametrize(
    "script, needle",
    [
        ("Set-VMHost -MaximumVirtualMachineMigrations 3\nWrite-Output 'oops", "missing the terminator: '."),
        (
            "Get-VMHost | Select-Object @{n='x'; e={1}}\nSet-VMHost -MaximumVirtualMachineMigrations 3",
            "does not model calculated properties",
        ),
        ("Set-VMHost -VirtualHardDiskPath D:\\VHD", "-VirtualHardDiskPath of Set-VMHost"),
        ("Set-VMHost -ComputerName lab-hv02 -MaximumVirtualMachineMigrations 3", "manages itself"),
        ("Get-Service W32Time", "the service 'W32Time'"),
        ("Set-VMHost -MaximumVirtualMachineMigrations 3 -ErrorVariable oops", "-ErrorVariable"),
    ],
)
def test_what_the_model_does_not_know_is_never_a_silent_success(script, needle):
    host = lab()["lab-hv04"]
    before = host.state
    result = host.run_script(script)
    assert result.terminating and needle in result.terminating
    assert host.state == before


@pytest.mark.parametrize(
    "script", ["Set-VMHost -MaximumVirtualMachineMigrations $n", 'Add-VMMigrationNetwork "$subnet"']
)
def test_a_variable_never_set_is_an_error_not_null(script):
    """Windows reads it as $null; the lab stops the statement, as Set-StrictMode does."""
    host = lab()["lab-hv04"]
    before = host.state
    result = host.run_script(script)
    assert len(result.errors) == 1 and "cannot be retrieved because it has not been set" in result.errors[0]
    assert host.state == before


def test_concurrent_scripts_do_not_lose_updates():
    host = lab()["lab-hv04"]
    threads = [
        threading.Thread(target=host.run_script, args=(f"Add-VMMigrationNetwork 10.{i}.0.0/16",))
        for i in range(40)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(host.state.migration_networks) == 40


# --- the scripts parse as PowerShell ----------------------------------------------------------


def test_the_sample_remediation_script_parses_as_powershell():
    """lmready's own scripts are checked in test_wire; this one is the model's test input."""
    assert syntax_errors(REMEDIATION) == []


# --- the default scenario ---------------------------------------------------------------------


def failures(facts: dict[str, HostFacts]) -> set[tuple[str, str]]:
    """(check ref, target) of every failing check that needs no directory."""
    found = set()
    views = {name: HostView(name, f, POLICY) for name, f in facts.items()}
    for meta in load_catalogue():
        if meta.directory == "required":
            continue
        if meta.scope == "host":
            targets = list(views.values())
        else:
            targets = [PairView(views[a], views[b]) for a in views for b in views if a != b]
        for target in targets:
            try:
                meta.func(target)
            except CheckFailure:
                found.add((meta.ref, str(target)))
            except NotApplicable:
                pass
    return found


FIXABLE = {
    ("N1", "lab-hv03"),
    ("P1", "lab-hv01->lab-hv03"),
    ("N5", "lab-hv01->lab-hv03"),
    ("N6", "lab-hv04"),
    ("N2", "lab-hv04"),
}
UNFIXABLE = {("R3", "lab-hv01->lab-hv04"), ("X1", "lab-hv01->lab-hv03")}


def test_default_scenario_has_fixable_and_unfixable_findings():
    assert [f.name for f in SCENARIO.hosts.values()] == ["lab-hv01", "lab-hv02", "lab-hv03", "lab-hv04"]
    assert {f.domain for f in SCENARIO.hosts.values()} == {"lab.example.test"}
    assert {f.migration.authentication_type.value for f in SCENARIO.hosts.values()} == {"Kerberos"}
    hosts = lab()
    found = failures({name: collect(host) for name, host in hosts.items()})
    assert found >= FIXABLE | UNFIXABLE
    assert not {
        f for f in found if f[1] in ("lab-hv01", "lab-hv02", "lab-hv01->lab-hv02", "lab-hv02->lab-hv01")
    }
    fix_hv03 = "Enable-VMMigration; Set-VMHost -VirtualMachineMigrationPerformanceOption Compression\n"
    fix_hv03 += f"Enable-NetFirewallRule -Name {RULE}"
    for name, script in (("lab-hv03", fix_hv03), ("lab-hv04", REMEDIATION)):
        assert hosts[name].run_script(script).errors == []
    after = failures({name: collect(host) for name, host in hosts.items()})
    assert not FIXABLE & after
    assert after >= UNFIXABLE


def test_scenario_defaults():
    assert (SCENARIO.username, SCENARIO.password) == (DEFAULT_USERNAME, DEFAULT_PASSWORD)
    assert SCENARIO.policy["performance"] == "Compression"


# --- scenario files ---------------------------------------------------------------------------


def write_scenario(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yml"
    path.write_text(text)
    return path


def inline_facts(name: str) -> dict[str, Any]:
    return json.loads((SCENARIOS / "default" / f"{name}.json").read_text())


def test_inline_facts_and_credentials(tmp_path):
    facts = inline_facts("lab-hv02")
    del facts["name"]
    path = write_scenario(
        tmp_path,
        json.dumps(
            {"username": "LAB\\tester", "password": "pw", "hosts": [{"name": "lab-hv02", "facts": facts}]}
        ),
    )
    loaded = load_scenario(path)
    assert loaded.username == "LAB\\tester" and loaded.password == "pw" and loaded.policy == {}
    assert loaded.hosts["lab-hv02"].migration == SCENARIO.hosts["lab-hv02"].migration


@pytest.mark.parametrize(
    "text, needle",
    [
        ("hosts: []\n", "scenario.yml:1: hosts must be a non-empty list"),
        ("hostz: []\n", "unknown key 'hostz'"),
        ("hosts:\n  - name: lab-hv01\n    facts: nowhere.json\n", "scenario.yml:3: lab-hv01: facts file"),
        (
            "hosts:\n  - name: lab-hv01\n    facts:\n      computer_name: X\n",
            "scenario.yml:3: lab-hv01: facts.domain:",
        ),
        ("policy:\n  performance: SMBTransport\nhosts: []\n", "scenario.yml:2: policy.performance"),
        ("hosts:\n  - name: bad_name\n    facts: {}\n", "hosts[0].name must be a host name"),
        ("hosts: [\n", "YAML syntax error"),
        ("password: ''\nhosts: []\n", "password must be a non-empty string"),
        ("hosts: []\ndenied:\n  lab-hv09: {Get-VM: no}\n", "scenario.yml:3: denied names host 'lab-hv09'"),
        ("hosts: []\ndenied: [Get-VM]\n", "scenario.yml:2: denied maps host names to"),
    ],
)
def test_scenario_mistakes_are_one_sentence_with_the_line(tmp_path, text, needle):
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write_scenario(tmp_path, text))
    assert any(needle in problem for problem in caught.value.problems), caught.value.problems


def test_a_wrong_inline_fact_is_reported_at_its_line(tmp_path):
    facts = inline_facts("lab-hv01")
    facts["os"]["build"] = "twenty"
    text = yaml.safe_dump({"hosts": [{"name": "lab-hv01", "facts": facts}]}, sort_keys=False)
    line = text.splitlines().index("      build: twenty") + 1
    with pytest.raises(
        ScenarioError, match=f"scenario.yml:{line}: lab-hv01: facts.os.build: Input should be"
    ):
        load_scenario(write_scenario(tmp_path, text))


def test_a_denied_name_must_be_a_command_the_lab_knows(tmp_path):
    hosts = [{"name": "lab-hv01", "facts": inline_facts("lab-hv01")}]
    denied = {"lab-hv01": {"Get-Guardian": "no", "get-hgsguardian": "Access is denied.", "Win32_X": "no"}}
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write_scenario(tmp_path, json.dumps({"hosts": hosts, "denied": denied})))
    assert [p.split(": ", 1)[1] for p in caught.value.problems] == [
        "denied names 'Get-Guardian', which is no command the lab knows."
    ]


def test_scenario_hosts_need_their_own_addresses(tmp_path):
    one, two = inline_facts("lab-hv01"), inline_facts("lab-hv02")
    two["addresses"] = one["addresses"]
    text = json.dumps({"hosts": [{"name": "lab-hv01", "facts": one}, {"name": "lab-hv02", "facts": two}]})
    with pytest.raises(ScenarioError, match=r"lab-hv02 and lab-hv01 both have address 10\.0\.0\.11"):
        load_scenario(write_scenario(tmp_path, text))


def test_a_missing_scenario_is_one_sentence(tmp_path):
    with pytest.raises(ScenarioError, match="file not found"):
        load_scenario(tmp_path / "nope.yml")
