"""A hostile or misnamed lab host against the real Samba DC (REQUIREMENTS.md 3b, issue 8): a host
that reports another host's name, the DC's name or an unknown name is one "identity mismatch" on
each of its checks, every other host is audited as before, and `--remediate=apply` as Domain
Admin changes no account but those of verified hosts (a dump of the whole domain, before and
after). Also resource-based delegation written by remediation (policy delegation: rbcd)."""

# ruff: noqa: F811 - the lab fixtures are imported from test_remediation and named as parameters
from __future__ import annotations

import base64

import ldap3
import pytest
from ldap3.protocol.formatters.formatters import format_sid
from test_remediation import ADMIN, CATALOGUE, SCENARIO, admin_ldap, inventory, lab  # noqa: F401 - fixtures

from lmready import security_descriptor as sd
from lmready.catalogue import Severity
from lmready.engine import Judging, evaluate_all
from lmready.estate import Estate, FactsUnavailable
from lmready.findings import Finding
from lmready.inventory import Inventory, load_inventory
from lmready.lab.samba import SambaDC
from lmready.live import LiveCollector
from lmready.remediation import Journal, apply_plan, make_plan, verify
from lmready.remediation import directory_changes as directory_fixes
from lmready.remediation.change import APPLIED, DIRECTORY, HOST
from lmready.remediation.verify import FIXED
from lmready.values import Outcome, Target

# Maintained by the DC itself on every modify or bind: not something a change could have touched.
VOLATILE = {
    "whenChanged",
    "uSNChanged",
    "dSCorePropagationData",
    "lastLogon",
    "lastLogonTimestamp",
    "logonCount",
    "badPwdCount",
    "badPasswordTime",
}
DELEGATION = ["userAccountControl", "msDS-AllowedToDelegateTo", "msDS-AllowedToActOnBehalfOfOtherIdentity"]
RBCD = "msDS-AllowedToActOnBehalfOfOtherIdentity"


def dump(conn: ldap3.Connection, dc: SambaDC) -> dict[str, dict]:
    """Every object of the domain with every stored attribute but the DC's bookkeeping."""
    entries = conn.extend.standard.paged_search(
        dc.base_dn, "(objectClass=*)", attributes=["*"], generator=False
    )
    return {
        e["dn"].lower(): {k: sorted(v) for k, v in e["raw_attributes"].items() if k not in VOLATILE}
        for e in entries
        if e["type"] == "searchResEntry"
    }


@pytest.fixture
def domain(samba_dc):
    """An admin connection; every computer account's delegation is put back afterwards."""
    conn = admin_ldap(samba_dc)
    conn.search(samba_dc.base_dn, "(objectCategory=computer)", attributes=DELEGATION)
    saved = {e["dn"]: e["raw_attributes"] for e in conn.response if e["type"] == "searchResEntry"}
    yield conn
    for dn, attrs in saved.items():
        conn.modify(dn, {a: [(ldap3.MODIFY_REPLACE, list(attrs.get(a, [])))] for a in DELEGATION})
    conn.unbind()


def audit(inventory: Inventory) -> tuple[Estate, list[Finding], dict[tuple[str, str], str]]:
    """The estate, the failing findings, and every (check, target) as failed / ok / error message."""
    estate = LiveCollector().collect(inventory)
    findings, seen = [], {}
    for finding in evaluate_all(CATALOGUE, estate, Judging(gate=Severity.LOW)):
        key = (finding.check.id, finding.target)
        if finding.outcome == Outcome.ERROR:
            seen[key] = f"error: {finding.message}"
        elif finding.outcome in (Outcome.FAILED, Outcome.WARNING):
            seen[key] = "failed"
            findings.append(finding)
        else:
            seen[key] = "ok"
    return estate, findings, seen


IMPERSONATIONS = {
    "another host": {"computer_name": "LAB-HV01", "dns_host_name": "lab-hv01"},
    "the DC": {"computer_name": "DC1", "dns_host_name": "dc1"},
    "an unknown account": {"computer_name": "GHOST", "dns_host_name": "ghost"},
    "the DC by NetBIOS name only": {"computer_name": "DC1", "dns_host_name": "lab-hv04"},
}


