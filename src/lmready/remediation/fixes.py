"""The one fix registry, keyed by the fix names that checks declare (REQUIREMENTS.md section 4).

Each entry says what the fix does, whether lmready may ever run it, and, for an automatic fix,
its planner (lmready.remediation.planners): an automatic fix without a planner cannot be made.
"""

from __future__ import annotations

from dataclasses import dataclass

from lmready.constants import FIREWALL_RULE
from lmready.remediation import planners
from lmready.remediation.planners import Planner


@dataclass(frozen=True)
class Fix:
    name: str
    refs: tuple[str, ...]
    action: str
    automatic: bool  # False: lmready prints the step and never runs it
    rule: str
    planner: Planner | None = None  # the changes that make it; every automatic fix has one

    def __post_init__(self) -> None:
        if self.automatic and self.planner is None:
            raise TypeError(
                f"fix {self.name}: an automatic fix needs a planner (lmready.remediation.planners)"
            )


FIXES: dict[str, Fix] = {
    fix.name: fix
    for fix in (
        Fix(
            "enable-vm-migration",
            ("N1",),
            "Enable-VMMigration",
            True,
            "only on a domain-joined host",
            planners.enable_migration,
        ),
        Fix(
            "set-migration-authentication",
            ("A1",),
            "Set-VMHost -VirtualMachineMigrationAuthenticationType <policy>",
            True,
            "the value comes from the inventory policy",
            planners.set_authentication,
        ),
        Fix(
            "set-migration-performance",
            ("P1",),
            "Set-VMHost -VirtualMachineMigrationPerformanceOption <policy>",
            True,
            "the value comes from the inventory policy; SMB, never SMBTransport",
            planners.set_performance,
        ),
        Fix(
            "set-simultaneous-migrations",
            ("N6",),
            "Set-VMHost -MaximumVirtualMachineMigrations <policy>",
            True,
            "the value comes from the inventory policy",
            planners.set_simultaneous,
        ),
        Fix(
            "add-migration-network",
            ("N2",),
            "Add-VMMigrationNetwork <subnet>; Set-VMHost -UseAnyNetworkForMigration $false",
            True,
            "never removes an existing migration network",
            planners.add_network,
        ),
        Fix(
            "enable-migration-firewall-rule",
            ("N5",),
            f"Enable-NetFirewallRule -Name {FIREWALL_RULE}",
            True,
            "",
            planners.enable_firewall_rule,
        ),
        Fix(
            "add-constrained-delegation",
            ("A2",),
            "LDAP: add the missing msDS-AllowedToDelegateTo values, set TRUSTED_TO_AUTH_FOR_DELEGATION",
            True,
            "adds only missing values; needs Domain Admins; then klist purge -li 0x3e7 on both hosts",
            planners.add_delegation,
        ),
        Fix(
            "update-vm-version",
            ("R3",),
            "Update-VMVersion -Name <vm> (VM off)",
            False,
            "irreversible: lmready prints the command and never runs it",
        ),
    )
}
