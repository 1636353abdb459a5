"""Inventory validation: every mistake is one sentence with file and line, never a traceback."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lmready.inventory import InventoryError, load_inventory

REPO = Path(__file__).resolve().parent.parent

GOOD = """\
version: 1
credentials:
  default: {username_env: LMREADY_USER, password_env: LMREADY_PASSWORD}
defaults:
  winrm: {credential: default}
directory:
  domains:
    - {name: corp.example.com, url: "ldaps://dc01.corp.example.com", credential: default}
hosts:
  - name: hv01
    address: hv01.corp.example.com
  - name: hv02
    winrm: {scheme: http, auth: basic}
    policy: {simultaneous_migrations: 4}
  - name: hv03
groups:
  prod: [hv01, hv02, hv03]
pairs:
  - mesh: prod
  - {src: hv01, dst: hv03, both_ways: true}
policy:
  authentication: Kerberos
  performance: Compression
  trusted_subnets: [198.51.100.0/24]
waivers:
  - check: LMR-054
    target: "*->hv03"
    justification: Memory upgrade of hv03 is booked for January
    expires: 2030-01-31
"""


def write(tmp_path: Path, text: str, name: str = "inventory.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(InventoryError) as info:
        load_inventory(write(tmp_path, text))
    return info.value.problems


def test_good_inventory(tmp_path):
    inv = load_inventory(write(tmp_path, GOOD))
    assert list(inv.hosts) == ["hv01", "hv02", "hv03"]
    # mesh gives every ordered pair once; both_ways adds nothing new here
    assert len(inv.pairs) == 6 and ("hv03", "hv01") in inv.pairs
    assert inv.hosts["hv02"].connection.port == 5985  # http implies WinRM's http port
    assert inv.hosts["hv02"].policy.simultaneous_migrations == 4
    assert inv.hosts["hv01"].policy.simultaneous_migrations == 2
    assert inv.hosts["hv01"].connection.verify_tls is True
    assert inv.waivers[0].where.endswith("inventory.yml:26")


def test_example_inventory_is_valid():
    inv = load_inventory(REPO / "inventories" / "example.yml")
    assert len(inv.hosts) == 5 and inv.facts_dir and inv.facts_dir.is_dir()


def test_pairs_keep_order_and_direction(tmp_path):
    inv = load_inventory(
        write(
            tmp_path,
            "hosts: [{name: a}, {name: b}, {name: c}]\n"
            "pairs: [{src: b, dst: a}, {src: a, dst: c, both_ways: true}]",
        )
    )
    assert inv.pairs == (("b", "a"), ("a", "c"), ("c", "a"))


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "hosts:\n  - name: hv01\n    adress: x\n",
            "inventory.yml:3: unknown key 'adress' in hosts[0]; did you mean 'address'?",
        ),
        (
            "hosts:\n  - name: hv01\npairs:\n  - {src: hv01, dst: hv9}\n",
            "inventory.yml:4: dst 'hv9' is not a host of this inventory; did you mean 'hv01'?",
        ),
        (
            "hosts: [{name: hv01}]\npolicy:\n  trusted_subnets: [10.0.0.300/24]\n",
            "inventory.yml:3: policy.trusted_subnets: '10.0.0.300/24' is not a subnet",
        ),
        (
            "hosts: [{name: hv01}]\nwaivers:\n  - {check: LMR-041, justification: long enough reason, expires: 2027-13-01}\n",
            "inventory.yml:3: waivers[0].expires:",
        ),
        (
            "hosts: [{name: hv01}]\nwaivers:\n  - {check: LMR-041}\n",
            "inventory.yml:3: waivers[0] is missing the required key 'justification'",
        ),
        (
            "hosts: [{name: hv01}]\nwaivers:\n  - {check: N5, justification: long enough reason}\n",
            "'N5' is not a check ID like LMR-042",
        ),
        (
            'hosts:\n  - name: "<img src=x onerror=alert(1)>"\n',
            "inventory.yml:2: hosts[0].name: '<img src=x onerror=alert(1)>' is not a valid host name",
        ),
        (
            "credentials:\n  default: {username: bob, password: hunter2}\nhosts: [{name: hv01}]\n",
            "inventory.yml:2: credentials.default: passwords are never read from the inventory",
        ),
        ("hosts: [{name: hv01}]\npolicy: {performance: SMBTransport}\n", "SMBTransport is not a value"),
        ("hosts: [{name: hv01}, {name: hv01}]\n", "host 'hv01' is listed twice"),
        ("hosts: [{name: hv01}]\npairs: [{mesh: prod}]\n", "mesh names group 'prod', which is not defined"),
        (
            "hosts: [{name: hv01, winrm: {credential: nope}}]\n",
            "host 'hv01' names a credential that is not defined under credentials: (defined: none)",
        ),
        (
            "hosts: [{name: hv01, winrm: {port: 70000}}]\n",
            "hosts[0].winrm.port: input should be less than or equal to 65535",
        ),
        ("hosts: [{name: hv01}]\npairs: [{src: hv01, dst: hv01}]\n", "a host cannot migrate to itself"),
        (
            "directory:\n  domains: [{name: corp.example.com, url: 'ldap://dc01'}]\nhosts: [{name: hv01}]\n",
            "plain ldap:// sends a simple bind's credentials unprotected",
        ),
        ("hosts: []\n", "hosts: list should have at least 1 item"),
        (
            "hosts: [{name: hv01}]\nfacts: nowhere\n",
            "inventory.yml:2: facts directory 'nowhere' does not exist",
        ),
        ("hosts:\n  - name: hv01\n  name: x\n", "inventory.yml:3: YAML syntax error"),
        ("hosts: [{name: hv01}]\nhosts: [{name: hv02}]\n", "inventory.yml:2: duplicate key 'hosts'"),
        ("- just\n- a list\n", "an inventory is a mapping"),
    ],
)
def test_each_mistake_gives_its_sentence(tmp_path, text, expected):
    found = problems(tmp_path, text)
    assert any(expected in p for p in found), found
    for p in found:
        assert p.startswith(str(tmp_path / "inventory.yml")), p
        assert "\n" not in p and "Traceback" not in p


def test_every_mistake_is_listed_not_just_the_first(tmp_path):
    found = problems(tmp_path, "hosts:\n  - {name: hv01, colour: red}\n  - {name: hv02, port: 1}\n")
    assert len(found) == 2 and ":2:" in found[0] and ":3:" in found[1]


def test_waiver_file_errors_name_that_file(tmp_path):
    write(tmp_path, "waivers:\n  - check: LMR-041\n    justification: short\n", "waivers.yml")
    found = problems(tmp_path, "hosts: [{name: hv01}]\nwaivers: waivers.yml\n")
    assert found == [
        f"{tmp_path / 'waivers.yml'}:3: waivers[0].justification: a waiver needs a real "
        "justification (at least 10 characters)."
    ]


def test_missing_file(tmp_path):
    with pytest.raises(InventoryError, match="file not found; check the path"):
        load_inventory(tmp_path / "nope.yml")


def test_alias_bomb_is_refused_quickly(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [
        f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, "
        f"*a{i - 1}, *a{i - 1}, *a{i - 1}]"
        for i in range(1, 9)
    ]
    found = problems(tmp_path, "\n".join(lines) + "\nhosts: [{name: hv01}]\n")
    assert "expands to more than" in found[0]


def test_usage_error_exit_code_4_and_no_traceback(tmp_path):
    inv = write(tmp_path, "hosts:\n  - name: hv01\n    adress: x\npairs: [{src: hv01, dst: hv2}]\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", f"--inventory={inv}", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 4, proc.stdout + proc.stderr
    err = proc.stderr
    assert "Traceback" not in err + proc.stdout
    assert f"{inv}:3: unknown key 'adress'" in err
    assert f"{inv}:4: dst 'hv2' is not a host of this inventory" in err


# --- property: whatever the YAML, a sentence or an inventory --------------------------------

KEYS = [
    "version",
    "facts",
    "hosts",
    "name",
    "address",
    "winrm",
    "port",
    "scheme",
    "auth",
    "pairs",
    "src",
    "dst",
    "both_ways",
    "mesh",
    "groups",
    "policy",
    "waivers",
    "check",
    "target",
    "justification",
    "expires",
    "credentials",
    "username",
    "password_env",
    "directory",
    "domains",
    "url",
    "trusted_subnets",
    "defaults",
    "performance",
    "authentication",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 70000),
    st.floats(allow_nan=True),
    st.sampled_from(
        [
            "hv01",
            "hv02",
            "LMR-041",
            "10.0.0.0/8",
            "ldaps://dc",
            "Kerberos",
            "SMB",
            "*",
            "2027-01-01",
            "2027-13-45",
            "<b>",
            "",
            "prod",
        ]
    ),
    st.text(max_size=8),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=5)), children, max_size=5),
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=documents)
def test_random_structures_never_crash(tmp_path, doc):
    text = yaml.safe_dump(
        {"hosts": [{"name": "hv01"}, {"name": "hv02"}], **doc} if isinstance(doc, dict) else doc
    )
    _load_or_sentences(write(tmp_path, text))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.text(alphabet=st.sampled_from(list("hosts:name- []{},&*!|>'\"#%@`\t\n\\:hv01?<>=")), max_size=80)
)
def test_random_text_never_crashes(tmp_path, text):
    _load_or_sentences(write(tmp_path, text))


def _load_or_sentences(path: Path) -> None:
    try:
        load_inventory(path)
    except InventoryError as exc:
        assert exc.problems
        for p in exc.problems:
            assert p.startswith(str(path)) and p.rstrip().endswith((".", "?")), p