@pytest.mark.parametrize("claim", list(IMPERSONATIONS))
def test_an_impostor_is_an_error_and_apply_changes_only_verified_accounts(
    claim, lab, inventory, domain, samba_dc, tmp_path
):
    _, _, baseline = audit(inventory)
    hv04 = lab.hosts["lab-hv04"].model
    hv04.state = hv04.state.model_copy(update=IMPERSONATIONS[claim])

    estate, findings, seen = audit(inventory)
    mismatch = estate.hosts["lab-hv04"]
    assert isinstance(mismatch, FactsUnavailable) and str(mismatch).startswith(
        "lab-hv04: identity mismatch: "
    )
    for (check_id, target), result in seen.items():
        if "lab-hv04" in Target.parse(target).hosts:
            assert result == f"error: {mismatch}", (check_id, target)
        else:
            assert result == baseline[(check_id, target)], (check_id, target)

    plan = make_plan(findings, estate)
    assert plan.changes, "the verified hosts still have fixable findings"
    for change in plan.changes:
        assert change.target != "lab-hv04"
        if change.kind == DIRECTORY:
            assert change.account_dn.split(",")[0] in ("CN=LAB-HV02", "CN=LAB-HV03")
            assert not any(bad in str(change.after).lower() for bad in ("lab-hv04", "dc1", "ghost"))

    before = dump(domain, samba_dc)
    with Journal(tmp_path / "remediation.jsonl") as journal:
        outcomes = apply_plan(plan, estate, journal, directory_secret_for=lambda entry: ADMIN)
    assert {o.status for o in outcomes} == {APPLIED}, [o.reason for o in outcomes]
    after = dump(domain, samba_dc)
    changed = {dn for dn in before.keys() | after.keys() if before.get(dn) != after.get(dn)}
    assert changed == {f"cn=lab-hv0{i},cn=computers,{samba_dc.base_dn}".lower() for i in (2, 3)}


def test_apply_refuses_a_domain_controller_account_whatever_the_plan_says(
    lab, inventory, domain, samba_dc, tmp_path
):
    """Defence in depth: even a plan naming the DC's account (built here by hand) changes nothing."""
    estate, findings, _ = audit(inventory)
    plan = make_plan(findings, estate)
    forged = [c for c in plan.changes if c.kind == DIRECTORY and c.setting == directory_fixes.DELEGATE_TO][:1]
    dc_dn = f"CN=DC1,OU=Domain Controllers,{samba_dc.base_dn}"
    forged = [c.__class__(**{**c.__dict__, "account_dn": dc_dn}) for c in forged]
    before = dump(domain, samba_dc)
    outcomes = directory_fixes.apply_domain(next(e for e in inventory.domains), forged, ADMIN)
    assert [o.status for o in outcomes] == ["refused"]
    assert "domain controller's account, which lmready never changes" in outcomes[0].reason
    assert dump(domain, samba_dc) == before


def test_rbcd_policy_adds_sids_to_the_destination_keeping_every_ace(
    lab, inventory, domain, samba_dc, tmp_path
):
    # lab-hv02 is already allowed on lab-hv01 (written over LDAP): that ACE must survive.
    samba_dc.allow_to_act("LAB-HV01", ["LAB-HV02"])
    domain.search(
        samba_dc.base_dn, "(objectCategory=computer)", attributes=["sAMAccountName", "objectSid", RBCD]
    )
    rows = {
        e["raw_attributes"]["sAMAccountName"][0].decode(): e
        for e in domain.response
        if e["type"] == "searchResEntry"
    }
    sid = {name.rstrip("$"): format_sid(rows[name]["raw_attributes"]["objectSid"][0]) for name in rows}
    old = rows["LAB-HV01$"]["raw_attributes"][RBCD][0]

    policy = {**SCENARIO.policy, "migration_networks": ["10.20.0.0/24"], "delegation": "rbcd"}
    rbcd_inventory = load_inventory(lab.write_inventory(tmp_path / "rbcd.yml", policy=policy))
    estate, findings, _ = audit(rbcd_inventory)
    plan = make_plan(findings, estate)
    ldap_changes = [c for c in plan.changes if c.kind == DIRECTORY]
    # Only descriptors of destinations, one change each, never msDS-AllowedToDelegateTo.
    assert {c.setting for c in ldap_changes} == {RBCD}
    targets = [c.account_dn.split(",")[0] for c in ldap_changes]
    assert sorted(targets) == ["CN=LAB-HV01", "CN=LAB-HV02", "CN=LAB-HV03", "CN=LAB-HV04"]
    assert all(c.kind == HOST for c in plan.changes if c.setting != RBCD)

    with Journal(tmp_path / "remediation.jsonl") as journal:
        outcomes = apply_plan(plan, estate, journal, directory_secret_for=lambda entry: ADMIN)
        assert {o.status for o in outcomes} == {APPLIED}, [o.reason for o in outcomes]
        results = verify(plan, outcomes, estate, journal)
    assert {r.finding.check.id for r in results if r.status == FIXED} >= {"LMR-022"}
    assert all(r.status == FIXED for r in results if r.finding.check.id == "LMR-022")

    domain.search(rows["LAB-HV01$"]["dn"], "(objectClass=*)", ldap3.BASE, attributes=[RBCD])
    new = domain.response[0]["raw_attributes"][RBCD][0]
    parsed_old, parsed_new = sd.parse(old), sd.parse(new)
    assert [a.raw for a in parsed_new.aces[: len(parsed_old.aces)]] == [a.raw for a in parsed_old.aces]
    assert parsed_new.owner == parsed_old.owner
    # lab-hv03 (missing forms) and lab-hv04 (Kerberos only) now allowed on lab-hv01 by SID.
    assert set(parsed_new.allowed_sids()) == {sid["LAB-HV02"], sid["LAB-HV03"], sid["LAB-HV04"]}
    assert base64.b64encode(new).decode() != ""

    # A second audit passes A2 for every pair, and has nothing left to change there.
    estate, findings, seen = audit(rbcd_inventory)
    assert {r for (c, t), r in seen.items() if c == "LMR-022"} == {"ok"}


