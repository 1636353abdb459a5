"""`lmready explain`: why did a migration fail? (REQUIREMENTS.md section 6)

One round per host reads the Microsoft-Windows-Hyper-V-VMMS-Admin log (vmms_events.ps1) in the
session of the live collection; each failed or cancelled migration is mapped to the requirement
that explains it (lmready.vm_messages, the table V1 uses too), and that requirement's checks are
run on that pair now, through the engine path audits and remediation use
(lmready.remediation.verify.check_failure). What the table does not know is said so, never dropped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lmready import pwsh
from lmready.catalogue import CheckMeta, load_catalogue
from lmready.engine import evaluate
from lmready.estate import Estate
from lmready.facts import HostFacts
from lmready.inventory import Inventory
from lmready.psrp import RemoteError, Session
from lmready.text import printable
from lmready.values import Outcome, Scope, Target
from lmready.vm_messages import Meaning, for_event
from lmready.wire import WireError, loads, script

EVENTS_MARKER = "# lmready:vmms-events v1"
LOG = "Microsoft-Windows-Hyper-V-VMMS-Admin"
MAX_EVENTS = 2000
_SINCE = re.compile(r"^\s*(\d{1,4})\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
# A migration event: the VMMS words for it (failed, cancelled, the migration limit...).
_MIGRATION = re.compile(r"migrat", re.IGNORECASE)
_VM = (
    re.compile(r"migration operation for '([^']+)'", re.IGNORECASE),
    re.compile(r"migration of 'Virtual Machine ([^']+)'", re.IGNORECASE),
    re.compile(r"virtual machine '([^']+)'", re.IGNORECASE),
    re.compile(r"^'([^']+)'"),
)
_AT_DESTINATION = re.compile(r"at migration destination '([^']+)'", re.IGNORECASE)
_AT_SOURCE = re.compile(r"at migration source '([^']+)'", re.IGNORECASE)
_CODE = re.compile(r"0x[0-9A-Fa-f]{8}")


def parse_since(text: str) -> timedelta:
    """'7d', '12h', '30m', '2w'; raises ValueError with one sentence."""
    match = _SINCE.match(text or "")
    if match is None:
        raise ValueError(f"--since '{text}' is not an age like 30m, 12h, 7d or 2w")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def events_script(since: datetime, max_events: int = MAX_EVENTS) -> str:
    stamp = since.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return (
        script("vmms_events.ps1").replace("{since}", pwsh.quote(stamp)).replace("{max}", str(int(max_events)))
    )


@dataclass(frozen=True)
class Event:
    host: str  # inventory name of the host whose log holds it
    id: int
    time: datetime
    level: str
    message: str


def parse_events(host: str, text: str) -> list[Event]:
    """Raises WireError with one sentence when the answer is not the script's list."""
    doc = loads(text)
    items = doc if isinstance(doc, list) else [] if doc is None else [doc]
    out = []
    for item in items:
        try:
            time = datetime.fromisoformat(str(item["time"]).replace("Z", "+00:00"))
            if time.tzinfo is None:
                time = time.replace(tzinfo=UTC)
            out.append(
                Event(
                    host,
                    int(item["id"]),
                    time,
                    printable(str(item.get("level", ""))),
                    # One line: event texts break lines with CR LF, which printable() would escape.
                    printable(" ".join(str(item.get("message", "")).split())),
                )
            )
        except (KeyError, TypeError, ValueError):
            raise WireError(
                f"the event script printed an entry lmready cannot read: {json.dumps(item)[:120]}"
            ) from None
    return out


def events_round(since: datetime, into: dict[str, list[Event] | str]) -> Callable:
    """A LiveCollector hook: one round per host, on its session, before the sessions close."""

    def hook(
        inventory: Inventory, hosts: dict[str, Any], sessions: dict[str, Session], each: Callable
    ) -> None:
        chosen = [h for n, h in inventory.hosts.items() if n in sessions]

        def read(host) -> list[Event] | str:
            try:
                output = sessions[host.name].run(events_script(since), f"reading {LOG}")
                return parse_events(host.name, output.text)
            except RemoteError as exc:
                return str(exc)
            except WireError as exc:
                return f"{host.name}: {exc}."

        for host, result in zip(chosen, each(chosen, read, "reading the VMMS-Admin logs"), strict=True):
            into[host.name] = result if isinstance(result, list | str) else str(result)
        for name in inventory.hosts:
            if name not in into:
                facts = hosts.get(name)
                why = str(facts) if not isinstance(facts, HostFacts) else "no session"
                into[name] = f"{name}: its log could not be read ({why.rstrip('.')})."

    return hook


