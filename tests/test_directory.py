"""lmready.ldap_directory against a real Samba AD domain controller on 127.0.0.1 (lmready.lab.samba),
over LDAPS with certificate validation, then the real checks (A2, A5, R4) on what it read."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import ldap3
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from factory import account, domain_facts, host_facts

from lmready.catalogue import CheckFailure, CheckWarning, load_catalogue
from lmready.credentials import Secret
from lmready.estate import FactsUnavailable, HostView, PairView
from lmready.facts import DomainFacts
from lmready.inventory import DomainEntry, Policy
from lmready.lab.samba import SambaDC, SambaError, load_directory, parse_directory, samba_available
from lmready.ldap_directory import DirectoryError, collect_domain

pytestmark = pytest.mark.skipif(
    not samba_available(),
    reason="samba is not installed; make system (.ci/install-system-packages.sh) installs it",
)

DOMAIN = "lab.example.test"
MIGRATION = "Microsoft Virtual System Migration Service"
PASSWORDS = {user.name: user.password for user in load_directory().users}
# Beyond the default lab directory: the states the lab hosts do not show, and a reader without rights.
EXTRA = {
    "realm": "LAB.EXAMPLE.TEST",
    "netbios": "LAB",
    "users": [
        {"name": "blind", "password": "Lab-Blind-2026!"},
        # Operators that Kerberos may not delegate (R1): nested in Protected Users, and NOT_DELEGATED.
        {"name": "guarded", "password": "Lab-Guarded-2026!", "groups": ["Guarded Operators"]},
        {"name": "sensitive", "password": "Lab-Sensitive-2026!"},
    ],
    "groups": [{"name": "Guarded Operators", "groups": ["Protected Users"]}],
    "computers": [
        {
            "name": "LAB-HV05",
            "dns_host_name": "lab-hv05.lab.example.test",
            "uac": ["WORKSTATION_TRUST_ACCOUNT", "TRUSTED_FOR_DELEGATION"],
            "allowed_to_act": ["LAB-HV01"],
        }
    ],
    # Beside the default two-way forest trust to trusted.example.test (whose child domains it covers):
    "trusts": [
        {"partner": "oneway.example.test", "flat_name": "ONEWAY", "direction": 1},
        # An external trust as Windows makes it (QUARANTINED_DOMAIN 0x4): its two domains only.
        {"partner": "external.example.test", "flat_name": "EXTERNAL", "direction": 3, "attributes": 0x4},
        # A forest trust with selective authentication (CROSS_ORGANIZATION 0x10).
        {"partner": "selective.example.test", "flat_name": "SELECTIVE", "direction": 3, "attributes": 0x18},
    ],
}
PASSWORDS["blind"] = "Lab-Blind-2026!"
# Inventory name -> the DNS name the inventory expects: accounts are found by it alone.
HOSTS = {f"lab-hv0{i}": f"lab-hv0{i}.{DOMAIN}" for i in range(1, 6)}
HOSTS["lab-hv02"] = "lab-hv02"  # a single label finds the first label of dNSHostName
HOSTS["lab-hv09"] = f"lab-hv09.{DOMAIN}"  # no account in the directory
HOSTS["lab-hv10"] = "dc1"  # the DC's account is read, so that binding can refuse it
CHECKS = {meta.ref: meta.func for meta in load_catalogue()}


@pytest.fixture(scope="session")
def dc(samba_dc):
    """The session's domain controller, with the states the lab hosts do not show."""
    samba_dc.apply(EXTRA)
    samba_dc.deny_read("blind")
    # NORMAL_ACCOUNT | NOT_DELEGATED ("Account is sensitive and cannot be delegated")
    sensitive = f"CN=sensitive,CN=Users,{samba_dc.base_dn}"
    samba_dc._admin().modify(sensitive, {"userAccountControl": [(ldap3.MODIFY_REPLACE, ["1049088"])]})
    return samba_dc


def entry(dc: SambaDC, **changes) -> DomainEntry:
    values = {"name": DOMAIN, "url": dc.url, "credential": "lab", "ca_bundle": str(dc.ca_bundle)}
    return DomainEntry(**{**values, **changes})


