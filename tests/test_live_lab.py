"""Live audits of the lab through real pypsrp: HTTPS with validation and NTLM with encryption,
the same findings as offline, requests counted, and every fault on one host only."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from audit_run import run_audit
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from lmready.catalogue import CheckFailure, load_catalogue
from lmready.credentials import Secret
from lmready.estate import Estate
from lmready.facts import HostFacts, Preflight
from lmready.inventory import DomainEntry, load_inventory
from lmready.lab.control import DEFAULT_SCENARIO
from lmready.lab.runtime import LDAP_PASSWORD_ENV, LDAP_USER_ENV, Lab
from lmready.lab.samba import samba_available
from lmready.lab.scenario import load_scenario
from lmready.ldap_directory import collect_domain
from lmready.live import LiveCollector

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
SCENARIO = load_scenario(DEFAULT_SCENARIO)
NAMES = list(SCENARIO.hosts)


@pytest.fixture(scope="module")
def lab(tmp_path_factory, samba_dc):
    running = Lab(SCENARIO, tmp_path_factory.mktemp("lab"), dc=samba_dc).start()
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def calm(request):
    """Every test starts with no fault injected and the scenario's state."""
    yield
    if "lab" in request.fixturenames:
        for runtime in request.getfixturevalue("lab").hosts.values():
            for knob, value in vars(type(runtime.knobs)()).items():
                if not knob.startswith("_"):
                    setattr(runtime.knobs, knob, value)
            runtime.model.malformed_json = False
            runtime.model.denied = {}


def outcomes(run) -> dict[tuple[str, str], str]:
    """Every result but X5, which a live run judges and an offline one does not apply, and the
    per-VM results (V1-V3): Compare-VM's answers and the destinations' path tests come from rounds
    between hosts that the scenario's states alone do not hold (tests/test_per_vm.py)."""
    return {
        (r["check_id"], r["target"]): r["outcome"]
        for r in run.findings["results"]
        if r["ref"] != "X5" and not r["ref"].startswith("V")
    }


def not_collected(facts: HostFacts) -> str:
    """The one reason a host's facts could not be collected at all ("" when they were)."""
    return facts.unread.get("os", "") if facts.unread.keys() > {"os", "vms", "migration"} else ""


def offline_estate(tmp_path: Path, lab: Lab) -> Path:
    """The scenario's facts saved as an offline audit would read them, with the directory's."""
    hosts = tmp_path / "facts" / "hosts"
    hosts.mkdir(parents=True)
    for name, facts in SCENARIO.hosts.items():
        saved = facts.model_copy(update={"preflight": Preflight(resolved=True, winrm_port_open=True)})
        (hosts / f"{name}.json").write_text(saved.model_dump_json())
    entry = DomainEntry.model_validate(lab.inventory()["directory"]["domains"][0])
    env = lab.env()
    members = {n: f.fqdn for n, f in SCENARIO.hosts.items()}
    domain = collect_domain(
        entry,
        Secret(env[LDAP_USER_ENV], env[LDAP_PASSWORD_ENV]),
        members,
        tls_server_name=entry.tls_server_name,
        operators=sorted({f.session.user for f in SCENARIO.hosts.values()}),
    )
    (tmp_path / "facts" / "domains").mkdir()
    (tmp_path / "facts" / "domains" / f"{entry.name}.json").write_text(domain.model_dump_json())
    inventory = lab.inventory(facts="facts")
    path = tmp_path / "offline.yml"
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))
    return path


