"""Bad input never crashes lmready: a broken inventory is a usage error (exit 4, one sentence
with file:line), a broken facts file is that host's error, and the other hosts are audited.

The fuzz tests run the real plugin in this process (pytest.main), over mutated inventories and
mutated saved facts, and accept only exit codes 0, 1 and 4, with no traceback and no
INTERNALERROR, ever.
"""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from audit_run import REPO, audit_in_process, write_estate
from factory import host_dict
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_wire import DOCUMENT, RUNNER

from lmready import wire
from lmready.facts import HostFacts, PortProbe

EXAMPLE_HOSTS = REPO / "inventories" / "example-facts" / "hosts"
HV01 = json.loads((EXAMPLE_HOSTS / "hv01.json").read_text())
HV02 = json.loads((EXAMPLE_HOSTS / "hv02.json").read_text())
DOMAIN = json.loads(
    (REPO / "inventories" / "example-facts" / "domains" / "corp.example.com.json").read_text()
)
PAIR = {
    "directory": {"domains": [{"name": "corp.example.com", "url": "ldaps://dc01.corp.example.com"}]},
    "hosts": [{"name": "hv01"}, {"name": "hv02"}],
    "pairs": [{"src": "hv01", "dst": "hv02", "both_ways": True}],
}
DOMAINS = {"corp.example.com": DOMAIN}
VALID_INVENTORY = """\
version: 1
facts: facts
directory:
  domains:
    - {name: corp.example.com, url: "ldaps://dc01.corp.example.com"}
credentials:
  default: {username_env: LMREADY_USER, password_env: LMREADY_PASSWORD}
defaults:
  winrm: {credential: default, connect_timeout: 5}
hosts:
  - name: hv01
    address: hv01.corp.example.com
  - name: hv02
    policy: {simultaneous_migrations: 2}
groups:
  prod: [hv01, hv02]
pairs:
  - mesh: prod
policy:
  authentication: Kerberos
  trusted_subnets: [198.51.100.0/24]
waivers:
  - check: LMR-054
    target: "*->hv02"
    justification: Memory upgrade of hv02 is booked for January
    expires: 2030-01-31
"""


def audit_here(root: Path, inventory: Path) -> tuple[int, str]:
    return audit_in_process(root / "reports", inventory, "-q", "--tb=long")


def findings(root: Path) -> dict[str, Any]:
    return json.loads((root / "reports" / "findings.json").read_bytes().decode("utf-8"))


def assert_clean_end(code: int, output: str, allowed: tuple[int, ...]) -> None:
    assert code in allowed, (code, output[-3000:])
    assert "INTERNALERROR" not in output, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert "a bug in lmready" not in output, output[-3000:]


# --- the inventory ------------------------------------------------------------------------


def estate(root: Path) -> None:
    write_estate(root, {"hv01": HV01, "hv02": HV02}, PAIR, DOMAINS)


