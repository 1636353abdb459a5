"""LDAP SASL binds that ldap3 2.9 lacks, the way Windows binds to a DC that requires LDAP signing:
GSS-SPNEGO with NTLM, and GSSAPI with Kerberos (RFC 4752), each sealed over plain LDAP, or with a
TLS channel binding token over TLS.

ldap3 2.9.1, its latest release, binds NTLM with Microsoft's Sicily messages (which Samba does not
implement) without signing, sealing or a channel binding token, and its GSSAPI bind accepts only
"no security layer": a DC that requires signing refuses both over plain LDAP. Here pyspnego
(already a dependency, through pypsrp) runs NTLM and python-gssapi Kerberos, and a security layer
wraps every LDAP message after the bind: a 4-octet big-endian length, then the wrapped token
(RFC 4752 section 3.3; MS-NLMP 3.4 for NTLM, the signature before the sealed data). Over TLS a
Kerberos bind negotiates no layer: AD refuses sign or seal on TLS (MS-ADTS 5.1.2.1 "Using SASL")
and checks the tls-server-end-point channel binding instead (RFC 5929; Microsoft KB4520412, "LDAP
channel binding"). NTLM is only sealed over plain LDAP: Samba refuses it over TLS, signed or not,
so that path could not be tested.
"""

from __future__ import annotations

import socket
import ssl
import struct
from typing import Any, Literal

import ldap3
import spnego
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from ldap3.core.results import RESULT_SASL_BIND_IN_PROGRESS, RESULT_SUCCESS
from ldap3.protocol.sasl.sasl import abort_sasl_negotiation, send_sasl_negotiation

GSSAPI = "GSSAPI"
GSS_SPNEGO = "GSS-SPNEGO"
# RFC 4752 section 3.3: the security layers, as bits of the first octet.
NO_LAYER, INTEGRITY, CONFIDENTIALITY = 1, 2, 4
# The largest SASL buffer this client takes (RFC 4752's 3-octet maximum): a bigger announced
# length is a broken or hostile peer, not a reason to allocate it.
MAX_BUFFER = 0xFFFFFF
# Outgoing plaintext per SASL buffer: far below what DCs announce, and the layer is an octet
# stream, so a longer LDAP message simply spans buffers.
_CHUNK = 64 * 1024
INTEGRITY_FAILURE = "a message from the DC failed its integrity check"


class SaslError(Exception):
    """The exchange could not set up what was asked for; one clause for the caller's sentence."""


class Ntlm:
    """NTLM (pyspnego's own implementation, the same whatever the system has installed)."""

    def __init__(self, username: str, password: str, wanted: spnego.ContextReq):
        self._ctx = spnego.client(
            username,
            password,
            service="ldap",
            protocol="ntlm",
            context_req=wanted,
            options=spnego.NegotiateOptions.use_ntlm,
        )

    @property
    def complete(self) -> bool:
        return self._ctx.complete

    @property
    def sealed(self) -> bool:
        return bool(self._ctx.context_attr & spnego.ContextReq.confidentiality)

    def step(self, token: bytes | None) -> bytes | None:
        return self._ctx.step(token)

    def wrap(self, data: bytes, seal: bool) -> bytes:
        return self._ctx.wrap(data, seal).data

    def unwrap(self, data: bytes) -> bytes:
        return self._ctx.unwrap(data).data


class Kerberos:
    """Kerberos from the caller's ticket cache, on python-gssapi directly: pyspnego's Kerberos
    needs one more package (krb5) for nothing this needs."""

    def __init__(self, target: str, wanted: spnego.ContextReq, binding: bytes | None):
        import gssapi

        self._ctx = gssapi.SecurityContext(
            name=gssapi.Name(f"ldap@{target}", gssapi.NameType.hostbased_service),
            mech=gssapi.MechType.kerberos,
            flags=int(wanted),  # pyspnego's ContextReq bits are GSS's
            channel_bindings=gssapi.raw.ChannelBindings(application_data=binding) if binding else None,
            usage="initiate",
        )

    @property
    def complete(self) -> bool:
        return self._ctx.complete

    def step(self, token: bytes | None) -> bytes | None:
        return self._ctx.step(token)

    def wrap(self, data: bytes, seal: bool) -> bytes:
        return self._ctx.wrap(data, seal).message

    def unwrap(self, data: bytes) -> bytes:
        return self._ctx.unwrap(data).message


Context = Ntlm | Kerberos


def context(
    kind: Literal["kerberos", "ntlm"],
    target: str,
    tls: ssl.SSLSocket | None,
    username: str = "",
    password: str = "",
) -> Context:
    """A client security context for ldap/<target>. Without TLS it asks for integrity and
    confidentiality (sealing); over TLS (Kerberos only) for neither, but it carries the TLS
    session's channel binding token."""
    wanted = spnego.ContextReq.mutual_auth
    if tls is None:
        wanted |= (
            spnego.ContextReq.sequence_detect
            | spnego.ContextReq.integrity
            | spnego.ContextReq.confidentiality
        )
    if kind == "kerberos":
        return Kerberos(target, wanted, tls_channel_binding(tls) if tls is not None else None)
    if tls is not None:
        raise SaslError("NTLM is sealed over plain LDAP, not sent over TLS")
    return Ntlm(username, password, wanted)


