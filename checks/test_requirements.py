"""REQUIREMENTS.md section 1: what the article requires of both hosts (R1-R5)."""

from lmready.catalogue import Severity, check, fail, require, warn
from lmready.estate import HostView, PairView
from lmready.windows import (
    OLDEST_SUPPORTED_BUILD,
    VERSIONS_2012_R2,
    WINDOWS_SERVER_2012_R2,
    os_name,
    version_key,
    version_range,
)

ADMINISTRATORS = "S-1-5-32-544"
HYPERV_ADMINISTRATORS = "S-1-5-32-578"


@check(
    "LMR-011",
    ref="R1",
    title="Operator is an administrator or Hyper-V administrator",
    severity=Severity.HIGH,
    area="rights",
)
def test_operator_rights(host: HostView):
    sids = {s.upper() for s in host.facts.session.group_sids}
    require(
        ADMINISTRATORS in sids or HYPERV_ADMINISTRATORS in sids,
        observed=f"{host.facts.session.user} is in neither group",
        expected=f"member of Administrators ({ADMINISTRATORS}) or Hyper-V Administrators "
        f"({HYPERV_ADMINISTRATORS})",
        fix=f"add {host.facts.session.user} to the local Hyper-V Administrators group on {host}",
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


@check(
    "LMR-013",
    ref="R3",
    title="Destination supports every VM configuration version of the source",
    severity=Severity.HIGH,
    area="versions",
    fix="update-vm-version",
)
def test_vm_configuration_versions(pair: PairView):
    listed = pair.dst.facts.supported_versions
    if not listed and pair.dst.facts.os.build == WINDOWS_SERVER_2012_R2:
        listed = list(VERSIONS_2012_R2)  # no Get-VMHostSupportedVersion there: 5.0 by its build
    supported = {version_key(v) for v in listed}
    oldest, newest = min(supported, default=()), max(supported, default=())
    too_old, too_new, unlisted = [], [], []
    for vm in pair.src.facts.vms:
        key = version_key(vm.version)
        if key in supported:
            continue
        bucket = too_old if key < oldest else too_new if key > newest else unlisted
        bucket.append(f"{vm.name} ({vm.version})")
    if not (too_old or too_new or unlisted):
        return
    steps = []
    if too_old:
        steps.append(
            f"with each VM off, on {pair.src}: Update-VMVersion -Name <vm> (irreversible: the VM "
            f"can no longer run on older hosts, so lmready never runs it) for {', '.join(too_old)}"
        )
    if too_new or unlisted:
        steps.append(
            f"{', '.join(too_new + unlisted)} cannot move to {pair.dst}: a configuration version "
            "cannot be lowered; choose a destination on a newer Windows Server"
        )
    fail(
        observed=f"VMs {', '.join(too_old + too_new + unlisted)}",
        expected=f"versions {pair.dst} supports ({version_range(listed)})",
        fix="; ".join(steps),
    )


def _two_way_trust(pair: PairView) -> bool:
    a, b = pair.src.facts.domain.lower(), pair.dst.facts.domain.lower()
    da, db = pair.src.domain, pair.dst.domain
    if da and db and da.forest_root.lower() == db.forest_root.lower():
        return True  # domains of one forest trust each other transitively
    direction = 0
    for t in da.trusts if da else []:
        if t.partner.lower() == b:
            direction |= t.direction
    for t in db.trusts if db else []:
        if t.partner.lower() == a:
            # b's outbound trust towards a is a's inbound one, and the other way round.
            direction |= ((t.direction & 1) << 1) | ((t.direction & 2) >> 1)
    return direction & 3 == 3


@check(
    "LMR-014",
    ref="R4",
    title="Both hosts in one domain, or in domains that trust each other",
    severity=Severity.CRITICAL,
    area="domain",
    directory="optional",
)
def test_domain_trust(pair: PairView):
    s, d = pair.src.facts, pair.dst.facts
    for end in (pair.src, pair.dst):
        require(
            end.facts.part_of_domain,
            observed=f"{end} is not domain-joined (workgroup {end.facts.domain})",
            expected="both hosts domain-joined",
            fix=f"join {end} to the domain (Add-Computer); Enable-VMMigration needs it",
        )
    if s.domain.lower() == d.domain.lower():
        return
    missing = [str(e) for e in (pair.src, pair.dst) if e.domain is None]
    if missing:
        fail(
            observed=f"{pair.src} in {s.domain}, {pair.dst} in {d.domain}; no directory facts for "
            f"{', '.join(missing)} to show a trust",
            expected="same domain, same forest or a two-way trust",
            fix="add both domains under directory: in the inventory so lmready can read the trusts",
        )
    require(
        _two_way_trust(pair),
        observed=f"{s.domain} and {d.domain} are in different forests without a two-way trust",
        expected="same domain, same forest or a two-way trust",
        fix=f"create a two-way trust between {s.domain} and {d.domain}, or move the VM another way",
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
