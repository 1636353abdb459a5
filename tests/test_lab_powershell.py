"""The lab's Windows PowerShell 5.1 interpreter (issue 11): 5.1's semantics where the scripts
lmready sends depend on them, 5.1's refusals of PowerShell 7 syntax, the ties between
collect_host.ps1, the facts model and the lab's object shapes, and mutations of every script
lmready sends that the suite must catch."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from powershell_syntax import commands, nodes, syntax_errors
from test_lab_model import lab, state

from lmready import wire
from lmready.explain import EVENTS_MARKER, events_script
from lmready.lab.cmdlets.shapes import shaped
from lmready.lab.model import HyperVHost
from lmready.lab.powershell import ast
from lmready.lab.powershell.binding import HONOURED, META
from lmready.lab.powershell.builtins import BUILTINS
from lmready.lab.powershell.evaluator import Runtime
from lmready.per_vm import PATHS_MARKER, PER_VM_MARKER, paths_script, per_vm_script
from lmready.remediation import host_changes as hosts
from lmready.remediation.change import HOST, Change

RUNNER = datetime(2026, 12, 1, tzinfo=UTC)


def ps(script: str, host: str = "lab-hv01") -> list[Any]:
    result = lab()[host].run_script(script)
    assert result.terminating is None and result.errors == [], result
    return result.output


def first(script: str) -> Any:
    (value,) = ps(script)
    return value


# --- 5.1's semantics --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "script, expected",
    [
        # ConvertTo-Json: enums as numbers unless cast, depth 2, DateTime, unwrapping, escaping
        ("ConvertTo-Json -InputObject (Get-Service vmms).Status -Compress", "4"),
        ("ConvertTo-Json -InputObject ([string](Get-Service vmms).Status) -Compress", '"Running"'),
        (
            "@{a=@{b=@{c=@{d=1}}}} | ConvertTo-Json -Compress",
            '{"a":{"b":{"c":"System.Collections.Hashtable"}}}',
        ),
        (
            "ConvertTo-Json -InputObject ([DateTime]'2020-01-01T00:00:00Z') -Compress",
            '"\\/Date(1577836800000)\\/"',
        ),
        ("@(1) | ConvertTo-Json -Compress", "1"),
        ("ConvertTo-Json -InputObject @(1) -Compress", "[1]"),
        ("@(1, 2) | ConvertTo-Json -Compress", "[1,2]"),
        ("ConvertTo-Json -InputObject @($null, 'x') -Compress", '[null,"x"]'),
        ("[ordered]@{ z = 1; a = 2; m = 3 } | ConvertTo-Json -Compress", '{"z":1,"a":2,"m":3}'),
        (
            "\"<a href='x'>&</a>\" | ConvertTo-Json",
            '"\\u003ca href=\\u0027x\\u0027\\u003e\\u0026\\u003c/a\\u003e"',
        ),
        ("@{a=1} | ConvertTo-Json", '{\r\n    "a":  1\r\n}'),
        (
            "@{a=@(1,2)} | ConvertTo-Json",
            '{\r\n    "a":  [\r\n              1,\r\n              2\r\n          ]\r\n}',
        ),
        # comparisons: case-insensitive, filters on a collection, conversions to the left's type
        ("@(1, 2, 3, 2) -eq 2", [2, 2]),
        ("'ABC' -eq 'abc'", True),
        ("'ABC' -ceq 'abc'", False),
        ("@('a', 'b') -contains 'A'", True),
        ("'b' -in @('a', 'B')", True),
        ("'Hyper-V-PowerShell' -like 'hyper-v*'", True),
        ("'10.20.0.0/24' -match '^10\\.20\\.'", True),
        ("5 -eq '5'", True),
        ("'5' -eq 5", True),
        ("$null -eq @()", False),
        ("(Get-Service vmms).Status -eq 'running'", True),
        # casts
        ("[string](Get-VMHost).VirtualMachineMigrationPerformanceOption", "Compression"),
        ("[int](Get-VMHost).VirtualMachineMigrationPerformanceOption", 1),
        ("[bool]'False'", True),
        ("[bool]@()", False),
        ("[bool]@(0)", False),
        ("[int]'0x10'", 16),
        ("[int]2.5", 2),
        ("[int64]'5' * 1024", 5120),
        ("[string]@(1, 2)", "1 2"),
        ("[string]$null", ""),
        # arrays, @(), $(), unrolling
        ("@(@(1, 2)).Count", 2),
        ("@(, @(1, 2)).Count", 1),
        ("$(1; 2).Count", 2),
        ("@(Get-VMHost).Count", 1),
        ("@(Get-VMSwitch | Where-Object { $_.Name -like 'Lab*' }).Count", 1),
        ("(Get-VM | Sort-Object { $_.Name } | Select-Object -First 1).Name", "app01"),
        ("(Get-VM | Measure-Object).Count", 2),
        ("(Get-VM).Name -join ','", "web01,app01"),
        # properties a type does not have read as $null; .PSObject.Properties
        ("$null -eq (Get-VMHost).NoSuchProperty", True),
        ("$null -eq (Get-VMHost).PSObject.Properties['NoSuchProperty']", True),
        ("(Get-VMHost).PSObject.Properties['UseAnyNetworkForMigration'].Value", False),
        # strings
        ('$n = 3; "n=$n, sum=$(1 + 2), ${n}x"', "n=3, sum=3, 3x"),
        ("'{0}-{1:x}' -f 'a', 255", "a-ff"),
        ("[DateTime]::UtcNow.ToString('o') -match '^\\d{4}-\\d\\d-\\d\\dT[\\d:]{8}\\.\\d{7}Z$'", True),
        ("$PSVersionTable.PSVersion.Major", 5),
        ("if ('Windows Server 2022' -match '(?<year>\\d{4})') { $matches.year }", "2022"),
    ],
)
def test_windows_powershell_semantics(script, expected):
    output = ps(script)
    assert (output[0] if len(output) == 1 else output) == expected


SCOPES = """
$x = 'outer'
function Set-Inner([string]$Value) { $x = $Value; $x }
$inner = Set-Inner 'inner'
$block = { $x = 'block' }
& $block
1 | ForEach-Object { $y = 'foreach' }
"$inner $x $y"
"""


def test_scopes_functions_and_script_blocks():
    # A function and & run in a child scope; ForEach-Object's block runs in the caller's.
    assert ps(SCOPES) == ["inner outer foreach"]


TRY = """
$ErrorActionPreference = 'Stop'
$log = New-Object System.Collections.ArrayList
try { Get-Service -Name vmms } catch {
    [void]$log.Add([string]$_.CategoryInfo.Category)
    [void]$log.Add($_.FullyQualifiedErrorId)
} finally { [void]$log.Add('finally') }
try { Get-NoSuchThing } catch { [void]$log.Add($_.FullyQualifiedErrorId) }
try { Get-VMHost -NoSuchParameter 1 } catch { [void]$log.Add($_.FullyQualifiedErrorId) }
try { throw 'boom' } catch { [void]$log.Add($_.Exception.Message) }
$ErrorActionPreference = 'Continue'
try { Get-Service -Name vmms; [void]$log.Add('went on') } catch { [void]$log.Add('caught') }
$log
"""


def test_errors_terminating_or_not_as_error_action_says():
    hosts_ = lab(lab_hv01=state("lab-hv01", hyperv={"vmms_status": "NotFound"}))
    result = hosts_["lab-hv01"].run_script(TRY)
    assert result.terminating is None
    assert result.output == [
        "ObjectNotFound",
        "NoServiceFoundForGivenName,Microsoft.PowerShell.Commands.GetServiceCommand",
        "finally",
        "CommandNotFoundException",
        "NamedParameterNotFound,Microsoft.HyperV.PowerShell.Commands.GetVMHost",
        "boom",
        "went on",  # non-terminating with Continue: reported, and the block goes on
    ]
    assert result.errors == ["Cannot find any service with service name 'vmms'."]


def test_a_script_error_without_try_ends_the_script_only_with_stop():
    host = lab()["lab-hv01"]
    assert host.run_script("Get-Nothing; 'after'").output == ["after"]
    result = host.run_script("$ErrorActionPreference = 'Stop'; Get-Nothing; 'after'")
    assert result.output == [] and "The term 'Get-Nothing' is not recognized" in result.terminating


# --- PowerShell 7 syntax is 5.1's error -------------------------------------------------------


@pytest.mark.parametrize(
    "script, message",
    [
        ("Get-VMHost && 'ok'", "The token '&&' is not a valid statement separator in this version."),
        ("Get-VMHost || 'failed'", "The token '||' is not a valid statement separator in this version."),
        ("$x = $null; $x ?? 'default'", "Unexpected token '??' in expression or statement."),
        ("$x = $null; $x ??= 'default'", "Unexpected token '??=' in expression or statement."),
        ("$x = 1; $x -eq 1 ? 'one' : 'other'", "Unexpected token '?' in expression or statement."),
        (
            "function f { process { $_ } clean { 'done' } }",
            "Unexpected token 'clean' in expression or statement.",
        ),
    ],
)
def test_powershell_7_syntax_is_refused_with_the_51_parse_error(script, message):
    assert syntax_errors(script) == [f"line 1: {message}"]
    result = lab()["lab-hv01"].run_script(script)
    assert result.output == [] and message in result.terminating  # nothing of the script ran


@pytest.mark.parametrize("script", ["$vm = Get-VMHost; $vm?.Name", "$vms = @(Get-VM); $vms?[0]"])
def test_null_conditional_access_reads_a_variable_named_with_a_question_mark_as_51_does(script):
    """5.1 parses $vm?.Name as the property Name of the variable 'vm?', which was never set."""
    result = lab()["lab-hv01"].run_script(script)
    assert result.output == [] and "cannot be retrieved because it has not been set" in result.errors[0]


@pytest.mark.parametrize(
    "script, parameter",
    [
        ("1, 2 | ForEach-Object -Parallel { $_ }", "Parallel"),
        ("'{}' | ConvertFrom-Json -AsHashtable", "AsHashtable"),
        ("'{}' | ConvertFrom-Json -Depth 3", "Depth"),
        ("1 | ConvertTo-Json -EnumsAsStrings", "EnumsAsStrings"),
        ("1 | ConvertTo-Json -AsArray", "AsArray"),
        ("1 | ConvertTo-Json -EscapeHandling EscapeHtml", "EscapeHandling"),
        ("Get-VM | Sort-Object -Top 1", "Top"),
    ],
)
def test_powershell_7_parameters_are_refused_as_51_binds_them(script, parameter):
    result = lab()["lab-hv01"].run_script(script)
    assert result.errors == [f"A parameter cannot be found that matches parameter name '{parameter}'."]
    assert result.output == []


# --- one declaration per fact: the script, the facts model, the object shapes ------------------


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths to every key whose value is not an object: lists of objects are walked into."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaves(v, (*path, k))]
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [p for v in value[:1] for p in _leaves(v, (*path, 0))]
    return [path]


def _poisoned(doc: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    """The document with the value at ``path`` changed (in every element of a list)."""
    doc = copy.deepcopy(doc)

    def change(node: Any, rest: tuple[Any, ...]) -> None:
        key, more = rest[0], rest[1:]
        targets = node if key == 0 and isinstance(node, list) else [node]
        for target in targets:
            if key == 0 and isinstance(node, list):
                change(target, more)
                continue
            if more:
                change(target[key], more)
                continue
            value = target[key]
            if isinstance(value, bool):
                target[key] = not value
            elif isinstance(value, int):
                target[key] = value + 7
            elif isinstance(value, str):
                target[key] = value + "x"
            else:
                target[key] = [] if value else ["x"]

    change(doc, path)
    return doc


def document(script: str, host: HyperVHost) -> dict[str, Any]:
    result = host.run_script(script)
    assert result.terminating is None and result.errors == [], result
    doc = json.loads(result.output[0])
    assert doc["problems"] == [], doc["problems"]
    return doc


def _parsed(doc: dict[str, Any]) -> Any:
    try:
        facts = wire.parse_host(json.dumps(doc), "lab-hv01", RUNNER)
    except wire.WireError as exc:
        return str(exc)
    return facts.model_dump(exclude={"clock", "collected_at"})


def key_mismatches(script: str) -> set[str]:
    """Keys collect_host.ps1 emits that the facts model does not take: changing the key's value
    changes nothing in the parsed facts (on a host with every fact present). A key the parser
    reads but the script does not emit leaves a fact at its default, which the lab's tests that
    compare a collection with the host's state catch."""
    host = lab(lab_hv01=state("lab-hv01", firewall_profiles=[{"name": "Domain", "enabled": True}]))[
        "lab-hv01"
    ]
    doc = document(script, host)
    baseline = _parsed(doc)
    if isinstance(baseline, str):
        return {baseline}
    ignored = {("problems",)}
    return {
        ".".join(map(str, path))
        for path in _leaves(doc)
        if path not in ignored and _parsed(_poisoned(doc, path)) == baseline
    }


