"""report.html in a real browser (headless Chromium driven over the DevTools protocol): what an
admin sees at 1400x1000 before scrolling, what a click on the matrix shows, the per-VM view, and
that names from the estate never run as script.

The DevTools client is the few lines below, over Chromium's --remote-debugging-pipe (JSON
messages separated by NUL on file descriptors 3 and 4): no browser download, no extra package.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from audit_run import EXAMPLE, REPO, run_audit, write_estate
from factory import host_dict

WIDTH, HEIGHT = 1400, 1000


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


pytestmark = pytest.mark.skipif(
    chromium() is None,
    reason="chromium is not installed (Debian package chromium; .ci/install-system-packages.sh installs it)",
)


class Browser:
    """One headless Chromium with one page, at WIDTH x HEIGHT."""

    def __init__(self, profile: Path):
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        # Chromium reads commands on fd 3 and writes on fd 4; the shell puts the pipes there.
        self.proc = subprocess.Popen(
            [
                "bash",
                "-c",
                f'exec 3<&{to_chrome_r} 4>&{from_chrome_w} {to_chrome_r}<&- {from_chrome_w}>&-; exec "$@"',
                "chromium",
                chromium(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",  # its own profile: other browsers may run at once
                f"--window-size={WIDTH},{HEIGHT}",
                "--remote-debugging-pipe",
            ],
            pass_fds=(to_chrome_r, from_chrome_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
            self.session,
        )
        self.call("Page.enable", {}, self.session)

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_chrome, 1 << 16)
            assert chunk, "chromium closed its DevTools pipe"
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict[str, Any], session: str | None = None) -> dict[str, Any]:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next_id:
                assert "error" not in reply, (method, reply["error"])
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, event: str) -> None:
        while not any(e.get("method") == event for e in self.events):
            self.events.append(self._read())

    def open(self, page: Path) -> None:
        self.events.clear()
        self.call("Page.navigate", {"url": page.as_uri()}, self.session)
        self.wait_for("Page.loadEventFired")

    def js(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, self.session
        )
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        """A real mouse click in the middle of the element, as the user would make it."""
        box = self.js(
            f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.call(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": box[0], "y": box[1], "button": "left", "clickCount": 1},
                self.session,
            )

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", {"format": "png"}, self.session)["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        with contextlib.suppress(AssertionError, OSError):
            self.call("Browser.close", {})
        os.close(self._to_chrome)
        os.close(self._from_chrome)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def browser(tmp_path):
    b = Browser(tmp_path / "profile")
    yield b
    b.close()


def payload(marker: str) -> str:
    """Markup that, if it ever ran, would leave a mark on the page."""
    return f"<img src=x onerror=\"window.pwned='{marker}'\"><script>window.pwned='{marker}'</script>"


def rect(browser: Browser, selector: str) -> dict[str, float]:
    return browser.js(
        f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
        " return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; })()"
    )


def test_hostile_estate_report_in_a_browser(tmp_path, browser):
    """A VM on a switch its destination lacks, every name hostile markup."""
    vm_name, switch = payload("vm"), payload("switch")
    vm = {
        "name": vm_name,
        "state": "Running",
        "version": "9.0",
        "memory_bytes": 4 * 1024**3,
        "switches": [switch],
        "processor_compatibility": True,
    }
    hv01 = host_dict("hv01", 1, vms=[vm], switches=[{"name": switch, "switch_type": "External"}])
    hv02 = host_dict("hv02", 2, vms=[], collection_problems=[payload("problem")])
    inv = write_estate(
        tmp_path,
        {"hv01": hv01, "hv02": hv02},
        {
            "hosts": [{"name": "hv01"}, {"name": "hv02"}],
            "pairs": [{"src": "hv01", "dst": "hv02", "both_ways": True}],
        },
    )
    run = run_audit(tmp_path / "out", inv)
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-2000:]
    browser.open(tmp_path / "out" / "report.html")

    # The verdict is above the fold, as white on a dark banner; the environment table comes last.
    verdict = rect(browser, "#lm-verdict")
    assert verdict["top"] >= 0 and verdict["bottom"] <= HEIGHT, verdict
    assert (
        browser.js("document.querySelector('#lm-verdict').innerText") == "Live migration readiness: NOT READY"
    )
    assert browser.js("getComputedStyle(document.querySelector('#lm-verdict')).color") == "rgb(255, 255, 255)"
    assert rect(browser, "#environment")["top"] > rect(browser, "#results-table")["bottom"]
    # pytest-html's filters that mean nothing in an audit are not shown; the others say what they hold.
    filters = browser.js("document.querySelector('.filters').innerText")
    assert "Unexpected" not in filters and "Reruns" not in filters, filters
    assert "blocking failures" in filters and "not applicable" in filters, filters
    assert not browser.js("document.querySelector('p.run-count').offsetParent")  # "N tests took 0 ms"
    # The table says lmready's words: no "XFailed"/"Skipped" results, no durations, no Links.
    table = browser.js("document.querySelector('#results-table').innerText")
    assert "not applicable" in table and "LMR-051" in table, table[:2000]
    for word in ("XFailed", "Skipped", "Passed", "Duration", "Links", " ms"):
        assert word not in table, word

    # Clicking the not-ready cell brings its card into view, with the blocker's fields.
    cell = 'a[href="#lm-pair-hv01--hv02"]'
    assert browser.js(f"document.querySelector({json.dumps(cell)}).innerText") == "not ready"
    assert browser.js("window.scrollY") == 0
    browser.click(cell)
    assert browser.js("window.scrollY") > 0
    assert browser.js("location.hash") == "#lm-pair-hv01--hv02"
    card = rect(browser, "#lm-pair-hv01--hv02")
    assert -1 < card["top"] < HEIGHT, card  # scrolled to its top (to a fraction of a pixel)
    text = browser.js("document.getElementById('lm-pair-hv01--hv02').innerText")
    assert "LMR-051 (X1)" in text and f"missing '{switch}' (used by {vm_name})" in text, text
    assert "New-VMSwitch" in text

    # The per-VM view: the VM (its name shown as text) cannot move to hv02, and why.
    vms = browser.js("document.getElementById('lm-vms').nextElementSibling.innerText")
    assert f"{vm_name}\t" in vms and f"hv02: LMR-051 (X1): switch '{switch}' missing on hv02" in vms, vms

    # No name ran as script: nothing set the mark, and no element came from a name.
    assert browser.js("window.pwned === undefined")
    assert browser.js("document.title") == "lmready: live migration readiness"
    assert browser.js("document.querySelectorAll('img[src=x], body script').length") == 1  # pytest-html's own


def test_example_report_screenshot(tmp_path, browser):
    """The example estate's report as an admin first sees it, kept in reports/ (not committed)."""
    run = run_audit(tmp_path / "out", EXAMPLE)
    assert run.returncode == 1
    browser.open(tmp_path / "out" / "report.html")
    assert rect(browser, "#lm-verdict")["bottom"] <= HEIGHT
    # The matrix starts on the first screen too.
    assert rect(browser, "table.lm-matrix")["top"] < HEIGHT
    shot = REPO / "reports" / f"report-{WIDTH}x{HEIGHT}.png"
    shot.parent.mkdir(exist_ok=True)
    browser.screenshot(shot)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_lab_report_screenshot(tmp_path, browser, samba_dc):
    """The live lab's report (make audit) at 1400x1000, kept in reports/ (not committed)."""
    from lmready.lab.control import DEFAULT_SCENARIO
    from lmready.lab.runtime import Lab
    from lmready.lab.scenario import load_scenario

    lab = Lab(load_scenario(DEFAULT_SCENARIO), tmp_path / "lab", dc=samba_dc).start()
    try:
        run = run_audit(tmp_path / "out", lab.write_inventory(tmp_path / "lab.yml"), env=lab.env())
    finally:
        lab.stop()
    assert run.returncode == 1, run.stdout[-2000:]  # the lab is deliberately not ready
    browser.open(tmp_path / "out" / "report.html")
    assert rect(browser, "#lm-verdict")["bottom"] <= HEIGHT
    assert "NOT READY" in browser.js("document.querySelector('#lm-verdict').innerText")
    shot = REPO / "reports" / f"lab-report-{WIDTH}x{HEIGHT}.png"
    shot.parent.mkdir(exist_ok=True)
    browser.screenshot(shot)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
