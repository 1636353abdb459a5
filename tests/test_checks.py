"""Checks with plain facts, beyond their case tables (CASES in checks/test_<ref>_*.py, run by
tests/test_cases.py): what a row cannot say, such as the fix text, the expectation as data,
and errors on unread facts."""

from __future__ import annotations

import pytest
from factory import account, domain_facts, host, host_dict, host_facts, pair

from lmready.catalogue import CheckFailure, CheckWarning, NotApplicable, Severity, load_catalogue
from lmready.estate import Estate, FactsUnavailable, ReadFacts, require_directory
from lmready.facts import HostFacts
from lmready.inventory import Policy, load_inventory

CHECKS_BY_REF = {meta.ref: meta for meta in load_catalogue()}
CHECKS = {ref: meta.func for ref, meta in CHECKS_BY_REF.items()}


def write(tmp_path, text: str):
    path = tmp_path / "inventory.yml"
    path.write_text(text)
    return path


def run(ref: str, target) -> tuple[str, CheckFailure | str | None]:
    """Run one check on plain facts: ('passed', None), ('failed' or 'warning', exc) or ('skipped', reason)."""
    func = CHECKS[ref]
    try:
        func(target)
    except CheckWarning as exc:
        return "warning", exc
    except CheckFailure as exc:
        return "failed", exc
    except NotApplicable as exc:
        return "skipped", str(exc)
    return "passed", None


def passes(ref: str, target) -> None:
    outcome, detail = run(ref, target)
    assert outcome == "passed", detail


def fails(ref: str, target, *needles: str) -> CheckFailure:
    outcome, exc = run(ref, target)
    assert outcome == "failed", f"{ref} should fail, got {outcome}: {exc}"
    text = str(exc)
    for needle in needles:
        assert needle in text, f"{needle!r} not in {text!r}"
    return exc


def warns(ref: str, target, *needles: str) -> CheckWarning:
    """An advisory verdict (REQUIREMENTS.md 3b): never blocks."""
    outcome, exc = run(ref, target)
    assert outcome == "warning", f"{ref} should warn, got {outcome}: {exc}"
    for needle in needles:
        assert needle in str(exc), f"{needle!r} not in {exc!s}"
    return exc


def skips(ref: str, target, *needles: str) -> None:
    outcome, reason = run(ref, target)
    assert outcome == "skipped", f"{ref} should skip, got {outcome}"
    for needle in needles:
        assert needle in reason


# --- R: requirements --------------------------------------------------------------------------


def test_r1_operator_rights():
    passes("R1", host())
    passes("R1", host(host_facts(session={"group_sids": ["S-1-5-32-578"]})))
    exc = fails("R1", host(host_facts(session={"group_sids": ["S-1-5-32-545"]})), "Hyper-V Administrators")
    assert "CORP\\auditor" in exc.observed


def operator(uac: int = 0x200, protected: bool = False, name: str = "CORP\\auditor") -> dict:
    return {
        "name": name,
        "dn": "CN=auditor,CN=Users,DC=corp,DC=example,DC=com",
        "user_account_control": uac,
        "protected_user": protected,
    }


def test_r1_operator_must_be_delegable():
    passes("R1", host(domain=domain_facts(operators=[operator()])))
    exc = fails(
        "R1",
        host(domain=domain_facts(operators=[operator(protected=True)])),
        "CORP\\auditor is in Protected Users",
    )
    assert "remove CORP\\auditor from Protected Users" in exc.fix
    exc = fails(
        "R1",
        host(domain=domain_facts(operators=[operator(0x200 | 0x100000)])),
        "'Account is sensitive and cannot be delegated' (NOT_DELEGATED 0x100000)",
    )
    assert "Account tab" in exc.fix
    # The operator not found in its own domain: an error, never a pass.
    with pytest.raises(
        FactsUnavailable, match=r"the operator CORP\\auditor was not found in corp\.example\.com"
    ):
        run("R1", host(domain=domain_facts(operators=[])))
    # An operator of another domain is not judged here; without a directory only the groups are.
    other = host_facts(session={"user": "PARTNER\\ops"})
    passes("R1", host(other, domain=domain_facts(operators=[])))
    passes("R1", host())


