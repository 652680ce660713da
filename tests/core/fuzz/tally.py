"""Counts what the fuzz suite tried and how each input was answered.

Outcomes:
- `refused`: a bad input answered with GarageCam's own clear error (what we want);
- `accepted`: a bad input that came out as a good frame / valid config (a defect);
- `crashed`: any other exception, i.e. a traceback for the user (a defect);
- `known_gap`: a bad input accepted in a case documented as not detected (docs/hardening.md:
  a progressive JPEG cut inside its last scans or whose header promises more rows than its
  scans hold); counted apart, and pinned by the summary test so it cannot grow unnoticed;
- `tolerated`: a mutation that may legitimately still be valid (a flipped bit inside JPEG
  entropy data is still a picture, a flipped weight is still a model): it must not crash and,
  when accepted, must give a sane result (finite probabilities in 0..1).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

OUTCOMES = ("refused", "accepted", "crashed", "known_gap", "tolerated")
#: where the session summary goes (the README figures come from here)
SUMMARY_PATH = Path(
    os.environ.get("GARAGECAM_FUZZ_SUMMARY", Path(tempfile.gettempdir()) / "garagecam-fuzz.json")
)

_COUNTS: defaultdict[str, Counter[str]] = defaultdict(Counter)
_FAILURES: list[str] = []


def record(category: str, outcome: str, detail: str = "") -> None:
    assert outcome in OUTCOMES, outcome
    _COUNTS[category][outcome] += 1
    if outcome in ("accepted", "crashed", "known_gap") and len(_FAILURES) < 50:
        _FAILURES.append(f"{category}: {outcome}: {detail}"[:300])


def summary() -> dict[str, Any]:
    categories = {name: dict(counter) for name, counter in sorted(_COUNTS.items())}
    totals: Counter[str] = Counter()
    for counter in _COUNTS.values():
        totals.update(counter)
    bad = totals["refused"] + totals["accepted"] + totals["crashed"] + totals["known_gap"]
    return {
        "bad_inputs_tried": bad,
        "accepted_as_good": totals["accepted"],
        "tracebacks": totals["crashed"],
        "known_gaps": totals["known_gap"],
        "mutations_tolerated": totals["tolerated"],
        "total_cases": sum(totals.values()),
        "categories": categories,
        "failures": list(_FAILURES),
    }


def write_summary() -> dict[str, Any]:
    data = summary()
    SUMMARY_PATH.write_text(json.dumps(data, indent=2, sort_keys=True))
    return data