def property_misses(script: str) -> list[tuple[str, str]]:
    """Properties the script reads that the lab's objects (their types' metadata) do not have."""
    host = lab()["lab-hv01"]
    runtime = Runtime(host, BUILTINS)
    outcome = runtime.run(script)
    assert outcome.terminating is None and outcome.errors == []
    return runtime.missing_properties


def problem_facts(script: str) -> set[str]:
    """The fact names collect_host.ps1 reports problems under (Read-Fact and Add-Problem)."""
    return {
        node.elements[0].value
        for node in nodes(script)
        if isinstance(node, ast.Command)
        and isinstance(node.name, ast.Constant)
        and str(node.name.value).lower() in ("read-fact", "add-problem")
        and isinstance(node.elements[0], ast.Constant)
    }


def test_the_keys_collect_host_emits_are_the_keys_the_facts_model_takes():
    assert key_mismatches(wire.collection_script()) == set()


def test_the_facts_problems_are_reported_under_are_the_facts_wire_knows():
    assert problem_facts(wire.collection_script()) == set(wire.FACT_FIELDS)


def test_every_property_collect_host_reads_exists_on_the_lab_objects():
    assert property_misses(wire.collection_script()) == []


# --- mutations of the scripts lmready sends: the suite must catch each -------------------------

