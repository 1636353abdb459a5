"""X5: preflight: name resolves, WinRM and LDAP ports answer (REQUIREMENTS.md section 3)."""

from lmready.catalogue import Case, Requirement, Severity, applies_only_if, check, fail
from lmready.estate import HostView

REQUIREMENT = Requirement(
    ref="X5",
    synopsis="preflight: name resolves, WinRM and LDAP ports answer",
    why="a host whose name does not resolve or whose WinRM or LDAP port does not answer cannot be audited, nor a migration started",
    fix="fix name resolution and open WinRM (5985/5986) and LDAP (389/636) from the machine running lmready",
    links=(
        "https://learn.microsoft.com/en-us/windows/win32/winrm/installation-and-configuration-for-windows-remote-management",
    ),
)


@check(
    "LMR-055",
    ref="X5",
    title="Host resolves and its WinRM port answers from the runner",
    severity=Severity.HIGH,
    area="network",
)
def test_preflight(host: HostView):
    pre = host.facts.preflight
    applies_only_if(pre is not None, "a preflight from this run", "facts were loaded from files")
    problems = []
    if not pre.resolved:
        problems.append(f"{host.facts.name} does not resolve")
    elif not pre.winrm_port_open:
        problems.append("WinRM port does not answer")
    if problems:
        fail(
            observed="; ".join(problems) + (f" ({pre.detail})" if pre.detail else ""),
            expected="name resolves and WinRM answers",
            fix="check DNS, the address in the inventory, and that WinRM listens (winrm quickconfig)",
        )


# The outcomes and messages a few facts give (tests/test_cases.py; the healthy defaults: tests/factory.py).
CASES = [
    Case("skip", "loaded from files"),
    Case("pass", host={"preflight": {"resolved": True, "winrm_port_open": True}}),
    Case("fail", "WinRM port", host={"preflight": {"resolved": True, "winrm_port_open": False}}),
    Case("fail", "does not resolve", host={"preflight": {"resolved": False, "winrm_port_open": True}}),
]