def test_r3_configuration_versions():
    passes("R3", pair())
    newer = host_facts(vms=[{"name": "web", "state": "Off", "version": "10.0", "memory_bytes": 1}])
    old_dst = host_facts("hv02", 2, supported_versions=["5.0", "8.0", "9.0"])
    exc = fails("R3", pair(newer, old_dst), "web (10.0)", "cannot be lowered")
    assert exc.expected.endswith("(5.0-9.0)")
    legacy = host_facts(vms=[{"name": "erp", "state": "Off", "version": "5.0", "memory_bytes": 1}])
    exc = fails("R3", pair(legacy, host_facts("hv02", 2)), "erp (5.0)", "Update-VMVersion")
    assert "never runs it" in exc.fix
    gap = host_facts(vms=[{"name": "odd", "state": "Off", "version": "8.4", "memory_bytes": 1}])
    exc = fails("R3", pair(gap, host_facts("hv02", 2)), "odd (8.4) cannot move")
    assert "Update-VMVersion" not in exc.fix


def test_r3_windows_server_2012_r2_supports_5_0():
    """2012 R2 has no Get-VMHostSupportedVersion: the parser gives it 5.0 by its build (test_wire),
    and the check does too for saved facts that list nothing."""
    v5 = host_facts(vms=[{"name": "erp", "state": "Off", "version": "5.0", "memory_bytes": 1}])
    r2 = host_facts("hv02", 2, os={"build": 9600}, supported_versions=[])
    passes("R3", pair(v5, r2))
    exc = fails("R3", pair(dst=r2), "vm-hv01 (9.0)", "cannot be lowered")
    assert exc.expected == "versions hv02 supports (5.0)"


def forest(root: str, *children: str, trusts: list | None = None) -> list:
    """A forest's domains as facts: its root (holding ``trusts``) and child domains."""
    names = [root, *children]
    return [
        domain_facts(n, computers=[], forest_root=root, trusts=trusts if n == root else []) for n in names
    ]


def r4(dst_domain: str, domains: list, **changes) -> object:
    return pair(dst=host_facts("hv05", 5, domain=dst_domain, **changes), domains=domains)


def test_r4_same_domain_same_forest_and_workgroup():
    passes("R4", pair())
    exc = fails(
        "R4", pair(dst=host_facts("hv02", 2, part_of_domain=False, domain="WORKGROUP")), "not domain-joined"
    )
    assert "workgroup" in exc.fix and "failover cluster" in exc.fix and "Add-Computer" in exc.fix
    # A child domain of the source's forest: parent-child and tree-root trusts are transitive.
    corp = forest("corp.example.com", "emea.corp.example.com", "other-tree.example.org")
    passes("R4", r4("emea.corp.example.com", corp))
    passes("R4", r4("other-tree.example.org", corp))


TWO_WAY_FOREST = {"partner": "partner.example.net", "direction": 3, "attributes": 0x8}


def test_r4_forest_trust_joins_every_domain_of_both_forests():
    # hv05 sits in a child domain of the partner forest; the forest trust is on the roots only.
    both = forest("corp.example.com", trusts=[TWO_WAY_FOREST]) + forest(
        "partner.example.net", "child.partner.example.net"
    )
    passes("R4", r4("child.partner.example.net", both))
    passes("R4", r4("partner.example.net", both))
    # Seen from the partner root alone (the corp side only lists its own forest).
    seen_there = forest("corp.example.com") + forest(
        "partner.example.net",
        "child.partner.example.net",
        trusts=[{"partner": "corp.example.com", "direction": 3, "attributes": 0x8}],
    )
    passes("R4", r4("child.partner.example.net", seen_there))


def test_r4_external_trust_joins_only_its_two_domains():
    external = {"partner": "partner.example.net", "direction": 3, "attributes": 0x4}
    both = forest("corp.example.com", trusts=[external]) + forest(
        "partner.example.net", "child.partner.example.net"
    )
    passes("R4", r4("partner.example.net", both))
    exc = fails("R4", r4("child.partner.example.net", both), "no forest trust between corp.example.com")
    assert "external trust between corp.example.com and child.partner.example.net" in exc.observed


