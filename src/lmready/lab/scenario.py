"""Lab scenarios: which modelled Hyper-V hosts a lab runs and in which state, with the lab's
credentials and the inventory policy its audits use. A scenario is YAML::

    username: lab\\operator              # optional, as is password
    policy: {performance: Compression}  # optional: the inventory's policy keys
    hosts:
      - name: lab-hv01
        facts: default/lab-hv01.json    # a HostFacts JSON file relative to the scenario, or a mapping
    events: {lab-hv01: [{id: 21502, ago: 30h, level: Error, message: ...}]}  # its VMMS-Admin log
    denied: {lab-hv04: {Get-HgsGuardian: Access is denied.}}  # fails with that access denied

Every mistake is reported as one sentence starting with ``file:line:``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from lmready.facts import HostFacts
from lmready.inventory import PolicyFields, is_dns_name
from lmready.lab.events import parse_events
from lmready.lab.metadata import BindingError
from lmready.lab.metadata import load as load_metadata
from lmready.yamlsource import Loc, Located, YamlError, dotted, load

DEFAULT_USERNAME = "lab\\operator"
DEFAULT_PASSWORD = "Lab-Operator-2026!"
# A scenario describes host state, not a collection: facts that omit these get a fixed stamp.
_STAMP = "2026-01-01T00:00:00Z"
_KEYS = ("hosts", "username", "password", "policy", "directory", "events", "denied")
_HOST_KEYS = ("name", "facts")


class ScenarioError(Exception):
    """Every problem found, one sentence each."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Scenario:
    path: Path
    hosts: dict[str, HostFacts]
    username: str = DEFAULT_USERNAME
    password: str = DEFAULT_PASSWORD
    policy: dict[str, Any] = field(default_factory=dict)
    directory: Path | None = None  # the lab domain controller's scenario (lmready.lab.samba)
    # Per host, its VMMS-Admin event log (lmready.lab.events), ages relative to the lab's start.
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Per host, the commands or CIM classes its operator may not use, with the access-denied
    # message each fails with (HyperVHost.denied).
    denied: dict[str, dict[str, str]] = field(default_factory=dict)


def load_scenario(path: Path) -> Scenario:
    try:
        doc = load(path)
    except YamlError as exc:
        raise ScenarioError(exc.problems) from None
    data = doc.data
    if not isinstance(data, dict):
        raise ScenarioError(
            [f"{doc.where(())}: a scenario is a mapping with a hosts: list of {{name, facts}}."]
        )
    problems = [
        f"{doc.where((key,))}: unknown key '{key}'; a scenario has {', '.join(_KEYS)}."
        for key in data
        if key not in _KEYS
    ]
    credentials = {}
    for key in ("username", "password"):
        if key in data:
            if isinstance(data[key], str) and data[key]:
                credentials[key] = data[key]
            else:
                problems.append(f"{doc.where((key,))}: {key} must be a non-empty string.")
    policy = _policy(doc, data.get("policy"), problems)
    hosts = _hosts(doc, data.get("hosts"), problems)
    directory = None
    if "directory" in data:
        directory = path.parent / str(data["directory"])
        if not isinstance(data["directory"], str) or not directory.is_file():
            problems.append(
                f"{doc.where(('directory',))}: directory must name a directory scenario file next to this one."
            )
    events, event_problems = parse_events(data.get("events"), list(hosts), doc.where(("events",)))
    problems += event_problems
    denied = _denied(doc, data.get("denied"), list(hosts), problems)
    if problems:
        raise ScenarioError(problems)
    return Scenario(
        path, hosts, policy=policy, directory=directory, events=events, denied=denied, **credentials
    )


def _denied(doc: Located, value: Any, hosts: list[str], problems: list[str]) -> dict[str, dict[str, str]]:
    """``denied:`` host -> {command or CIM class: access-denied message}."""
    if value is None:
        return {}
    shape = "denied maps host names to {command or CIM class: the access-denied message}"
    if not isinstance(value, dict):
        problems.append(f"{doc.where(('denied',))}: {shape}.")
        return {}
    out: dict[str, dict[str, str]] = {}
    for host, entries in value.items():
        where = doc.where(("denied", host))
        if host not in hosts:
            problems.append(f"{where}: denied names host '{host}', which the scenario does not list.")
        elif not isinstance(entries, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in entries.items()
        ):
            problems.append(f"{where}: {shape}.")
        else:
            # A name that is neither a command the lab knows nor a CIM class would deny nothing.
            unknown = [k for k in entries if "_" not in k and not _is_command(k)]
            problems += [f"{where}: denied names '{k}', which is no command the lab knows." for k in unknown]
            out[host] = dict(entries)
    return out


