"""Saved facts: the collector that reads an Estate from a facts directory (lmready.live reads
it from the hosts and the directory).

Layout of a facts directory (what ``lmready snapshot`` writes and ``--facts-dir`` reads):

    DIR/hosts/<inventory host name>.json     HostFacts
    DIR/domains/<domain DNS name>.json       DomainFacts
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ValidationError

from lmready.estate import Estate, FactsUnavailable
from lmready.facts import DomainFacts, HostFacts
from lmready.inventory import Inventory


class SavedFacts:
    """Audit facts saved earlier (a snapshot, or the example estate)."""

    def __init__(self, directory: Path):
        self.directory = directory

    def collect(self, inventory: Inventory) -> Estate:
        hosts = {
            name: _offline(_read(self.directory / "hosts" / f"{name}.json", HostFacts, f"host {name}", name))
            for name in inventory.hosts
        }
        domains = {
            d.name: _read(
                self.directory / "domains" / f"{d.name}.json", DomainFacts, f"domain {d.name}", d.name
            )
            for d in inventory.domains
        }
        return Estate(inventory, hosts, domains)


def _offline(facts: HostFacts | FactsUnavailable) -> HostFacts | FactsUnavailable:
    """What the runner saw of a host when the snapshot was taken says nothing of the host now:
    X5 does not apply to an offline audit (REQUIREMENTS 3b), rather than pass on a stale probe."""
    if isinstance(facts, HostFacts) and facts.preflight is not None:
        return facts.model_copy(update={"preflight": None})
    return facts


def _read(path: Path, model: type[BaseModel], what: str, name: str):
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return FactsUnavailable(
            f"{what}: no saved facts at {path}; take a snapshot of it or remove it from the inventory."
        )
    except OSError as exc:
        return FactsUnavailable(f"{what}: saved facts at {path} cannot be read ({exc.strerror}).")
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        return FactsUnavailable(
            f"{what}: saved facts at {path} are not UTF-8 (byte {exc.start}); take a new snapshot."
        )
    except json.JSONDecodeError as exc:
        return FactsUnavailable(
            f"{what}: saved facts at {path} are not valid JSON ({exc.msg} at line {exc.lineno}); "
            "take a new snapshot."
        )
    except (ValueError, RecursionError) as exc:  # a 5,000-digit number; nesting deeper than Python's stack
        why = "nested too deeply" if isinstance(exc, RecursionError) else "a number is too long"
        return FactsUnavailable(f"{what}: saved facts at {path} cannot be read ({why}); take a new snapshot.")
    try:
        facts = model.model_validate(data)
    except RecursionError:
        return FactsUnavailable(
            f"{what}: saved facts at {path} cannot be read (nested too deeply); take a new snapshot."
        )
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in first["loc"])
        msg = first["msg"].removeprefix("Value error, ")
        return FactsUnavailable(
            f"{what}: saved facts at {path} do not match the facts schema "
            f"({exc.error_count()} problems, first at {loc or 'top level'}: {msg}); take a new snapshot."
        )
    if facts.name.lower() != name.lower():
        return FactsUnavailable(
            f"{what}: saved facts at {path} belong to '{facts.name}'; the file name and the name inside must agree."
        )
    return facts
