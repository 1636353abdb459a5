"""R5: Hyper-V management tools present (REQUIREMENTS.md section 1)."""

from lmready.catalogue import Case, Requirement, Severity, check, require
from lmready.estate import HostView

REQUIREMENT = Requirement(
    ref="R5",
    synopsis="Hyper-V management tools present",
    why="lmready and the admin drive migrations with the Hyper-V PowerShell module on each host",
    fix="Install-WindowsFeature Hyper-V-PowerShell",
    links=(
        "https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v/deploy/set-up-hosts-for-live-migration-without-failover-clustering",
        "https://learn.microsoft.com/en-us/powershell/module/hyper-v",
    ),
)


@check("LMR-015", ref="R5", title="Hyper-V PowerShell module present", severity=Severity.HIGH, area="role")
def test_management_tools(host: HostView):
    require(
        host.facts.hyperv.powershell_module,
        observed="Hyper-V PowerShell module missing (so lmready could not read the host's Hyper-V "
        "settings and VMs either)",
        expected="feature Hyper-V-PowerShell installed",
        fix=f"on {host}: Install-WindowsFeature Hyper-V-PowerShell",
    )


# The outcomes and messages a few facts give (tests/test_cases.py; the healthy defaults: tests/factory.py).
CASES = [
    Case("pass"),
    Case("fail", "module missing", host={"hyperv": {"powershell_module": False}}),
]
