"""Preflight (X5): from the machine running the suite, does each name resolve and its port answer?

Plain sockets, not pytest-testinfra's local ``addr`` module: that spawns a shell per probe
(getent, nc; 5-15 ms each, a fixed 1 s timeout, Linux runners only) and pastes the name into
the command line unquoted. A socket costs about a millisecond, takes our timeout, runs on any
runner and needs no quoting. Probes run concurrently, so a dead host costs one timeout, not one
per check.
"""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass


@dataclass(frozen=True)
class Probe:
    name: str  # what to report: the inventory host or the domain
    address: str
    port: int


@dataclass(frozen=True)
class Outcome:
    resolved: bool
    port_open: bool
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.resolved and self.port_open


def probe(address: str, port: int, timeout: float) -> Outcome:
    try:
        infos = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        return Outcome(False, False, f"{address} does not resolve ({exc})")
    last = ""
    for family, kind, proto, _, sockaddr in infos:
        try:
            with socket.socket(family, kind, proto) as sock:
                sock.settimeout(timeout)
                sock.connect(sockaddr)
                return Outcome(True, True)
        except TimeoutError:
            last = f"port {port} on {sockaddr[0]} did not answer within {timeout:g} s"
        except OSError as exc:
            last = f"port {port} on {sockaddr[0]}: {exc.strerror or exc}"
    return Outcome(True, False, last)


def run(probes: list[Probe], timeout: float, workers: int = 32) -> dict[str, Outcome]:
    if not probes:
        return {}
    with ThreadPoolExecutor(max_workers=min(workers, len(probes))) as pool:
        outcomes = pool.map(lambda p: probe(p.address, p.port, timeout), probes)
        return {p.name: o for p, o in zip(probes, outcomes, strict=True)}
