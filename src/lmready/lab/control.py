"""`lmready lab up|down|status`: the lab in a background process, found again by its state file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from lmready import preflight

DEFAULT_SCENARIO = Path(__file__).resolve().parent / "scenarios" / "default.yml"
START_TIMEOUT = 60.0


def _state(state_dir: Path) -> dict | None:
    try:
        state = json.loads((state_dir / "state.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return state if _alive(state.get("pid", 0)) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return pid > 0


def _answering(state: dict) -> list[str]:
    """Names of lab hosts whose port does not answer."""
    outcomes = preflight.run(
        [preflight.Probe(n, "127.0.0.1", p) for n, p in state["hosts"].items()], timeout=1.0
    )
    return [n for n, o in outcomes.items() if not o.ok]


def _describe(state: dict) -> str:
    hosts = ", ".join(f"{n} 127.0.0.1:{p}" for n, p in state["hosts"].items())
    env = " ".join(f"{k}='{v}'" for k, v in state["env"].items())
    note = f"\nlab: {state['note']}" if state.get("note") else ""
    return (
        f"lab: {len(state['hosts'])} hosts ({hosts}); inventory {state['inventory']}\n"
        f"credentials of the lab (audit with them exported):\n  export {env}{note}"
    )


def up(
    scenario: Path | None,
    inventory_out: Path,
    state_dir: Path,
    transport: str = "https",
    directory: bool = True,
) -> int:
    scenario = scenario or DEFAULT_SCENARIO
    running = _state(state_dir)
    if running is not None:
        print("the lab is already running; `lmready lab down` stops it.\n" + _describe(running))
        return 0
    if not scenario.is_file():
        print(f"lab up: scenario {scenario} does not exist; check the path.", file=sys.stderr)
        return 2
    state_dir.mkdir(parents=True, exist_ok=True)
    log = (state_dir / "lab.log").open("w")
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lmready.lab.serve",
            "--scenario",
            str(scenario),
            "--state-dir",
            str(state_dir),
            "--inventory-out",
            str(inventory_out),
            "--transport",
            transport,
            *([] if directory else ["--no-directory"]),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if child.poll() is not None:
            tail = (state_dir / "lab.log").read_text().strip().splitlines()[-1:] or ["no output"]
            print(
                f"lab up: the lab process exited ({tail[0]}); see {state_dir / 'lab.log'}.", file=sys.stderr
            )
            return 1
        state = _state(state_dir)
        if state is not None and not _answering(state):
            print(_describe(state))
            return 0
        time.sleep(0.1)
    child.terminate()
    print(
        f"lab up: the lab did not answer within {START_TIMEOUT:g} s; see {state_dir / 'lab.log'}.",
        file=sys.stderr,
    )
    return 1


def down(state_dir: Path) -> int:
    state = _state(state_dir)
    if state is None:
        print("the lab is not running.")
        return 0
    os.kill(state["pid"], signal.SIGTERM)
    deadline = time.monotonic() + 15
    while _alive(state["pid"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(state["pid"]):
        os.kill(state["pid"], signal.SIGKILL)
    print(f"lab stopped ({len(state['hosts'])} hosts).")
    return 0


def status(state_dir: Path) -> int:
    state = _state(state_dir)
    if state is None:
        print("the lab is not running; `lmready lab up` starts it.")
        return 3
    silent = _answering(state)
    print(_describe(state))
    if silent:
        print(f"not answering: {', '.join(silent)}")
        return 1
    return 0