def collect(dc: SambaDC, user: str = "auditor@lab.example.test", password: str | None = None, **kwargs):
    name = user.split("@")[0].split("\\")[-1].removeprefix("CN=").split(",")[0]
    secret = Secret(user, PASSWORDS.get(name, dc.admin_password) if password is None else password)
    domain = kwargs.pop("domain", None) or entry(dc)
    return collect_domain(domain, secret, HOSTS, tls_server_name=dc.dc_hostname, **kwargs)


@pytest.fixture(scope="session")
def facts(dc) -> DomainFacts:
    return collect(dc)


def failure_of(collect, dc: SambaDC, **kwargs) -> str:
    """The DirectoryError ``collect(dc, **kwargs)`` raises, checked to be one sentence."""
    with pytest.raises(DirectoryError) as caught:
        collect(dc, **kwargs)
    message = str(caught.value)
    # One sentence, naming the domain and the DC, with no chained exception behind it.
    assert re.match(r"domain \S+ \(ldaps?://127\.0\.0\.1:\d+\): \S", message)
    assert message.endswith(".") and "\n" not in message and ". " not in message
    error = caught.value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    return message


def failure(dc: SambaDC, **kwargs) -> str:
    return failure_of(collect, dc, **kwargs)


# --- facts -------------------------------------------------------------------------------------


def test_domain_identity(facts):
    assert (facts.name, facts.netbios_name, facts.forest_root) == (DOMAIN, "LAB", DOMAIN)
    assert facts.sid.startswith("S-1-5-21-") and facts.sid.count("-") == 6
    assert datetime.now(UTC) - facts.collected_at < timedelta(minutes=1)
    assert facts.bind_account == "auditor@lab.example.test"
    assert facts.bind_account_is_domain_admin is False


def accounts(facts: DomainFacts) -> dict:
    return {a.host: a for a in facts.computers}


def forms(service: str, peer: str) -> set[str]:
    return {f"{service}/{peer.upper()}", f"{service}/{peer}.{DOMAIN}"}


def test_complete_delegation(facts):
    hv01 = accounts(facts)["lab-hv01"]
    assert hv01.dn == "CN=LAB-HV01,CN=Computers,DC=lab,DC=example,DC=test"
    assert hv01.sam_account_name == "LAB-HV01$" and hv01.dns_host_name == f"lab-hv01.{DOMAIN}"
    assert hv01.user_account_control == 0x1000 | 0x1000000
    assert forms(MIGRATION, "lab-hv02") | forms("cifs", "lab-hv02") <= set(hv01.allowed_to_delegate_to)
    assert len(hv01.allowed_to_delegate_to) == 12
    assert {"HOST/LAB-HV01", f"HOST/lab-hv01.{DOMAIN}"} <= set(hv01.service_principal_names)
    assert hv01.allowed_to_act == [] and hv01.allowed_to_act_descriptor == ""
    assert hv01.sid.startswith("S-1-5-21-") and hv01.primary_group_id == 515
    assert not hv01.is_domain_controller


def test_missing_fqdn_form(facts):
    hv03 = accounts(facts)["lab-hv03"]
    assert set(hv03.allowed_to_delegate_to) == {f"{MIGRATION}/LAB-HV01", "cifs/LAB-HV01"}
    assert hv03.user_account_control == 0x1000 | 0x1000000


def test_kerberos_only(facts):
    hv04 = accounts(facts)["lab-hv04"]
    assert hv04.user_account_control == 0x1000
    assert set(hv04.allowed_to_delegate_to) == forms(MIGRATION, "lab-hv01") | forms("cifs", "lab-hv01")


def test_unconstrained_and_resource_based(facts):
    hv05 = accounts(facts)["lab-hv05"]
    assert hv05.user_account_control == 0x1000 | 0x80000
    assert hv05.allowed_to_delegate_to == []
    assert hv05.allowed_to_act == [accounts(facts)["lab-hv01"].sid]  # the descriptor, parsed


def test_domain_controller_account_is_told(facts):
    dc = accounts(facts)["lab-hv10"]
    assert dc.sam_account_name == "DC1$" and dc.primary_group_id == 516 and dc.user_account_control & 0x2000
    assert dc.is_domain_controller


