"""Run a real audit (pytest in a subprocess, as a user or a pipeline would) and read its reports."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "inventories" / "example.yml"


@dataclass
class AuditRun:
    returncode: int
    stdout: str
    stderr: str
    out: Path

    @cached_property
    def findings(self) -> dict[str, Any]:
        return json.loads((self.out / "findings.json").read_text())

    def result(self, check_id: str, target: str) -> dict[str, Any]:
        hits = [r for r in self.findings["results"] if r["check_id"] == check_id and r["target"] == target]
        assert len(hits) == 1, f"{check_id} {target}: {len(hits)} results"
        return hits[0]

    @cached_property
    def html(self) -> str:
        return (self.out / "report.html").read_text()

    @cached_property
    def html_data(self) -> dict[str, Any]:
        """The JSON blob pytest-html's script renders the table from."""
        blob = re.search(r'data-jsonblob="([^"]*)"', self.html).group(1)
        return json.loads(html.unescape(blob))

    @cached_property
    def junit(self) -> ET.Element:
        return ET.parse(self.out / "junit.xml").getroot()


def run_audit(out: Path, inventory: Path, *args: str, env: dict[str, str] | None = None) -> AuditRun:
    out.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            f"--inventory={inventory}",
            f"--html={out / 'report.html'}",
            f"--junitxml={out / 'junit.xml'}",
            f"--findings-json={out / 'findings.json'}",
            "-p",
            "no:cacheprovider",
            *args,
        ],
        cwd=out,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )
    return AuditRun(proc.returncode, proc.stdout, proc.stderr, out)


def write_estate(
    root: Path, hosts: dict[str, dict], inventory: dict[str, Any], domains: dict[str, dict] | None = None
) -> Path:
    """Saved facts plus an inventory that points at them; returns the inventory path."""
    (root / "facts" / "hosts").mkdir(parents=True, exist_ok=True)
    (root / "facts" / "domains").mkdir(parents=True, exist_ok=True)
    for name, facts in hosts.items():
        (root / "facts" / "hosts" / f"{name}.json").write_text(json.dumps(facts))
    for name, facts in (domains or {}).items():
        (root / "facts" / "domains" / f"{name}.json").write_text(json.dumps(facts))
    path = root / "inventory.yml"
    path.write_text(yaml.safe_dump({"facts": "facts", **inventory}, sort_keys=False))
    return path


TWO_HOSTS = {
    "hosts": [{"name": "hv01"}, {"name": "hv02"}],
    "pairs": [{"src": "hv01", "dst": "hv02", "both_ways": True}],
}
# Kerberos pairs need the directory for A2; tests about the gate use CredSSP on both hosts.
CREDSSP = {"policy": {"authentication": "CredSSP"}}
CREDSSP_HOST = {"migration": {"authentication_type": "CredSSP"}}


def credssp_estate(tmp_path: Path, hv02: dict | None = None, **inventory: Any) -> Path:
    """Two hosts, both ways, saved facts: READY as they are; ``hv02`` changes one host."""
    from factory import host_dict, merge

    hosts = {
        "hv01": host_dict("hv01", 1, **CREDSSP_HOST),
        "hv02": host_dict("hv02", 2, **merge(CREDSSP_HOST, hv02 or {})),
    }
    return write_estate(tmp_path, hosts, {**TWO_HOSTS, **CREDSSP, **inventory})


def audit_in_process(reports: Path, inventory: Path, *args: str) -> tuple[int, str]:
    """The audit run by pytest.main in this process (fast enough for fuzzing); returns the exit
    code and everything it printed."""
    import gc
    import io
    from contextlib import redirect_stderr, redirect_stdout

    import pytest

    from lmready.catalogue import suite_dir

    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(out):
        code = pytest.main(
            [
                str(suite_dir()),
                f"--inventory={inventory}",
                f"--html={reports / 'report.html'}",
                f"--junitxml={reports / 'junit.xml'}",
                f"--findings-json={reports / 'findings.json'}",
                "-p",
                "no:cacheprovider",
                "-s",
                *args,
            ]
        )
    gc.unfreeze()  # the plugin freezes the run's objects; let them go between runs
    return int(code), out.getvalue()