@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        (
            "version: 1\nhosts:\n  - name: hv01\x07\n",
            ":3: character U+0007 (a control character or a noncharacter) is not allowed",
        ),
        ("version: 1\nhosts:\n  - name: hv01\x1b]52;c;SGk=\x07\n", ":3: character U+001B"),
        ("hosts: " + "[" * 5000 + "]" * 5000 + "\n", ": the document is nested too deeply to read"),
        ("hosts: " + "[" * 40 + "]" * 40 + "\n", ":1: nested more than 32 levels deep"),
        ("hosts:\n  - name: hv01\n    port: " + "9" * 5000 + "\n", ":3: hosts[0].port: cannot read '99999"),
        ("hosts:\n  - name: hv01\n2026-13-45: x\n", ":3: top level: cannot read '2026-13-45'"),
    ],
)
def test_bad_inventory_is_one_sentence_with_its_line(tmp_path, text, sentence):
    estate(tmp_path)
    inventory = tmp_path / "bad.yml"
    inventory.write_text(text, encoding="utf-8")
    code, output = audit_here(tmp_path, inventory)
    assert_clean_end(code, output, (4,))
    errors = [line for line in output.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == 1 and f"{inventory}{sentence}" in errors[0], output
    assert len(errors[0]) < 300 and "\x1b" not in output and "\x07" not in output


def test_a_facts_path_longer_than_the_file_system_allows_is_one_sentence(tmp_path):
    """Found by the fuzzer below: the facts directory's name was stat'ed unguarded."""
    estate(tmp_path)
    inventory = tmp_path / "bad.yml"
    inventory.write_text("version: 1\nfacts: f" + "[" * 300 + "acts\nhosts:\n  - name: hv01\n")
    code, output = audit_here(tmp_path, inventory)
    assert_clean_end(code, output, (4,))
    errors = [line for line in output.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == 1 and f"{inventory}:2: facts directory" in errors[0], output
    assert "cannot be read (File name too long)" in errors[0]


inventory_edits = st.one_of(
    # cut the valid inventory anywhere
    st.integers(0, len(VALID_INVENTORY)).map(lambda n: VALID_INVENTORY[:n]),
    # put a control character, or a run of brackets, at a random place
    st.tuples(
        st.integers(0, len(VALID_INVENTORY)),
        st.one_of(
            st.sampled_from(
                ["\x00", "\x07", "\x1b[31m", "\x1b]52;c;SGk=\x07", "\x85", "\ud800", "\ufffe", "\t"]
            ),
            st.integers(1, 3000).map(lambda n: "[" * n),
            st.integers(1, 3000).map(lambda n: "{a: " * n),
            st.integers(1, 60).map(lambda n: "- " * n),
            st.text(max_size=6),
        ),
    ).map(lambda cut: VALID_INVENTORY[: cut[0]] + cut[1] + VALID_INVENTORY[cut[0] :]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=inventory_edits)
def test_fuzzed_inventories_never_crash(tmp_path_factory, text):
    root = tmp_path_factory.mktemp("inv")
    estate(root)
    inventory = root / "inventory.yml"
    inventory.write_text(text, encoding="utf-8", errors="surrogatepass")
    code, output = audit_here(root, inventory)
    event(f"exit code {code}")
    assert_clean_end(code, output, (0, 1, 4, 6))


# --- facts files -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"migration_networks": [{"subnet": "10.10.0.0/99"}]}, "migration_networks.0.subnet: not a subnet"),
        ({"addresses": [{"address": "10.10.0.300", "prefix_length": 24}]}, "addresses.0.address: not an IP"),
        ({"vms": [{**HV01["vms"][0], "version": "9" * 5000}]}, "vms.0.version: a version is"),
        ({"supported_versions": ["9.0", "1" * 5000]}, "supported_versions.1: a version is"),
        ({"collected_at": "2026-11-20T09:00:00"}, "collected_at: Input should have timezone info"),
        ({"clock": {"host_utc": "2026-11-20T09:00:00"}}, "clock.host_utc: Input should have timezone info"),
        ({"os": {"build": "9" * 5000}}, "os.build"),
        ({"vms": [{"name": "x", "extra": [[[[[[[[[]]]]]]]]]}]}, "vms.0"),
    ],
)
def test_bad_facts_are_that_hosts_error_naming_file_and_field(tmp_path, change, field):
    bad = copy.deepcopy(HV01)
    for key, value in change.items():
        bad[key] = {**bad[key], **value} if isinstance(value, dict) and isinstance(bad[key], dict) else value
    inventory = write_estate(tmp_path, {"hv01": bad, "hv02": HV02}, PAIR, DOMAINS)
    code, output = audit_here(tmp_path, inventory)
    assert_clean_end(code, output, (6,))  # INCOMPLETE: that host could not be judged
    by_target: dict[str, list[dict]] = {}
    for r in findings(tmp_path)["results"]:
        by_target.setdefault(r["target"], []).append(r)
    for r in by_target["hv01"] + by_target["hv01->hv02"] + by_target["hv02->hv01"]:
        assert r["outcome"] == "error", r
        assert "hv01.json" in r["message"] and field in r["message"], r["message"]
        assert "\n" not in r["message"] and len(r["message"]) < 400, r["message"]
    # hv02 is audited as usual: its own checks ran on its facts.
    assert {r["outcome"] for r in by_target["hv02"]} <= {"passed", "failed", "warning", "skipped"}
    assert any(r["outcome"] == "passed" for r in by_target["hv02"])


def test_facts_nested_deeper_than_the_stack_are_that_hosts_error(tmp_path):
    inventory = write_estate(tmp_path, {"hv01": HV01, "hv02": HV02}, PAIR, DOMAINS)
    (tmp_path / "facts" / "hosts" / "hv01.json").write_text("[" * 100_000 + "]" * 100_000)
    code, output = audit_here(tmp_path, inventory)
    assert_clean_end(code, output, (6,))  # INCOMPLETE: that host could not be judged
    results = findings(tmp_path)["results"]
    hv01 = [r for r in results if r["target"] == "hv01"]
    assert hv01 and all("nested too deeply" in r["message"] for r in hv01), hv01[0]
    assert any(r["outcome"] == "passed" for r in results if r["target"] == "hv02")


def _paths(value: Any, here: tuple = ()) -> list[tuple]:
    out = [here]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*here, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*here, i))
    return out


