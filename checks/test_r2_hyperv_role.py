"""R2: Hyper-V role installed on a supported OS (REQUIREMENTS.md section 1)."""

from lmready.catalogue import Case, Requirement, Severity, check, fail, warn
from lmready.estate import HostView
from lmready.windows import (
    OLDEST_SUPPORTED_BUILD,
    WINDOWS_SERVER_2012_R2,
    os_name,
)

REQUIREMENT = Requirement(
    ref="R2",
    synopsis="Hyper-V role installed on a supported OS",
    why="live migration is a Hyper-V feature: without the role and a running vmms there is nothing to migrate to, and an unsupported OS gets no fixes",
    fix="install the Hyper-V role (Install-WindowsFeature Hyper-V), start vmms, upgrade a host older than Windows Server 2016",
    links=(
        "https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v/deploy/set-up-hosts-for-live-migration-without-failover-clustering",
        "https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v/get-started/install-the-hyper-v-role-on-windows-server",
    ),
)


@check(
    "LMR-012",
    ref="R2",
    title="Hyper-V role installed and running on a supported OS",
    severity=Severity.CRITICAL,
    area="role",
)
def test_hyperv_role(host: HostView):
    f = host.facts
    problems = []
    if not f.hyperv.feature_installed:
        problems.append("Hyper-V feature not installed")
    if f.hyperv.vmms_status.lower() != "running":
        problems.append(f"vmms service {f.hyperv.vmms_status}")
    legacy = f.os.build == WINDOWS_SERVER_2012_R2
    if f.os.build < OLDEST_SUPPORTED_BUILD and not legacy:
        problems.append(f"{os_name(f.os.build)} (build {f.os.build}) is not supported")
    if problems:
        fail(
            observed="; ".join(problems),
            expected="Hyper-V installed, vmms Running, Windows Server 2012 R2 or later (2016 or later "
            "to stay in support)",
            fix=f"on {host}: Install-WindowsFeature Hyper-V -IncludeManagementTools -Restart, "
            "Start-Service vmms, or upgrade the OS",
        )
    if legacy:
        # REQUIREMENTS.md R2: the article's 2012 R2 -> 2016 path; out of support, so advisory only.
        warn(
            observed=f"{os_name(f.os.build)} (build {f.os.build}), out of support since October 2023",
            expected="Windows Server 2016 or later",
            fix=f"move the VMs off {host} (2012 R2 hosts take configuration version 5.0 only) and upgrade it",
        )


# The outcomes and messages a few facts give (tests/test_cases.py; the healthy defaults: tests/factory.py).
CASES = [
    Case("pass"),
    Case("fail", "vmms service Stopped", host={"hyperv": {"vmms_status": "Stopped"}}),
    Case("fail", "not installed", host={"hyperv": {"feature_installed": False}}),
    Case("warn", "Windows Server 2012 R2", "out of support", "upgrade", host={"os": {"build": 9600}}),
    Case("fail", "build 9200", "not supported", host={"os": {"build": 9200}}),
]