def test_live_https_audit_matches_the_offline_audit(lab, tmp_path):
    inventory = lab.write_inventory(tmp_path / "lab.yml")
    before = {n: r.server.requests for n, r in lab.hosts.items()}
    live = run_audit(tmp_path / "live", inventory, env=lab.env())
    offline = run_audit(tmp_path / "offline", offline_estate(tmp_path, lab))
    assert live.returncode == offline.returncode == 1
    assert "Traceback" not in live.stdout + live.stderr
    assert outcomes(live) == outcomes(offline)
    assert live.findings["facts"] == "live (PowerShell Remoting)"
    # Not a terminal: progress comes as whole lines, never run together with carriage returns.
    progress = [line for line in live.stdout.splitlines() if "collecting facts" in line]
    assert progress and progress[-1] == f"collecting facts {len(NAMES)}/{len(NAMES)}", progress
    assert "\r" not in live.stdout
    # One pool and one pipeline per host (Create, Receive, Command, Receive), the pair round and
    # the per-VM round on the same pool (Command, Receive each), and Delete: 9 requests, every
    # host being a source; and the path test round (Command, Receive) on the destinations of
    # lab-hv02, whose file01 uses an ISO.
    used = {n: r.server.requests - before[n] for n, r in lab.hosts.items()}
    assert used == {"lab-hv01": 11, "lab-hv02": 9, "lab-hv03": 11, "lab-hv04": 11}
    # The faults the default scenario carries, seen over the wire.
    assert live.result("LMR-041", "lab-hv03")["outcome"] == "failed"
    assert live.result("LMR-013", "lab-hv01->lab-hv04")["outcome"] == "failed"
    assert live.result("LMR-055", "lab-hv01")["outcome"] == "passed"  # preflight, live only
    # The directory, read live from the Samba DC: complete, missing the FQDN forms, Kerberos only.
    assert live.result("LMR-022", "lab-hv01->lab-hv02")["outcome"] == "passed"
    # Per direction: lab-hv01 delegates to lab-hv03, lab-hv03 lacks the FQDN forms towards lab-hv01.
    assert live.result("LMR-022", "lab-hv01->lab-hv03")["outcome"] == "passed"
    missing = live.result("LMR-022", "lab-hv03->lab-hv01")
    assert missing["outcome"] == "failed" and "cifs/lab-hv01.lab.example.test" in missing["observed"]
    only = live.result("LMR-022", "lab-hv04->lab-hv01")
    assert only["outcome"] == "failed" and '"use any authentication protocol"' in only["observed"]


def test_live_ntlm_with_encryption_matches(tmp_path, samba_dc):
    lab = Lab(SCENARIO, tmp_path / "lab", transport="ntlm", dc=samba_dc).start()
    try:
        inventory = lab.write_inventory(tmp_path / "lab.yml")
        assert yaml.safe_load(inventory.read_text())["defaults"]["winrm"]["auth"] == "ntlm"
        live = run_audit(tmp_path / "live", inventory, env=lab.env())
        offline = run_audit(tmp_path / "offline", offline_estate(tmp_path, lab))
        assert outcomes(live) == outcomes(offline)
        # The report says that the inventory chose plain HTTP.
        assert "lab-hv01: plain HTTP with message encryption" in live.stdout
        assert (
            "lab-hv01: plain HTTP with message encryption"
            in live.html_data["environment"]["Weak transports (as the inventory asks)"]
        )
        # NTLM adds its three-leg handshake on the one kept-alive connection (see the https test).
        used = {n: r.server.requests for n, r in lab.hosts.items()}
        assert used == {"lab-hv01": 14, "lab-hv02": 12, "lab-hv03": 14, "lab-hv04": 14}
    finally:
        lab.stop()


# Checks that read the source's VMs in the lab (R3, X1, X4; X2 needs them only when the
# processors differ, and the lab's are identical).
NEEDS_SOURCE_VMS = {"LMR-013", "LMR-051", "LMR-054"}


def test_a_fact_that_could_not_be_read_errors_exactly_the_checks_that_need_it(lab, tmp_path):
    inventory = lab.write_inventory(tmp_path / "lab.yml")
    full = run_audit(tmp_path / "full", inventory, env=lab.env())
    lab.hosts["lab-hv02"].model.denied = {
        "Get-VM": "You do not have the required permission to complete this task. Access is denied.",
        # The probe script's first command: a session that may not run it fails the whole round.
        "ConvertFrom-Json": "Access is denied.",
    }
    run = run_audit(tmp_path / "denied", inventory, env=lab.env())
    assert "Traceback" not in run.stdout + run.stderr
    changed = {key for key, outcome in outcomes(run).items() if outcomes(full)[key] != outcome}
    from_hv02 = [t for t in {t for _, t in changed} if t.startswith("lab-hv02->")]
    # Exactly the checks that read hv02's VMs (as a source) or its probes are now errors.
    expected = {(c, t) for c in NEEDS_SOURCE_VMS | {"LMR-045"} for t in from_hv02}
    assert changed == expected, sorted(changed ^ expected)
    assert len(from_hv02) == 3
    for check_id, target in changed:
        record = run.result(check_id, target)
        assert record["outcome"] == "error"
        reason = "Access is denied" if check_id != "LMR-045" else "the port probe round failed"
        assert reason in record["message"], record["message"]
    # Said once per cause in every report, and no pair from hv02 is ready.
    causes = [c["cause"] for c in run.findings["causes"]]
    assert sum("Get-VM: You do not have the required permission" in c for c in causes) == 1, causes
    assert (
        sum("Get-VM: You do not have the required permission" in line for line in run.stdout.splitlines())
        == 1
    )
    assert "Get-VM: You do not have the required permission" in run.html
    assert any("Access is denied" in (e.get("message") or "") for e in run.junit.iter("error"))
    states = {(p["src"], p["dst"]): p["state"] for p in run.findings["pairs"]}
    assert all(states[("lab-hv02", dst)] != "ready" for dst in NAMES if dst != "lab-hv02")
    assert run.findings["verdict"] != "READY"