COLLECT = wire.collection_script()


@pytest.mark.parametrize(
    "old, new",
    [
        ("$vmhost.VirtualMachineMigrationEnabled", "$vmhost.VirtualMachineMigrationEnable"),
        ("$_.Installed", "$_.IsInstalled"),
        ("$cs.PartOfDomain", "$cs.PartOfDomainX"),
        ("$_.SwitchName", "$_.Switch"),
        ("$os.FreePhysicalMemory", "$os.FreeMemory"),
        ("[string]$rule.Action", "[string]$rule.Actions"),
    ],
)
def test_renaming_a_property_collect_host_reads_is_caught(old, new):
    assert old in COLLECT
    assert property_misses(COLLECT.replace(old, new, 1))


@pytest.mark.parametrize(
    "old, new",
    [
        ("installed = [bool]", "isinstalled = [bool]"),
        ("$facts.rdma_enabled =", "$facts.rdma ="),
        ("VirtualMachineMigrationEnabled = [bool]", "MigrationEnabled = [bool]"),
        ("prefix_length = [int]", "prefix = [int]"),
    ],
)
def test_renaming_a_key_collect_host_emits_is_caught(old, new):
    assert old in COLLECT
    assert key_mismatches(COLLECT.replace(old, new, 1))


PROBE = wire.probe_script([{"dst": "lab-hv02", "address": "10.20.0.12", "port": 6600}])