def test_accounts_matched_to_inventory_names(facts):
    found = accounts(facts)
    assert sorted(found) == ["lab-hv01", "lab-hv02", "lab-hv03", "lab-hv04", "lab-hv05", "lab-hv10"]
    assert found["lab-hv02"].sam_account_name == "LAB-HV02$"  # by the first label of its DNS name


def test_trusts(facts):
    trusts = {t.partner: t for t in facts.trusts}
    assert set(trusts) == {
        "trusted.example.test",
        "oneway.example.test",
        "external.example.test",
        "selective.example.test",
    }
    assert (trusts["external.example.test"].attributes, trusts["selective.example.test"].attributes) == (
        4,
        0x18,
    )
    trusted = trusts["trusted.example.test"]
    assert (trusted.flat_name, trusted.direction, trusted.trust_type, trusted.attributes) == (
        "TRUSTED",
        3,
        2,
        8,
    )
    assert trusts["oneway.example.test"].direction == 1


@pytest.mark.parametrize(
    ("user", "admin"),
    [
        ("auditor@lab.example.test", False),
        ("LAB\\labadmin", True),
        ("CN=nested,CN=Users,DC=lab,DC=example,DC=test", True),  # through a group in Domain Admins
        ("nested@lab.example.test", True),
        ("Administrator@lab.example.test", True),  # implicit UPN: Administrator has none set
    ],
)
def test_domain_admins_from_token_groups(dc, user, admin):
    facts = collect(dc, user)
    assert facts.bind_account == user
    assert facts.bind_account_is_domain_admin is admin


# --- the checks on what was read --------------------------------------------------------------


def view(facts: DomainFacts, name: str, domain: str = DOMAIN, index: int = 1) -> HostView:
    host = host_facts(name, index, computer_name=name.upper(), domain=domain)
    return HostView(name, host, Policy(), facts if facts.name == domain else None)


def pair_of(facts: DomainFacts, src: str, dst: str, partner: DomainFacts | None = None) -> PairView:
    a = view(facts, src, index=1)
    b = view(partner, dst, partner.name, 2) if partner else view(facts, dst, index=2)
    domains = {d.name: d for d in (facts, partner) if d}
    return PairView(a, b, domains)


def outcome(ref: str, target) -> str:
    try:
        CHECKS[ref](target)
    except CheckFailure as exc:
        return exc.observed
    return "passed"


def test_a2_passes_on_complete_pair(facts):
    assert outcome("A2", pair_of(facts, "lab-hv01", "lab-hv02")) == "passed"
    assert outcome("A2", pair_of(facts, "lab-hv02", "lab-hv01")) == "passed"


def test_a2_names_missing_fqdn_forms_per_direction(facts):
    observed = outcome("A2", pair_of(facts, "lab-hv03", "lab-hv01"))
    assert observed == (
        f"lab-hv03 lacks {MIGRATION}/lab-hv01.{DOMAIN}; cifs/lab-hv01.{DOMAIN}, and lab-hv01 does not allow "
        "lab-hv03 by resource-based delegation"
    )
    # Per direction: lab-hv01 -> lab-hv03 needs only lab-hv01's delegation, which is complete.
    assert outcome("A2", pair_of(facts, "lab-hv01", "lab-hv03")) == "passed"


def test_a2_names_missing_protocol_transition(facts):
    observed = outcome("A2", pair_of(facts, "lab-hv04", "lab-hv01"))
    assert observed.startswith(
        'lab-hv04 lacks "use any authentication protocol" (TRUSTED_TO_AUTH_FOR_DELEGATION)'
    )


def test_a2_resource_based_delegation_from_the_real_descriptor(facts):
    # lab-hv01 has no classic delegation to lab-hv05, whose descriptor (written over LDAP) allows it.
    assert not any("lab-hv05" in v.lower() for v in accounts(facts)["lab-hv01"].allowed_to_delegate_to)
    assert outcome("A2", pair_of(facts, "lab-hv01", "lab-hv05")) == "passed"
    assert "lab-hv05 does not allow lab-hv02" in outcome("A2", pair_of(facts, "lab-hv02", "lab-hv05"))


