"""The catalogue keeps its metadata honest: IDs, refs, fixes, coverage, schema and README."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from audit_run import REPO

from lmready.catalogue import AREAS, Requirement, Severity, load_catalogue, requirement_modules
from lmready.cli import CATALOGUE_END, CATALOGUE_START, catalogue_markdown, main
from lmready.facts import json_schemas
from lmready.remediation.fixes import registry
from lmready.requirements import REQUIREMENTS

CATALOGUE = load_catalogue()
FIXES = registry()
MODULES = requirement_modules()
SHARED_REQUIREMENTS = REPO.parent / "shared" / "REQUIREMENTS.md"


def test_ids_unique_and_stable_looking():
    ids = [m.id for m in CATALOGUE]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"LMR-\d{3}", i) for i in ids), ids
    names = [m.name for m in CATALOGUE]
    assert len(names) == len(set(names))


def test_metadata_is_complete():
    for meta in CATALOGUE:
        assert meta.ref in REQUIREMENTS, meta.id
        assert meta.area in AREAS and isinstance(meta.severity, Severity)
        assert meta.scope in ("host", "pair", "vm")
        assert meta.title and meta.title[0].isupper() and not meta.title.endswith("."), meta.id
        assert meta.fix is None or meta.fix in FIXES, f"{meta.id}: fix {meta.fix} is not registered"


def test_every_requirement_row_has_exactly_one_check():
    refs = [m.ref for m in CATALOGUE]
    assert sorted(refs) == sorted(REQUIREMENTS)


def test_every_registered_fix_is_used_and_refers_to_its_check():
    used = {m.fix: m.ref for m in CATALOGUE if m.fix}
    assert set(used) == set(FIXES)
    for name, ref in used.items():
        assert ref in FIXES[name].refs


@pytest.mark.skipif(
    not SHARED_REQUIREMENTS.is_file(), reason="../shared/REQUIREMENTS.md is not beside the checkout"
)
def test_requirement_refs_match_the_shared_document():
    text = SHARED_REQUIREMENTS.read_text()
    sections = text.split("## 4.")[0]
    rows = set(re.findall(r"^\| ([RAPNX]\d) \|", sections, flags=re.MULTILINE))
    per_vm = text.split("## 6.")[1].split("\n## ")[0]  # section 6: V1-V3
    rows |= set(re.findall(r"^\| (V\d) \|", per_vm, flags=re.MULTILINE))
    assert rows == set(REQUIREMENTS)


def test_checked_in_schema_matches_the_models():
    for name, schema in json_schemas().items():
        checked_in = json.loads((REPO / "schema" / name).read_text())
        assert checked_in == schema, f"schema/{name} is stale: run `make schema`"


def test_readme_catalogue_is_generated():
    readme = (REPO / "README.md").read_text()
    table = readme.split(CATALOGUE_START)[1].split(CATALOGUE_END)[0].strip()
    assert table == catalogue_markdown(), "README catalogue is stale: run `make catalogue`"


def test_cli_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("audit", "catalogue", "schema"):
        assert command in out


def test_cli_catalogue_lists_every_check(capsys):
    assert main(["catalogue"]) == 0
    out = capsys.readouterr().out
    assert all(m.id in out for m in CATALOGUE)


def test_lmready_audit_runs_the_suite(tmp_path):
    out = tmp_path / "r"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lmready.cli",
            "audit",
            "--inventory",
            str(REPO / "inventories" / "example.yml"),
            "--html",
            str(out / "r.html"),
            "--junitxml",
            str(out / "j.xml"),
            "--findings-json",
            str(out / "f.json"),
            "-q",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr
    assert json.loads((out / "f.json").read_text())["counts"]["failed"] > 0
    assert (out / "r.html").is_file() and (out / "j.xml").is_file()
    assert not (tmp_path / ".pytest_cache").exists()


def test_every_automatic_fix_has_a_planner():
    """One registry, built from the requirement modules: what a check names as its fix is what
    remediation plans with, and an automatic fix without a planner is caught here, not at run time."""
    for name, fix in FIXES.items():
        assert (fix.planner is not None) == fix.automatic, (
            f"fix {name} ({fix.refs}): automatic needs @planner"
        )


def test_each_requirement_lives_in_one_module_found_from_its_ref():
    """checks/test_<ref>_<slug>.py holds the requirement's text, its check(s), its fix and cases."""
    assert set(MODULES) == set(REQUIREMENTS)
    for ref, module in MODULES.items():
        req = module.REQUIREMENT
        assert isinstance(req, Requirement)
        assert module.__file__.rsplit("/", 1)[1].startswith(f"test_{ref.lower()}_"), module.__file__
        assert req.synopsis == REQUIREMENTS[ref], f"{ref}: synopsis differs from lmready.requirements"
        assert req.why and req.fix and req.links, ref
        assert all(link.startswith("https://learn.microsoft.com/") for link in req.links), ref
        checks = [m for m in CATALOGUE if m.func.__module__ == module.__name__]
        assert checks and all(m.ref == ref for m in checks), ref
        fix = getattr(module, "FIX", None)
        assert {m.fix for m in checks if m.fix} == ({fix.name} if fix else set()), ref
