"""Windows and Hyper-V facts that checks share: OS builds and VM configuration versions."""

from __future__ import annotations

# Build number -> product (REQUIREMENTS.md R2).
WINDOWS_SERVER_BUILDS = {
    9600: "Windows Server 2012 R2",
    14393: "Windows Server 2016",
    17763: "Windows Server 2019",
    20348: "Windows Server 2022",
    26100: "Windows Server 2025",
}
# The article covers Windows Server 2016 and later; 2012 R2 (out of support since October 2023)
# is the article's 2012 R2 -> 2016 path, so REQUIREMENTS.md R2 warns on it and fails older builds.
OLDEST_SUPPORTED_BUILD = 14393
WINDOWS_SERVER_2012_R2 = 9600
WINDOWS_SERVER_2025 = 26100
# 2012 R2 has no Get-VMHostSupportedVersion; it runs configuration version 5.0 only (Microsoft,
# "Upgrade virtual machine version in Hyper-V on Windows or Windows Server", supported versions table).
VERSIONS_2012_R2 = ("5.0",)


def os_name(build: int) -> str:
    return WINDOWS_SERVER_BUILDS.get(build, f"Windows build {build}")


def version_key(version: str) -> tuple[int, ...]:
    """'9.0' -> (9, 0); VM configuration versions compare numerically, not as text."""
    parts = []
    for piece in str(version).strip().split("."):
        parts.append(int(piece) if piece.isdigit() else -1)
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def version_range(versions: list[str]) -> str:
    if not versions:
        return "no versions"
    ordered = sorted(versions, key=version_key)
    return ordered[0] if len(ordered) == 1 else f"{ordered[0]}-{ordered[-1]}"
