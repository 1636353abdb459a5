"""P2: SMB: TCP 445, SMB Direct, Multichannel (REQUIREMENTS.md section 2)."""

from lmready.catalogue import Case, Requirement, Severity, applies_only_if, check, fail, warn
from lmready.constants import SMB_PORT
from lmready.estate import PairView
from lmready.facts import PerformanceOption

REQUIREMENT = Requirement(
    ref="P2",
    synopsis="SMB: TCP 445, SMB Direct, Multichannel",
    why="migration over SMB needs TCP 445 to the destination, and is fast only with SMB Multichannel and SMB Direct (RDMA)",
    fix="open TCP 445 on the migration network, enable SMB Multichannel and RDMA on the migration adapters",
    links=(
        "https://learn.microsoft.com/en-us/windows-server/storage/file-server/smb-direct",
        "https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v/manage/live-migration-overview",
    ),
)


@check(
    "LMR-032",
    ref="P2",
    title="SMB migrations: TCP 445 reachable, SMB Multichannel, RDMA",
    severity=Severity.LOW,
    area="performance",
)
def test_smb_transport(pair: PairView):
    options = {e.facts.migration.performance_option for e in (pair.src, pair.dst)}
    applies_only_if(
        PerformanceOption.SMB in options,
        "the SMB performance option",
        "/".join(sorted(str(o) for o in options)),
    )
    problems, severity = [], Severity.LOW
    probes = [p for p in pair.src.facts.probes if p.dst == pair.dst.name and p.port == SMB_PORT]
    if probes and not any(p.open for p in probes):
        problems.append(f"TCP 445 closed from {pair.src} to {pair.dst} ({probes[0].address})")
        severity = Severity.HIGH
    for end in (pair.src, pair.dst):
        if not end.facts.smb.multichannel_enabled:
            problems.append(f"SMB Multichannel off on {end}")
        if not end.facts.smb.rdma_enabled:
            problems.append(f"no RDMA adapter on {end} (no SMB Direct)")
            if end.policy.require_rdma:
                severity = max(severity, Severity.MEDIUM)
    if problems:
        observed = "; ".join(problems)
        expected = "TCP 445 open to the destination, SMB Multichannel on, RDMA on both for SMB Direct"
        fix = (
            "open TCP 445 on the migration network, Set-SmbClientConfiguration -EnableMultiChannel "
            "$true, Enable-NetAdapterRdma on the migration adapters"
        )
        # 445 closed, or RDMA the policy demands, is a failure; the rest is advice (REQUIREMENTS P2).
        if severity > Severity.LOW:
            fail(observed, expected, fix, severity)
        warn(observed, expected, fix)


# The outcomes and messages a few facts give (tests/test_cases.py; the healthy defaults: tests/factory.py).
CASES = [
    Case("skip", "SMB performance option"),
    Case(
        "pass",
        src={"migration": {"performance_option": "SMB"}},
        dst={"migration": {"performance_option": "SMB"}},
    ),
    Case(
        "warn",
        "no RDMA adapter on hv02",
        src={"migration": {"performance_option": "SMB"}},
        dst={"smb": {"rdma_enabled": False}},
    ),
    Case(
        "fail",
        "no RDMA",
        src={"migration": {"performance_option": "SMB"}},
        dst={"smb": {"rdma_enabled": False}},
        policy={"require_rdma": True},
    ),
]