def test_r4_one_way_trusts_fail():
    one_way = {**TWO_WAY_FOREST, "direction": 2}
    both = forest("corp.example.com", trusts=[one_way]) + forest(
        "partner.example.net", "child.partner.example.net"
    )
    exc = fails("R4", r4("child.partner.example.net", both), "one-way forest trust")
    assert "corp.example.com trusts partner.example.net only" in exc.observed
    # Two one-way trusts, seen from both sides, make a two-way one.
    back = forest(
        "partner.example.net",
        "child.partner.example.net",
        trusts=[{**one_way, "partner": "corp.example.com"}],
    )
    passes("R4", r4("child.partner.example.net", forest("corp.example.com", trusts=[one_way]) + back))


def test_r4_selective_authentication_warns_with_what_to_grant():
    selective = {**TWO_WAY_FOREST, "attributes": 0x8 | 0x10}
    both = forest("corp.example.com", trusts=[selective]) + forest(
        "partner.example.net", "child.partner.example.net"
    )
    exc = warns("R4", r4("child.partner.example.net", both), "selective authentication")
    assert "'Allowed to authenticate' on the computer object of hv05" in exc.fix
    assert "hv01's computer account" in exc.fix


def test_r4_unread_domains_are_errors_never_passes():
    both = forest("corp.example.com", trusts=[TWO_WAY_FOREST]) + forest(
        "partner.example.net", "child.partner.example.net"
    )
    # The destination's domain is not under directory: in the inventory.
    with pytest.raises(FactsUnavailable, match=r"child\.partner\.example\.net has no entry under directory"):
        run("R4", r4("child.partner.example.net", both[:1]))
    # Both forest roots unread: a forest trust cannot be seen.
    children = [
        d for d in forest("corp.example.com", "emea.corp.example.com") if d.name.startswith("emea")
    ] + [d for d in forest("partner.example.net", "child.partner.example.net") if d.name.startswith("child")]
    emea = pair(
        host_facts(domain="emea.corp.example.com"),
        host_facts("hv05", 5, domain="child.partner.example.net"),
        domains=children,
    )
    with pytest.raises(
        FactsUnavailable, match=r"add corp\.example\.com or partner\.example\.net under directory"
    ):
        run("R4", emea)
    # A domain whose collection failed makes the whole view an error (Estate.host_view raises).


def test_r5_management_tools():
    passes("R5", host())
    exc = fails("R5", host(host_facts(hyperv={"powershell_module": False})), "module missing")
    assert exc.fix == "on hv01: Install-WindowsFeature Hyper-V-PowerShell"


# --- A: authentication ------------------------------------------------------------------------


def test_a1_authentication_type():
    passes("A1", pair())
    credssp = host_facts("hv02", 2, migration={"authentication_type": 0})
    exc = fails("A1", pair(dst=credssp), "hv02 CredSSP")
    assert "Set-VMHost -VirtualMachineMigrationAuthenticationType Kerberos on hv02" in exc.fix
    policy = Policy(authentication="CredSSP")
    both = [
        host_facts(n, i, migration={"authentication_type": "CredSSP"}) for n, i in (("hv01", 1), ("hv02", 2))
    ]
    passes("A1", pair(*both, policy=policy))


def delegation_domain(**accounts) -> list:
    computers = [
        accounts.get("hv01", account("hv01", ["hv02"])),
        accounts.get("hv02", account("hv02", ["hv01"])),
    ]
    return [domain_facts(computers=computers)]


def test_a2_constrained_delegation_complete():
    passes("A2", pair(domains=delegation_domain()))


def test_a2_names_each_missing_entry():
    hv01 = account("hv01", ["hv02"])
    hv01["allowed_to_delegate_to"] = [
        v for v in hv01["allowed_to_delegate_to"] if v != "cifs/hv02.corp.example.com"
    ]
    exc = fails("A2", pair(domains=delegation_domain(hv01=hv01)), "hv01 lacks cifs/hv02.corp.example.com")
    assert "hv02:" not in exc.observed
    assert "HV02" not in exc.observed.replace("hv02.corp", "")


def test_a2_kerberos_only_and_case_insensitive():
    hv02 = account("hv02", ["hv01"], uac=WORKSTATION)
    hv02["allowed_to_delegate_to"] = [v.lower() for v in hv02["allowed_to_delegate_to"]]
    hv02_to_hv01 = pair(host_facts("hv02", 2), host_facts("hv01", 1), domains=delegation_domain(hv02=hv02))
    fails("A2", hv02_to_hv01, 'hv02 lacks "use any authentication protocol"')


