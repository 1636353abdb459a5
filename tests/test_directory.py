"""lmready.directory against a real Samba AD domain controller on 127.0.0.1 (lmready.lab.samba),
over LDAPS with certificate validation, then the real checks (A2, A5, R4) on what it read."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from factory import domain_facts, host_facts

from lmready.catalogue import CheckFailure, load_catalogue
from lmready.credentials import Secret
from lmready.directory import DirectoryError, _bind_refused, collect_domain
from lmready.estate import HostView, PairView
from lmready.facts import DomainFacts
from lmready.inventory import DomainEntry, Policy
from lmready.lab.samba import SambaDC, SambaError, load_directory, parse_directory, samba_available

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
    "users": [{"name": "blind", "password": "Lab-Blind-2026!"}],
    "computers": [
        {
            "name": "LAB-HV05",
            "dns_host_name": "lab-hv05.lab.example.test",
            "uac": ["WORKSTATION_TRUST_ACCOUNT", "TRUSTED_FOR_DELEGATION"],
            "allowed_to_act": ["LAB-HV01"],
        }
    ],
    "trusts": [{"partner": "oneway.example.test", "flat_name": "ONEWAY", "direction": 1}],
}
PASSWORDS["blind"] = "Lab-Blind-2026!"
HOSTS = {f"lab-hv0{i}": (f"LAB-HV0{i}", f"lab-hv0{i}.{DOMAIN}") for i in range(1, 6)}
HOSTS["lab-hv02"] = ("LAB-HV02", "lab-hv02.elsewhere.test")  # found by its computer name instead
HOSTS["lab-hv09"] = ("LAB-HV09", f"lab-hv09.{DOMAIN}")  # no account in the directory
CHECKS = {meta.ref: meta.func for meta in load_catalogue()}
PLAIN = "ldap://127.0.0.1:389"


@pytest.fixture(scope="session")
def dc(samba_dc):
    """The session's domain controller, with the states the lab hosts do not show."""
    samba_dc.apply(EXTRA)
    samba_dc.deny_read("blind")
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


def failure(dc: SambaDC, **kwargs) -> str:
    with pytest.raises(DirectoryError) as caught:
        collect(dc, **kwargs)
    message = str(caught.value)
    # One sentence, naming the domain and the DC, with no chained exception behind it.
    assert re.match(r"domain \S+ \(ldaps?://127\.0\.0\.1:\d+\): \S", message)
    assert message.endswith(".") and "\n" not in message and ". " not in message
    error = caught.value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    return message


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
    assert not hv01.resource_based_delegation_set


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
    assert hv05.resource_based_delegation_set


def test_accounts_matched_to_inventory_names(facts):
    found = accounts(facts)
    assert sorted(found) == ["lab-hv01", "lab-hv02", "lab-hv03", "lab-hv04", "lab-hv05"]
    assert found["lab-hv02"].sam_account_name == "LAB-HV02$"  # its FQDN in the inventory was wrong


def test_trusts(facts):
    trusts = {t.partner: t for t in facts.trusts}
    assert set(trusts) == {"trusted.example.test", "oneway.example.test"}
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


def test_a2_names_missing_fqdn_forms(facts):
    observed = outcome("A2", pair_of(facts, "lab-hv01", "lab-hv03"))
    assert observed == (f"missing lab-hv03: {MIGRATION}/lab-hv01.{DOMAIN}; lab-hv03: cifs/lab-hv01.{DOMAIN}")


def test_a2_names_missing_protocol_transition(facts):
    observed = outcome("A2", pair_of(facts, "lab-hv04", "lab-hv01"))
    assert observed == 'missing lab-hv04: "use any authentication protocol" (TRUSTED_TO_AUTH_FOR_DELEGATION)'


def test_a5_flags_unconstrained_delegation(facts):
    assert outcome("A5", view(facts, "lab-hv01")) == "passed"
    assert (
        outcome("A5", view(facts, "lab-hv05")) == "LAB-HV05$ trusted for delegation to any service (0x80000)"
    )


def test_r4_two_way_trust_passes_and_one_way_fails(facts):
    trusted = domain_facts("trusted.example.test", computers=[])
    assert outcome("R4", pair_of(facts, "lab-hv01", "tr-hv01", trusted)) == "passed"
    oneway = domain_facts("oneway.example.test", computers=[])
    assert outcome("R4", pair_of(facts, "lab-hv01", "ow-hv01", oneway)) == (
        f"{DOMAIN} and oneway.example.test are in different forests without a two-way trust"
    )


