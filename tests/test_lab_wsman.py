"""Lab hosts on the wire: unmodified pypsrp and pywinrm clients against LabServer.

A stand-in ScriptHost answers scripts by their first word, so each test can ask for output,
errors, a terminating error, a slow script or a large string. Nothing in the clients is mocked.
"""

from __future__ import annotations

import json
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import testinfra
import winrm
from pypsrp.complex_objects import PSInvocationState
from pypsrp.exceptions import AuthenticationError, WSManFaultError
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.shell import Process, WinRS
from pypsrp.wsman import NAMESPACES, SelectorSet, WSMan

from lmready.lab.wsman import Knobs, LabServer, ScriptResult, TlsFiles, make_tls

USER, NTLM_USER, PASSWORD = "labadmin", "LAB\\labadmin", "Pa55-word!"
TIMED_OUT, INVALID_SELECTORS, E_FAIL = 2150858793, 2150858843, 0x80004005
HOST_JSON = json.dumps({"ComputerName": "HV01", "VMs": [{"Name": "vm1", "Version": "9.0"}]})


class StandIn:
    """ScriptHost stand-in: `verb:argument` scripts; anything else is echoed back."""

    def run_script(self, script: str) -> ScriptResult:
        verb, _, argument = script.partition(":")
        if verb == "json":
            return ScriptResult([HOST_JSON])
        if verb == "error":
            return ScriptResult(["before"], errors=[argument, "second error"])
        if verb == "throw":
            return ScriptResult(["partial"], terminating=argument)
        if verb == "sleep":
            time.sleep(float(argument))
            return ScriptResult(["slept"])
        if verb == "big":
            return ScriptResult([big_text(int(argument))])
        if verb == "objects":
            return ScriptResult(
                [7, 2**40, 0.1, True, "text", {"Name": "vm1", "State": "Running"}, [1, "two"]]
            )
        if verb == "crash":
            raise RuntimeError("model bug")
        return ScriptResult([script])


