"""Your own checks, the testinfra way: a ``testinfra_host`` fixture per inventory host, and the
results of such tests judged and reported like lmready's own checks."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from lmready.catalogue import CheckMeta, Severity
from lmready.engine import judge
from lmready.inventory import Inventory
from lmready.stash import AUDIT
from lmready.values import Outcome, Scope, Target


@pytest.fixture
def testinfra_host(request: pytest.FixtureRequest):
    """A pytest-testinfra host (winrm:// backend) for one inventory host.

    Tests that use it run once per inventory host and appear in every report like lmready's
    own checks (give them @pytest.mark.lmready(id=..., ref=..., severity=...) for a stable ID).
    """
    audit = request.config.stash.get(AUDIT, None)
    if audit is None:
        pytest.skip("testinfra_host needs an audit: run with --inventory")
    return testinfra_for(audit.inventory, request.param)


def testinfra_for(inventory: Inventory, name: str):
    import testinfra

    from lmready.credentials import resolve

    host = inventory.hosts[name]
    c = host.connection
    secret = resolve(c.credential, inventory.credentials.get(c.credential or ""))
    user = quote(secret.username, safe="") if secret else ""
    password = quote(secret.password, safe="") if secret else ""
    testinfra_host = testinfra.get_host(
        f"winrm://{user}:{password}@{host.address}:{c.port}",
        no_ssl=c.scheme == "http",
        no_verify_ssl=not c.verify_tls,
    )
    # testinfra's winrm backend hands conn_args to pywinrm's Protocol but sets only the endpoint,
    # NTLM and "ignore" itself: the inventory's authentication and private CA go in here.
    conn = testinfra_host.backend.conn_args
    conn["transport"] = PYWINRM_TRANSPORTS.get(c.auth, "ntlm")
    if c.auth == "certificate":
        conn["cert_pem"], conn["cert_key_pem"] = str(c.client_certificate), str(c.client_key)
    if c.scheme == "https":
        conn["server_cert_validation"] = "validate" if c.verify_tls else "ignore"
        if c.verify_tls and c.ca_bundle:
            conn["ca_trust_path"] = str(c.ca_bundle)
    return testinfra_host


# The inventory's WinRM auth as pywinrm names it; negotiate is NTLM to pywinrm.
PYWINRM_TRANSPORTS = {
    "negotiate": "ntlm",
    "ntlm": "ntlm",
    "basic": "basic",
    "kerberos": "kerberos",
    "credssp": "credssp",
    "certificate": "certificate",
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    audit = metafunc.config.stash.get(AUDIT, None)
    if audit is not None and "testinfra_host" in metafunc.fixturenames:
        names = list(audit.inventory.hosts)
        metafunc.parametrize("testinfra_host", names, ids=names, indirect=True)


def _user_check(item: pytest.Item) -> CheckMeta | None:
    """Metadata for a test of your own that runs per inventory host."""
    callspec = getattr(item, "callspec", None)
    if callspec is None or "testinfra_host" not in callspec.params:
        return None
    mark = item.get_closest_marker("lmready")
    kw = mark.kwargs if mark else {}
    func = item.function
    doc = (func.__doc__ or "").strip().splitlines()
    return CheckMeta(
        id=kw.get("id", "USER"),
        ref=kw.get("ref", "-"),
        title=kw.get("title", doc[0] if doc else func.__name__),
        severity=Severity.parse(kw.get("severity", "high")),
        area="extra",
        scope=Scope.HOST,
        fix=None,
        directory="none",
        applies=None,
        func=func,
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    audit = item.config.stash.get(AUDIT, None)
    meta = _user_check(item) if audit is not None else None
    if meta is None or call.when == "teardown" or (call.when == "setup" and report.passed):
        return report
    target = str(item.callspec.params["testinfra_host"])
    exc = call.excinfo.value if call.excinfo else None
    skip = ""
    if report.skipped:
        skip = (
            report.longrepr[2].removeprefix("Skipped: ") if isinstance(report.longrepr, tuple) else "skipped"
        )
    finding = judge(meta, Target.host(target), call.when, exc if not skip else None, skip, audit.judging)
    finding.nodeid, finding.duration = item.nodeid, report.duration
    audit.record(finding)
    if finding.outcome == Outcome.WARNING or (finding.outcome == Outcome.FAILED and not finding.blocking):
        report.outcome, report.wasxfail = "skipped", f"{finding.outcome}: {finding.message}"
    report.lmready = finding
    return report