def remediation_script(host: str = "lab-hv04") -> str:
    if host == "lab-hv01":  # it has a migration network: remove it, add another
        settings = [(hosts.NETWORK, "10.20.0.0/24", None), (hosts.NETWORK, None, "10.40.0.0/24")]
    else:
        settings = [
            (hosts.SIMULTANEOUS, 5, 2),
            (hosts.NETWORK, None, "10.30.0.0/24"),
            (hosts.FIREWALL, True, False),
            (hosts.ENABLED, True, False),
            (hosts.PERFORMANCE, "Compression", "SMB"),
            (hosts.AUTHENTICATION, "Kerberos", "CredSSP"),
            (hosts.USE_ANY_NETWORK, True, False),
        ]
    changes = [
        Change("X", "f", host, HOST, setting, before, after, hosts.command(setting, before, after))
        for setting, before, after in settings
    ]
    return hosts.script(changes)


def runs_clean(script: str, host: str) -> bool:
    result = lab()[host].run_script(script)
    if result.terminating or result.errors:
        return False
    if script.startswith(wire.COLLECT_MARKER):
        return json.loads(result.output[0])["problems"] == []
    if script.startswith(wire.PROBE_MARKER):
        return all(p["error"] == "" for p in json.loads(result.output[0]))
    if script.startswith(PER_VM_MARKER):
        doc = json.loads(result.output[0])
        entries = doc["comparisons"] + doc["media"]
        return doc["guardians_error"] == "" and all(e["error"] == "" for e in entries)
    if script.startswith((PATHS_MARKER, EVENTS_MARKER)):
        return isinstance(json.loads(result.output[0]), list)
    return all(not str(line).endswith("kept") for line in result.output)


