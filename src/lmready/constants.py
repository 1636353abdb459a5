"""Names and numbers of Hyper-V live migration that checks, collectors, remediation and the lab
share: one place, so that a check and its fix can never disagree about them."""

MIGRATION_PORT = 6600  # TCP port live migration listens on
SMB_PORT = 445  # live migration over SMB (performance option SMB)
# The inbound rule the Hyper-V role brings for TCP 6600 (N5).
FIREWALL_RULE = "VIRT-MIGL-In-TCP-NoScope"
# The service the migration SPNs name (A2): msDS-AllowedToDelegateTo values are SERVICE/host.
MIGRATION_SERVICE = "Microsoft Virtual System Migration Service"
# Services the source's account must delegate to on the destination for Kerberos migrations (A2).
DELEGATED_SERVICES = (MIGRATION_SERVICE, "cifs")
