"""Names from inventories and hosts never become live markup in the HTML report.

pytest-html inserts row cells, details and environment values through innerHTML, so every
fragment it will insert is parsed here the way the browser would and searched for elements or
event-handler attributes that lmready did not put there itself.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from audit_run import run_audit, write_estate
from factory import host_dict

from lmready import html_hooks

HOSTILE = '<img src=x onerror="alert(1)">'
HOSTILE_SCRIPT = "</td><script>alert(2)</script>"

# Elements pytest-html's own template and lmready's summary use; everything else is injected.
ALLOWED = {
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "h1",
    "h2",
    "h3",
    "h4",
    "p",
    "a",
    "div",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "template",
    "img",
    "video",
    "source",
    "input",
    "span",
    "button",
    "br",
    "footer",
    "script",
    "ul",
    "li",
    "b",
    "i",
    "link",
}


class Elements(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))


def elements(fragment: str) -> list[tuple[str, list]]:
    parser = Elements()
    parser.feed(fragment)
    parser.close()
    return parser.tags


# The one event handler in pytest-html's own template (its "reload" button).
TEMPLATE_HANDLERS = {("div", "onclick", "location.reload()")}


def injected(fragment: str, allowed: set[str]) -> list[str]:
    bad = []
    for tag, attrs in elements(fragment):
        if tag not in allowed:
            bad.append(tag)
        bad += [
            f"{tag}[{name}={value}]"
            for name, value in attrs
            if name.startswith("on") and (tag, name, value) not in TEMPLATE_HANDLERS
        ]
    return bad


def test_hostile_names_are_escaped_everywhere(tmp_path):
    vm = {
        "name": HOSTILE,
        "state": "Running",
        "version": "11.0",
        "memory_bytes": 10**12,
        "switches": [HOSTILE_SCRIPT],
        "processor_compatibility": False,
    }
    hv01 = host_dict(
        "hv01", 1, computer_name=HOSTILE, vms=[vm], cpu={"vendor": "GenuineIntel", "model": HOSTILE}
    )
    hv02 = host_dict("hv02", 2, domain=HOSTILE_SCRIPT, switches=[{"name": HOSTILE}])
    inv = write_estate(
        tmp_path,
        {"hv01": hv01, "hv02": hv02},
        {
            "hosts": [{"name": "hv01"}, {"name": "hv02"}],
            "pairs": [{"src": "hv01", "dst": "hv02", "both_ways": True}],
        },
    )
    run = run_audit(tmp_path / "out", inv)
    assert run.returncode == 1

    # The hostile names did reach the report (escaped), so the search below means something.
    assert "&lt;img src=x onerror=" in run.html or "&lt;img src=x onerror=" in json.dumps(run.html_data)

    # 1. The page as served: only the template's elements, no event handlers.
    assert not injected(run.html, ALLOWED)
    page_images = [attrs for tag, attrs in elements(run.html) if tag == "img"]
    assert page_images == [[("src", "")]], page_images  # pytest-html's media viewer only
    scripts = [t for t, _ in elements(run.html) if t == "script"]
    assert len(scripts) <= 2, scripts  # pytest-html's app and lmready's view filter

    # 2. Every fragment the report's script inserts with innerHTML.
    cell_tags = {"td", "a", "span", "div", "br", "ul", "li", "b", "i"}
    for test_id, entries in run.html_data["tests"].items():
        for entry in entries:
            for cell in entry["resultsTableRow"]:
                assert not injected(cell, cell_tags), (test_id, cell)
            assert not injected(entry["log"], {"span"}), (test_id, entry["log"])
    for key, value in run.html_data["environment"].items():
        assert not injected(str(value), set()), (key, value)


def test_test_id_cell_is_escaped():
    """Test ids come from inventory names, which are validated; the cell is escaped anyway."""
    cells = ['<td class="col-result">Passed</td>', f'<td class="col-testId">x[{HOSTILE}]</td>']
    html_hooks.escape_test_id(cells)
    assert not injected("".join(cells), {"td"})
    assert "&lt;img" in "".join(cells)


# --- in a real browser -----------------------------------------------------------------------

TITLE = "lmready: live migration readiness"
TOKEN = "S3cr3tT0kenValue"


def payload(marker: str) -> str:
    """Markup that, if it ever runs, renames the page: the title then says which one ran."""
    return (
        f"<img src=x onerror=\"document.title='PWNED {marker}'\"><svg/onload=document.title='PWNED-{marker}'>"
    )


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def rendered(page: Path, profile: Path) -> str:
    """The DOM after the report's own script has rendered it (and any injected one has run)."""
    proc = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={profile}",  # a profile of its own: other browsers may run at once
            "--virtual-time-budget=5000",  # let load, error and timer events fire
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0 and "<html" in proc.stdout, proc.stderr[-2000:]
    return proc.stdout


@pytest.mark.skipif(
    chromium() is None,
    reason="chromium is not installed (Debian package chromium; .ci/install-system-packages.sh installs it)",
)
def test_no_script_runs_in_the_report_in_a_browser(tmp_path):
    vm = {"name": payload("vm"), "state": "Off", "version": "11.0", "memory_bytes": 1, "switches": []}
    hv01 = host_dict("hv01", 1, vms=[vm], cpu={"vendor": "GenuineIntel", "model": payload("cpu")})
    hv02 = host_dict("hv02", 2, collection_problems=[payload("problem")])
    inv = write_estate(
        tmp_path,
        {"hv01": hv01, "hv02": hv02},
        {"hosts": [{"name": "hv01"}, {"name": "hv02"}], "pairs": [{"src": "hv01", "dst": "hv02"}]},
    )
    env = {
        "GIT_BRANCH": payload("GIT_BRANCH"),  # Jenkins
        "CI_COMMIT_REF_NAME": payload("CI_COMMIT_REF_NAME"),  # GitLab
        "GIT_URL": f"https://ci-bot:{TOKEN}@git.example.com/infra/hyperv.git",
        "BUILD_URL": f"https://{TOKEN}@jenkins.example.com/job/1/",
    }
    run = run_audit(
        tmp_path / "out",
        inv,
        "--metadata",
        "Deploy note",
        payload("metadata"),
        "--metadata",
        "API_TOKEN",
        TOKEN,
        "--metadata-from-json",
        json.dumps({"nested": {payload("key"): [payload("list")]}}),
        "-v",  # pytest-metadata prints the metadata in the header too
        env=env,
    )
    assert run.returncode == 1, run.stdout[-2000:] + run.stderr[-2000:]
    assert "metadata: {" in run.stdout
    assert TOKEN not in run.html and TOKEN not in run.stdout + run.stderr
    assert "https://ci-bot:***@git.example.com" in run.html

    # The data the report's script renders from is left out: only what it rendered counts.
    dom = re.sub(
        r'data-jsonblob="[^"]*"', "", rendered(tmp_path / "out" / "report.html", tmp_path / "profile")
    )
    # No injected script ran: the title is the report's own ...
    assert f'<title id="head-title">{TITLE}</title>' in dom, dom[:500]
    assert "PWNED" not in dom.split("</title>")[0]
    # ... though the report's own script did run: it rendered the environment and the results ...
    assert "<td>GIT_BRANCH</td>" in dom and "LMR-013" in dom
    # ... with every payload in them as text.
    for marker in ("GIT_BRANCH", "CI_COMMIT_REF_NAME", "metadata", "key", "list", "vm"):
        assert f"document.title='PWNED-{marker}'&gt;" in dom, marker
    assert TOKEN not in dom