SCRIPTS = [("collect_host.ps1", COLLECT, "lab-hv01"), ("probe_ports.ps1", PROBE, "lab-hv01")]
SCRIPTS += [("remediation", remediation_script(), "lab-hv04")]
SCRIPTS += [("remediation of networks", remediation_script("lab-hv01"), "lab-hv01")]
# The per-VM round (V1-V3): lab-hv02's VMs have an ISO and a vTPM; Compare-VM against lab-hv03.
PER_VM = per_vm_script(
    [{"vm": "sec01", "dst": "lab-hv03", "host": "lab-hv03.lab.example.test"}], ["file01", "sec01"], 60
)
SCRIPTS += [("per_vm.ps1", PER_VM, "lab-hv02")]
SCRIPTS += [("test_paths.ps1", paths_script(["C:\\ISO\\tools.iso"]), "lab-hv01")]
SCRIPTS += [("vmms_events.ps1", events_script(datetime(2026, 1, 1, tzinfo=UTC)), "lab-hv01")]


@pytest.mark.parametrize("name, script, host", SCRIPTS)
def test_every_command_lmready_sends_is_a_real_one_the_lab_implements(name, script, host):
    machine = lab()[host]
    called = commands(script)
    assert called, name
    for command, parameters in called:
        cmdlet = machine.cmdlet(command.lower()) or BUILTINS.get(command.lower())
        assert cmdlet is not None or machine.native(command.lower()), (name, command)
        for written in parameters if cmdlet is not None else []:
            parameter = META.resolve(cmdlet.info, written)  # NamedParameterNotFound names the culprit
            assert parameter.name in cmdlet.modelled | HONOURED, (name, command, parameter.name)


@pytest.mark.parametrize("name, script, host", SCRIPTS)
def test_every_script_lmready_sends_runs_clean_in_the_lab(name, script, host):
    assert syntax_errors(script) == []
    assert runs_clean(script, host), name


def _mutants(script: str) -> dict[str, str]:
    """A PowerShell 7 construct, a cmdlet that does not exist, a parameter that does not exist."""
    command = re.search(r"\b(Get|Set|Add|Enable|New|Test)-[A-Za-z]+", script)
    parameter = re.search(
        r" -(ClassName|TypeName|Subnet|MaximumVirtualMachineMigrations|Name|LiteralPath|FilterHashtable)\b",
        script,
    )
    assert command and parameter
    return {
        "7-only": script.replace("\n", "\n$null = $null ?? 1\n", 1),
        "pipeline chain": script + "\n'done' && 'twice'",
        "cmdlet": script.replace(command.group(), command.group() + "s", 1),
        "parameter": script.replace(parameter.group(), parameter.group() + "X", 1),
    }


@pytest.mark.parametrize(
    "name, script, host, mutation",
    [(n, s, h, m) for n, s, h in SCRIPTS for m in ("7-only", "pipeline chain", "cmdlet", "parameter")],
)
def test_a_mutation_of_any_script_lmready_sends_is_caught(name, script, host, mutation):
    mutant = _mutants(script)[mutation]
    assert mutant != script
    assert syntax_errors(mutant) or not runs_clean(mutant, host), (name, mutation)


# --- objects shaped like the real ones; fault knobs as cmdlet behaviour ------------------------


def test_objects_carry_every_property_of_the_real_type():
    # HostNumaStatus is a real VMHost property the lab does not model: present, and $null.
    assert ps(
        "$p = (Get-VMHost).PSObject.Properties['HostNumaStatus']; $null -ne $p; $null -eq $p.Value"
    ) == [
        True,
        True,
    ]
    with pytest.raises(ValueError, match="properties the real type lacks"):
        shaped("Microsoft.HyperV.PowerShell.VMHost", {"MigrationEnabled": True})


