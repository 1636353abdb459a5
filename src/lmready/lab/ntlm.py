"""NTLM for the lab hosts: the acceptor side of the handshake and WinRM message encryption.

pyspnego's NTLM acceptor looks the user up in the file named by the NTLM_USER_FILE environment
variable, read when the client's AUTHENTICATE message arrives. Each lab server keeps its own file
and points the variable at it only while its acceptor steps, under a process-wide lock, so servers
with different (even conflicting) credentials run side by side and the variable is restored after.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import threading
from collections.abc import Iterator

import spnego
from pypsrp.encryption import WinRMEncryption

_USER_FILE_VARIABLE = "NTLM_USER_FILE"
_ENV_LOCK = threading.Lock()

# [MS-WSMV] 2.2.9.1: what Windows puts in the Content-Type of an encrypted message.
PROTOCOL = WinRMEncryption.SPNEGO
_BOUNDARY = "Encrypted Boundary"
SEALED_CONTENT_TYPE = f'multipart/encrypted;protocol="{PROTOCOL}";boundary="{_BOUNDARY}"'
_BOUNDARY_PATTERN = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)


class NtlmAcceptor:
    """Accepts one lab user over NTLM, raw or wrapped in SPNEGO (Negotiate)."""

    def __init__(self, username: str, password: str) -> None:
        if any(ch in value for value in (username, password) for ch in ":\r\n"):
            raise ValueError("NTLM lab credentials cannot contain ':' or line breaks (NTLM_USER_FILE format)")
        domain, _, user = username.rpartition("\\")
        descriptor, self._path = tempfile.mkstemp(prefix="lmready-ntlm-", suffix=".txt")
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(f"{domain}:{user}:{password}\n")

    def new_context(self) -> spnego.ContextProxy:
        with _user_file(self._path):
            return spnego.server(protocol="negotiate", options=spnego.NegotiateOptions.wrapping_winrm)

    def step(self, context: spnego.ContextProxy, token: bytes) -> bytes | None:
        """One handshake step; raises spnego errors for a bad token or a wrong password."""
        with _user_file(self._path):
            return context.step(token)

    def close(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path)


@contextlib.contextmanager
def _user_file(path: str) -> Iterator[None]:
    """Point NTLM_USER_FILE at one server's file for the duration of a `with` block."""
    with _ENV_LOCK:
        previous = os.environ.get(_USER_FILE_VARIABLE)
        os.environ[_USER_FILE_VARIABLE] = path
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop(_USER_FILE_VARIABLE, None)
            else:
                os.environ[_USER_FILE_VARIABLE] = previous


def is_sealed(content_type: str) -> bool:
    return content_type.lower().startswith("multipart/encrypted")


def unseal(context: spnego.ContextProxy, body: bytes, content_type: str) -> bytes:
    """The SOAP envelope inside an encrypted request (same MIME framing as pypsrp's client)."""
    match = _BOUNDARY_PATTERN.search(content_type)
    boundary = match.group(1) if match else _BOUNDARY
    return WinRMEncryption(context, PROTOCOL).unwrap_message(body, boundary)


def seal(context: spnego.ContextProxy, envelope: bytes) -> bytes:
    """The encrypted body for a response; send it with SEALED_CONTENT_TYPE."""
    return WinRMEncryption(context, PROTOCOL).wrap_message(envelope)[1]
