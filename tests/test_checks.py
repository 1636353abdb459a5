"""Every check with plain facts: at least one passing and one failing case each."""

from __future__ import annotations

import pytest
from factory import account, domain_facts, host, host_dict, host_facts, pair

from lmready.catalogue import CheckFailure, CheckWarning, Severity, load_catalogue
from lmready.estate import Estate, FactsUnavailable, require_directory
from lmready.facts import HostFacts
from lmready.inventory import Policy, load_inventory

CHECKS_BY_REF = {meta.ref: meta for meta in load_catalogue()}
CHECKS = {ref: meta.func for ref, meta in CHECKS_BY_REF.items()}


def write(tmp_path, text: str):
    path = tmp_path / "inventory.yml"
    path.write_text(text)
    return path


OUTCOME_SEEN: dict[str, set[str]] = {}


def run(ref: str, target) -> tuple[str, CheckFailure | str | None]:
    """Run one check on plain facts: ('passed', None), ('failed' or 'warning', exc) or ('skipped', reason)."""
    func = CHECKS[ref]
    try:
        func(target)
    except CheckWarning as exc:
        OUTCOME_SEEN.setdefault(ref, set()).add("warning")
        return "warning", exc
    except CheckFailure as exc:
        OUTCOME_SEEN.setdefault(ref, set()).add("failed")
        return "failed", exc
    except pytest.skip.Exception as exc:
        OUTCOME_SEEN.setdefault(ref, set()).add("skipped")
        return "skipped", str(exc)
    OUTCOME_SEEN.setdefault(ref, set()).add("passed")
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


def test_r2_hyperv_role():
    passes("R2", host())
    fails("R2", host(host_facts(hyperv={"vmms_status": "Stopped"})), "vmms service Stopped")
    fails("R2", host(host_facts(hyperv={"feature_installed": False})), "not installed")
    fails("R2", host(host_facts(os={"build": 9600})), "Windows Server 2012 R2")


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


def test_r3_compares_versions_as_numbers():
    vm = host_facts(vms=[{"name": "a", "state": "Off", "version": "9.00", "memory_bytes": 1}])
    passes("R3", pair(vm, host_facts("hv02", 2, supported_versions=["9.0", "10.0"])))


def test_r4_same_domain_and_trusts():
    passes("R4", pair())
    fails(
        "R4", pair(dst=host_facts("hv02", 2, part_of_domain=False, domain="WORKGROUP")), "not domain-joined"
    )
    rd = host_facts("hv05", 5, domain="rd.example.net")
    corp_d = domain_facts(trusts=[{"partner": "rd.example.net", "direction": 3}])
    rd_d = domain_facts("rd.example.net", computers=[], trusts=[])
    passes("R4", pair(dst=rd, domains=[corp_d, rd_d]))
    one_way = domain_facts(trusts=[{"partner": "rd.example.net", "direction": 2}])
    fails("R4", pair(dst=rd, domains=[one_way, rd_d]), "without a two-way trust")
    # Two one-way trusts, seen from both sides, make a two-way one.
    back = domain_facts(
        "rd.example.net", computers=[], trusts=[{"partner": "corp.example.com", "direction": 2}]
    )
    passes("R4", pair(dst=rd, domains=[one_way, back]))
    fails("R4", pair(dst=rd, domains=[corp_d]), "no directory facts for hv05")
    same_forest = domain_facts("rd.example.net", computers=[], forest_root="corp.example.com")
    passes("R4", pair(dst=rd, domains=[domain_facts(), same_forest]))


def test_r5_management_tools():
    passes("R5", host())
    fails("R5", host(host_facts(hyperv={"powershell_module": False})), "Install-WindowsFeature")


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


def test_a3_cross_domain_kerberos():
    skips("A3", pair(), "different domains")
    rd = host_facts("hv05", 5, domain="rd.example.net")
    warns("A3", pair(dst=rd), "resource-based")


def test_a4_credssp():
    skips("A4", host(), "needs CredSSP")
    warns("A4", host(host_facts(migration={"authentication_type": "CredSSP"})), "source host")
    exc = fails(
        "A4",
        host(host_facts(os={"build": 26100}, migration={"authentication_type": "CredSSP"})),
        "Credential Guard",
    )
    assert exc.severity == Severity.HIGH


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


def test_n1_enabled():
    passes("N1", host())
    fails("N1", host(host_facts(migration={"enabled": False})), "Enable-VMMigration")


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


def test_n5_port_6600():
    passes("N5", pair())
    fails("N5", pair(dst=host_facts("hv02", 2, firewall_rule={"enabled": False})), "disabled")
    fails("N5", pair(dst=host_facts("hv02", 2, firewall_rule=None)), "missing")
    closed = host_facts(probes=[{"dst": "hv02", "address": "10.10.0.12", "port": 6600, "open": False}])
    fails("N5", pair(closed), "TCP 6600 closed from hv01 to 10.10.0.12")
    both = fails("N5", pair(closed, host_facts("hv02", 2, firewall_rule={"enabled": False})))
    assert "disabled" in both.observed and "closed" in both.observed


def test_n6_simultaneous():
    passes("N6", host())
    exc = fails("N6", host(host_facts(migration={"maximum_migrations": 4})), "observed 4", "expected 2")
    assert exc.severity is None
    exc = fails("N6", host(host_facts(migration={"maximum_migrations": 0})))
    assert exc.severity == Severity.HIGH


# --- X: practice ------------------------------------------------------------------------------


def test_x1_switches():
    passes("X1", pair())
    fails("X1", pair(dst=host_facts("hv02", 2, switches=[{"name": "Other"}])), "'Prod' (used by vm-hv01)")


def test_x2_processors():
    passes("X2", pair())
    fails("X2", pair(dst=host_facts("hv02", 2, cpu={"vendor": "AuthenticAMD"})), "Intel and AMD")
    other_model = host_facts("hv02", 2, cpu={"model": "Xeon E5-2690"})
    fails("X2", pair(dst=other_model), "vm-hv01")
    compat = host_dict()
    compat["vms"][0]["processor_compatibility"] = True
    passes("X2", pair(HostFacts.model_validate(compat), other_model))
    unknown = [host_facts(n, i, cpu={"model": ""}) for n, i in (("hv01", 1), ("hv02", 2))]
    fails("X2", pair(*unknown), "vm-hv01")


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


def test_x5_preflight():
    skips("X5", host(), "loaded from files")
    ok = {"resolved": True, "winrm_port_open": True}
    passes("X5", host(host_facts(preflight=ok)))
    fails("X5", host(host_facts(preflight={**ok, "winrm_port_open": False})), "WinRM port")
    fails("X5", host(host_facts(preflight={**ok, "resolved": False})), "does not resolve")


def test_every_check_was_seen_passing_and_failing():
    """Runs last in this module: each check had a failing case and a case that does not fail.

    A3 and A4 are warnings about a configuration: where they apply they always report, so
    their non-failing case is "does not apply"."""
    missing = {
        ref: seen
        for ref, seen in OUTCOME_SEEN.items()
        if not seen & {"failed", "warning"}
        or not seen & ({"passed", "skipped"} if ref in ("A3", "A4") else {"passed"})
    }
    assert set(OUTCOME_SEEN) == set(CHECKS), sorted(set(CHECKS) - set(OUTCOME_SEEN))
    assert not missing, missing