def _policy(doc: Located, value: Any, problems: list[str]) -> dict[str, Any]:
    if value is None:
        return {}
    try:
        return PolicyFields.model_validate(value).model_dump(mode="json", exclude_none=True)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = ("policy", *first["loc"])
        problems.append(f"{doc.where(loc)}: {dotted(loc)}: {first['msg']}; fix the policy.")
        return {}


def _hosts(doc: Located, value: Any, problems: list[str]) -> dict[str, HostFacts]:
    if not isinstance(value, list) or not value:
        problems.append(f"{doc.where(('hosts',))}: hosts must be a non-empty list of {{name, facts}}.")
        return {}
    hosts: dict[str, HostFacts] = {}
    owners: dict[str, str] = {}  # address -> host: the lab network routes by address
    for i, entry in enumerate(value):
        loc: Loc = ("hosts", i)
        if not isinstance(entry, dict):
            problems.append(f"{doc.where(loc)}: hosts[{i}] must be a mapping with name and facts.")
            continue
        problems.extend(
            f"{doc.where((*loc, key))}: unknown key '{key}' in hosts[{i}]; a host has name and facts."
            for key in entry
            if key not in _HOST_KEYS
        )
        name = entry.get("name")
        if not isinstance(name, str) or not is_dns_name(name):
            problems.append(
                f"{doc.where((*loc, 'name'))}: hosts[{i}].name must be a host name like lab-hv01."
            )
            continue
        if name.lower() in (n.lower() for n in hosts):
            problems.append(f"{doc.where((*loc, 'name'))}: host {name} is listed twice; keep one.")
            continue
        facts = _facts(doc, loc, name, entry.get("facts"), problems)
        if facts is None:
            continue
        for address in facts.addresses:
            owner = owners.setdefault(address.address.lower(), name)
            if owner != name:
                problems.append(
                    f"{doc.where(loc)}: {name} and {owner} both have address {address.address}; "
                    "give every lab host its own addresses."
                )
        hosts[name] = facts
    return hosts


def _facts(doc: Located, loc: Loc, name: str, value: Any, problems: list[str]) -> HostFacts | None:
    where = doc.where((*loc, "facts"))
    if isinstance(value, str):
        file = doc.path.parent / value
        try:
            data = json.loads(file.read_text(encoding="utf-8-sig"))
        except FileNotFoundError:
            problems.append(
                f"{where}: {name}: facts file {file} not found; the path is relative to the scenario."
            )
            return None
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{where}: {name}: facts file {file} cannot be read ({exc}).")
            return None
        except json.JSONDecodeError as exc:
            problems.append(f"{where}: {name}: {file}:{exc.lineno}: not JSON ({exc.msg}); fix the file.")
            return None
    elif isinstance(value, dict):
        data, file = value, None
    else:
        problems.append(f"{where}: {name}: facts must be the path of a HostFacts JSON file or a mapping.")
        return None
    if not isinstance(data, dict):
        problems.append(f"{where}: {name}: the facts must be a JSON object (HostFacts).")
        return None
    if data.get("name", name) != name:
        problems.append(f"{where}: {name}: the facts are those of host '{data['name']}'; fix the name.")
        return None
    stamped = {
        "collected_at": _STAMP,
        "clock": {"host_utc": _STAMP, "runner_utc": _STAMP},
        **data,
        "name": name,
    }
    try:
        return HostFacts.model_validate(stamped)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        path = ".".join(str(p) for p in first["loc"])
        if file is None:
            problems.append(
                f"{doc.where((*loc, 'facts', *first['loc']))}: {name}: facts.{path}: {first['msg']}."
            )
        else:
            problems.append(f"{where}: {name}: {file}: {path}: {first['msg']}; fix the facts file.")
        return None


def _is_command(name: str) -> bool:
    try:
        load_metadata().cmdlet(name)
    except BindingError:
        return False
    return True
