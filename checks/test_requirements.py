"""REQUIREMENTS.md section 1: what the article requires of both hosts (R1-R5)."""

from dataclasses import dataclass

from lmready.catalogue import Severity, check, fail, require, warn
from lmready.estate import FactsUnavailable, HostView, PairView
from lmready.facts import (
    TRUST_CROSS_ORGANIZATION,
    TRUST_FOREST_TRANSITIVE,
    TRUST_TWO_WAY,
    TRUST_WITHIN_FOREST,
    UAC_NOT_DELEGATED,
    DomainFacts,
)
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
    title="Operator is an administrator or Hyper-V administrator, and can be delegated",
    severity=Severity.HIGH,
    area="rights",
    directory="optional",
)
def test_operator_rights(host: HostView):
    user = host.facts.session.user
    sids = {s.upper() for s in host.facts.session.group_sids}
    require(
        ADMINISTRATORS in sids or HYPERV_ADMINISTRATORS in sids,
        observed=f"{user} is in neither group",
        expected=f"member of Administrators ({ADMINISTRATORS}) or Hyper-V Administrators "
        f"({HYPERV_ADMINISTRATORS})",
        fix=f"add {user} to the local Hyper-V Administrators group on {host}",
    )
    # REQUIREMENTS.md A2 (operator part): a migration delegates the operator's credentials, which
    # Kerberos refuses for Protected Users and for accounts marked NOT_DELEGATED ("Protected Users
    # security group", "Account is sensitive and cannot be delegated"). Judged where the operator's
    # domain is the host's and is under directory: (an operator of another domain is not at hand).
    domain = host.domain
    netbios, _, name = user.partition("\\")
    if domain is None or not name or netbios.lower() != domain.netbios_name.lower():
        return
    account = next((a for a in domain.operators if a.name.lower() == user.lower()), None)
    if account is None:
        raise FactsUnavailable(
            f"{host}: the operator {user} was not found in {domain.name}, so whether it can be delegated "
            "is unknown; check the account name the hosts report (whoami) and the directory's read rights."
        )
    problems, fixes = [], []
    if account.protected_user:
        problems.append(f"{user} is in Protected Users")
        fixes.append(f"remove {user} from Protected Users")
    if account.user_account_control & UAC_NOT_DELEGATED:
        problems.append(
            f"{user} is marked 'Account is sensitive and cannot be delegated' (NOT_DELEGATED 0x100000)"
        )
        fixes.append("clear 'Account is sensitive and cannot be delegated' on its Account tab")
    require(
        not problems,
        observed="; ".join(problems),
        expected="an operator account Kerberos may delegate",
        fix=" and ".join(fixes)
        + ", or start migrations with another administrator account that can be delegated",
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


@dataclass
class _Link:
    """What the trust objects read on either side say about one trust between two domains."""

    kind: str  # "forest trust" or "external trust"
    ends: tuple[str, str]
    direction: int = 0  # as seen from ends[0]: 1 inbound, 2 outbound, 3 both
    selective: bool = False


def _links(pair: PairView, a: str, b: str, root_a: str, root_b: str) -> list[_Link]:
    """The trusts that can join domain a to domain b, from every trust object read (MS-ADTS
    6.1.6.7.9; "How trust relationships work for forests in Active Directory"): a forest trust
    (FOREST_TRANSITIVE) exists between the two forest roots and joins every domain of both forests;
    an external trust joins only its two domains and is not transitive. Trusts do not chain across
    a third forest, so nothing else can join them."""
    forest = _Link("forest trust", (root_a, root_b))
    external = _Link("external trust", (a, b))
    for domain in pair.domains.values():
        here = domain.name.lower()
        for t in domain.trusts:
            there = t.partner.lower()
            if t.trust_type not in (1, 2) or t.attributes & TRUST_WITHIN_FOREST:
                continue  # MIT realms and trusts inside one forest cannot join two forests
            link = forest if t.attributes & TRUST_FOREST_TRANSITIVE else external
            if (here, there) == link.ends:
                link.direction |= t.direction & TRUST_TWO_WAY
            elif (there, here) == link.ends:
                # The other side's outbound trust is this side's inbound one, and the other way round.
                link.direction |= ((t.direction & 1) << 1) | ((t.direction & 2) >> 1)
            else:
                continue
            link.selective |= bool(t.attributes & TRUST_CROSS_ORGANIZATION)
    return [link for link in (forest, external) if link.direction]


def _directory_of(pair: PairView, end: HostView) -> DomainFacts:
    if end.domain is not None:
        return end.domain
    raise FactsUnavailable(
        f"{end}: its domain {end.facts.domain} has no entry under directory: in the inventory, so the "
        "trusts that join it to the other host's domain cannot be read; add it there."
    )


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
    workgroup = [end for end in (pair.src, pair.dst) if not end.facts.part_of_domain]
    if workgroup:
        fail(
            observed=", ".join(f"{e} is not domain-joined (workgroup {e.facts.domain})" for e in workgroup),
            expected="both hosts in Active Directory domains",
            fix=f"join {' and '.join(str(e) for e in workgroup)} to a domain (Add-Computer): live migration "
            "without a domain exists only inside a failover cluster (workgroup clusters, Windows Server 2025)",
        )
    if s.domain.lower() == d.domain.lower():
        return
    da, db = _directory_of(pair, pair.src), _directory_of(pair, pair.dst)
    a, b = da.name.lower(), db.name.lower()
    root_a, root_b = da.forest_root.lower(), db.forest_root.lower()
    if root_a == root_b:
        return  # domains of one forest trust each other (parent-child and tree-root trusts)
    links = _links(pair, a, b, root_a, root_b)
    two_way = [link for link in links if link.direction == TRUST_TWO_WAY]
    if two_way:
        best = min(two_way, key=lambda link: link.selective)
        if not best.selective:
            return
        warn(
            observed=f"{best.kind} {best.ends[0]} <-> {best.ends[1]} uses selective authentication "
            "(CROSS_ORGANIZATION 0x10)",
            expected="each host's computer account allowed to authenticate to the other host",
            fix=f"grant 'Allowed to authenticate' on the computer object of {pair.dst} (in {d.domain}) to "
            f"{pair.src}'s computer account and the operators who start migrations, and on {pair.src} "
            f"(in {s.domain}) to {pair.dst}'s for migrations back (Security tab of each computer object)",
        )
    read = {n.lower() for n in pair.domains}
    if not links and root_a not in read and root_b not in read:
        raise FactsUnavailable(
            f"{pair}: {s.domain} and {d.domain} are in different forests ({root_a}, {root_b}) and a forest "
            f"trust is kept by the forest roots, whose trusts were not read; add {root_a} or {root_b} under "
            "directory: in the inventory, or fix the error its collection reported."
        )
    if links:
        seen = "; ".join(
            f"one-way {link.kind}: {link.ends[0]} "
            + ("trusts" if link.direction == 2 else "is trusted by")
            + f" {link.ends[1]} only"
            for link in links
        )
    else:
        seen = f"no forest trust between {root_a} and {root_b} and no external trust between {a} and {b}"
    fail(
        observed=f"{s.domain} (forest {root_a}) and {d.domain} (forest {root_b}): {seen}",
        expected="same domain, same forest, a two-way forest trust between the forest roots, or a two-way "
        "external trust between the two domains",
        fix=f"have the domain admins create a two-way trust (a forest trust between {root_a} and {root_b}, "
        f"or an external trust between {a} and {b}), or move the VM offline",
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