def test_a_denied_command_or_cim_class_is_an_access_denied_error_of_that_fact():
    host = lab()["lab-hv01"]
    host.denied = {"Get-VM": "Access is denied.", "Win32_DeviceGuard": "Access denied "}
    doc = json.loads(host.run_script(COLLECT).output[0])
    assert doc["problems"] == [
        {"fact": "vms", "reason": "Get-VM: Access is denied."},
        {"fact": "credential_guard", "reason": "Win32_DeviceGuard: Access denied "},
    ]
    result = host.run_script("try { Get-VM -ErrorAction Stop } catch { [string]$_.CategoryInfo.Category }")
    assert (result.errors, result.output) == ([], ["PermissionDenied"])


# --- the per-VM cmdlets (V1-V3) and the event log, over the model ------------------------------


def test_compare_vm_judges_a_vm_against_the_destination_it_names():
    script = (
        "$r = Compare-VM -Name app01 -DestinationHost lab-hv03.lab.example.test; $r.PSObject.TypeNames[0];"
        " @($r.Incompatibilities).Count; $e = $r.Incompatibilities[0]; $e.PSObject.TypeNames[0]; $e.MessageId;"
        " $e.Message"
    )
    assert ps(script) == [
        "Microsoft.HyperV.PowerShell.VMCompatibilityReport",
        1,
        "Microsoft.HyperV.PowerShell.VMCompatibilityError",
        33012,
        "Could not find Ethernet switch 'Backup'.",
    ]
    assert ps("@((Compare-VM -Name app01 -DestinationHost LAB-HV02).Incompatibilities).Count") == [0]
    version = first("(Compare-VM web01 -DestinationHost lab-hv04).Incompatibilities[0].Message")
    assert "configuration version 10.0, which is not supported on 'LAB-HV04'" in version
    result = lab()["lab-hv01"].run_script(
        "foreach ($h in 'nowhere', 'lab-hv02') { try { Compare-VM -Name nosuch -DestinationHost $h -ErrorAction Stop }"
        " catch { $_.Exception.Message } }"
    )
    assert result.output == [
        "Failed to establish a connection with host 'nowhere': The RPC server is unavailable. (0x800706BA).",
        'Hyper-V was unable to find a virtual machine with name "nosuch".',
    ]


def test_vm_media_security_and_key_protector_come_from_the_vms_state():
    assert ps("Get-VMDvdDrive -VMName file01 | ForEach-Object { $_.Path }", "lab-hv02") == [
        "C:\\ISO\\tools.iso"
    ]
    assert ps(
        "(Get-VMSecurity -VMName sec01).TpmEnabled; (Get-VMSecurity -VMName file01).TpmEnabled", "lab-hv02"
    ) == [
        True,
        False,
    ]
    owner = "(ConvertTo-HgsKeyProtector -Bytes (Get-VMKeyProtector -VMName sec01)).Owner"
    assert ps(f"{owner}.Name; {owner}.SigningCertificate.Thumbprint", "lab-hv02") == [
        "UntrustedGuardian",
        "5A1E0C3F9B2D47E68C0F1A2B3C4D5E6F70819202",
    ]
    assert ps("@(Get-VMHardDiskDrive -VMName file01).Count", "lab-hv02") == [0]
    missing = lab()["lab-hv02"].run_script("Get-VMDvdDrive -VMName nosuch")
    assert missing.errors == ['Hyper-V was unable to find a virtual machine with name "nosuch".']


def test_unreadable_guardians_are_get_hgsguardian_denied_by_the_scenario():
    # Every host's local guardian has the same name: the signing certificate tells them apart.
    assert ps(
        "Get-HgsGuardian | ForEach-Object { $_.Name; $_.SigningCertificate.Thumbprint }", "lab-hv03"
    ) == [
        "UntrustedGuardian",
        "9F8E7D6C5B4A39281706F5E4D3C2B1A098765432",
    ]
    doc = json.loads(ps(per_vm_script([], [], 60), "lab-hv04")[0])
    assert (doc["guardians"], doc["guardians_error"]) == (None, "Access is denied.")
    host = lab()["lab-hv01"]
    host.denied = {"get-hgsguardian": "Denied here."}  # names ignore case, as PowerShell's do
    doc = json.loads(host.run_script(per_vm_script([], [], 60)).output[0])
    assert (doc["guardians"], doc["guardians_error"]) == (None, "Denied here.")


