"""Credentials by reference: the inventory names an environment variable or a keyring entry;
the secret is read here, when a connection needs it, and never written anywhere."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from lmready.inventory import Credential, Inventory


class CredentialError(Exception):
    """One sentence: which credential, what is missing, how to provide it."""


@dataclass(frozen=True)
class Secret:
    username: str
    password: str = field(repr=False)


def resolve(name: str | None, credential: Credential | None) -> Secret | None:
    """None when the inventory names no credential (Kerberos with the caller's ticket, say)."""
    if name is None or credential is None:
        return None
    if credential.username_env:
        username = os.environ.get(credential.username_env)
        if not username:
            raise CredentialError(
                f"credential '{name}' reads the user name from ${credential.username_env}, which is not set; "
                "export it before the run."
            )
    else:
        username = credential.username or ""
    if credential.password_env:
        password = os.environ.get(credential.password_env)
        if password is None:
            # The variable's name is not repeated: it may be the password, written there by mistake.
            raise CredentialError(
                f"credential '{name}': the environment variable its password_env names is not set; "
                "export it before the run (password_env holds a variable's name, never the password)."
            )
        return Secret(username, password)
    if credential.keyring_service:
        try:
            import keyring
        except ImportError:
            raise CredentialError(
                f"credential '{name}' uses the keyring, but the keyring package is not installed; "
                "pip install keyring, or use password_env."
            ) from None
        try:
            password = keyring.get_password(credential.keyring_service, username)
        except Exception as exc:  # backends raise their own errors: none configured, locked, ...
            raise CredentialError(
                f"credential '{name}': the keyring could not be read ({type(exc).__name__}); "
                "check that a keyring backend is configured and unlocked, or use password_env."
            ) from None
        if password is None:
            raise CredentialError(
                f"credential '{name}': the keyring has no password for {username} under service "
                f"'{credential.keyring_service}'; store it with `keyring set {credential.keyring_service} {username}`."
            )
        return Secret(username, password)
    return Secret(username, "")


def check_all(inventory: Inventory) -> list[str]:
    """Resolve every credential a live audit will use, before anything is collected: a missing
    one is one sentence now (a usage error), not the same error on every check of every host."""
    names = [h.connection.credential for h in inventory.hosts.values()]
    names += [d.credential for d in inventory.domains if d.auth != "kerberos"]
    problems = []
    for name in dict.fromkeys(n for n in names if n):
        try:
            resolve(name, inventory.credentials.get(name))
        except CredentialError as exc:
            problems.append(f"{inventory.path}: {exc}")
    return problems
