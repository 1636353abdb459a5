"""X3: clock skew under the Kerberos tolerance (REQUIREMENTS.md section 3)."""

from lmready.catalogue import Case, Requirement, Severity, check, require
from lmready.estate import PairView

REQUIREMENT = Requirement(
    ref="X3",
    synopsis="clock skew under the Kerberos tolerance",
    why="Kerberos rejects tickets from clocks more than 5 minutes apart",
    fix="synchronise the hosts' clocks with the domain hierarchy (w32tm)",
    links=(
        "https://learn.microsoft.com/en-us/windows/security/threat-protection/security-policy-settings/maximum-tolerance-for-computer-clock-synchronization",
    ),
)


@check(
    "LMR-053",
    ref="X3",
    title="Clocks of both hosts and the runner within the Kerberos tolerance",
    severity=Severity.HIGH,
    area="compatibility",
)
def test_clock_skew(pair: PairView):
    limit = min(pair.src.policy.max_clock_skew_seconds, pair.dst.policy.max_clock_skew_seconds)
    offsets = {e.name: e.facts.clock.offset_seconds for e in (pair.src, pair.dst)}
    between = abs(offsets[pair.src.name] - offsets[pair.dst.name])
    problems = [f"{name} {off:+.0f} s from the runner" for name, off in offsets.items() if abs(off) >= limit]
    if between >= limit:
        problems.insert(0, f"{between:.0f} s between the hosts")
    require(
        not problems,
        observed="; ".join(problems),
        expected=f"under {limit} s",
        fix="point both hosts at the domain time hierarchy: w32tm /config /syncfromflags:domhier "
        "/update, then w32tm /resync",
    )


# The outcomes and messages a few facts give (tests/test_cases.py; the healthy defaults: tests/factory.py).
CASES = [
    Case("pass"),
    Case(
        "fail", "400 s between the hosts", "hv02 +400 s", dst={"clock": {"host_utc": "2026-11-20T09:06:40Z"}}
    ),
    Case("pass", dst={"clock": {"host_utc": "2026-11-20T09:06:40Z"}}, policy={"max_clock_skew_seconds": 600}),
]