# --- transports, binds and failures -----------------------------------------------------------


def test_start_tls(dc, facts):
    url = dc.url.replace("ldaps://", "ldap://").replace(":636", ":389")
    over_start_tls = collect(dc, domain=entry(dc, url=url, start_tls=True))
    assert over_start_tls.computers == facts.computers


def test_plain_ldap_refused_unless_allowed(dc):
    url = PLAIN
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


# --- a DC that requires LDAP signing ------------------------------------------------------------
# The lab DC runs with "ldap server require strong auth = yes": simple binds only over TLS, SASL
# binds only signed or sealed (and Samba 4.17 cannot check channel binding, so never over TLS).


class Recorder:
    """A TCP relay on loopback to the DC's plain LDAP port that keeps every byte it passes."""

    def __init__(self, port: int = 389, tamper: bool = False):
        self.seen = bytearray()
        self.tamper = tamper  # flip a bit in what the DC sends inside SASL buffers
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"ldap://127.0.0.1:{self._listener.getsockname()[1]}"
        self._port = port
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self._port))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b, a is upstream), daemon=True).start()

    def _pipe(self, a, b, from_dc):
        with contextlib.suppress(OSError):
            while data := a.recv(65536):
                self.seen += data
                # An LDAP message starts with 0x30; a SASL buffer with its length's high octet.
                if self.tamper and from_dc and data[0] == 0:
                    data = data[:-1] + bytes([data[-1] ^ 1])
                b.sendall(data)
            b.shutdown(socket.SHUT_WR)

    def close(self):
        self._listener.close()


@pytest.fixture
def recorder():
    relay = Recorder()
    yield relay
    relay.close()


def test_recorder_sees_plain_ldap(dc, recorder):
    # The control for the sealing tests below: what is not sealed is readable on the wire.
    failure(dc, domain=entry(dc, url=recorder.url, allow_plain_ldap=True))
    assert b"auditor@lab.example.test" in recorder.seen
    assert b"Transport encryption required" in recorder.seen


def test_ntlm_bind_sealed_over_plain_ldap(dc, facts, recorder):
    sealed = collect(dc, "LAB\\auditor", auth="ntlm", domain=entry(dc, url=recorder.url, auth="ntlm"))
    assert sealed.computers == facts.computers and sealed.trusts == facts.trusts
    assert sealed.bind_account == "LAB\\auditor" and sealed.bind_account_is_domain_admin is False
    # Nothing the DC answered, nor the account's name, crossed the wire in clear.
    assert b"lab-hv01.lab.example.test" not in recorder.seen and b"LAB-HV01$" not in recorder.seen
    assert b"NTLMSSP" in recorder.seen  # the exchange itself went through the relay


def test_sealed_session_detects_tampering(dc):
    relay = Recorder(tamper=True)
    try:
        message = failure(dc, user="LAB\\auditor", auth="ntlm", domain=entry(dc, url=relay.url, auth="ntlm"))
    finally:
        relay.close()
    assert message.endswith(
        "reading the directory failed: a message from the DC failed its integrity check: something "
        "between the runner and the DC changes the sealed traffic; connect to the DC directly."
    )


def test_ntlm_needs_domain_user_and_plain_ldap(dc):
    assert "needs the user name as DOMAIN\\user" in failure(
        dc, auth="ntlm", domain=entry(dc, url=PLAIN, auth="ntlm")
    )
    over_tls = failure(dc, user="LAB\\auditor", auth="ntlm")
    assert "an NTLM bind is sealed over plain ldap:// (port 389), not sent over TLS" in over_tls
    wrong = failure(
        dc,
        user="LAB\\auditor",
        password="not-the-password",
        auth="ntlm",
        domain=entry(dc, url=PLAIN, auth="ntlm"),
    )
    assert "refused the bind of LAB\\auditor: the user name or password is wrong" in wrong