def test_test_path_of_a_file_answers_from_the_media_the_host_has():
    script = paths_script(["C:\\ISO\\tools.iso", "c:\\iso\\TOOLS.iso", "D:\\nothing.iso"])
    assert [p["exists"] for p in json.loads(ps(script, "lab-hv01")[0])] == [True, True, False]
    assert [p["exists"] for p in json.loads(ps(script, "lab-hv04")[0])] == [False, False, False]


def test_get_winevent_filters_by_start_time_level_and_count_newest_first():
    now = datetime.now(UTC)

    def ids(host: str, hours: int, **extra: int) -> list[tuple[int, str]]:
        doc = json.loads(ps(events_script(now - timedelta(hours=hours), **extra), host)[0])
        return [(e["id"], e["message"].split("'")[1]) for e in (doc if isinstance(doc, list) else [doc])]

    assert ids("lab-hv02", 8) == [(21502, "Virtual Machine file01")]  # sec01's is 12 h old
    assert ids("lab-hv02", 13) == [(21502, "Virtual Machine file01"), (21502, "Virtual Machine sec01")]
    assert ids("lab-hv02", 13, max_events=1) == [(21502, "Virtual Machine file01")]
    assert ids("lab-hv04", 24 * 30) == []  # no events: Get-WinEvent's error, caught by its id
    script = (
        "$e = Get-WinEvent -FilterHashtable @{ LogName = 'Microsoft-Windows-Hyper-V-VMMS-Admin'; Level = 3 }"
        " -MaxEvents 1; $e.PSObject.TypeNames[0]; $e.Id; $e.LevelDisplayName; $e.TimeCreated -is [DateTime]"
    )
    assert ps(script) == ["System.Diagnostics.Eventing.Reader.EventLogRecord", 21501, "Warning", True]
    fqid = first(
        "try { Get-WinEvent -FilterHashtable @{ LogName = 'Microsoft-Windows-Hyper-V-VMMS-Admin'; Level = 1 }"
        " -ErrorAction Stop } catch { $_.FullyQualifiedErrorId }"
    )
    assert fqid == "NoMatchingEventsFound,Microsoft.PowerShell.Commands.GetWinEventCommand"


def test_datetime_parse_and_stopwatch():
    script = (
        "$d = [DateTime]::Parse('2026-11-30T08:00:00Z', [Globalization.CultureInfo]::InvariantCulture,"
        " [Globalization.DateTimeStyles]::RoundtripKind); $d.ToUniversalTime().ToString('o');"
        " $w = [Diagnostics.Stopwatch]::StartNew(); $w.Elapsed.TotalSeconds -ge 0"
    )
    assert ps(script) == ["2026-11-30T08:00:00.0000000Z", True]
    bad = first("try { [DateTime]::Parse('soon') } catch { $_.Exception.Message }")
    assert (
        bad
        == 'Exception calling "Parse" with "1" argument(s): "String was not recognized as a valid DateTime."'
    )


def test_windows_server_2012_r2_has_no_vtpm_or_hgs_cmdlets():
    old = state("lab-hv02", os={"caption": "Windows Server 2012 R2", "build": 9600})
    doc = json.loads(ps(per_vm_script([], ["file01"], 60), "lab-hv02")[0])
    assert doc["media"][0]["error"] == "" and doc["guardians_error"] == ""
    doc = json.loads(lab(lab_hv02=old)["lab-hv02"].run_script(per_vm_script([], ["file01"], 60)).output[0])
    assert doc["media"][0]["iso_paths"] == ["C:\\ISO\\tools.iso"]  # Get-VMDvdDrive is older
    # No Get-VMSecurity before 2016: no vTPM, and no error that would hide the VM's media from V3.
    assert doc["media"][0]["error"] == "" and doc["media"][0]["vtpm"] is False
    assert doc["guardians_error"].startswith("The term 'Get-HgsGuardian' is not recognized")
