"""One audit run's state: what is audited and how it is judged, the estate, the findings, and
the pairs' readiness and the verdict drawn from them. The pytest adapter (lmready.plugin) fills
it; the report writers and the terminal summary read it. No pytest here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from lmready.catalogue import CheckMeta, Severity
from lmready.drift import Key, classify, tally
from lmready.engine import Judging
from lmready.estate import Estate, FactsUnavailable
from lmready.explain import events_round
from lmready.facts import HostFacts
from lmready.findings import Finding
from lmready.inventory import Inventory
from lmready.live import LiveCollector, Progress
from lmready.per_vm import Selection
from lmready.remediation.run import Remediation
from lmready.saved_facts import SavedFacts
from lmready.values import Outcome
from lmready.verdict import PairReadiness, RunVerdict, error_causes, pair_readiness, run_verdict


@dataclass
class Audit:
    inventory: Inventory
    facts_dir: Path | None  # None: collect live from the hosts
    gate: Severity
    findings_path: Path | None
    junit_path: Path | None
    operator: str
    started: datetime
    today: date
    catalogue: list[CheckMeta] = field(default_factory=list)  # every check a full run judges
    findings: list[Finding] = field(default_factory=list)
    report_problems: list[str] = field(default_factory=list)  # reports that could not be written
    unjudged_failures: list[str] = field(default_factory=list)  # failed tests that are no lmready check
    compact_html: bool = False  # set after collection: too many results for one HTML table
    remediate: str | None = None  # "plan" or "apply"
    remediation: Remediation | None = None
    summary_paths: list[Path] = field(default_factory=list)  # --summary-md, $GITHUB_STEP_SUMMARY
    baseline: dict[Key, dict] | None = None  # --baseline: the earlier audit's results
    baseline_path: Path | None = None
    pair_separator: str = "-"  # how node ids write a pair (lmready.items.pair_separator)
    compare: Selection = field(default_factory=Selection)  # --compare-vms, --compare-budget (V1)
    explain_since: datetime | None = None  # --explain: read the VMMS-Admin logs since then
    explain_logs: dict = field(default_factory=dict)  # host -> its events, or why not (lmready.explain)
    _estate: Estate | None = None
    _readiness: list[PairReadiness] | None = None
    _verdict: RunVerdict | None = None
    _judging: Judging | None = None

    def collect(self, progress: Progress | None = None) -> None:
        if self.facts_dir is not None:
            self._estate = SavedFacts(self.facts_dir).collect(self.inventory)
        else:
            # --explain: the event logs are read on the collection's sessions (lmready.explain).
            extra = events_round(self.explain_since, self.explain_logs) if self.explain_since else None
            self._estate = LiveCollector(progress, selection=self.compare, extra_round=extra).collect(
                self.inventory
            )

    def use(self, estate: Estate | None) -> None:
        """Audit ``estate``, collected elsewhere (by the xdist controller, for its workers)."""
        self._estate = estate

    @property
    def collected(self) -> bool:
        return self._estate is not None

    @property
    def estate(self) -> Estate:
        if self._estate is None:
            self.collect()
        return self._estate

    @property
    def source(self) -> str:
        return str(self.facts_dir) if self.facts_dir is not None else "live (PowerShell Remoting)"

    def host_problems(self) -> list[str]:
        """What the collection could not read, one line per host and reason, unless that reason
        is already said as the cause of checks that could not run."""
        said = {c.sentence for c in error_causes(self.findings)}
        lines = []
        for name, facts in (self._estate.hosts if self._estate else {}).items():
            if isinstance(facts, FactsUnavailable):
                if str(facts) not in said:
                    lines.append(str(facts))
                continue
            by_reason: dict[str, list[str]] = {}
            for field_name, reason in facts.unread.items():
                by_reason.setdefault(reason, []).append(field_name)
            for reason, fields in by_reason.items():
                if reason in said or f"{name}: {reason}" in said:
                    continue
                what = "nothing could be read" if len(fields) > 8 else f"unread: {', '.join(sorted(fields))}"
                lines.append(f"{name}: {what} ({reason})")
            lines += [f"{name}: the collection script reported: {error}" for error in facts.script_errors]
        return lines

    def facts_age(self) -> str:
        """When the audited facts were read: a saved estate can be old (README, offline audits)."""
        if self._estate is None:
            return ""
        times = [f.collected_at for f in self._estate.hosts.values() if isinstance(f, HostFacts)]
        if not times:
            return "no host facts"
        oldest = min(times)
        if self.facts_dir is None:
            return f"collected live at {oldest.isoformat(timespec='seconds')}"
        age = self.started - (oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC))
        days, hours = age.days, age.seconds // 3600
        return (
            f"saved, collected at {oldest.isoformat(timespec='seconds')} ({days} days {hours} hours before "
            "this audit); X5 (reachability) does not apply to saved facts"
        )

    def weak_transports(self) -> list[str]:
        """Connections the inventory explicitly allowed to be weaker than the defaults."""
        if self.facts_dir is not None:
            return []
        weak = []
        for host in self.inventory.hosts.values():
            c = host.connection
            if c.scheme == "http":
                protected = c.auth in ("negotiate", "ntlm", "kerberos", "credssp")
                weak.append(
                    f"{host.name}: plain HTTP"
                    + (" with message encryption" if protected else ", unencrypted")
                )
            elif not c.verify_tls:
                weak.append(f"{host.name}: HTTPS without certificate validation")
        weak += [
            f"domain {d.name}: plain LDAP"
            for d in self.inventory.domains
            if d.url.startswith("ldap://") and not d.start_tls
        ]
        return weak

    def drift_counts(self) -> dict[str, int] | None:
        return tally(f.drift for f in self.findings) if self.baseline is not None else None

    @property
    def readiness(self) -> list[PairReadiness]:
        if self._readiness is None:
            self._readiness = pair_readiness(self.inventory.pairs, self.catalogue, self.findings)
        return self._readiness

    @property
    def judged(self) -> bool:
        """Something ran: a run that selected nothing has no verdict (exit 5)."""
        return bool(self.findings or self.unjudged_failures)

    @property
    def verdict(self) -> RunVerdict:
        """READY only when every pair was judged in full and none is blocked (REQUIREMENTS 3b)."""
        if self._verdict is None:
            self._verdict = run_verdict(self.readiness, self.findings, self.unjudged_failures)
        return self._verdict

    @property
    def judging(self) -> Judging:
        if self._judging is None:
            self._judging = Judging(self.gate, self.inventory.waivers, self.today)
        return self._judging

    def record(self, finding: Finding) -> None:
        """Keep one finding for the reports, with what remediation did for it and its drift."""
        if self.remediation is not None:
            self.remediation.annotate(finding)
        if self.baseline is not None:
            finding.drift = classify(
                self.baseline.get((finding.check.id, finding.target)),
                finding.blocking or finding.outcome == Outcome.ERROR,
            )
        self.findings.append(finding)
