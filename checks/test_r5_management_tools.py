"""R5."""

from lmready.catalogue import Severity, check, require
from lmready.estate import HostView


@check("LMR-015", ref="R5", title="Hyper-V PowerShell module present", severity=Severity.HIGH, area="role")
def test_management_tools(host: HostView):
    require(
        host.facts.hyperv.powershell_module,
        observed="Hyper-V PowerShell module missing (so lmready could not read the host's Hyper-V "
        "settings and VMs either)",
        expected="feature Hyper-V-PowerShell installed",
        fix=f"on {host}: Install-WindowsFeature Hyper-V-PowerShell",
    )