def tls_channel_binding(tls: ssl.SSLSocket) -> bytes:
    """RFC 5929 tls-server-end-point, the application data of the channel bindings: the hash of
    the DC's certificate, with the certificate's own signature hash, SHA-256 for MD5 and SHA-1."""
    der = tls.getpeercert(binary_form=True)
    if der is None:
        raise SaslError("the TLS session has no server certificate to bind to")
    algorithm = x509.load_der_x509_certificate(der).signature_hash_algorithm
    if algorithm is None or algorithm.name in ("md5", "sha1"):
        algorithm = hashes.SHA256()
    digest = hashes.Hash(algorithm)
    digest.update(der)
    return b"tls-server-end-point:" + digest.finalize()


def bind(conn: ldap3.Connection, mechanism: str, ctx: Context, *, layer: bool) -> dict[str, Any]:
    """Run the SASL exchange on an open ldap3 connection; return the last bind result (ldap3's
    dict). With ``layer`` and a successful bind, every later message on the connection is sealed
    (only signed where a GSSAPI DC offers no more); without, no layer is negotiated.

    Raises SaslError, and pyspnego's errors from the context."""
    conn.sasl_mechanism = mechanism
    conn.sasl_in_progress = True
    try:
        result, seal = _exchange(conn, mechanism, ctx, layer)
    finally:
        conn.sasl_in_progress = False
    if result["result"] == RESULT_SUCCESS:
        if layer:
            conn.socket = SecurityLayer(conn.socket, ctx, seal=seal)
        conn.bound = True
    return result


def _exchange(
    conn: ldap3.Connection, mechanism: str, ctx: Context, layer: bool
) -> tuple[dict[str, Any], bool]:
    """The bind result, and whether the layer seals (rather than only signs)."""
    answer: bytes | None = None
    while True:
        token = ctx.step(answer)
        result = send_sasl_negotiation(conn, None, token or b"")
        answer = result.get("saslCreds")
        if result["result"] == RESULT_SUCCESS:
            if answer and not ctx.complete:
                ctx.step(answer)  # a last server token (mutual authentication) may come with success
            if not ctx.complete:
                raise SaslError("the DC accepted the bind before the client could authenticate the DC")
            # Microsoft's GSS-SPNEGO has no layer negotiation: the context's flags are the layer
            # (as cyrus-sasl learnt, its PR 424); a GSSAPI bind that succeeds here negotiated none.
            if layer and (mechanism == GSSAPI or not ctx.sealed):
                raise SaslError("the DC did not agree to seal the session")
            return result, True
        if result["result"] != RESULT_SASL_BIND_IN_PROGRESS:
            return result, False
        if ctx.complete:
            break
    if mechanism != GSSAPI:
        raise SaslError(f"the DC went on with a finished {mechanism} exchange")
    # RFC 4752 section 3.1: the server offers its layers and largest buffer, wrapped; the client
    # answers with its choice and its own largest buffer, wrapped without confidentiality.
    offer = ctx.unwrap(answer or b"")
    offered = offer[0] if len(offer) == 4 else 0
    choice = (CONFIDENTIALITY if offered & CONFIDENTIALITY else INTEGRITY) if layer else NO_LAYER
    if not offered & choice:
        abort_sasl_negotiation(conn, None)
        wanted = "a signing or sealing layer" if layer else "a bind without a security layer"
        raise SaslError(f"the DC does not offer {wanted} (its offer: {offer.hex() or 'none'})")
    size = MAX_BUFFER if choice != NO_LAYER else 0
    reply = ctx.wrap(struct.pack(">I", choice << 24 | size), False)
    return send_sasl_negotiation(conn, None, reply), choice == CONFIDENTIALITY


class SecurityLayer:
    """A socket for ldap3 that wraps what it sends and unwraps what it receives, SASL buffer by
    SASL buffer; everything else (timeouts, shutdown, close) goes to the real socket."""

    def __init__(self, sock: socket.socket, ctx: Context, *, seal: bool):
        self._sock = sock
        self._ctx = ctx
        self._seal = seal
        self._plain = b""

    def sendall(self, data: bytes) -> None:
        for start in range(0, len(data), _CHUNK):
            wrapped = self._ctx.wrap(data[start : start + _CHUNK], self._seal)
            self._sock.sendall(struct.pack(">I", len(wrapped)) + wrapped)

    def recv(self, size: int) -> bytes:
        if not self._plain:
            header = self._read(4)
            if not header:
                return b""  # the DC closed the connection: ldap3 says so
            if len(header) < 4:
                raise OSError("the DC closed the connection inside a SASL buffer")
            (length,) = struct.unpack(">I", header)
            if length > MAX_BUFFER:
                raise OSError(
                    f"the DC sent a SASL buffer of {length} bytes, more than the {MAX_BUFFER} agreed"
                )
            token = self._read(length)
            if len(token) != length:
                raise OSError("the DC closed the connection inside a SASL buffer")
            try:
                self._plain = self._ctx.unwrap(token)
            except Exception:  # pyspnego's or gssapi's: either way the message is not the DC's
                raise OSError(INTEGRITY_FAILURE) from None
        out, self._plain = self._plain[:size], self._plain[size:]
        return out

    def _read(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self._sock.recv(size - len(data))
            if not chunk:
                break
            data += chunk
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)