def big_text(size: int) -> str:
    """Distinct 8-character blocks, so a lost, doubled or reordered fragment shows."""
    return "".join(f"{i:08d}" for i in range(size // 8))


@pytest.fixture(autouse=True)
def loopback_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy for loopback; no CA bundle from the environment (tests pass the lab CA explicitly)."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls(tmp_path_factory.mktemp("tls"), ["hv01.lab.test"])


@pytest.fixture
def lab() -> Iterator[Callable[..., LabServer]]:
    servers: list[LabServer] = []

    def start(auth: str = "basic", **kwargs: object) -> LabServer:
        username = NTLM_USER if auth == "ntlm" else USER
        server = LabServer(StandIn(), username=username, password=PASSWORD, auth=auth, **kwargs)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def client(server: LabServer, **overrides: object) -> WSMan:
    """A pypsrp connection with short timeouts; over HTTP, NTLM encrypts and Basic cannot."""
    settings: dict[str, object] = {
        "port": server.port,
        "username": NTLM_USER if server.auth == "ntlm" else USER,
        "password": PASSWORD,
        "ssl": server.tls is not None,
        "auth": server.auth,
        "encryption": ("always" if server.auth == "ntlm" else "never") if server.tls is None else "auto",
        "cert_validation": str(server.tls.ca) if server.tls else False,
        "operation_timeout": 3,
        "read_timeout": 10,
        "connection_timeout": 5,
    }
    settings.update(overrides)
    return WSMan("127.0.0.1", **settings)


def invoke(pool: RunspacePool, script: str) -> PowerShell:
    ps = PowerShell(pool)
    ps.add_script(script)
    return finish(ps)


def finish(ps: PowerShell, seconds: float = 10) -> PowerShell:
    """ps.invoke(), but a pipeline that never ends fails the test instead of polling forever."""
    ps.begin_invoke()
    deadline = time.monotonic() + seconds
    while ps.state == PSInvocationState.RUNNING:
        assert time.monotonic() < deadline, "the pipeline did not finish"
        ps.poll_invoke()
    return ps


def messages(ps: PowerShell) -> list[str]:
    return [str(record) for record in ps.streams.error]


@pytest.mark.parametrize("transport", ["http-basic", "https-basic", "http-ntlm-encrypted"])
def test_psrp_outputs_errors_and_failures(lab, tls: TlsFiles, transport: str) -> None:
    server = lab(
        "ntlm" if "ntlm" in transport else "basic", tls=tls if transport.startswith("https") else None
    )
    with RunspacePool(client(server)) as pool:
        ps = invoke(pool, "json")
        assert ps.output == [HOST_JSON]
        assert json.loads(ps.output[0])["VMs"][0]["Version"] == "9.0"
        assert (ps.state, ps.had_errors, ps.streams.error) == (PSInvocationState.COMPLETED, False, [])

        ps = invoke(pool, "error:disk full")
        assert ps.output == ["before"]
        assert messages(ps) == ["disk full", "second error"]
        # pypsrp sets had_errors only for a Failed pipeline; Write-Error leaves it Completed.
        assert (ps.state, ps.had_errors) == (PSInvocationState.COMPLETED, False)

        ps = invoke(pool, "throw:The term 'Get-VMHost' is not recognized")
        assert ps.state == PSInvocationState.FAILED and ps.had_errors
        assert ps.output == ["partial"]
        assert messages(ps) == ["The term 'Get-VMHost' is not recognized"]

        ps = invoke(pool, "crash")
        assert ps.state == PSInvocationState.FAILED
        assert messages(ps) == ["The lab script host failed: RuntimeError: model bug"]

        ps = invoke(pool, "objects")
        number, large, fraction, flag, text, vm, items = ps.output
        assert (number, large, fraction, flag, text, items) == (7, 2**40, 0.1, True, "text", [1, "two"])
        assert vm.types[0] == "System.Management.Automation.PSCustomObject"
        assert vm.extended_properties == {"Name": "vm1", "State": "Running"}


def test_commands_and_parameters_become_a_script_line(lab) -> None:
    server = lab()
    with RunspacePool(client(server)) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-VM").add_parameter("Name", "it's").add_parameter("Force").add_parameter("Count", 2)
        ps.add_parameter("Confirm", False).add_argument(["a", "b"]).add_cmdlet("Select-Object")
        ps.add_statement().add_script("param($x) $x").add_parameter("x", 1.5)
        assert finish(ps).output == [
            "Get-VM -Name 'it''s' -Force -Count 2 -Confirm:$false @('a', 'b') | Select-Object; & {param($x) $x} -x 1.5"
        ]


def test_one_pool_and_one_pipeline_cost_five_requests(lab) -> None:
    basic, ntlm = lab(), lab("ntlm")
    for server, expected in ((basic, 5), (ntlm, 8)):  # NTLM adds 401, challenge and authenticate legs
        with RunspacePool(client(server)) as pool:
            assert invoke(pool, "json").output == [HOST_JSON]
        assert server.requests == expected, server.auth
    with RunspacePool(client(basic)) as pool:
        ps = invoke(pool, "json")
        ps.close()  # Signal terminate, then a new pipeline on the same pool
        assert invoke(pool, "json").output == [HOST_JSON]
    assert basic.requests == 5 + 5 + 3


def test_https_with_another_ca_fails_on_the_client(lab, tls: TlsFiles, tmp_path: Path) -> None:
    server = lab(tls=tls)
    stranger = make_tls(tmp_path, ["hv01.lab.test"])
    with pytest.raises(requests.exceptions.SSLError):
        RunspacePool(client(server, cert_validation=str(stranger.ca))).open()
    with RunspacePool(client(server)) as pool:
        assert invoke(pool, "json").output == [HOST_JSON]


@pytest.mark.parametrize("auth", ["basic", "ntlm"])
def test_wrong_password_is_a_401(lab, auth: str) -> None:
    server = lab(auth)
    with pytest.raises(AuthenticationError):
        RunspacePool(client(server, password="wrong")).open()
    assert server.requests == (1 if auth == "basic" else 3)


@pytest.mark.parametrize("auth", ["basic", "ntlm"])
def test_wrong_credentials_knob_rejects_a_live_session(lab, auth: str) -> None:
    server = lab(auth)
    pool = RunspacePool(client(server))
    pool.open()
    server.knobs.wrong_credentials = True
    with pytest.raises(AuthenticationError):
        invoke(pool, "json")


def test_refuse_knob_refuses_connections_until_flipped_back(lab) -> None:
    server = lab()
    pool = RunspacePool(client(server))
    pool.open()
    port = server.port
    server.knobs.refuse = True
    with pytest.raises(requests.exceptions.ConnectionError, match="refused"):
        invoke(pool, "json")
    with pytest.raises(requests.exceptions.ConnectionError, match="refused"):
        RunspacePool(client(server)).open()
    server.knobs.refuse = False
    assert server.port == port
    with RunspacePool(client(server)) as fresh:
        assert invoke(fresh, "json").output == [HOST_JSON]


def test_http_500_knob_is_a_wsman_fault(lab) -> None:
    server = lab()
    server.knobs.http_500 = True
    with pytest.raises(WSManFaultError) as fault:
        RunspacePool(client(server)).open()
    assert fault.value.code == E_FAIL
    session = winrm.Session(server.url, auth=(USER, PASSWORD), transport="basic")
    with pytest.raises(winrm.exceptions.WSManFaultError):
        session.run_ps("json")


def test_drop_on_receive_knob_closes_the_connection(lab) -> None:
    server = lab()
    with RunspacePool(client(server)) as pool:
        server.knobs.drop_on_receive = True
        with pytest.raises(requests.exceptions.ConnectionError, match="aborted"):
            invoke(pool, "json")
        server.knobs.drop_on_receive = False


def test_hang_knob_outlasts_the_read_timeout(lab) -> None:
    server = lab()
    with RunspacePool(client(server, read_timeout=0.3, reconnection_backoff=0)) as pool:
        before = server.requests
        server.knobs.hang = 3
        with pytest.raises(requests.exceptions.ReadTimeout):
            invoke(pool, "json")
        assert server.requests - before == 1 + 6  # Command, then pypsrp's Receive and its 5 retries
        server.knobs.hang = 0


def test_malformed_xml_knob(lab) -> None:
    server = lab(knobs=Knobs(malformed_xml=True))
    with pytest.raises(ET.ParseError):
        RunspacePool(client(server)).open()


def test_latency_knob_slows_every_request(lab) -> None:
    server = lab(knobs=Knobs(latency=0.1))
    started = time.monotonic()
    with RunspacePool(client(server)) as pool:
        invoke(pool, "json")
    assert time.monotonic() - started >= 5 * 0.1


def test_receive_times_out_with_the_wsman_fault_and_clients_retry(lab) -> None:
    server = lab()
    with RunspacePool(client(server, operation_timeout=1, read_timeout=5)) as pool:
        assert invoke(pool, "sleep:1.5").output == ["slept"]
    assert server.requests == 5 + 1  # one Receive answered w:TimedOut, which pypsrp retried

    shell = WinRS(client(server))
    shell.open()
    process = Process(shell, "powershell.exe", ["-NoProfile", "-Command", "sleep:1.5"])
    process.begin_invoke()
    with pytest.raises(WSManFaultError) as fault:
        shell.receive("stdout stderr", process.id, timeout=1)
    assert fault.value.code == TIMED_OUT
    process.end_invoke()
    assert (process.rc, process.stdout) == (0, b"slept\r\n")
    shell.close()


def test_unknown_shell_is_a_fault(lab) -> None:
    server = lab()
    selectors = SelectorSet()
    selectors.add_option("ShellId", str(uuid.uuid4()).upper())
    receive = ET.Element(f"{{{NAMESPACES['rsp']}}}Receive")
    ET.SubElement(receive, f"{{{NAMESPACES['rsp']}}}DesiredStream").text = "stdout"
    with pytest.raises(WSManFaultError) as fault:
        client(server).receive(
            "http://schemas.microsoft.com/powershell/Microsoft.PowerShell", receive, selector_set=selectors
        )
    assert fault.value.code == INVALID_SELECTORS


def test_get_config_and_shell_state(lab) -> None:
    server = lab()
    connection = client(server)
    connection.update_max_payload_size()
    assert connection.max_envelope_size == 500 * 1024
    pool = RunspacePool(connection)
    pool.open()
    assert pool.is_alive()
    pool.close()
    assert not RunspacePool(connection).is_alive()


def test_stop_signal_stops_a_running_pipeline(lab) -> None:
    server = lab()
    with RunspacePool(client(server)) as pool:
        ps = PowerShell(pool)
        ps.add_script("sleep:1")
        ps.begin_invoke()
        ps.stop()
        assert ps.state == PSInvocationState.STOPPED
        assert invoke(pool, "json").output == [HOST_JSON]


@pytest.mark.parametrize("max_envelope_size", [None, 65536])
def test_large_output_is_split_to_fit_max_envelope_size(lab, max_envelope_size: int | None) -> None:
    server = lab()
    overrides = {"max_envelope_size": max_envelope_size} if max_envelope_size else {}
    with RunspacePool(client(server, **overrides)) as pool:
        ps = invoke(pool, "big:2097152")
    assert ps.output == [big_text(2097152)]
    limit = max_envelope_size or 512000  # pypsrp raises its default to 500 KiB on protocol 2.2+
    assert server.largest_envelope <= limit
    assert server.requests >= 5 + 2097152 * 4 // 3 // limit  # the output took several Receives


def test_pywinrm_run_ps_over_ntlm_with_encryption(lab) -> None:
    server = LabServer(StandIn(), username=USER, password=PASSWORD, auth="ntlm")
    with server:
        session = winrm.Session(
            server.url, auth=(USER, PASSWORD), transport="ntlm", message_encryption="always"
        )
        result = session.run_ps("json")
        assert (result.status_code, result.std_out, result.std_err) == (0, HOST_JSON.encode() + b"\r\n", b"")

        result = session.run_ps("error:disk full")
        assert (result.status_code, result.std_out) == (1, b"before\r\n")
        assert result.std_err == b"disk full\nsecond error"

        result = session.run_ps("throw:boom")
        assert (result.status_code, result.std_out, result.std_err) == (1, b"partial\r\n", b"boom")

        result = session.run_ps("big:400000")
        assert result.std_out == big_text(400000).encode() + b"\r\n"
        assert server.largest_envelope <= 153600  # pywinrm's MaxEnvelopeSize

        result = session.run_cmd("ipconfig", ["/all"])
        assert result.status_code == 1
        assert b"'ipconfig' is not recognized as an internal or external command" in result.std_err

        result = session.run_cmd("powershell -EncodedCommand not-base64")
        assert result.status_code == 1 and b"not properly encoded" in result.std_err

        with pytest.raises(winrm.exceptions.InvalidCredentialsError):
            winrm.Session(server.url, auth=(USER, "wrong"), transport="ntlm").run_ps("json")


def test_testinfra_winrm_backend(lab) -> None:
    server = LabServer(StandIn(), username=USER, password=PASSWORD, auth="ntlm")
    with server:
        host = testinfra.get_host(f"winrm://{USER}:{PASSWORD}@127.0.0.1:{server.port}", no_ssl=True)
        result = host.run("powershell -NoProfile -NonInteractive -Command objects")
        assert result.rc == 0
        assert result.stdout.split("\r\n") == [
            "7",
            str(2**40),
            "0.1",
            "True",
            "text",
            "",
            "Name  : vm1",
            "State : Running",
            "",
            "1",
            "two",
            "",
        ]


def test_twenty_concurrent_clients_on_one_server(lab) -> None:
    server = lab("ntlm")

    def run(i: int) -> list[object]:
        with RunspacePool(client(server)) as pool:
            return invoke(pool, f"echo-{i}").output

    with ThreadPoolExecutor(20) as pool:
        assert list(pool.map(run, range(20))) == [[f"echo-{i}"] for i in range(20)]
    assert server.requests == 20 * 8


def test_twenty_servers_with_conflicting_ntlm_passwords(lab) -> None:
    servers = [
        LabServer(StandIn(), username=NTLM_USER, password=f"{PASSWORD}{i}", auth="ntlm") for i in range(20)
    ]

    def run(i: int) -> list[object]:
        with RunspacePool(client(servers[i], password=f"{PASSWORD}{i}")) as pool:
            return invoke(pool, f"echo-{i}").output

    for server in servers:
        server.start()
    try:
        with ThreadPoolExecutor(20) as pool:
            assert list(pool.map(run, range(20))) == [[f"echo-{i}"] for i in range(20)]
        with pytest.raises(AuthenticationError):
            RunspacePool(client(servers[0], password=f"{PASSWORD}1")).open()
    finally:
        for server in servers:
            server.stop()