def collect(lab: Lab, tmp_path: Path, **defaults) -> dict[str, HostFacts]:
    doc = lab.inventory()
    doc["defaults"]["winrm"].update(defaults)
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    old = {k: os.environ.get(k) for k in lab.env()}
    os.environ.update(lab.env())
    try:
        return LiveCollector().collect(load_inventory(path)).hosts
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.mark.parametrize(
    "knob, value, sentence",
    [
        ("refuse", True, "lab-hv02: preflight failed (LMR-055, X5): port"),
        # WinRM reports faults as HTTP 500 with a WS-Management fault body.
        (
            "http_500",
            True,
            "lab-hv02: WinRM at https://127.0.0.1:{port}/wsman reported a fault during opening",
        ),
        ("drop_on_receive", True, "lab-hv02: the connection to https://127.0.0.1:{port}/wsman failed during"),
        ("hang", 30.0, "lab-hv02: collecting facts did not finish within 10 s"),
        (
            "malformed_xml",
            True,
            "lab-hv02: https://127.0.0.1:{port}/wsman answered opening a PowerShell session "
            "with something that is not WS-Management XML",
        ),
        (
            "wrong_credentials",
            True,
            "lab-hv02: https://127.0.0.1:{port}/wsman refused the credentials (basic "
            "authentication); check the user name and password of credential 'lab'.",
        ),
    ],
)
def test_each_fault_is_one_sentence_on_its_host_only(lab, tmp_path, knob, value, sentence):
    setattr(lab.hosts["lab-hv02"].knobs, knob, value)
    hosts = collect(lab, tmp_path, operation_timeout=1, connect_timeout=2)
    message = not_collected(hosts["lab-hv02"])
    assert message.startswith(sentence.format(port=lab.hosts["lab-hv02"].server.port)), (knob, message)
    assert "\n" not in message and "Traceback" not in message
    # What the runner saw itself stays read: X5 judges it.
    assert hosts["lab-hv02"].preflight.winrm_port_open is (knob != "refuse")
    for name in ("lab-hv01", "lab-hv03", "lab-hv04"):
        # lab-hv04's guardians are unread by the scenario's design (V2: could not tell).
        unread = {k: v for k, v in hosts[name].unread.items() if (name, k) != ("lab-hv04", "guardians")}
        assert not unread, (name, unread)


def test_malformed_json_from_the_host(lab, tmp_path):
    lab.hosts["lab-hv02"].model.malformed_json = True
    hosts = collect(lab, tmp_path)
    assert not_collected(hosts["lab-hv02"]).startswith("lab-hv02: the host's answer is not JSON")
    assert not hosts["lab-hv01"].unread


def test_wrong_ca_is_refused(lab, tmp_path):
    other = Lab(SCENARIO, tmp_path / "other", dc=lab.dc).start()  # a second lab: another CA
    other.stop()
    hosts = collect(lab, tmp_path, ca_bundle=str(other.tls.ca))
    assert all(
        not_collected(f).startswith(f"{n}: the TLS certificate of https://127.0.0.1:")
        for n, f in hosts.items()
    )