hostile_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(10**300, 10**310),
    st.floats(),
    st.sampled_from(
        [
            "",
            "9" * 5000,
            "2026-11-20T09:00:00",
            "10.0.0.0/99",
            "fe80::1%eth0",
            "not an address",
            "\x1b]52;c;SGk=\x07",
            "\ud800",
            "\uffff\ufffe",
            "<svg/onload=alert(1)>",
        ]
    ),
    st.text(max_size=10),
    st.recursive(
        st.none(),
        lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2),
        max_leaves=6,
    ),
)


def _mutate(doc: dict, path: tuple, value: Any, delete: bool) -> dict:
    out = copy.deepcopy(doc)
    parent = out
    for part in path[:-1]:
        parent = parent[part]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return out


def edits_of(doc: dict) -> st.SearchStrategy[str]:
    """A value replaced or a key deleted anywhere in ``doc``, or the file cut short."""
    text = json.dumps(doc)
    return st.one_of(
        st.tuples(st.sampled_from(_paths(doc)[1:]), hostile_values, st.booleans()).map(
            lambda m: json.dumps(_mutate(doc, *m))
        ),
        st.integers(0, len(text)).map(lambda n: text[:n]),
    )


facts_edits = st.one_of(
    st.tuples(st.just("hosts/hv01.json"), edits_of(HV01)),
    st.tuples(st.just("hosts/hv01.json"), st.integers(1, 50_000).map(lambda n: "[" * n + "]" * n)),
    st.tuples(st.just("domains/corp.example.com.json"), edits_of(DOMAIN)),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edit=facts_edits)
def test_fuzzed_facts_never_crash(tmp_path_factory, edit):
    root = tmp_path_factory.mktemp("facts")
    inventory = write_estate(root, {"hv01": HV01, "hv02": HV02}, PAIR, DOMAINS)
    name, text = edit
    (root / "facts" / name).write_text(text, encoding="utf-8", errors="surrogatepass")
    code, output = audit_here(root, inventory)
    event(f"exit code {code}")
    assert_clean_end(code, output, (0, 1, 6))
    # Every report was written and is readable.
    results = findings(root)["results"]
    ET.parse(root / "reports" / "junit.xml")
    assert (root / "reports" / "report.html").stat().st_size > 0
    assert any(r["target"] == "hv02" and r["outcome"] == "passed" for r in results)
    for r in results:
        assert "\n" not in r["message"], r


def test_saved_facts_of_the_factory_still_load(tmp_path):
    """The stricter models accept every well-formed estate the tests build."""
    inventory = write_estate(
        tmp_path, {"hv01": host_dict("hv01", 1), "hv02": host_dict("hv02", 2)}, PAIR, DOMAINS
    )
    code, output = audit_here(tmp_path, inventory)
    assert_clean_end(code, output, (0, 1))
    assert "error" not in {
        r["outcome"] for r in json.loads((tmp_path / "reports" / "findings.json").read_text())["results"]
    }


# --- what a host answers over the wire ----------------------------------------------------

WIRE_PATHS = _paths(DOCUMENT)[1:]


@settings(max_examples=300, deadline=None)
@given(
    mutation=st.tuples(
        st.sampled_from(WIRE_PATHS), hostile_values | st.just("9" * 5000) | st.just("²"), st.booleans()
    )
)
def test_fuzzed_host_answers_are_facts_or_one_wire_error(mutation):
    answer = json.dumps(_mutate(DOCUMENT, *mutation))
    try:
        facts = wire.parse_host(answer, "hv01", RUNNER)
    except wire.WireError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 400, str(exc)
    else:
        assert isinstance(facts, HostFacts)


@settings(max_examples=100, deadline=None)
@given(
    answer=st.recursive(
        hostile_values,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.sampled_from(["dst", "address", "port", "open"]), inner, max_size=4)
        ),
        max_leaves=8,
    )
)
def test_fuzzed_probe_answers_are_probes_or_one_wire_error(answer):
    try:
        probes = wire.parse_probes(json.dumps(answer))
    except wire.WireError:
        return
    assert all(isinstance(p, PortProbe) for p in probes)
