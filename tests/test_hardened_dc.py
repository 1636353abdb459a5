"""Binds against a DC that requires LDAP signing, as Windows Server 2025's do: the lab's Samba DC
runs with "ldap server require strong auth = yes", so a simple bind needs TLS and a SASL bind needs
signing or sealing (and Samba 4.17, which cannot check TLS channel binding, refuses SASL over TLS).
Each bind lmready offers is made against it over the real wire; a relay on loopback shows what
crossed the wire in clear."""

from __future__ import annotations

import contextlib
import hashlib
import re
import socket
import ssl
import subprocess
import threading

import pytest
from cryptography import x509
from test_directory import failure_of

from lmready.credentials import Secret
from lmready.facts import DomainFacts
from lmready.inventory import DomainEntry
from lmready.lab.samba import SambaDC, load_directory, samba_available
from lmready.ldap_directory import DirectoryError, _bind_refused, collect_domain
from lmready.ldap_sasl import tls_channel_binding

pytestmark = pytest.mark.skipif(
    not samba_available(),
    reason="samba is not installed; make system (.ci/install-system-packages.sh) installs it",
)

DOMAIN = "lab.example.test"
PASSWORDS = {user.name: user.password for user in load_directory().users}
HOSTS = {f"lab-hv0{i}": f"lab-hv0{i}.{DOMAIN}" for i in range(1, 5)}
PLAIN = "ldap://127.0.0.1:389"


@pytest.fixture(scope="module")
def dc(samba_dc) -> SambaDC:
    return samba_dc


def entry(dc: SambaDC, **changes) -> DomainEntry:
    values = {"name": DOMAIN, "url": dc.url, "credential": "lab", "ca_bundle": str(dc.ca_bundle)}
    return DomainEntry(**{**values, **changes})


def collect(dc: SambaDC, user: str = "auditor@lab.example.test", password: str | None = None, **kwargs):
    name = user.split("@")[0].split("\\")[-1]
    secret = Secret(user, PASSWORDS[name] if password is None else password)
    domain = kwargs.pop("domain", None) or entry(dc)
    return collect_domain(domain, secret, HOSTS, tls_server_name=dc.dc_hostname, **kwargs)


@pytest.fixture(scope="module")
def facts(dc) -> DomainFacts:
    """A simple bind over LDAPS: what every other bind must read the same."""
    return collect(dc)


def failure(dc: SambaDC, **kwargs) -> str:
    return failure_of(collect, dc, **kwargs)


def test_simple_bind_over_ldaps_and_start_tls(dc, facts):
    assert len(facts.computers) == 4 and facts.bind_account == "auditor@lab.example.test"
    over_start_tls = collect(dc, domain=entry(dc, url=PLAIN, start_tls=True))
    assert over_start_tls.computers == facts.computers


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
    message = failure(dc, domain=entry(dc, url=recorder.url, allow_plain_ldap=True))
    assert "requires LDAP signing" in message and "refuses a simple bind on plain LDAP" in message
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
def test_kerberos_bind_sealed_over_plain_ldap(dc, facts, kerberos, recorder):
    with pytest.raises(DirectoryError, match=r"Kerberos bind failed \(No Kerberos credentials available"):
        kerberos_collect(dc, url=recorder.url)
    kerberos()
    sealed = kerberos_collect(dc, url=recorder.url)
    assert sealed.bind_account == f"nested@{dc.realm}"
    assert sealed.bind_account_is_domain_admin is True
    assert sealed.computers == facts.computers
    assert b"lab-hv01.lab.example.test" not in recorder.seen and b"CN=nested" not in recorder.seen
    assert b"GSSAPI" in recorder.seen


def samba_checks_channel_binding() -> bool:
    """Samba 4.20.3 and later check TLS channel binding, and then take SASL binds over TLS."""
    version = subprocess.run(["samba", "--version"], capture_output=True, text=True).stdout
    found = re.search(r"(\d+)\.(\d+)\.(\d+)", version)
    return bool(found) and tuple(map(int, found.groups())) >= (4, 20, 3)


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
def test_kerberos_over_tls_on_a_dc_requiring_strong_auth(dc, kerberos, facts):
    # Over TLS the bind negotiates no layer and carries the channel binding token (what AD wants).
    kerberos()
    if samba_checks_channel_binding():
        assert kerberos_collect(dc).computers == facts.computers
        return
    # Samba 4.17 requiring strong auth refuses every SASL bind over TLS, and the sentence says so.
    with pytest.raises(DirectoryError) as caught:
        kerberos_collect(dc)
    assert (
        'the DC requires LDAP signing ("Domain controller: LDAP server signing requirements") and refuses '
        "a Kerberos bind over TLS (SASL:[GSSAPI]: Sign or Seal are required); use an ldap:// URL "
        "without start_tls so that the bind seals the session, or a simple bind."
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


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")  # Samba's serial
def test_channel_binding_token_is_the_certificate_hash(dc):
    # RFC 5929 tls-server-end-point, what AD compares when it enforces channel binding. Samba 4.17
    # does not check it, so this pins the token itself.
    context = ssl.create_default_context(cafile=str(dc.ca_bundle))
    with (
        socket.create_connection(("127.0.0.1", 636)) as raw,
        context.wrap_socket(raw, server_hostname=dc.dc_hostname) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
        token = tls_channel_binding(tls)
    certificate = x509.load_der_x509_certificate(der)
    assert certificate.signature_hash_algorithm.name == "sha256"
    assert token == b"tls-server-end-point:" + hashlib.sha256(der).digest()


def test_channel_binding_refusal_sentence():
    # What AD answers when the token does not match the TLS session (LdapEnforceChannelBinding=2):
    # Samba 4.17 cannot check channel binding, so this is AD's text handed to the sentence.
    ad = {
        "result": 49,
        "description": "invalidCredentials",
        "message": "80090346: LdapErr: DSID-0C0906B5, comment: AcceptSecurityContext error, data 80090346, v4563\x00",
    }
    domain = DomainEntry(name=DOMAIN, url="ldaps://dc1.lab.example.test", auth="kerberos")
    sentence = _bind_refused(ad, domain, None, "kerberos", True)
    assert "\x00" not in sentence and "data 80090346, v4563)" in sentence
    assert sentence.startswith(
        'the DC enforces LDAP channel binding ("Domain controller: LDAP server channel binding token '
        "requirements\") and the bind's token does not match the TLS session"
    )
    assert sentence.endswith("or use an ldap:// URL with auth: kerberos or ntlm, which seal the session")


def test_inventory_takes_plain_ldap_for_sealed_binds_only():
    for auth in ("kerberos", "ntlm"):
        assert DomainEntry(name=DOMAIN, url=PLAIN, auth=auth).url == PLAIN
    with pytest.raises(ValueError, match="plain ldap:// sends a simple bind's credentials unprotected"):
        DomainEntry(name=DOMAIN, url=PLAIN)