def test_wrong_password_says_so_in_one_line(lab, tmp_path):
    inventory = lab.write_inventory(tmp_path / "lab.yml")
    run = run_audit(tmp_path / "run", inventory, env={**lab.env(), "LMREADY_LAB_PASSWORD": "not-it"})
    assert run.returncode == 6  # INCOMPLETE: nothing on the hosts could be read
    errors = {r["message"] for r in run.findings["results"] if r["outcome"] == "error"}
    assert all("refused the credentials" in m for m in errors)
    # Said once per host and cause, not once per check.
    causes = [c["cause"] for c in run.findings["causes"]]
    assert len(causes) == len(NAMES) and all("refused the credentials" in c for c in causes), causes
    assert sum("refused the credentials" in line for line in run.stdout.splitlines()) == len(NAMES)
    assert all("\n" not in m for m in errors)
    assert "not-it" not in json.dumps(run.findings) + run.stdout


def test_remediation_cmdlets_are_validated_by_the_lab_host(lab):
    runtime = lab.hosts["lab-hv03"]
    wsman = WSMan(
        "127.0.0.1",
        port=runtime.server.port,
        username=SCENARIO.username,
        password=SCENARIO.password,
        auth="basic",
        cert_validation=str(lab.tls.ca),
        no_proxy=True,
    )

    def run(script: str) -> PowerShell:
        with RunspacePool(wsman) as pool:
            ps = PowerShell(pool)
            ps.add_script(script)
            ps.invoke()
            return ps

    typo = run("Set-VMHost -VirtualMachineMigrationPerformanceOptions SMB")
    assert "A parameter cannot be found that matches parameter name" in str(typo.streams.error[0])
    article = run("Set-VMHost -VirtualMachineMigrationPerformanceOption SMBTransport")
    assert "Unable to match the identifier name SMBTransport" in str(article.streams.error[0])
    assert runtime.model.state.migration.performance_option.value == "TCPIP"  # nothing changed
    unknown = run("Set-VMMigrationNetworks 10.0.0.0/24")  # statement-terminating, as in PowerShell
    assert "The term 'Set-VMMigrationNetworks' is not recognized" in str(unknown.streams.error[0])
    fixed = run("Set-VMHost -VirtualMachineMigrationPerformanceOption Compression")
    assert not fixed.streams.error
    assert runtime.model.state.migration.performance_option.value == "Compression"
    run("Set-VMHost -VirtualMachineMigrationPerformanceOption TCPIP")  # back to the scenario


def test_testinfra_example_check_against_a_lab_host(tmp_path, samba_dc):
    lab = Lab(SCENARIO, tmp_path / "lab", transport="ntlm", dc=samba_dc).start()
    try:
        inventory = lab.write_inventory(tmp_path / "lab.yml")
        example = Path(__file__).resolve().parent.parent / "examples"
        run = run_audit(tmp_path / "run", inventory, str(example), env=lab.env())
        results = run.findings["results"]
        assert {r["target"] for r in results} == set(NAMES), run.stdout[-2000:]
        assert {r["check_id"] for r in results} == {"USR-001"}
        assert {r["outcome"] for r in results} == {"passed"}, results
        cases = list(run.junit.iter("testcase"))
        assert len(cases) == len(NAMES)
    finally:
        lab.stop()