WORKSTATION = 0x1000


def test_a2_missing_account_and_skip_for_credssp():
    fails(
        "A2",
        pair(domains=[domain_facts(computers=[account("hv02", ["hv01"])])]),
        "hv01 has no computer account",
    )
    credssp = host_facts(migration={"authentication_type": "CredSSP"})
    skips("A2", pair(credssp, domains=delegation_domain()), "needs Kerberos on both hosts", "CredSSP")


def test_a2_without_directory_is_an_error_not_a_pass(tmp_path):
    inventory = load_inventory(write(tmp_path, "hosts: [{name: hv01}, {name: hv02}]"))
    estate = Estate(inventory, {"hv01": host_facts(), "hv02": host_facts("hv02", 2)}, {})
    assert CHECKS_BY_REF["A2"].directory == "required"
    with pytest.raises(FactsUnavailable, match="has no entry under directory"):
        require_directory(estate.pair_view("hv01", "hv02", with_directory=True))


def test_a4_credssp():
    credssp = {"authentication_type": "CredSSP"}
    skips("A4", host(), "needs CredSSP")
    warns("A4", host(host_facts(migration=credssp, credential_guard_running=False)), "source host")
    # Credential Guard running breaks CredSSP on any version.
    for build in (17763, 20348, 26100):
        exc = fails(
            "A4",
            host(host_facts(os={"build": build}, migration=credssp, credential_guard_running=True)),
            "Credential Guard running on hv01",
        )
        assert exc.severity == Severity.HIGH and "Kerberos" in exc.fix
    passes_2025_off = host(host_facts(os={"build": 26100}, migration=credssp, credential_guard_running=False))
    warns("A4", passes_2025_off, "source host")
    # 2025 with the state unknown: a warning that says why it matters.
    exc = warns("A4", host(host_facts(os={"build": 26100}, migration=credssp)), "Windows Server 2025")
    assert "unknown" in exc.observed
    unread = host_facts(
        os={"build": 26100},
        migration=credssp,
        unread={"credential_guard_running": "Win32_DeviceGuard: denied"},
    )
    warns("A4", host(ReadFacts(unread, "hv01")), "unknown (Win32_DeviceGuard: denied)")
    # Before 2025 a state the host did not report is no claim of default enablement.
    exc = warns("A4", host(host_facts(migration=credssp)), "CredSSP")
    assert "by default" not in exc.observed
    # Before 2025 an unread state is an error, never a warning or a pass.
    unread_2022 = host_facts(
        migration=credssp, unread={"credential_guard_running": "Win32_DeviceGuard: denied"}
    )
    with pytest.raises(FactsUnavailable, match="Win32_DeviceGuard: denied"):
        run("A4", host(ReadFacts(unread_2022, "hv01")))
    # Will turn on at the upgrade: a heuristic, and the message says so.
    pending = host_facts(
        migration=credssp, credential_guard_running=False, isolated_credentials_root_secret=True
    )
    exc = warns("A4", host(pending), "IsolatedCredentialsRootSecret", "heuristic", "after an upgrade")
    assert "Kerberos" in exc.fix


def test_a5_unconstrained_delegation():
    d = domain_facts()
    passes("A5", host(domain=d))
    bad = domain_facts(computers=[account("hv01", [], uac=WORKSTATION | 0x80000)])
    fails("A5", host(domain=bad), "HV01$", "0x80000")
    skips("A5", host(), "directory entry")


# --- P: performance ---------------------------------------------------------------------------


def test_p1_performance_option():
    passes("P1", pair())
    fails("P1", pair(dst=host_facts("hv02", 2, migration={"performance_option": 2})), "hv02 SMB")
    smb = Policy(performance="SMB")
    both = [host_facts(n, i, migration={"performance_option": "SMB"}) for n, i in (("hv01", 1), ("hv02", 2))]
    passes("P1", pair(*both, policy=smb))


