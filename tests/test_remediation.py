"""The remediation engine against the lab hosts (which validate every cmdlet line as PowerShell
would) and the session's Samba DC: plan, apply, verify, journal, rollback.

The DC is shared with the other tests, so every test puts the computer accounts it may touch
back as they were (the ``directory`` fixture), whatever happens in between."""

from __future__ import annotations

import ssl

import ldap3
import pytest
from audit_run import run_audit

from lmready.catalogue import Severity, load_catalogue
from lmready.credentials import Secret
from lmready.engine import Judging, evaluate_all
from lmready.estate import Estate
from lmready.facts import MigrationNetwork, PerformanceOption
from lmready.findings import Finding
from lmready.inventory import Inventory, load_inventory
from lmready.lab.control import DEFAULT_SCENARIO
from lmready.lab.runtime import Lab
from lmready.lab.samba import SambaDC, load_directory
from lmready.lab.scenario import load_scenario
from lmready.live import LiveCollector
from lmready.psrp import open_session
from lmready.remediation import (
    FIX_FAILED,
    FIXED,
    Journal,
    Plan,
    apply_plan,
    make_plan,
    purge_advice,
    read_journal,
    rollback,
    verify,
)
from lmready.remediation import host_changes as host_fixes
from lmready.remediation.change import ALREADY, APPLIED, DIRECTORY, FAILED, HOST, REFUSED, SKIPPED
from lmready.values import Outcome, Scope

SCENARIO = load_scenario(DEFAULT_SCENARIO)
CATALOGUE = load_catalogue()
ACCOUNTS = [f"LAB-HV0{i}" for i in range(1, 5)]
PASSWORDS = {user.name: user.password for user in load_directory().users}
ADMIN = Secret("labadmin@lab.example.test", PASSWORDS["labadmin"])
SUBNET, KEPT = "10.20.0.0/24", "10.30.0.0/24"  # the policy's migration subnet; one already there
# What the lab's fixable failures are, as (target, setting, before, after) of host changes.
HOST_CHANGES = {
    ("lab-hv03", host_fixes.PERFORMANCE, "TCPIP", "Compression"),
    ("lab-hv03", host_fixes.ENABLED, False, True),
    ("lab-hv03", host_fixes.FIREWALL, False, True),
    ("lab-hv04", host_fixes.NETWORK, None, SUBNET),
    ("lab-hv04", host_fixes.USE_ANY_NETWORK, True, False),
    ("lab-hv04", host_fixes.SIMULTANEOUS, 5, 2),
}
FIXABLE = {"LMR-022", "LMR-031", "LMR-041", "LMR-042", "LMR-045", "LMR-046"}
# Written by the DC on every modify: not "unrelated attributes" a change could have touched.
VOLATILE = {"whenChanged", "uSNChanged", "dSCorePropagationData"}


# --- fixtures ------------------------------------------------------------------------------------


def admin_ldap(dc: SambaDC) -> ldap3.Connection:
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(dc.ca_bundle), valid_names=[dc.dc_hostname])
    server = ldap3.Server("127.0.0.1", 636, use_ssl=True, tls=tls, get_info=ldap3.NONE)
    return ldap3.Connection(server, dc.admin, dc.admin_password, auto_bind=True, raise_exceptions=True)


def accounts(conn: ldap3.Connection, dc: SambaDC) -> dict[str, dict[str, list]]:
    """Every stored attribute of the lab hosts' computer accounts, but the DC's bookkeeping."""
    conn.search(dc.base_dn, "(objectCategory=computer)", attributes=["*"])
    found = {}
    for entry in conn.response:
        if entry["type"] == "searchResEntry":
            attrs = entry["raw_attributes"]
            name = attrs["sAMAccountName"][0].decode().rstrip("$")
            if name in ACCOUNTS:
                found[entry["dn"]] = {k: sorted(v) for k, v in attrs.items() if k not in VOLATILE}
    return found


@pytest.fixture
def directory(samba_dc):
    """An admin connection to the DC; the lab accounts' delegation is put back afterwards."""
    conn = admin_ldap(samba_dc)
    before = accounts(conn, samba_dc)
    yield conn
    for dn, attrs in before.items():
        conn.modify(
            dn,
            {
                "userAccountControl": [(ldap3.MODIFY_REPLACE, attrs["userAccountControl"])],
                "msDS-AllowedToDelegateTo": [
                    (ldap3.MODIFY_REPLACE, attrs.get("msDS-AllowedToDelegateTo", []))
                ],
            },
        )
    assert accounts(conn, samba_dc) == before
    conn.unbind()


