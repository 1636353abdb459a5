"""The lab's background process: ``python -m lmready.lab.serve`` (started by ``lmready lab up``)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
from pathlib import Path

from lmready.lab.runtime import Lab
from lmready.lab.scenario import ScenarioError, load_scenario


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m lmready.lab.serve")
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--inventory-out", required=True)
    parser.add_argument("--transport", choices=("https", "ntlm"), default="https")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    parser.add_argument("--no-directory", action="store_true", help="no domain controller")
    args = parser.parse_args()

    state_dir = Path(args.state_dir)
    try:
        scenario = load_scenario(Path(args.scenario))
    except ScenarioError as exc:
        raise SystemExit("\n".join(exc.problems)) from None
    lab = Lab(
        scenario, state_dir, transport=args.transport, latency=args.latency, directory=not args.no_directory
    )
    lab.start()
    inventory = lab.write_inventory(Path(args.inventory_out))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    state = {
        "pid": os.getpid(),
        "inventory": str(inventory),
        "ca_bundle": str(lab.tls.ca) if lab.tls else None,
        "hosts": {name: runtime.server.port for name, runtime in lab.hosts.items()},
        "env": lab.env(),
        "note": lab.without_directory,
    }
    tmp = state_dir / "state.json.tmp"
    tmp.write_text(json.dumps(state, indent=1))
    tmp.replace(state_dir / "state.json")
    try:
        stop.wait()
    finally:
        lab.stop()
        (state_dir / "state.json").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
