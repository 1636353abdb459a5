"""The lab's metadata of the real modules: binding as Windows PowerShell 5.1 does it, every command
lmready sends is in it, and every entry says where it comes from."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from powershell_syntax import commands as _commands

from lmready.explain import events_script
from lmready.lab.metadata import NO_ARGUMENT, BindingError, CommandNotFound, PSEnumValue, load
from lmready.per_vm import paths_script, per_vm_script
from lmready.remediation import host_changes as hosts
from lmready.remediation.change import HOST, Change
from lmready.wire import collection_script, probe_script

M = load()
AUTH = "Microsoft.HyperV.PowerShell.MigrationAuthenticationType"
SETVMHOST = "Microsoft.HyperV.PowerShell.Commands.SetVMHost"


def bind_error(cmdlet: str, named=(), positional=()) -> BindingError:
    with pytest.raises(BindingError) as caught:
        M.bind(cmdlet, list(named), list(positional))
    return caught.value


# --- parameter names ---------------------------------------------------------------------------


def test_names_are_case_insensitive_and_take_unambiguous_prefixes_and_aliases():
    bound = M.bind("set-vmhost", [("-maximumvirtualmachine", 4), ("USEANY", False)], [])
    assert bound == {"MaximumVirtualMachineMigrations": 4, "UseAnyNetworkForMigration": False}
    assert set(M.bind("Get-VM", [("VMName", "a")], [])) == {"Name"}  # alias
    assert set(M.bind("Get-NetFirewallRule", [("ID", "x")], [])) == {"Name"}  # alias
    assert set(M.bind("Get-VMHost", [("ea", "Stop")], [])) == {"ErrorAction"}  # common alias


def test_a_prefix_shared_with_common_parameters_only_names_the_cmdlets_own():
    # -In: InputObject, InformationAction, InformationVariable; the one own parameter wins
    # (GetMatchingParameter, decompiled 5.1-era System.Management.Automation).
    assert set(M.bind("ConvertFrom-Json", [("In", "[]")], [])) == {"InputObject"}
    assert "-ErrorAction -ErrorVariable." in bind_error("Get-VMHost", [("E", "x")]).message


def test_an_ambiguous_prefix_lists_the_candidates():
    error = bind_error("Set-VMHost", [("VirtualMachine", 1)])
    assert error.message == (
        "Parameter cannot be processed because the parameter name 'VirtualMachine' is ambiguous. Possible "
        "matches include: -VirtualMachineMigrationAuthenticationType -VirtualMachineMigrationPerformanceOption "
        "-VirtualMachinePath."
    )
    assert error.fully_qualified_error_id == f"AmbiguousParameter,{SETVMHOST}"
    assert error.category == "InvalidArgument"


def test_an_unknown_parameter_is_named():
    error = bind_error("Get-NetFirewallRule", [("Nmae", "x")])
    assert error.message == "A parameter cannot be found that matches parameter name 'Nmae'."
    assert error.fully_qualified_error_id == "NamedParameterNotFound,Get-NetFirewallRule"  # a CDXML function


def test_an_unknown_command_is_powershells_command_not_found():
    with pytest.raises(CommandNotFound) as caught:
        M.cmdlet("Get-VMHots")
    assert caught.value.message.startswith("The term 'Get-VMHots' is not recognized as the name of a cmdlet")
    assert (caught.value.fully_qualified_error_id, caught.value.category) == (
        "CommandNotFoundException",
        "ObjectNotFound",
    )
    assert M.cmdlet("get-vmhost").name == "Get-VMHost"


def test_a_parameter_given_twice_or_without_its_argument_is_refused():
    twice = bind_error("Get-Service", [("Name", "a"), ("n", "b")])
    assert twice.fully_qualified_error_id.startswith("ParameterAlreadyBound,")
    missing = bind_error("Get-Service", [("Name", NO_ARGUMENT)])
    assert missing.message == (
        "Missing an argument for parameter 'Name'. Specify a parameter of type 'System.String[]' and try again."
    )


# --- enums -------------------------------------------------------------------------------------


def test_enums_convert_from_names_in_any_case_from_prefixes_and_from_integers():
    for given in ("Kerberos", "kerberos", "KERB", 1, "1"):
        value = M.bind("Set-VMHost", [("VirtualMachineMigrationAuthenticationType", given)], [])[
            "VirtualMachineMigrationAuthenticationType"
        ]
        assert value == PSEnumValue(AUTH, "Kerberos", 1), given
        assert (str(value), int(value)) == ("Kerberos", 1)


def test_a_bad_enum_name_gets_powershells_message():
    error = bind_error("Set-VMHost", [("VirtualMachineMigrationAuthenticationType", "Negotiate")])
    assert error.message == (
        "Cannot bind parameter 'VirtualMachineMigrationAuthenticationType'. Cannot convert value \"Negotiate\" "
        f'to type "{AUTH}". Error: "Unable to match the identifier name Negotiate to a valid enumerator name. '
        'Specify one of the following enumerator names and try again:\r\nCredSSP, Kerberos"'
    )
    assert error.fully_qualified_error_id == f"CannotConvertArgumentNoMessage,{SETVMHOST}"
    undefined = bind_error("Set-VMHost", [("VirtualMachineMigrationAuthenticationType", 7)])
    assert undefined.message.endswith('The possible enumeration values are "CredSSP,Kerberos".')


def test_an_ambiguous_enum_prefix_is_refused_and_an_exact_name_wins():
    error = bind_error("Get-VMHost", [("ErrorAction", "S")])
    assert (
        "cannot be processed because it is either too similar or identical to the following enumerator "
        in (error.message)
    )
    assert "SilentlyContinue, Stop, Suspend" in error.message
    assert str(M.bind("Get-VMHost", [("ErrorAction", "si")], [])["ErrorAction"]) == "SilentlyContinue"


def test_flags_enums_take_comma_lists():
    profile = M.enum("Microsoft.PowerShell.Cmdletization.GeneratedTypes.NetSecurity.Profile")
    value = profile.parse("domain,Private")
    assert (int(value), str(value)) == (3, "Domain, Private")


# --- other types -------------------------------------------------------------------------------


def test_switches_booleans_and_numbers():
    bound = M.bind("ConvertTo-Json", [("Compress", True), ("Depth", "6")], [], expecting_input=True)
    assert bound == {"Compress": True, "Depth": 6}
    # First in its pipeline, ConvertTo-Json has no -InputObject: the remote host cannot prompt.
    assert (
        "missing mandatory parameters: InputObject."
        in bind_error("ConvertTo-Json", [("Compress", True)]).message
    )
    assert M.bind("Set-VMHost", [("UseAnyNetworkForMigration", 0)], [])["UseAnyNetworkForMigration"] is False
    error = bind_error("Set-VMHost", [("UseAnyNetworkForMigration", "false")])
    assert error.fully_qualified_error_id == f"ParameterArgumentTransformationError,{SETVMHOST}"
    assert "Boolean parameters accept only Boolean values and numbers" in error.message
    number = bind_error("Set-VMHost", [("MaximumVirtualMachineMigrations", "many")])
    assert number.message.endswith(
        'to type "System.UInt32". Error: "Input string was not in a correct format."'
    )


def test_a_scalar_becomes_a_one_element_array_and_an_array_is_refused_by_a_scalar():
    assert M.bind("Get-Service", [("Name", "vmms")], [])["Name"] == ["vmms"]
    assert M.bind("Get-WindowsFeature", [], [["Hyper-V", "Hyper-V-PowerShell"]])["Name"] == [
        "Hyper-V",
        "Hyper-V-PowerShell",
    ]
    error = bind_error("Get-CimInstance", [("ClassName", ["a", "b"])])
    assert error.message == (
        "Cannot convert 'System.Object[]' to the type 'System.String' required by parameter 'ClassName'. "
        "Specified method is not supported."
    )


def test_hashtables_and_scriptblocks():
    assert M.bind("Get-WinEvent", [("FilterHashtable", {"LogName": "x"})], [])["FilterHashtable"] == [
        {"LogName": "x"}
    ]
    assert "System.Collections.Hashtable" in bind_error("Get-WinEvent", [("FilterHashtable", "x")]).message
    block = object()
    # Without coercion first: a scriptblock goes to -FilterScript, a word to -Property.
    assert set(M.bind("Where-Object", [], [block])) == {"FilterScript"}
    assert set(M.bind("Where-Object", [], ["Name"])) == {"Property"}
    assert M.bind("ForEach-Object", [], [block])["Process"] == [block]
    assert "ScriptBlock" in bind_error("ForEach-Object", [("Process", "text")]).message


def test_positional_arguments_and_mandatory_parameters():
    bound = M.bind("Compare-VM", [], ["vm1", "host2"])
    assert bound == {"Name": "vm1", "DestinationHost": "host2"}
    error = bind_error("Compare-VM", [], ["vm1"])
    assert error.message == (
        "Cannot process command because of one or more missing mandatory parameters: DestinationHost."
    )
    assert (
        error.fully_qualified_error_id
        == "MissingMandatoryParameter,Microsoft.HyperV.PowerShell.Commands.CompareVM"
    )
    extra = bind_error("Get-VMHostSupportedVersion", [("Default", True)], ["a", "b", "c"])
    assert extra.fully_qualified_error_id.startswith("PositionalParameterNotFound,")


# --- coverage of what lmready sends, and provenance ------------------------------------------


def _remediation_scripts() -> list[str]:
    def change(setting, before, after):
        return Change("X", "fix", "h1", HOST, setting, before, after, hosts.command(setting, before, after))

    changes = [
        change(hosts.ENABLED, False, True),
        change(hosts.ENABLED, True, False),
        change(hosts.AUTHENTICATION, "CredSSP", "Kerberos"),
        change(hosts.PERFORMANCE, "TCPIP", "SMB"),
        change(hosts.SIMULTANEOUS, 2, 4),
        change(hosts.USE_ANY_NETWORK, True, False),
        change(hosts.NETWORK, None, "10.0.0.0/24"),
        change(hosts.NETWORK, "10.0.0.0/24", None),
        change(hosts.FIREWALL, False, True),
        change(hosts.FIREWALL, True, False),
    ]
    return [hosts.script(changes)]


def _sent_scripts() -> dict[str, str]:
    scripts = {
        "collect_host.ps1": collection_script(),
        "probe_ports.ps1": probe_script([{"dst": "h2", "address": "192.0.2.2", "port": 6600}]),
        "per_vm.ps1": per_vm_script([{"vm": "v", "dst": "h2", "host": "h2.example.test"}], ["v"], 60),
        "test_paths.ps1": paths_script(["C:\\ISO\\a.iso"]),
        "vmms_events.ps1": events_script(datetime(2026, 1, 1, tzinfo=UTC)),
    }
    for n, text in enumerate(_remediation_scripts()):
        scripts[f"remediation script {n}"] = text
    return scripts


def test_every_command_and_parameter_lmready_sends_is_in_the_metadata():
    natives = {n.lower() for n in M.natives}
    seen = set()
    for where, script in _sent_scripts().items():
        commands = _commands(script)
        assert commands, where
        for name, params in commands:
            if name.lower() in natives:
                continue
            cmdlet = M.cmdlet(name)  # CommandNotFound names the culprit
            seen.add(cmdlet.name)
            for written in params:
                M.resolve(cmdlet, written)  # NamedParameterNotFound / AmbiguousParameter name it
    # The scan really reads the scripts: the collection, probe and remediation cmdlets are all there.
    assert {
        "Get-VMHost",
        "Get-NetFirewallRule",
        "ConvertFrom-Json",
        "Set-VMHost",
        "Enable-NetFirewallRule",
        "Compare-VM",
        "ConvertTo-HgsKeyProtector",
        "Get-HgsGuardian",
        "Test-Path",
        "Get-WinEvent",
    } <= seen


def test_every_entry_says_where_it_comes_from():
    data = load()
    assert data.provenance["summary"] and data.provenance["sources"]
    raw = __import__("json").loads(__import__("lmready.lab.metadata", fromlist=["DATA"]).DATA.read_text())
    for part in ("enums", "types", "cmdlets"):
        for name, entry in raw[part].items():
            assert entry["source"], (part, name)
            assert isinstance(entry["verified"], bool), (part, name)
            assert not (entry["verified"] and entry["source"].startswith("knowledge")), (part, name)
    for part in ("common_parameters", "should_process_parameters"):
        assert raw[part]["source"] and isinstance(raw[part]["verified"], bool)


def test_types_list_the_real_properties_and_enums_their_values():
    vmhost = M.properties("microsoft.hyperv.powershell.vmhost")
    assert vmhost["VirtualMachineMigrationAuthenticationType"] == AUTH
    assert vmhost["MaximumVirtualMachineMigrations"] == "System.UInt32"
    assert M.enum(AUTH).values == {"CredSSP": 0, "Kerberos": 1}
    # The output types of what the scripts call are described, down to the properties they read.
    for cmdlet, prop in [
        ("Get-VMHost", "VirtualMachineMigrationEnabled"),
        ("Get-VM", "MemoryStartup"),
        ("Get-VMProcessor", "CompatibilityForMigrationEnabled"),
        ("Get-VMSwitch", "SwitchType"),
        ("Get-VMMigrationNetwork", "Priority"),
        ("Get-VMHostSupportedVersion", "Version"),
        ("Get-NetFirewallRule", "PolicyStoreSourceType"),
        ("Get-NetIPAddress", "AddressState"),
        ("Compare-VM", "Incompatibilities"),
    ]:
        assert prop in M.properties(M.cmdlet(cmdlet).outputs[0]), (cmdlet, prop)
    assert set(M.properties("Microsoft.HyperV.PowerShell.VMCompatibilityError")) == {
        "Message",
        "MessageId",
        "Source",
    }


def test_the_values_remediation_writes_bind_to_set_vmhost():
    for setting, value in [
        (hosts.AUTHENTICATION, "Kerberos"),
        (hosts.AUTHENTICATION, "CredSSP"),
        (hosts.PERFORMANCE, "Compression"),
        (hosts.PERFORMANCE, "SMB"),
        (hosts.PERFORMANCE, "TCPIP"),
        (hosts.SIMULTANEOUS, 2),
        (hosts.USE_ANY_NETWORK, False),
    ]:
        assert hosts.command(setting, None, value).startswith(f"Set-VMHost -{setting} ")
        bound = M.bind("Set-VMHost", [(setting, value)], [])
        assert str(bound[setting]) == str(value)