@pytest.fixture
def lab(tmp_path, samba_dc, monkeypatch):
    running = Lab(SCENARIO, tmp_path / "lab", dc=samba_dc).start()
    # A migration network already on lab-hv04 that the N2 fix must keep.
    hv04 = running.hosts["lab-hv04"].model
    hv04.state = hv04.state.model_copy(update={"migration_networks": [MigrationNetwork(subnet=KEPT)]})
    for key, value in running.env().items():
        monkeypatch.setenv(key, value)
    yield running
    running.stop()


@pytest.fixture
def inventory(lab, tmp_path) -> Inventory:
    policy = {**SCENARIO.policy, "migration_networks": [SUBNET]}
    return load_inventory(lab.write_inventory(tmp_path / "lab.yml", policy=policy))


def audit(inventory: Inventory) -> tuple[Estate, list[Finding]]:
    """Collect the lab live and judge every check on every target, as an audit would."""
    estate = LiveCollector().collect(inventory)
    # Per VM (V1-V3): nothing lmready fixes.
    checks = [m for m in CATALOGUE if m.scope != Scope.VM]
    judged = evaluate_all(checks, estate, Judging(gate=Severity.LOW))
    return estate, [f for f in judged if f.outcome in (Outcome.FAILED, Outcome.WARNING)]


def host_states(lab: Lab) -> dict:
    return {name: runtime.model.state for name, runtime in lab.hosts.items()}


def statuses(journal_path) -> dict[tuple, list[str]]:
    out: dict[tuple, list[str]] = {}
    for e in read_journal(journal_path):
        out.setdefault((e["target"], e["account_dn"], e["setting"], e["before"], e["after"]), []).append(
            e["status"]
        )
    return out


# --- tests ---------------------------------------------------------------------------------------


def test_plan_shows_every_change_and_changes_nothing(lab, inventory, directory, samba_dc):
    hosts_before, directory_before = host_states(lab), accounts(directory, samba_dc)
    estate, findings = audit(inventory)
    plan = make_plan(findings, estate)

    host_changes = [c for c in plan.changes if c.kind == HOST]
    assert {(c.target, c.setting, c.before, c.after) for c in host_changes} == HOST_CHANGES
    commands = {c.command for c in host_changes}
    assert "Set-VMHost -VirtualMachineMigrationPerformanceOption 'Compression'" in commands
    assert f"Add-VMMigrationNetwork -Subnet '{SUBNET}'" in commands
    assert "Enable-NetFirewallRule -Name VIRT-MIGL-In-TCP-NoScope" in commands
    # Delegation: only the missing values, one change each, and the protocol transition bit.
    ldap_changes = [c for c in plan.changes if c.kind == DIRECTORY]
    added = {
        (c.account_dn.split(",")[0], c.after) for c in ldap_changes if c.setting == "msDS-AllowedToDelegateTo"
    }
    assert ("CN=LAB-HV03", "cifs/lab-hv01.lab.example.test") in added
    assert ("CN=LAB-HV03", "cifs/LAB-HV01") not in added  # already there
    assert not any(dn == "CN=LAB-HV01" for dn, _ in added)  # complete already
    assert len(added) == 26  # hv02: 8, hv03: 10, hv04: 8
    uac = [c for c in ldap_changes if c.setting == "userAccountControl"]
    assert [(c.account_dn.split(",")[0], c.before, c.after) for c in uac] == [
        ("CN=LAB-HV04", 0x1000, 0x1001000)
    ]
    assert "delete userAccountControl: 4096, add userAccountControl: 16781312" in uac[0].command
    # The unfixable failures, each with why and the manual step.
    refused = {(f.check.id, f.target): why for f, why in plan.refused}
    assert "irreversible" in refused[("LMR-013", "lab-hv01->lab-hv04")]
    assert "New-VMSwitch" in refused[("LMR-051", "lab-hv01->lab-hv03")]
    assert {f.check.id for f, _ in plan.covered} == FIXABLE
    # Planning read the estate only.
    assert host_states(lab) == hosts_before
    assert accounts(directory, samba_dc) == directory_before