def test_a2_a3_across_domains_only_through_resource_based_delegation(facts):
    hv01_sid = accounts(facts)["lab-hv01"].sid
    bare = account("rd-hv01", [], domain="rd.example.net", sid="S-1-5-21-1-2-3-1105")
    allowing = {**bare, "allowed_to_act": [hv01_sid]}
    for partner, a2, a3 in (
        (
            domain_facts("rd.example.net", computers=[bare]),
            "cannot cross domains; use resource-based",
            "warning",
        ),
        (domain_facts("rd.example.net", computers=[allowing]), "passed", "passed"),
    ):
        target = pair_of(facts, "lab-hv01", "rd-hv01", partner)
        assert a2 in outcome("A2", target)
        try:
            CHECKS["A3"](target)
            got = "passed"
        except CheckWarning:
            got = "warning"
        assert got == a3


def test_a5_flags_unconstrained_delegation(facts):
    assert outcome("A5", view(facts, "lab-hv01")) == "passed"
    assert (
        outcome("A5", view(facts, "lab-hv05")) == "LAB-HV05$ trusted for delegation to any service (0x80000)"
    )


def other_forest(root: str, *children: str) -> list[DomainFacts]:
    """A forest lmready read elsewhere: its root (without trusts of its own) and child domains."""
    names = [root, *children]
    return [domain_facts(n, computers=[], forest_root=root) for n in names]


def r4(facts: DomainFacts, dst_domain: str, *others: DomainFacts) -> str:
    a = view(facts, "lab-hv01")
    b = HostView("far-hv01", host_facts("far-hv01", 2, domain=dst_domain), Policy(), None)
    domains = {d.name: d for d in (facts, *others)}
    b = HostView(b.name, b.facts, b.policy, domains.get(dst_domain))
    try:
        CHECKS["R4"](PairView(a, b, domains))
    except CheckFailure as exc:
        return f"{type(exc).__name__}: {exc.observed} | {exc.fix}"
    return "passed"


def test_r4_forest_trust_covers_the_partner_forests_child_domains(facts):
    """The trust objects are read from the real DC; the partner forest is what its DC would say."""
    trusted = other_forest("trusted.example.test", "child.trusted.example.test")
    assert r4(facts, "child.trusted.example.test", *trusted) == "passed"
    assert r4(facts, "trusted.example.test", *trusted) == "passed"


def test_r4_external_trust_joins_only_its_two_domains(facts):
    external = other_forest("external.example.test", "child.external.example.test")
    assert r4(facts, "external.example.test", *external) == "passed"
    outcome = r4(facts, "child.external.example.test", *external)
    assert outcome.startswith("CheckFailure: ") and "no forest trust between lab.example.test" in outcome


def test_r4_one_way_fails_and_selective_warns(facts):
    outcome = r4(facts, "oneway.example.test", *other_forest("oneway.example.test"))
    assert outcome.startswith(f"CheckFailure: {DOMAIN} (forest {DOMAIN}) and oneway.example.test")
    assert f"one-way forest trust: {DOMAIN} is trusted by oneway.example.test only" in outcome
    outcome = r4(
        facts,
        "child.selective.example.test",
        *other_forest("selective.example.test", "child.selective.example.test"),
    )
    assert outcome.startswith(
        "CheckWarning: forest trust lab.example.test <-> selective.example.test uses selective"
    )
    assert "'Allowed to authenticate' on the computer object of far-hv01" in outcome


def test_r1_operator_delegability_read_from_the_directory(dc):
    operators = ["LAB\\auditor", "LAB\\guarded", "LAB\\sensitive", "LAB\\nobody", "OTHER\\auditor"]
    facts = collect(dc, operators=operators)
    read = {a.name: (a.protected_user, bool(a.user_account_control & 0x100000)) for a in facts.operators}
    assert read == {
        "LAB\\auditor": (False, False),
        "LAB\\guarded": (True, False),  # through a group nested in Protected Users
        "LAB\\sensitive": (False, True),
    }

    def r1(user: str) -> str:
        host = host_facts(
            "lab-hv01", 1, domain=DOMAIN, session={"user": user, "group_sids": ["S-1-5-32-544"]}
        )
        try:
            CHECKS["R1"](HostView("lab-hv01", host, Policy(), facts))
        except CheckFailure as exc:
            return exc.observed
        return "passed"

    assert r1("LAB\\auditor") == "passed"
    assert r1("LAB\\guarded") == "LAB\\guarded is in Protected Users"
    assert r1("LAB\\sensitive") == (
        "LAB\\sensitive is marked 'Account is sensitive and cannot be delegated' (NOT_DELEGATED 0x100000)"
    )
    with pytest.raises(FactsUnavailable, match=r"was not found in lab\.example\.test"):
        r1("LAB\\nobody")