def test_p2_smb():
    skips("P2", pair(), "SMB performance option")
    probes = [{"dst": "hv02", "address": "10.10.0.12", "port": 445, "open": True}]
    smb = host_facts(migration={"performance_option": "SMB"}, probes=probes)
    passes("P2", pair(smb, host_facts("hv02", 2, migration={"performance_option": "SMB"})))
    closed = host_facts(migration={"performance_option": "SMB"}, probes=[{**probes[0], "open": False}])
    exc = fails("P2", pair(closed), "TCP 445 closed")
    assert exc.severity == Severity.HIGH
    no_rdma = host_facts("hv02", 2, smb={"rdma_enabled": False})
    warns("P2", pair(smb, no_rdma), "no RDMA adapter on hv02")
    exc = fails("P2", pair(smb, no_rdma, policy=Policy(require_rdma=True)), "no RDMA")
    assert exc.severity == Severity.MEDIUM


# --- N: networks ------------------------------------------------------------------------------


def test_n2_isolation():
    passes("N2", host())
    fails("N2", host(host_facts(migration={"use_any_network": True})), "UseAnyNetworkForMigration True")
    exc = fails("N2", host(host_facts(migration_networks=[])), "no migration network")
    assert "Add-VMMigrationNetwork" in exc.fix
    skips("N2", host(host_facts(migration_networks=[]), Policy(require_isolation=False)), "require_isolation")


def test_n3_private_subnets():
    passes("N3", host())
    public = host_facts(migration_networks=[{"subnet": "198.51.100.0/24"}, {"subnet": "10.1.0.0/16"}])
    exc = fails("N3", host(public), "198.51.100.0/24")
    assert "10.1.0.0/16" not in exc.observed
    passes("N3", host(public, Policy(trusted_subnets=("198.51.0.0/16",))))
    passes("N3", host(host_facts(migration_networks=[{"subnet": "fd00:10::/64"}])))
    fails("N3", host(host_facts(migration_networks=[{"subnet": "2001:db8::/64"}])), "2001:db8::/64")
    skips("N3", host(host_facts(migration_networks=None)), "migration network")


def test_n4_shared_network():
    passes("N4", pair())
    elsewhere = host_facts(addresses=[{"address": "192.168.1.11", "prefix_length": 24}])
    fails("N4", pair(elsewhere), "192.168.1.11", "10.10.0.0/24")
    skips("N4", pair(dst=host_facts("hv02", 2, migration={"use_any_network": True})), "any network")


def probe_6600(is_open: bool, address: str = "10.10.0.12", error: str = "") -> dict:
    return {"dst": "hv02", "address": address, "port": 6600, "open": is_open, "error": error}


def test_n5_rule_of_the_effective_policy_without_a_probe():
    passes("N5", pair())
    exc = fails("N5", pair(dst=host_facts("hv02", 2, firewall_rule={"enabled": False})), "disabled")
    assert exc.fix == "on hv02: Enable-NetFirewallRule -Name VIRT-MIGL-In-TCP-NoScope"
    fails("N5", pair(dst=host_facts("hv02", 2, firewall_rule=None)), "missing")
    blocked = host_facts("hv02", 2, firewall_rule={"action": "Block"})
    fails("N5", pair(dst=blocked), "set to Block")
    # Group Policy owns the rule: the fix is in the GPO, not Enable-NetFirewallRule.
    gpo = host_facts("hv02", 2, firewall_rule={"enabled": False, "source": "GroupPolicy"})
    exc = fails("N5", pair(dst=gpo), "disabled by Group Policy")
    assert "Group Policy object" in exc.fix and "Enable-NetFirewallRule" not in exc.fix
    # Every profile off: nothing is filtered, whatever the rule.
    off = [{"name": n, "enabled": False} for n in ("Domain", "Private", "Public")]
    passes("N5", pair(dst=host_facts("hv02", 2, firewall_rule={"enabled": False}, firewall_profiles=off)))
    one_on = [*off[:2], {"name": "Public", "enabled": True}]
    fails("N5", pair(dst=host_facts("hv02", 2, firewall_rule={"enabled": False}, firewall_profiles=one_on)))