# --- a host whose name is longer than NetBIOS's 15 characters ------------------------------------

LONG = "hv-production-n01"  # NetBIOS name HV-PRODUCTION-N; its FQDN is NOT hv-production-n.<domain>
LONG_FQDN = f"{LONG}.lab.example.test"


@pytest.fixture
def long_account(samba_dc):
    """The account Windows creates when a host named HV-PRODUCTION-N01 joins: sAMAccountName cut
    to 15 characters, dNSHostName whole. Removed afterwards (the DC is shared)."""
    dn = samba_dc.add_computer("HV-PRODUCTION-N", LONG_FQDN)
    yield dn
    admin_ldap(samba_dc).delete(dn)


def test_a_long_host_name_is_audited_and_remediated_with_its_real_fqdn(
    long_account, domain, samba_dc, tmp_path, monkeypatch
):
    from lmready.lab.runtime import Lab
    from lmready.lab.scenario import Scenario

    template = SCENARIO.hosts["lab-hv02"]
    long_host = template.model_copy(
        update={"name": LONG, "computer_name": "HV-PRODUCTION-N01", "dns_host_name": LONG}
    )
    scenario = Scenario(
        SCENARIO.path,
        {"lab-hv01": SCENARIO.hosts["lab-hv01"], LONG: long_host},
        policy=SCENARIO.policy,
        directory=SCENARIO.directory,
    )
    running = Lab(scenario, tmp_path / "lab", dc=samba_dc).start()
    try:
        for key, value in running.env().items():
            monkeypatch.setenv(key, value)
        inventory = load_inventory(running.write_inventory(tmp_path / "long.yml"))
        estate, findings, seen = audit(inventory)
        facts = estate.hosts[LONG]
        # What the host said: the NetBIOS name cut to 15 characters, and its whole DNS host name.
        assert (facts.computer_name, facts.fqdn) == ("HV-PRODUCTION-N", LONG_FQDN)
        assert seen[("LMR-022", f"lab-hv01->{LONG}")] == "failed"
        assert seen[("LMR-022", f"{LONG}->lab-hv01")] == "failed"
        plan = make_plan(findings, estate)
        values = {
            (c.account_dn.split(",")[0], c.after)
            for c in plan.changes
            if c.setting == directory_fixes.DELEGATE_TO
        }
        assert ("CN=LAB-HV01", f"cifs/{LONG_FQDN}") in values
        assert ("CN=LAB-HV01", "cifs/HV-PRODUCTION-N") in values
        assert not any("hv-production-n." in str(v).lower() for _, v in values)
        with Journal(tmp_path / "remediation.jsonl") as journal:
            outcomes = apply_plan(plan, estate, journal, directory_secret_for=lambda entry: ADMIN)
            assert {o.status for o in outcomes} == {APPLIED}, [o.reason for o in outcomes]
            results = verify(plan, outcomes, estate, journal)
        assert {(r.finding.target, r.status) for r in results if r.finding.check.id == "LMR-022"} == {
            (f"lab-hv01->{LONG}", FIXED),
            (f"{LONG}->lab-hv01", FIXED),
        }
    finally:
        running.stop()