def test_apply_verify_audit_then_rollback_restores_everything(lab, inventory, directory, samba_dc, tmp_path):
    hosts_before, directory_before = host_states(lab), accounts(directory, samba_dc)
    estate, findings = audit(inventory)
    plan = make_plan(findings, estate)
    with Journal(tmp_path / "reports" / "remediation.jsonl", operator="tester") as journal:
        outcomes = apply_plan(plan, estate, journal, directory_secret_for=lambda entry: ADMIN)
        assert [o.status for o in outcomes] == [APPLIED] * len(plan.changes), [o.reason for o in outcomes]
        results = verify(plan, outcomes, estate, journal)
    assert {(r.finding.check.id, r.finding.target, r.status) for r in results} == {
        (f.check.id, f.target, FIXED) for f, _ in plan.covered
    }
    assert "klist purge -li 0x3e7" in purge_advice(plan, outcomes)
    entries = read_journal(journal.path)
    assert {e["operator"] for e in entries} == {"tester"}
    assert all(s == ["planned", "attempted", "applied", "verified"] for s in statuses(journal.path).values())

    # What was there survives; nothing else moved.
    hv04 = lab.hosts["lab-hv04"].model.state
    assert [n.subnet for n in hv04.migration_networks] == [KEPT, SUBNET]
    assert not hv04.migration.use_any_network and hv04.migration.maximum_migrations == 2
    assert host_states(lab)["lab-hv01"] == hosts_before["lab-hv01"]
    after = accounts(directory, samba_dc)
    for dn, attrs in directory_before.items():
        old = set(attrs.get("msDS-AllowedToDelegateTo", []))
        assert old <= set(after[dn].get("msDS-AllowedToDelegateTo", [])), dn
        unrelated = {
            k: v for k, v in attrs.items() if k not in ("msDS-AllowedToDelegateTo", "userAccountControl")
        }
        assert unrelated == {k: v for k, v in after[dn].items() if k in unrelated}, dn

    # A following audit passes what was fixed and still fails what is not lmready's to fix.
    run = run_audit(tmp_path / "audit", inventory.path, env=lab.env())
    results_by = {(r["check_id"], r["target"]): r["outcome"] for r in run.findings["results"]}
    for finding, _ in plan.covered:
        assert results_by[(finding.check.id, finding.target)] == "passed", finding.target
    for finding, _ in plan.refused:
        assert results_by[(finding.check.id, finding.target)] == "failed"

    # Idempotent: nothing left to change, and applying that changes nothing.
    estate, findings = audit(inventory)
    again = make_plan(findings, estate)
    assert again.changes == []
    fixed_state = host_states(lab)
    with Journal(tmp_path / "reports" / "again.jsonl") as journal:
        assert apply_plan(again, estate, journal) == []
    assert host_states(lab) == fixed_state and read_journal(journal.path) == []

    # Rollback restores the exact prior state, and journals itself.
    undone = rollback(
        tmp_path / "reports" / "remediation.jsonl", inventory, directory_secret_for=lambda e: ADMIN
    )
    assert [o.status for o in undone.outcomes] == [APPLIED] * len(plan.changes), [
        o.reason for o in undone.outcomes
    ]
    assert host_states(lab) == hosts_before
    assert accounts(directory, samba_dc) == directory_before
    assert undone.journal != journal.path
    assert all(s == ["planned", "attempted", "rolled back"] for s in statuses(undone.journal).values())


def test_rollback_refuses_what_changed_since(lab, inventory, directory, samba_dc, tmp_path):
    estate, findings = audit(inventory)
    plan = make_plan(findings, estate)
    with Journal(tmp_path / "remediation.jsonl") as journal:
        outcomes = apply_plan(plan, estate, journal, directory_secret_for=lambda entry: ADMIN)
    assert {o.status for o in outcomes} == {APPLIED}
    # Later, by hand: an admin sets 3 simultaneous migrations and marks LAB-HV04 sensitive.
    hv04 = lab.hosts["lab-hv04"].model
    hv04.state = hv04.state.model_copy(
        update={"migration": hv04.state.migration.model_copy(update={"maximum_migrations": 3})}
    )
    dn = next(c.account_dn for c in plan.changes if c.setting == "userAccountControl")
    directory.modify(dn, {"userAccountControl": [(ldap3.MODIFY_REPLACE, [str(0x1001000 | 0x100000)])]})

    undone = rollback(tmp_path / "remediation.jsonl", inventory, directory_secret_for=lambda e: ADMIN)
    refused = [o for o in undone.outcomes if o.status == REFUSED]
    assert sorted(o.change.setting for o in refused) == [
        "MaximumVirtualMachineMigrations",
        "userAccountControl",
    ]
    for o in refused:
        assert "changed since" in o.reason and o.reason.count(". ") == 0 and o.reason.endswith(".")
    assert any(
        o.reason.startswith("lab-hv04: MaximumVirtualMachineMigrations (5 -> 2) is now 3") for o in refused
    )
    assert all(o.status == APPLIED for o in undone.outcomes if o.status != REFUSED)
    # The refused values stay as the admin left them; the rest is back.
    state = hv04.state
    assert state.migration.maximum_migrations == 3 and [n.subnet for n in state.migration_networks] == [KEPT]
    directory.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["userAccountControl"])
    assert directory.response[0]["attributes"]["userAccountControl"] == [str(0x1001000 | 0x100000)]
    assert {e["status"] for e in read_journal(undone.journal)} == {
        "planned",
        "attempted",
        "refused",
        "rolled back",
    }


