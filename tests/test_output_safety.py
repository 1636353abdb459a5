"""Hostile host text never breaks an output: terminal escape sequences are shown, not obeyed;
junit.xml stays well-formed XML; findings.json stays UTF-8 JSON; every report is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest
from audit_run import write_estate
from factory import host_dict

from lmready import wire
from lmready.catalogue import load_catalogue
from lmready.estate import FactsUnavailable, ReadFacts
from lmready.facts import HostFacts
from lmready.findings import Finding, write_findings_json
from lmready.html_report import details
from lmready.junit import write_junit
from lmready.lab.control import DEFAULT_SCENARIO
from lmready.lab.runtime import Lab
from lmready.lab.scenario import load_scenario
from lmready.psrp import first_line
from lmready.text import printable, redact, redact_url, xml_text

OSC52 = "\x1b]52;c;cm0gLXJmIH4=\x07"  # "write this to the clipboard", ended by BEL
CLEAR = "\x1b[2J\x1b[H"  # clear the screen
CSI_C1 = "\x9b31m"  # the one-byte CSI of C1
HOSTILE = f"vm{OSC52}{CLEAR}{CSI_C1}\ud800\uffff\ufffe\u202e\r\nFORGED LINE"


def hostile_estate(root: Path) -> Path:
    vm = {
        "name": HOSTILE,
        "state": "Running",
        "version": "11.0",  # too new for hv02: LMR-013 fails and names the VM
        "memory_bytes": 10**9,
        "switches": [f"sw{OSC52}\ud83d"],  # missing on hv02: LMR-051 fails and names the switch
    }
    hv01 = host_dict("hv01", 1, vms=[vm], cpu={"vendor": "GenuineIntel", "model": f"Xeon{CLEAR}\udfff"})
    hv02 = host_dict("hv02", 2, switches=[{"name": f"Prod{OSC52}"}], collection_problems=[f"x{OSC52}y"])
    # Facts that do not load: the error sentence quotes the host's own key.
    hv03 = {**host_dict("hv03", 3), f"key{OSC52}\ud800": 1}
    return write_estate(
        root,
        {"hv01": hv01, "hv02": hv02, "hv03": hv03},
        {
            "hosts": [{"name": "hv01"}, {"name": "hv02"}, {"name": "hv03"}],
            "pairs": [{"src": "hv01", "dst": "hv02", "both_ways": True}],
        },
    )


def test_hostile_host_text_in_every_output(tmp_path):
    inventory = hostile_estate(tmp_path)
    # The saved facts do carry the raw characters (json escapes them; json.loads restores them).
    assert "\\u001b]52" in (tmp_path / "facts" / "hosts" / "hv01.json").read_text()
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            f"--inventory={inventory}",
            f"--html={out / 'report.html'}",
            f"--junitxml={out / 'junit.xml'}",
            f"--findings-json={out / 'findings.json'}",
            "-p",
            "no:cacheprovider",
            "-vv",
            "--tb=long",
            "--color=no",
        ],
        cwd=out,
        capture_output=True,  # bytes: exactly what a terminal would receive
        timeout=300,
        env={**os.environ, "COLUMNS": "400"},
    )
    terminal = proc.stdout + proc.stderr
    assert proc.returncode == 1, terminal[-3000:]

    # The terminal: the names arrived (escaped), the sequences did not.
    assert rb"vm\x1b]52;c;cm0gLXJmIH4=\x07" in terminal, terminal[-3000:]
    for raw in (b"\x1b", b"\x07", b"\r", "\x9b".encode(), "\u202e".encode()):
        assert raw not in terminal, raw
    assert b"\nFORGED LINE" not in terminal
    terminal.decode("utf-8")  # strict: no lone surrogate made it through either

    # junit.xml: well-formed for a strict XML parser (expat; lxml too when installed).
    ET.parse(out / "junit.xml")
    try:
        from lxml import etree
    except ImportError:  # not a dependency of lmready
        etree = None
    if etree is not None:
        etree.parse(str(out / "junit.xml"), etree.XMLParser(recover=False))
    junit = (out / "junit.xml").read_text(encoding="utf-8")
    assert "vm\\x1b]52" in junit and "\\ud800" in junit and "\\uffff" in junit

    # findings.json: UTF-8 JSON without a lone surrogate anywhere.
    findings = json.loads((out / "findings.json").read_bytes().decode("utf-8"))
    text = json.dumps(findings, ensure_ascii=False)
    text.encode("utf-8")
    version = [r for r in findings["results"] if r["check_id"] == "LMR-013" and r["target"] == "hv01->hv02"]
    assert "vm\\x1b]52" in version[0]["message"], version
    hv03 = [r for r in findings["results"] if r["target"] == "hv03"]
    assert all(r["outcome"] == "error" and "key\\x1b]52" in r["message"] for r in hv03), hv03[0]

    # report.html was written, as UTF-8, with the names escaped.
    page = (out / "report.html").read_bytes().decode("utf-8")
    assert "vm\\x1b]52" in page and "\x1b" not in page


def test_printable_escapes_what_terminals_obey_and_is_idempotent():
    hostile = "a\x1b[31mb\x07c\x9bd\ud800e\uffff\U0010ffff\u202ef\tg\nh"
    shown = printable(hostile)
    assert shown == "a\\x1b[31mb\\x07c\\x9bd\\ud800e\\uffff\\U0010ffff\\u202ef\tg\\x0ah"
    assert printable(shown) == shown
    assert printable("hv01 ✓ Zürich 😀") == "hv01 ✓ Zürich 😀"
    assert printable("a\nb", newlines=True) == "a\nb"
    assert xml_text("a\x1b\ufffe\t\n\r") == "a\\x1b\\ufffe\t\n\r"


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("GIT_URL", "https://bob:s3cr3t@git.example.com/x.git", "https://bob:***@git.example.com/x.git"),
        ("GIT_URL", "https://ghp_0123456789abcdefghijABCDEFGHIJ@github.com/x", "https://***@github.com/x"),
        (
            "CI_REPOSITORY_URL",
            "https://gitlab-ci-token:glpat-abc@gitlab.example.com/x",
            "https://gitlab-ci-token:***@gitlab.example.com/x",
        ),
        ("CI_JOB_TOKEN", "anything", "***"),
        ("AWS_SECRET_ACCESS_KEY", "anything", "***"),
        ("DB_PASSWORD", "anything", "***"),
        ("NOTE", "token ghp_0123456789abcdefghijABCDEFGHIJ here", "token *** here"),
        ("GIT_BRANCH", "main", "main"),
    ],
)
def test_redaction(name, value, shown):
    assert redact(name, value) == shown


def test_redact_url_keeps_plain_urls():
    assert redact_url("ldaps://dc01.corp.example.com:636") == "ldaps://dc01.corp.example.com:636"


# --- each writer on its own: text that did not pass the facts boundary ---------------------

RAW = f"hv01{OSC52}\ud800\ufffe\uffff\x00"


def raw_finding() -> Finding:
    meta = load_catalogue()[0]
    finding = Finding(meta, "hv01", "error", meta.severity, RAW, nodeid=f"checks/x.py::{meta.name}[{RAW}]")
    finding.observed = RAW
    return finding


def test_junit_writer_keeps_xml_well_formed(tmp_path):
    write_junit(tmp_path / "junit.xml", [raw_finding()], datetime.now(UTC), 1.0, [("inventory", RAW)])
    root = ET.parse(tmp_path / "junit.xml").getroot()
    assert "hv01\\x1b]52" in root.find(".//error").get("message")


def test_findings_writer_never_writes_a_lone_surrogate(tmp_path):
    write_findings_json(tmp_path / "findings.json", {"inventory": RAW}, [raw_finding()])
    data = (tmp_path / "findings.json").read_bytes().decode("utf-8")
    loaded = json.loads(data)
    # No unpaired surrogate escape (which strict parsers refuse): every string encodes as UTF-8.
    json.dumps(loaded, ensure_ascii=False).encode("utf-8")
    assert "hv01\\x1b]52" in loaded["results"][0]["message"]


def test_html_cells_are_printable():
    cells = "".join(details(raw_finding()))
    cells.encode("utf-8")
    assert "\x1b" not in cells and "hv01\\x1b]52" in cells


def test_powershell_error_lines_are_printable():
    assert first_line(f"Get-VM : {OSC52}denied\nat line 2") == "Get-VM : \\x1b]52;c;cm0gLXJmIH4=\\x07denied"


def test_host_error_sentences_are_printable():
    """A host's own words reach error sentences as the reason a fact is unread (here: why
    Get-VMHost failed, as the host tells it)."""
    doc = {"wire": 2, "problems": [{"fact": "vmhost", "reason": f"Get-VMHost : {OSC52}access denied"}]}
    facts = HostFacts.not_collected("hv01", "placeholder", datetime.now(UTC))
    unread, _ = wire._unread(doc["problems"])
    facts = facts.model_copy(update={"unread": unread})
    with pytest.raises(FactsUnavailable) as info:
        ReadFacts(facts, "hv01").migration  # noqa: B018 - reading it is the test
    for sentence in (str(info.value), info.value.cause):
        assert "\x1b" not in sentence and "\x07" not in sentence
        assert "Get-VMHost : \\x1b]52" in sentence


# --- live, over the wire ------------------------------------------------------------------


def test_hostile_names_from_a_live_lab_host(tmp_path):
    """The same over PowerShell Remoting: a lab host whose VM and switch names carry escape
    sequences and C0/C1 controls. (A lone surrogate or U+FFFF/U+FFFE does not survive the lab's
    CLIXML: the host's answer then arrives empty, one error sentence on that host.)"""
    scenario = load_scenario(DEFAULT_SCENARIO)
    lab = Lab(scenario, tmp_path / "lab", directory=False).start()
    try:
        name = next(iter(lab.hosts))
        model = lab.hosts[name].model
        state = model.state
        # model_copy does not validate: the lab host really holds (and sends) the raw text.
        hostile = HOSTILE.replace("\ud800", "").replace("\uffff", "").replace("\ufffe", "")
        vms = [vm.model_copy(update={"name": hostile, "switches": [f"sw{OSC52}"]}) for vm in state.vms[:1]]
        model.state = state.model_copy(update={"vms": [*vms, *state.vms[1:]]})
        inventory = lab.write_inventory(tmp_path / "lab.yml")
        out = tmp_path / "out"
        out.mkdir()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                f"--inventory={inventory}",
                f"--html={out / 'report.html'}",
                f"--junitxml={out / 'junit.xml'}",
                f"--findings-json={out / 'findings.json'}",
                "-p",
                "no:cacheprovider",
                "-vv",
                "--tb=long",
                "--color=no",
            ],
            cwd=out,
            capture_output=True,
            timeout=300,
            env={**os.environ, "COLUMNS": "400", "NO_PROXY": "127.0.0.1,localhost", **lab.env()},
        )
    finally:
        lab.stop()
    terminal = proc.stdout + proc.stderr
    assert proc.returncode == 1, terminal[-3000:]
    assert rb"vm\x1b]52" in terminal, terminal[-3000:]  # the name did come over the wire
    # (CR is there: the progress line rewrites itself; never next to the host's text.)
    for raw in (b"\x1b", b"\x07", b"\rFORGED", b"\nFORGED", "\x9b".encode(), "\u202e".encode()):
        assert raw not in terminal, raw
    terminal.decode("utf-8")
    ET.parse(out / "junit.xml")
    findings = json.loads((out / "findings.json").read_bytes().decode("utf-8"))
    json.dumps(findings, ensure_ascii=False).encode("utf-8")
    assert "vm\\x1b]52" in (out / "report.html").read_bytes().decode("utf-8")
