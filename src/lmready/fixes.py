"""The fix registry, keyed by the fix names that checks declare (REQUIREMENTS.md section 4).

Each entry says what the fix does and whether lmready may ever run it. The remediation mode
plugs its planners and appliers in by these names.
"""

from __future__ import annotations

from dataclasses import dataclass

from lmready.constants import FIREWALL_RULE


@dataclass(frozen=True)
class Fix:
    name: str
    refs: tuple[str, ...]
    action: str
    automatic: bool  # False: lmready prints the step and never runs it
    rule: str


FIXES: dict[str, Fix] = {
    fix.name: fix
    for fix in (
        Fix("enable-vm-migration", ("N1",), "Enable-VMMigration", True, "only on a domain-joined host"),
        Fix(
            "set-migration-authentication",
            ("A1",),
            "Set-VMHost -VirtualMachineMigrationAuthenticationType <policy>",
            True,
            "the value comes from the inventory policy",
        ),
        Fix(
            "set-migration-performance",
            ("P1",),
            "Set-VMHost -VirtualMachineMigrationPerformanceOption <policy>",
            True,
            "the value comes from the inventory policy; SMB, never SMBTransport",
        ),
        Fix(
            "set-simultaneous-migrations",
            ("N6",),
            "Set-VMHost -MaximumVirtualMachineMigrations <policy>",
            True,
            "the value comes from the inventory policy",
        ),
        Fix(
            "add-migration-network",
            ("N2",),
            "Add-VMMigrationNetwork <subnet>; Set-VMHost -UseAnyNetworkForMigration $false",
            True,
            "never removes an existing migration network",
        ),
        Fix(
            "enable-migration-firewall-rule",
            ("N5",),
            f"Enable-NetFirewallRule -Name {FIREWALL_RULE}",
            True,
            "",
        ),
        Fix(
            "add-constrained-delegation",
            ("A2",),
            "LDAP: add the missing msDS-AllowedToDelegateTo values, set TRUSTED_TO_AUTH_FOR_DELEGATION",
            True,
            "adds only missing values; needs Domain Admins; then klist purge -li 0x3e7 on both hosts",
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
