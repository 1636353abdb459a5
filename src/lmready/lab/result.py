"""What a lab host's script run gives back to the WS-Management server."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ScriptResult:
    output: list[object]
    errors: list[str] = field(default_factory=list)  # non-terminating errors, in order
    terminating: str | None = None  # the error that stopped the script, if one did