def test_snapshot_then_offline_audit_gives_the_live_findings(lab, tmp_path):
    inventory = lab.write_inventory(tmp_path / "lab.yml")
    env = {**os.environ, **lab.env()}
    snap = subprocess.run(
        [
            sys.executable,
            "-m",
            "lmready.cli",
            "snapshot",
            "--inventory",
            str(inventory),
            "--out",
            str(tmp_path / "snap"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert snap.returncode == 0, snap.stderr
    saved = sorted(p.name for p in (tmp_path / "snap" / "hosts").iterdir())
    assert saved == [f"{n}.json" for n in NAMES]
    assert SCENARIO.password not in "".join(p.read_text() for p in (tmp_path / "snap").rglob("*.json"))
    live = run_audit(tmp_path / "live", inventory, env=lab.env())
    offline = run_audit(tmp_path / "offline", inventory, f"--facts-dir={tmp_path / 'snap'}")
    assert outcomes(offline) == outcomes(live)


def test_lab_up_status_down(tmp_path):
    def lmready(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "lmready.cli", "lab", "--state-dir", str(tmp_path / "state"), *args],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )

    assert lmready("status").returncode == 3
    # Without its own domain controller: this session's shares Samba's fixed ports.
    up = lmready("up", "--inventory-out", str(tmp_path / "lab.yml"), "--transport", "ntlm", "--no-directory")
    try:
        assert up.returncode == 0, up.stderr
        assert "LMREADY_LAB_PASSWORD=" in up.stdout and (tmp_path / "lab.yml").is_file()
        status = lmready("status")
        assert status.returncode == 0 and all(n in status.stdout for n in NAMES)
    finally:
        down = lmready("down")
    assert down.returncode == 0 and "lab stopped" in down.stdout
    assert lmready("status").returncode == 3


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None or not samba_available(),
    reason="needs root, unshare and samba: the DC runs in a network namespace of its own",
)
def test_lab_up_down_up_with_its_domain_controller_three_times(tmp_path):
    """`lmready lab up; lab down` three times in one checkout, DC included, through the real CLI.
    A network namespace of the test's own (and its own TMPDIR, where the port lock lives) keeps
    this DC off the session's, whose fixed ports it would need."""
    cli = f"{sys.executable} -m lmready.cli lab --state-dir {tmp_path / 'state'}"
    inventory = tmp_path / "lab.yml"
    script = (
        "ip link set lo up && for i in 1 2 3; do "
        + "; ".join(
            [
                f"{cli} up --inventory-out {inventory} || exit 1$i",
                f"grep -q 'domains:' {inventory} || exit 2$i",
                f"{cli} status || exit 3$i",
                f"{cli} down || exit 4$i",
            ]
        )
        + "; done"
    )
    (tmp_path / "tmp").mkdir()
    proc = subprocess.run(
        ["unshare", "-n", "sh", "-c", script],
        env={**os.environ, "TMPDIR": str(tmp_path / "tmp")},
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    assert proc.stdout.count("lab stopped") == 3
    assert not (tmp_path / "state" / "dc").exists()  # down removes what up made


def test_directory_failure_is_one_sentence_on_its_checks_only(lab, tmp_path):
    inventory = lab.write_inventory(tmp_path / "lab.yml")
    env = {**lab.env(), "LMREADY_LAB_LDAP_PASSWORD": "not-the-password"}
    run = run_audit(tmp_path / "run", inventory, env=env)
    a2 = run.result("LMR-022", "lab-hv01->lab-hv02")
    assert a2["outcome"] == "error" and a2["message"].startswith("domain lab.example.test (ldaps://")
    assert "bug" not in a2["message"] and "\n" not in a2["message"]
    assert run.result("LMR-041", "lab-hv01")["outcome"] == "passed"  # host checks unaffected


def test_ipv6_migration_network_and_dual_stack_destination(tmp_path):
    """Through real pypsrp: lab-hv02 is dual stack on an IPv6 migration network, lab-hv03 IPv6 only
    with its firewall rule disabled. Each address is probed on its own; N4 and N5 judge them."""

    def host(name: str, *addresses: str) -> HostFacts:
        data = SCENARIO.hosts[name].model_dump(mode="json")
        found = [{"address": a, "prefix_length": 64 if ":" in a else 24} for a in addresses]
        return HostFacts.model_validate(
            {**data, "addresses": found, "migration_networks": [{"subnet": "fd00:20::/64"}]}
        )

    hosts = {
        "lab-hv01": host("lab-hv01", "fd00:20::11"),
        "lab-hv02": host("lab-hv02", "10.20.0.12", "fd00:20::12"),
        "lab-hv03": host("lab-hv03", "fd00:20::13"),
    }
    running = Lab(replace(SCENARIO, hosts=hosts, directory=None), tmp_path / "lab").start()
    try:
        found = collect(running, tmp_path)
        probes = {(p.dst, p.address): (p.open, p.error) for p in found["lab-hv01"].probes}
        assert probes[("lab-hv02", "fd00:20::12")] == (True, "")
        assert probes[("lab-hv03", "fd00:20::13")] == (False, "no answer within 2000 ms")
        estate = Estate(load_inventory(running.write_inventory(tmp_path / "v6.yml")), found, {})
        checks = {meta.ref: meta.func for meta in load_catalogue()}
        checks["N4"](estate.pair_view("lab-hv01", "lab-hv02"))  # fd00:20::11 is on fd00:20::/64
        checks["N5"](estate.pair_view("lab-hv01", "lab-hv02"))  # its IPv6 address answers
        with pytest.raises(CheckFailure, match=r"TCP 6600 closed from lab-hv01 to fd00:20::13 \(no answer"):
            checks["N5"](estate.pair_view("lab-hv01", "lab-hv03"))
    finally:
        running.stop()
