"""The toolkit of the fix planners. Each planner lives with its requirement (checks/test_<ref>_*.py,
marked ``@planner``): from the failing finding (and the expectation its check returned), the facts
and the policy to Change objects. A planner raises Refused with one clause when it will not plan;
it never connects.
"""

from __future__ import annotations

from collections.abc import Callable

from lmready.estate import Estate, HostView, PairView
from lmready.findings import Finding
from lmready.remediation import directory_changes, host_changes
from lmready.remediation.change import DIRECTORY, HOST, Change, Value

Planner = Callable[[Finding, Estate], list[Change]]


class Refused(Exception):
    """Why a finding's fix is not planned: one clause."""


def host_change(finding: Finding, host: str, setting: str, before: Value, after: Value) -> Change:
    meta = finding.check
    return Change(
        meta.id, meta.fix, host, HOST, setting, before, after, host_changes.command(setting, before, after)
    )


def directory_change(
    finding: Finding, host: HostView, dn: str, setting: str, before: Value, after: Value
) -> Change:
    meta, domain = finding.check, host.domain.name
    command = directory_changes.command(dn, setting, before, after)
    return Change(meta.id, meta.fix, domain, DIRECTORY, setting, before, after, command, dn)


def host_of(finding: Finding, estate: Estate) -> HostView:
    return estate.host_view(finding.hosts[0])


def pair_of(finding: Finding, estate: Estate, with_directory: bool = False) -> PairView:
    src, dst = finding.hosts
    return estate.pair_view(src, dst, with_directory)


def policy_setting(
    setting: str, read: Callable[[HostView], Value], wanted: Callable[[HostView], Value]
) -> Planner:
    """A planner for a Set-VMHost value that the policy gives, on each end that differs."""

    def planner(finding: Finding, estate: Estate) -> list[Change]:
        ends = [estate.host_view(name) for name in finding.hosts]
        return [
            host_change(finding, end.name, setting, read(end), wanted(end))
            for end in ends
            if read(end) != wanted(end)
        ]

    return planner