@dataclass
class Verdict:
    check: CheckMeta
    target: str
    state: str  # "fails", "passes", "could not tell", "not applicable"
    text: str


@dataclass
class Failure:
    events: list[Event]
    vm: str
    src: str  # inventory names where known, else the name the event gives, or ""
    dst: str
    meaning: Meaning
    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def first(self) -> Event:
        return self.events[0]

    @property
    def fixed(self) -> bool:
        """Every check that explains it ran today and passes: the cause is gone."""
        return bool(self.verdicts) and all(v.state in ("passes", "not applicable") for v in self.verdicts)


@dataclass
class Explanation:
    failures: list[Failure]
    other: list[Event]  # warnings and errors that are no migration: reported, not explained
    unread: list[str]  # hosts whose log could not be read, one sentence each
    since: datetime
    vm: str | None = None  # --vm


def _names(estate: Estate) -> dict[str, str]:
    """Every name a host goes by (inventory, NetBIOS, DNS) -> its inventory name."""
    out = {}
    for name, facts in estate.hosts.items():
        out[name.lower()] = name
        if isinstance(facts, HostFacts):
            for other in (facts.computer_name, facts.dns_host_name, facts.fqdn):
                if other:
                    out[other.lower()] = name
    return out


def _first(patterns: tuple[re.Pattern[str], ...], text: str) -> str:
    for pattern in patterns:
        match = pattern.search(text)
        if match:
            return match.group(1)
    return ""


def explain(
    estate: Estate,
    logs: dict[str, list[Event] | str],
    since: datetime,
    vm: str | None = None,
    catalogue: list[CheckMeta] | None = None,
) -> Explanation:
    catalogue = catalogue or load_catalogue()
    names = _names(estate)
    events = sorted(
        (e for log in logs.values() if isinstance(log, list) for e in log), key=lambda e: (e.host, e.time)
    )
    unread = [log for log in logs.values() if isinstance(log, str)]
    failures: list[Failure] = []
    other: list[Event] = []
    for event in events:
        if not (_MIGRATION.search(event.message) or for_event(event.id, event.message).known):
            other.append(event)
            continue
        name = _first(_VM, event.message)
        last = failures[-1] if failures else None
        # One failed move writes several events within moments: one failure.
        if (
            last is not None
            and last.first.host == event.host
            and last.vm == name
            and abs((event.time - last.events[-1].time).total_seconds()) <= 5
        ):
            last.events.append(event)
            if not last.meaning.known:
                last.meaning = for_event(event.id, event.message)
            continue
        here = event.host
        at_dst, at_src = _AT_DESTINATION.search(event.message), _AT_SOURCE.search(event.message)
        if at_src and not at_dst:  # the destination's log names the source
            src, dst = names.get(at_src.group(1).lower(), at_src.group(1)), here
        else:
            dst_name = at_dst.group(1) if at_dst else ""
            src, dst = here, names.get(dst_name.lower(), dst_name)
        failures.append(Failure([event], name, src, dst, for_event(event.id, event.message)))
    if vm:
        failures = [f for f in failures if f.vm.lower() == vm.lower()]
    for failure in failures:
        for ref in failure.meaning.refs:
            for meta in (m for m in catalogue if m.ref == ref):
                failure.verdicts += _judge(meta, failure, estate)
    return Explanation(sorted(failures, key=lambda f: f.first.time, reverse=True), other, unread, since, vm)


def _judge(meta: CheckMeta, failure: Failure, estate: Estate) -> list[Verdict]:
    src, dst = failure.src, failure.dst
    known = set(estate.hosts)
    if meta.scope == Scope.HOST:
        targets = [Target.host(h) for h in (src, dst) if h in known]
    elif src in known and dst in known and src != dst:
        targets = [Target.pair(src, dst, failure.vm if meta.scope == Scope.VM else None)]
    else:
        targets = []
    if not targets:
        where = f"{src or '?'} -> {dst or 'a destination the event does not name'}"
        return [Verdict(meta, where, "could not tell", f"the pair {where} is not one of the inventory's")]
    out = []
    for target in targets:
        finding = evaluate(meta, target, estate)
        if finding.outcome == Outcome.ERROR:
            out.append(Verdict(meta, target, "could not tell", finding.message.rstrip(".")))
        elif finding.outcome in (Outcome.FAILED, Outcome.WARNING):
            out.append(Verdict(meta, target, "fails", f"{target}: {finding.observed}; fix: {finding.fix}"))
        else:  # passes, or no longer applies
            out.append(Verdict(meta, target, "passes", "passes today"))
    return out


