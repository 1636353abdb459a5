"""Secrets never appear in what lmready prints or writes: messages name the key, never a value
that may be a secret, and a missing credential is one usage error before anything is collected.

Every artifact of the runs (terminal at -vv --tb=long, reports, snapshots, remediation journal)
is searched for the secrets used, as written, URL-encoded and inside HTTP Basic headers.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml
from audit_run import audit_in_process

from lmready.lab.control import DEFAULT_SCENARIO
from lmready.lab.runtime import LDAP_PASSWORD_ENV, LDAP_USER_ENV, PASSWORD_ENV, USER_ENV, Lab
from lmready.lab.scenario import load_scenario

SECRET = "Hunter2Secret"
LIVE = {  # no facts: a live audit, which needs its credentials
    "version": 1,
    "credentials": {"default": {"username": "CORP\\auditor", "password_env": "LMREADY_TEST_PASSWORD"}},
    "defaults": {"winrm": {"credential": "default"}},
    "directory": {"domains": [{"name": "corp.example.com", "url": "ldaps://dc01.corp.example.com"}]},
    "hosts": [{"name": "hv01", "address": "127.0.0.1"}, {"name": "hv02", "address": "127.0.0.1"}],
    "pairs": [{"src": "hv01", "dst": "hv02"}],
}


def forms(secret: str) -> list[str]:
    """How a secret could leak: as is, URL-encoded, or in an HTTP Basic header with its user."""
    return [secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode()[:-4]]


def assert_nowhere(secrets: list[str], texts: dict[str, str]) -> None:
    for secret in secrets:
        for form in forms(secret):
            leaks = [where for where, text in texts.items() if form in text]
            assert not leaks, f"{form!r} found in {leaks}"


def artifacts(*roots: Path) -> dict[str, str]:
    return {
        str(p): p.read_bytes().decode("utf-8", errors="replace")
        for root in roots
        for p in root.rglob("*")
        if p.is_file() and p.suffix != ".yml"  # the inventories are the input
    }


def edited(**changes) -> dict:
    doc = yaml.safe_load(yaml.safe_dump(LIVE))
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = doc
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[last] = value
    return doc


@pytest.mark.parametrize(
    ("inventory", "sentence"),
    [
        # the password written where the variable's name belongs (a valid variable name, unset)
        (
            edited(credentials__default__password_env=SECRET),
            "credential 'default': the environment variable its password_env names is not set",
        ),
        # ... and one that is not even a variable name
        (
            edited(credentials__default__password_env=f"{SECRET} !"),
            "credentials.default.password_env: must be the name of an environment variable",
        ),
        # a YAML value that cannot be read at all (not a date)
        (edited(credentials__default__password_env="2026-02-30"), "cannot read the value"),
        # the credential itself given as a plain string
        (edited(credentials__default=SECRET), "credentials.default: input should be a valid dictionary"),
        (edited(defaults__winrm__credential=SECRET), "defaults names a credential that is not defined"),
        (
            edited(credentials__default={"username": "bob", "password": SECRET}),
            "passwords are never read from the inventory",
        ),
        # user:password@ in the LDAP URL
        (
            edited(directory__domains__0__url=f"ldaps://auditor:{SECRET}@dc01.corp.example.com"),
            "directory.domains[0].url: holds a user name or password",
        ),
    ],
)
def test_credential_mistakes_are_one_usage_error_without_the_secret(tmp_path, inventory, sentence):
    path = tmp_path / "inventory.yml"
    text = yaml.safe_dump(inventory, sort_keys=False)
    if "2026-02-30" in text:
        text = text.replace("'2026-02-30'", "2026-02-30")  # unquoted: YAML reads it as a date
    path.write_text(text)
    code, output = audit_in_process(tmp_path / "reports", path, "-vv", "--tb=long")
    assert code == 4, output[-3000:]
    errors = [line for line in output.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == 1 and sentence in errors[0], output[-3000:]
    assert "Traceback" not in output
    assert_nowhere([SECRET, "2026-02-30"], {"terminal": output, **artifacts(tmp_path)})


def test_the_cli_refuses_a_missing_credential_before_connecting(tmp_path):
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(edited(credentials__default__password_env=SECRET)))
    for command in (["snapshot", "--inventory", str(path), "--out", str(tmp_path / "snap")],):
        proc = subprocess.run(
            [sys.executable, "-m", "lmready.cli", *command], capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 4, proc.stdout + proc.stderr
        assert "password_env names is not set" in proc.stderr
        assert_nowhere([SECRET], {"out": proc.stdout + proc.stderr})
    assert not (tmp_path / "snap").exists()


# --- the lab: every artifact of real runs --------------------------------------------------


def run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=cwd,
        capture_output=True,
        timeout=300,
        env={**os.environ, "NO_PROXY": "127.0.0.1,localhost", **env},
    )
    return (proc.stdout + proc.stderr).decode("utf-8", errors="replace")


def test_no_artifact_of_live_runs_holds_a_secret(tmp_path, samba_dc):
    scenario = load_scenario(DEFAULT_SCENARIO)
    lab = Lab(scenario, tmp_path / "lab", dc=samba_dc).start()
    try:
        inventory = lab.write_inventory(tmp_path / "lab.yml")
        env = lab.env()
        secrets = [env[PASSWORD_ENV], env[LDAP_PASSWORD_ENV], f"{env[USER_ENV]}:{env[PASSWORD_ENV]}"]
        secrets += [f"{env[LDAP_USER_ENV]}:{env[LDAP_PASSWORD_ENV]}"]
        wrong = {PASSWORD_ENV: "Wrong-Host-Secret-8c1d", LDAP_PASSWORD_ENV: "Wrong-Ldap-Secret-5e2f"}
        terminal: dict[str, str] = {}
        out = {name: tmp_path / name for name in ("apply", "snapshot", "wrong", "rollback")}
        for path in out.values():
            path.mkdir()

        def audit(name: str, run_env: dict[str, str], *extra: str) -> None:
            terminal[name] = run(
                [
                    "pytest",
                    f"--inventory={inventory}",
                    f"--html={out[name] / 'report.html'}",
                    f"--junitxml={out[name] / 'junit.xml'}",
                    f"--findings-json={out[name] / 'findings.json'}",
                    "-p",
                    "no:cacheprovider",
                    "-vv",
                    "--tb=long",
                    "-rA",
                    *extra,
                ],
                out[name],
                run_env,
            )

        audit("apply", env, "--remediate=apply")
        assert "remediation" in terminal["apply"]
        journals = list(out["apply"].glob("remediation-*.jsonl"))
        assert journals, terminal["apply"][-2000:]
        terminal["rollback"] = run(
            ["lmready.cli", "rollback", str(journals[0]), "--inventory", str(inventory)], out["rollback"], env
        )
        terminal["snapshot"] = run(
            ["lmready.cli", "snapshot", "--inventory", str(inventory), "--out", str(out["snapshot"])],
            out["snapshot"],
            env,
        )
        assert list((out["snapshot"] / "hosts").glob("*.json")), terminal["snapshot"]
        audit("wrong", {**env, **wrong})
        assert "401" in terminal["wrong"] or "credentials" in terminal["wrong"]

        found = {**{f"terminal {k}": v for k, v in terminal.items()}, **artifacts(*out.values())}
        assert any(p.endswith("report.html") for p in found) and any(p.endswith(".jsonl") for p in found)
        assert_nowhere([*secrets, *wrong.values()], found)
    finally:
        lab.stop()