def test_a_concurrent_uac_change_is_detected_not_overwritten(lab, inventory, directory, tmp_path):
    estate, findings = audit(inventory)
    plan = make_plan(findings, estate)
    ldap_only = Plan([c for c in plan.changes if c.kind == DIRECTORY], [])
    uac = next(c for c in ldap_only.changes if c.setting == "userAccountControl")
    directory.search(uac.account_dn, "(objectClass=*)", ldap3.BASE, attributes=["msDS-AllowedToDelegateTo"])
    delegation_before = sorted(directory.response[0]["attributes"]["msDS-AllowedToDelegateTo"])
    # Between the read (the audit) and the write, somebody else changes the account, and adds
    # one of the values lmready is about to add.
    theirs = str(0x1000 | 0x10000)
    directory.modify(uac.account_dn, {"userAccountControl": [(ldap3.MODIFY_REPLACE, [theirs])]})
    value = next(c for c in ldap_only.changes if c.account_dn == uac.account_dn and c is not uac)
    directory.modify(value.account_dn, {value.setting: [(ldap3.MODIFY_ADD, [value.after])]})
    with Journal(tmp_path / "remediation.jsonl") as journal:
        outcomes = apply_plan(ldap_only, estate, journal, directory_secret_for=lambda entry: ADMIN)
    failed = [o for o in outcomes if o.status != APPLIED]
    assert [o.change for o in failed] == [uac]
    assert failed[0].status == FAILED and "it was not overwritten" in failed[0].reason
    assert next(o for o in outcomes if o.change == value).reason == ALREADY
    # A rollback takes back what lmready added, not the value somebody else had put there.
    undone = rollback(journal.path, inventory, directory_secret_for=lambda entry: ADMIN)
    assert {o.status for o in undone.outcomes} == {APPLIED}
    directory.search(value.account_dn, "(objectClass=*)", ldap3.BASE, attributes=[value.setting])
    assert sorted(directory.response[0]["attributes"][value.setting]) == sorted(
        [*delegation_before, value.after]
    )
    directory.search(uac.account_dn, "(objectClass=*)", ldap3.BASE, attributes=["userAccountControl"])
    assert directory.response[0]["attributes"]["userAccountControl"] == [theirs]
    assert statuses(journal.path)[(uac.target, uac.account_dn, uac.setting, uac.before, uac.after)] == [
        "planned",
        "attempted",
        "failed",
    ]


def test_without_domain_admins_delegation_is_refused_and_host_fixes_run(
    lab, inventory, directory, samba_dc, tmp_path
):
    directory_before = accounts(directory, samba_dc)
    estate, findings = audit(inventory)
    plan = make_plan(findings, estate)
    path = tmp_path / "remediation.jsonl"
    seen_at_open: list[int] = []

    def session_for(host):
        # Journaled as it happens: the planned entries are on disk before any host is contacted.
        seen_at_open.append(len(read_journal(path)))
        return open_session(host, Secret(SCENARIO.username, SCENARIO.password))

    with Journal(path) as journal:
        # The inventory's directory credential is the auditor, who is no Domain Admin.
        outcomes = apply_plan(plan, estate, journal, host_session_for=session_for)
        results = verify(plan, outcomes, estate, journal)
    assert min(seen_at_open) >= len(plan.changes)
    by_kind = {kind: {o.status for o in outcomes if o.change.kind == kind} for kind in (HOST, DIRECTORY)}
    assert by_kind == {HOST: {APPLIED}, DIRECTORY: {REFUSED}}
    reasons = {o.reason for o in outcomes if o.status == REFUSED}
    assert len(reasons) == 1
    (reason,) = reasons
    assert "Domain Admins" in reason and "auditor@lab.example.test" in reason
    assert reason.endswith(".") and ". " not in reason and "\n" not in reason
    assert accounts(directory, samba_dc) == directory_before
    status = {(r.finding.check.id, r.finding.target): r for r in results}
    assert status[("LMR-022", "lab-hv02->lab-hv04")].status == FIX_FAILED
    assert status[("LMR-022", "lab-hv02->lab-hv04")].reason == reason
    assert status[("LMR-041", "lab-hv03")].status == FIXED
    assert purge_advice(plan, outcomes) is None