# --- transports, binds and failures -----------------------------------------------------------


def test_start_tls(dc, facts):
    url = dc.url.replace("ldaps://", "ldap://").replace(":636", ":389")
    over_start_tls = collect(dc, domain=entry(dc, url=url, start_tls=True))
    assert over_start_tls.computers == facts.computers


def test_plain_ldap_refused_unless_allowed(dc):
    url = "ldap://127.0.0.1:389"
    unchecked = DomainEntry.model_construct(**{**entry(dc).model_dump(), "url": url})
    assert "plain ldap:// would send the credentials unprotected" in failure(dc, domain=unchecked)
    # Allowed, the bind reaches the DC, which (like AD with LDAP signing) wants encryption.
    allowed = failure(dc, domain=entry(dc, url=url, allow_plain_ldap=True))
    assert (
        'the DC requires LDAP signing ("Domain controller: LDAP server signing requirements") and refuses '
        "a simple bind on plain LDAP (BindSimple: Transport encryption required); use ldaps:// or "
        "start_tls: true, or auth: kerberos or ntlm, which seal the session"
    ) in allowed


def test_wrong_password(dc):
    message = failure(dc, password="not-the-password")
    assert "refused the bind of auditor@lab.example.test: the user name or password is wrong" in message
    assert "fix credential 'lab'" in message


def test_empty_password_is_not_an_anonymous_bind(dc):
    assert "has no password, and an LDAP bind without one is anonymous" in failure(dc, password="")


def other_ca(path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Some Other CA")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def test_wrong_ca(dc, tmp_path):
    message = failure(dc, domain=entry(dc, ca_bundle=str(other_ca(tmp_path / "other-ca.pem"))))
    assert "the DC's certificate is not trusted (unable to get local issuer certificate)" in message
    assert "set ca_bundle to the PEM file of the CA that issued it" in message


def test_certificate_name_is_validated(dc):
    with pytest.raises(DirectoryError, match=r"certificate names DC1\.lab\.example\.test, not 127\.0\.0\.1;"):
        collect_domain(entry(dc), Secret("auditor@lab.example.test", PASSWORDS["auditor"]), HOSTS)


def test_wrong_domain_name(dc):
    message = failure(dc, domain=entry(dc, name="corp.example.com"))
    assert message.startswith("domain corp.example.com (")
    assert "the DC serves the domain lab.example.test, not corp.example.com" in message


def test_insufficient_rights(dc):
    message = failure(dc, user="blind@lab.example.test")
    assert "blind@lab.example.test may not read the domain object (DC=lab,DC=example,DC=test)" in message


# NTLM and Kerberos binds, and the hardened DC they meet: tests/test_hardened_dc.py


def test_dc_down(dc):
    dc.stop()
    try:
        message = failure(dc)
    finally:
        dc.start()
    assert "nothing answers on port 636 (connection refused); check that the DC is running" in message
    assert collect(dc).name == DOMAIN  # the restarted DC kept its directory


# --- the lab DC itself ------------------------------------------------------------------------


def test_one_lab_dc_at_a_time(dc, tmp_path):
    with pytest.raises(SambaError, match="another lab DC held"):
        SambaDC(tmp_path / "second", lock_timeout=0.3).start()


def test_scenario_mistakes_are_sentences(dc):
    with pytest.raises(SambaError, match=r"computers\.0\.uac: Value error, unknown flag TRUSTED"):
        parse_directory({**EXTRA, "computers": [{"name": "X", "dns_host_name": "x", "uac": ["TRUSTED"]}]})
    with pytest.raises(
        SambaError, match=r"is for CORP\.EXAMPLE\.COM \(CORP\) but this DC serves LAB\.EXAMPLE\.TEST"
    ):
        dc.apply({"realm": "CORP.EXAMPLE.COM", "netbios": "CORP"})