@pytest.fixture
def kerberos(dc, tmp_path, monkeypatch):
    """A Kerberos client of the lab realm (its KDC on 127.0.0.1) with an empty ticket cache; call
    it to get nested's ticket."""
    gssapi = pytest.importorskip("gssapi", reason="the Python package gssapi is needed for Kerberos binds")
    krb5_conf = tmp_path / "krb5.conf"
    krb5_conf.write_text(
        f"[libdefaults]\n default_realm = {dc.realm}\n dns_lookup_kdc = false\n rdns = false\n"
        f"[realms]\n {dc.realm} = {{\n  kdc = 127.0.0.1\n }}\n"
    )
    ccache = f"FILE:{tmp_path / 'ccache'}"
    monkeypatch.setenv("KRB5_CONFIG", str(krb5_conf))
    monkeypatch.setenv("KRB5CCNAME", ccache)

    def kinit():
        principal = gssapi.Name(f"nested@{dc.realm}", gssapi.NameType.kerberos_principal)
        ticket = gssapi.raw.acquire_cred_with_password(
            principal, PASSWORDS["nested"].encode(), usage="initiate"
        )
        gssapi.raw.store_cred_into(
            {b"ccache": ccache.encode()}, ticket.creds, usage="initiate", overwrite=True
        )

    return kinit


def kerberos_collect(dc, **changes):
    domain = entry(dc, credential=None, auth="kerberos", **changes)
    return collect_domain(domain, None, HOSTS, tls_server_name=dc.dc_hostname)


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")  # Samba's serial
def test_kerberos_bind_sealed_over_plain_ldap(dc, kerberos, recorder):
    with pytest.raises(DirectoryError, match=r"Kerberos bind failed \(No Kerberos credentials available"):
        kerberos_collect(dc, url=recorder.url)
    kerberos()
    facts = kerberos_collect(dc, url=recorder.url)
    assert facts.bind_account == f"nested@{dc.realm}"
    assert facts.bind_account_is_domain_admin is True
    assert len(facts.computers) == 5
    assert b"lab-hv01.lab.example.test" not in recorder.seen and b"CN=nested" not in recorder.seen
    assert b"GSSAPI" in recorder.seen


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
def test_kerberos_over_tls_refused_by_a_dc_that_cannot_check_channel_binding(dc, kerberos):
    # Over TLS the bind negotiates no layer and carries the channel binding token (what AD wants);
    # Samba 4.17 requiring strong auth refuses every SASL bind over TLS, and the sentence says so.
    kerberos()
    with pytest.raises(DirectoryError) as caught:
        kerberos_collect(dc)
    assert (
        'the DC requires LDAP signing ("Domain controller: LDAP server signing requirements") and refuses '
        "a Kerberos bind over TLS without it (SASL:[GSSAPI]: Sign or Seal are required); use an ldap:// URL "
        "without start_tls so that the bind seals the session, or a simple bind over TLS."
    ) in str(caught.value)


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
def test_kerberos_over_tls_without_layer(dc, kerberos, facts):
    # What AD takes over TLS: no security layer (AD refuses sign or seal on TLS), a channel
    # binding token. Samba 4.17 takes it only when told not to check channel binding.
    kerberos()
    dc.require_strong_auth("allow_sasl_over_tls")
    try:
        over_tls = kerberos_collect(dc)
        over_start_tls = kerberos_collect(dc, url=PLAIN, start_tls=True)
    finally:
        dc.require_strong_auth("yes")
    assert over_tls.computers == facts.computers == over_start_tls.computers


def test_channel_binding_refusal_sentence():
    # What AD answers when the token does not match the TLS session (LdapEnforceChannelBinding=2):
    # Samba 4.17 cannot check channel binding, so this is AD's text handed to the sentence.
    ad = {
        "result": 49,
        "description": "invalidCredentials",
        "message": "80090346: LdapErr: DSID-0C0906B5, comment: AcceptSecurityContext error, data 80090346, v4563\x00",
    }
    sentence = _bind_refused(ad, entry_for_sentence(), None, "kerberos", True)
    assert sentence.startswith(
        'the DC enforces LDAP channel binding ("Domain controller: LDAP server channel binding token '
        "requirements\") and the bind's token does not match the TLS session"
    )
    assert sentence.endswith("or use an ldap:// URL with auth: kerberos or ntlm, which seal the session")


def entry_for_sentence() -> DomainEntry:
    return DomainEntry(name=DOMAIN, url="ldaps://dc1.lab.example.test", credential=None, auth="kerberos")


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