@pytest.mark.parametrize(
    "setting, typo, message",
    [
        (host_fixes.ENABLED, ("Enable-VMMigration", "Enable-VMMigrations"), "is not recognized as the name"),
        (
            host_fixes.PERFORMANCE,
            ("PerformanceOption ", "PerformanceOptions "),
            "A parameter cannot be found that matches parameter name",
        ),
        (host_fixes.PERFORMANCE, ("'Compression'", "'SMBTransport'"), "Unable to match the identifier name"),
    ],
    ids=["cmdlet", "parameter", "enum"],
)
def test_a_typo_in_a_fix_is_rejected_by_the_lab_host(
    lab, inventory, tmp_path, monkeypatch, setting, typo, message
):
    right = host_fixes.command

    def typed(s, before, after):
        line = right(s, before, after)
        return line.replace(*typo) if s == setting else line

    monkeypatch.setattr(host_fixes, "command", typed)
    estate, findings = audit(inventory)
    plan = make_plan(findings, estate)
    hv03 = Plan([c for c in plan.changes if c.target == "lab-hv03"], [])
    before = lab.hosts["lab-hv03"].model.state
    with Journal(tmp_path / "remediation.jsonl") as journal:
        outcomes = apply_plan(hv03, estate, journal)
    broken = next(i for i, o in enumerate(outcomes) if o.change.setting == setting)
    assert [o.status for o in outcomes[:broken]] == [APPLIED] * broken
    assert outcomes[broken].status == FAILED and message in outcomes[broken].reason
    assert all(o.status == FAILED and "not run" in o.reason for o in outcomes[broken + 1 :])
    state = lab.hosts["lab-hv03"].model.state
    assert host_fixes.current(setting, None, state) == host_fixes.current(setting, None, before)
    assert [e["status"] for e in read_journal(journal.path)].count("failed") == len(outcomes) - broken


def test_a_journal_cut_short_by_a_crash(lab, inventory, tmp_path):
    """A run that died after journaling changes as attempted but before their outcome: rollback
    reads each again and says which it restored, which was never made and which changed since;
    a change only planned was never sent; a last line cut in half is not an event."""
    estate, findings = audit(inventory)
    changes = make_plan(findings, estate).changes
    simultaneous = next(c for c in changes if c.setting == host_fixes.SIMULTANEOUS)
    performance = next(c for c in changes if c.setting == host_fixes.PERFORMANCE)
    enabled = next(c for c in changes if c.setting == host_fixes.ENABLED)
    planned_only = next(c for c in changes if c.setting == host_fixes.USE_ANY_NETWORK)
    path = tmp_path / "remediation.jsonl"
    with Journal(path) as journal:
        for change in (simultaneous, performance, enabled, planned_only):
            journal.record(change, "planned")
        for change in (simultaneous, performance, enabled):
            journal.record(change, "attempted")
    with path.open("a") as out:
        out.write('{"id": 1, "status": "appl')
    # Enable-VMMigration reached lab-hv03 before the run died; then an admin chose SMB there.
    hv03 = lab.hosts["lab-hv03"].model
    hv03.state = hv03.state.model_copy(
        update={
            "migration": hv03.state.migration.model_copy(
                update={"enabled": True, "performance_option": PerformanceOption.SMB}
            )
        }
    )
    undone = rollback(path, inventory)
    assert [(o.status, o.reason) for o in undone.outcomes] == [
        (
            REFUSED,
            "lab-hv03: VirtualMachineMigrationPerformanceOption (TCPIP -> Compression) was attempted and is "
            "now SMB, neither the value before nor the one it set: it changed since, so it is left as it is.",
        ),
        (
            SKIPPED,
            "lab-hv04: MaximumVirtualMachineMigrations (5 -> 2): it was attempted but never made: it is 5, "
            "the value before the run, so there is nothing to restore.",
        ),
        (
            APPLIED,
            "lab-hv03: VirtualMachineMigrationEnabled: it had been made (attempted, its outcome not "
            "journaled) and is restored.",
        ),
    ]
    state = lab.hosts["lab-hv03"].model.state
    assert state.migration.enabled is False and str(state.migration.performance_option) == "SMB"
    assert lab.hosts["lab-hv04"].model.state.migration.maximum_migrations == 5
    assert lab.hosts["lab-hv04"].model.state.migration.use_any_network is True
    assert [e["status"] for e in read_journal(undone.journal)] == [
        "refused",
        "skipped",
        "planned",
        "attempted",
        "rolled back",
    ]
