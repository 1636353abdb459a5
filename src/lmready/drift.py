"""Drift against an earlier audit: which results are new failures, fixed, still failing or unchanged.

A result *fails* when it is what turns a CI red: a blocking failure (at or above the gate, not
waived) or a check that could not run. Results are matched on check ID and target.

- new: fails now, and did not in the baseline (or the baseline had no such result);
- fixed: failed in the baseline, does not now;
- still failing: fails in both;
- unchanged: fails in neither;
- not judged: failed in the baseline and has no result now (a partial run, or a host or pair
  removed from the inventory): nothing says it was fixed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

DRIFTS = ("new", "fixed", "still failing", "unchanged", "not judged")

Key = tuple[str, str]  # (check ID, target)


class BaselineError(Exception):
    """A baseline that cannot be used, in one sentence."""


def record_fails(record: dict[str, Any]) -> bool:
    return bool(record.get("blocking")) or record.get("outcome") == "error"


def load_baseline(path: Path) -> dict[Key, dict[str, Any]]:
    """The results of a findings.json, by check ID and target."""
    hint = "pass the findings.json an earlier audit wrote (--findings-json)"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BaselineError(f"baseline {path}: no such file; {hint}.") from None
    except OSError as exc:
        raise BaselineError(f"baseline {path}: cannot be read ({exc.strerror or exc}); {hint}.") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        where = f" at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise BaselineError(f"baseline {path}: not JSON{where}; {hint}.") from None
    results = doc.get("results") if isinstance(doc, dict) else None
    if not isinstance(results, list):
        raise BaselineError(f"baseline {path}: not an lmready findings.json (no results list); {hint}.")
    out: dict[Key, dict[str, Any]] = {}
    for i, record in enumerate(results):
        if not (
            isinstance(record, dict)
            and isinstance(record.get("check_id"), str)
            and isinstance(record.get("target"), str)
            and isinstance(record.get("outcome"), str)
        ):
            raise BaselineError(
                f"baseline {path}: result {i + 1} has no check_id, target and outcome; {hint}."
            )
        out[(record["check_id"], record["target"])] = record
    return out


def classify(old: dict[str, Any] | None, fails_now: bool) -> str:
    fails_before = old is not None and record_fails(old)
    if fails_now:
        return "still failing" if fails_before else "new"
    return "fixed" if fails_before else "unchanged"


def tally(drifts: Iterable[str]) -> dict[str, int]:
    counts = dict.fromkeys(DRIFTS, 0)
    for d in drifts:
        counts[d] += 1
    return counts


def diff(old: dict[Key, dict[str, Any]], new: dict[Key, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(drift, record) for every result of the new audit, and ``not judged`` for baseline failures
    the new audit has no result for: absent is no evidence of a fix."""
    out = [(classify(old.get(key), record_fails(record)), record) for key, record in new.items()]
    out += [("not judged", record) for key, record in old.items() if key not in new and record_fails(record)]
    return out


def line(drift: str, record: dict[str, Any]) -> str:
    text = f"{drift}: {record.get('check_id')} {record.get('title', '')} [{record.get('target')}]"
    message = record.get("message")
    return f"{text}: {message}" if message and drift not in ("fixed", "not judged") else text