def test_n5_the_live_probe_decides():
    # Open passes whatever the rule says (the local rule may be off while Group Policy allows it).
    opened = host_facts(probes=[probe_6600(True)])
    passes("N5", pair(opened, host_facts("hv02", 2, firewall_rule={"enabled": False})))
    passes("N5", pair(opened, host_facts("hv02", 2, firewall_rule=None)))
    # Closed fails, explained with the rule's state.
    closed = host_facts(probes=[probe_6600(False, error="no answer within 2000 ms")])
    exc = fails("N5", pair(closed), "TCP 6600 closed from hv01 to 10.10.0.12 (no answer within 2000 ms)")
    assert "enabled, so something between the hosts blocks it" in exc.observed
    assert "KB 4558514" in exc.fix
    exc = fails("N5", pair(closed, host_facts("hv02", 2, firewall_rule={"enabled": False})), "rule")
    assert "disabled" in exc.observed and exc.fix.endswith(
        "Enable-NetFirewallRule -Name VIRT-MIGL-In-TCP-NoScope"
    )
    # Dual stack: one address answering is enough; every closed one is named.
    dual = [probe_6600(False, "fd00:10::12", "no answer"), probe_6600(True)]
    passes("N5", pair(host_facts(probes=dual)))
    both_closed = host_facts(probes=[dual[0], probe_6600(False, error="refused")])
    fails("N5", pair(both_closed), "fd00:10::12 (no answer), 10.10.0.12 (refused)")
    # The probe decided; an unread rule only lacks the explanation.
    unread = host_facts("hv02", 2, unread={"firewall_rule": "Get-NetFirewallRule: Access is denied."})
    exc = fails("N5", pair(closed, ReadFacts(unread, "hv02")), "could not be read", "Access is denied")
    # Without a probe an unread rule is an error, never a pass.
    with pytest.raises(FactsUnavailable, match="Access is denied"):
        run("N5", pair(dst=ReadFacts(unread, "hv02")))


def test_n6_simultaneous():
    passes("N6", host())
    exc = fails("N6", host(host_facts(migration={"maximum_migrations": 4})), "observed 4", "expected 2")
    assert exc.severity is None
    exc = fails("N6", host(host_facts(migration={"maximum_migrations": 0})))
    assert exc.severity == Severity.HIGH


# --- X: practice ------------------------------------------------------------------------------


def test_x2_processors():
    passes("X2", pair())
    # Padding and repeated spaces of Win32_Processor.Name are no difference.
    padded = host_facts("hv02", 2, cpu={"model": "  Xeon  Gold 6338 "})
    passes("X2", pair(dst=padded))
    exc = fails("X2", pair(dst=host_facts("hv02", 2, cpu={"vendor": "AuthenticAMD"})), "Intel and AMD")
    assert "vm-hv01" in exc.observed and "cannot bridge vendors" in exc.expected
    # Compatibility mode cannot bridge vendors either.
    compat = host_dict()
    compat["vms"][0]["processor_compatibility"] = True
    compat = HostFacts.model_validate(compat)
    fails("X2", pair(compat, host_facts("hv02", 2, cpu={"vendor": "AuthenticAMD"})), "GenuineIntel")
    other_model = host_facts("hv02", 2, cpu={"model": "Xeon E5-2690"})
    exc = warns("X2", pair(dst=other_model), "same vendor (GenuineIntel)", "Xeon Gold 6338 / Xeon E5-2690")
    assert "vm-hv01" in exc.observed and "Compare-VM -Name <vm> -DestinationHost hv02" in exc.fix
    assert "CompatibilityForMigrationEnabled $true" in exc.fix
    passes("X2", pair(compat, other_model))
    # An unknown model or vendor is said to be unknown, never different.
    exc = warns("X2", pair(dst=host_facts("hv02", 2, cpu={"model": ""})), "model unknown on hv02")
    assert "different" not in exc.observed and "?" not in exc.observed
    unknown = [host_facts(n, i, cpu={"model": ""}) for n, i in (("hv01", 1), ("hv02", 2))]
    warns("X2", pair(*unknown), "model unknown on hv01 and hv02")
    exc = warns(
        "X2", pair(dst=host_facts("hv02", 2, cpu={"vendor": "", "model": ""})), "vendor unknown on hv02"
    )
    assert "AMD" not in str(exc)


def test_x3_clock_skew():
    passes("X3", pair())
    ahead = host_facts("hv02", 2, clock={"host_utc": "2026-11-20T09:06:40Z"})
    fails("X3", pair(dst=ahead), "400 s between the hosts", "hv02 +400 s")
    passes("X3", pair(dst=ahead, policy=Policy(max_clock_skew_seconds=600)))