def look_at(failure: Failure) -> str:
    """For a failure no check explains: where an admin looks next."""
    event = failure.first
    codes = sorted(set(_CODE.findall(" ".join(e.message for e in failure.events))))
    code = f" (error {', '.join(codes)}: look it up with `certutil -error {codes[0]}`)" if codes else ""
    return (
        f"event {event.id}{code}; read the whole event on {event.host} (Get-WinEvent -LogName {LOG}) and the "
        f"other host's log at {event.time:%H:%M:%S} UTC, then Microsoft's \"Troubleshoot live migration issues\""
    )


def lines(report: Explanation) -> list[str]:
    """The terminal text, per failure: when, which VM, from where to where, the host's message,
    and the explanation."""
    out = []
    if not report.failures:
        of = f" of VM {report.vm}" if report.vm else ""
        out.append(f"no failed or cancelled migration{of} in {LOG} since {report.since:%Y-%m-%d %H:%M} UTC.")
    for f in report.failures:
        e = f.first
        where = f"{f.src or '?'} -> {f.dst or '? (the event does not name the destination)'}"
        out.append(
            f"{e.time:%Y-%m-%d %H:%M:%S} UTC  {f.vm or '(VM not named)'}  {where}  (event {e.id} on {e.host})"
        )
        out += [f"  {event.host} said: {event.message}" for event in f.events]
        out += ["  " + text for text in explanation_lines(f)]
    if report.other:
        out.append(
            f"{len(report.other)} other warnings and errors in {LOG} are not migrations (not explained):"
        )
        out += [
            f"  {e.time:%Y-%m-%d %H:%M:%S} UTC  event {e.id} on {e.host}: {e.message[:200]}"
            for e in report.other
        ]
    out += [f"could not read: {text}" for text in report.unread]
    return out


def explanation_lines(f: Failure) -> list[str]:
    if not f.meaning.known:
        return [f"not explained by any check: an unknown event message; look at {look_at(f)}"]
    if f.fixed:
        checks = ", ".join(dict.fromkeys(f"{v.check.id} ({v.check.ref})" for v in f.verdicts))
        return [f"explained by {checks}, which passes today: the cause is fixed ({f.meaning.why})"]
    out = []
    for v in f.verdicts:
        head = f"explained by {v.check.id} ({v.check.ref})"
        if v.state == "fails":
            out.append(f"{head}: {v.text}")
        elif v.state == "could not tell":
            out.append(f"{head} ({f.meaning.why}); today could not tell: {v.text}")
        else:
            out.append(f"{head} passes today on {v.target}")
    return out


def explain_html(report: Explanation) -> str:
    """The same as a section of the HTML report (audit --explain)."""
    from html import escape

    rows = []
    for f in report.failures:
        e = f.first
        said = "".join(f"<div>{escape(ev.host)} said: {escape(ev.message)}</div>" for ev in f.events)
        why = "".join(f"<div>{escape(line)}</div>" for line in explanation_lines(f))
        rows.append(
            f"<tr><td>{e.time:%Y-%m-%d %H:%M:%S} UTC</td><td>{escape(f.vm or '(not named)')}</td>"
            f"<td>{escape(f.src or '?')} &rarr; {escape(f.dst or '?')}</td><td>{said}</td><td>{why}</td></tr>"
        )
    parts = [
        f'<div class="lm-explain"><h3 id="lm-explain">Failed migrations since {report.since:%Y-%m-%d %H:%M} UTC</h3>'
    ]
    if rows:
        parts.append(
            '<table class="lm-table"><tr><th>When</th><th>VM</th><th>From &rarr; to</th>'
            "<th>The host's message</th><th>Explained by</th></tr>" + "".join(rows) + "</table>"
        )
    else:
        parts.append(f"<p>No failed or cancelled migration in {LOG}.</p>")
    if report.other:
        parts.append(f"<p>{len(report.other)} other warnings and errors in {LOG} are not migrations:</p><ul>")
        parts += [
            f"<li>event {e.id} on {escape(e.host)}: {escape(e.message[:300])}</li>" for e in report.other
        ]
        parts.append("</ul>")
    parts += [f"<p>Could not read: {escape(text)}</p>" for text in report.unread]
    parts.append("</div>")
    return "".join(parts)
