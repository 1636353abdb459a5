"""The typed values every layer speaks: a result's outcome, a check's scope and its target.

Each is a ``str`` underneath (``Outcome.PASSED == "passed"``, ``Target`` is ``"hv01->hv02"``),
so findings.json, waivers' patterns and dictionaries keyed by text keep working unchanged;
what the types add is one place that spells, builds and parses them.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """REQUIREMENTS.md 3b: what one check said about one target."""

    PASSED = "passed"
    FIXED = "fixed"  # by remediation, and verified
    FAILED = "failed"
    WARNING = "warning"  # advisory: never blocks
    SKIPPED = "skipped"  # does not apply
    ERROR = "error"  # could not run: facts missing or unread, or a bug


class Scope(StrEnum):
    """What a check judges: one host, one migration direction between two hosts, or one VM of the
    source in that direction."""

    HOST = "host"
    PAIR = "pair"
    VM = "vm"  # one VM of the source, judged against the destination (lmready.vmview)


class Target(str):
    """What one result is about: ``hv01`` (a host) or ``hv01->hv02`` (a pair, one direction).

    The one rendering and the one parser of targets. A VM of a pair is written
    ``hv01->hv02:vm`` (host names hold no ``:``; what follows it is the VM's name, whatever it
    holds). Node ids write pairs differently (see ``node_param``): ``->`` is a ``-k`` syntax error.
    """

    __slots__ = ()
    ARROW = "->"

    @classmethod
    def host(cls, name: str) -> Target:
        return cls(name)

    @classmethod
    def pair(cls, src: str, dst: str, vm: str | None = None) -> Target:
        return cls(f"{src}{cls.ARROW}{dst}" + (f":{vm}" if vm is not None else ""))

    @classmethod
    def of(cls, hosts: tuple[str, ...] | list[str], vm: str | None = None) -> Target:
        """From the hosts as pytest items and inventories hold them: ``(h,)``, ``(src, dst)`` or
        ``(src, dst, vm)``."""
        if len(hosts) == 1:
            return cls.host(hosts[0])
        return cls.pair(hosts[0], hosts[1], hosts[2] if len(hosts) > 2 else vm)

    @classmethod
    def parse(cls, text: str) -> Target:
        return text if isinstance(text, Target) else cls(text)

    @property
    def hosts(self) -> tuple[str, ...]:
        hosts, _, _ = self.partition(":")
        return tuple(hosts.split(self.ARROW))

    @property
    def src(self) -> str:
        return self.hosts[0]

    @property
    def dst(self) -> str | None:
        hosts = self.hosts
        return hosts[1] if len(hosts) > 1 else None

    @property
    def vm(self) -> str | None:
        _, colon, vm = self.partition(":")
        return vm if colon else None

    @property
    def is_pair(self) -> bool:
        return self.ARROW in self

    def node_param(self, separator: str = "-") -> str:
        """How a node id writes the target: ``hv01-hv02`` (see lmready.items.pair_separator)."""
        return separator.join(self.hosts) + (f":{self.vm}" if self.vm is not None else "")