def test_x4_free_memory():
    passes("X4", pair())
    warns("X4", pair(dst=host_facts("hv02", 2, free_memory_bytes=1024**3)), "1.0 GiB free")
    off = host_dict()
    off["vms"][0]["state"] = "Off"
    skips("X4", pair(HostFacts.model_validate(off)), "running VM")


# --- V: per VM (the VM view of a pair) ---------------------------------------------------------


def vm(src: HostFacts | None = None, dst: HostFacts | None = None):
    from lmready.vmview import VmView

    view = pair(src, dst)
    return VmView(view, view.src.facts.vms[0])


def compared(*incompatibilities: tuple[int, str], **more) -> dict:
    found = [{"message_id": i, "message": m} for i, m in incompatibilities]
    return {"vm": "vm-hv01", "dst": "hv02", "compared": True, "incompatibilities": found, **more}


def test_v1_compare_vm():
    skips("V1", vm(), "saved before lmready ran Compare-VM")
    passes("V1", vm(host_facts(compare_vm=[compared()])))
    fails(
        "V1",
        vm(host_facts(compare_vm=[compared((33012, "Could not find Ethernet switch 'Prod'."))])),
        "Compare-VM on hv01: 33012 \"Could not find Ethernet switch 'Prod'.\" (explained by X1 (LMR-051))",
        "Connect-VMNetworkAdapter",
    )
    processor = "The virtual machine 'vm-hv01' is using processor-specific features not supported on physical computer 'HV02'."
    fails("V1", vm(host_facts(compare_vm=[compared((1, processor))])), "(explained by X2 (LMR-052))")
    with pytest.raises(FactsUnavailable, match="could not tell"):
        CHECKS["V1"](vm(host_facts(compare_vm=[compared(compared=False, error="budget")])))


def test_v2_vtpm_key_protector():
    owner = "UntrustedGuardian|AA11"
    tpm = {"vm": "vm-hv01", "vtpm": True, "key_protector_owner": owner}
    skips("V2", vm(host_facts(vm_media=[{"vm": "vm-hv01", "vtpm": False}])), "no virtual TPM")
    passes("V2", vm(host_facts(vm_media=[tpm]), host_facts("hv02", 2, guardians=["hv01|aa11"])))
    fails(
        "V2",
        vm(host_facts(vm_media=[tpm]), host_facts("hv02", 2, guardians=["UntrustedGuardian|BB22"])),
        "could not be unwrapped",
    )
    with pytest.raises(FactsUnavailable, match="could not tell"):
        CHECKS["V2"](vm(host_facts(vm_media=[{**tpm, "key_protector_owner": ""}])))
    # Same name, certificate not read: every local guardian is UntrustedGuardian, so that is no match.
    unread = {**tpm, "key_protector_owner": "UntrustedGuardian|", "key_protector_error": "Access is denied."}
    with pytest.raises(FactsUnavailable, match=r"could not tell: .*\(Access is denied\.\)"):
        CHECKS["V2"](
            vm(host_facts(vm_media=[unread]), host_facts("hv02", 2, guardians=["UntrustedGuardian|"]))
        )


def test_v3_media_on_destination():
    iso = {"vm": "vm-hv01", "iso_paths": ["D:\\ISO\\a.iso"]}
    skips("V3", vm(host_facts(vm_media=[{"vm": "vm-hv01"}])), "none attached")
    present = host_facts("hv02", 2, paths_present=[{"path": "d:\\iso\\A.iso", "exists": True}])
    passes("V3", vm(host_facts(vm_media=[iso]), present))
    absent = host_facts("hv02", 2, paths_present=[{"path": "D:\\ISO\\a.iso", "exists": False}])
    fails("V3", vm(host_facts(vm_media=[iso]), absent), "missing on hv02", "0xC03A0014")
    fails(
        "V3",
        vm(host_facts(vm_media=[{"vm": "vm-hv01", "passthrough_disks": ["disk 2"]}])),
        "pass-through disk 2",
    )
    with pytest.raises(FactsUnavailable, match="not tested on hv02"):
        CHECKS["V3"](vm(host_facts(vm_media=[iso])))
