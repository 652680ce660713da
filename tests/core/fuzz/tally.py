"""What one fuzz test tried and how each input was answered; the test asserts its own cases.

Each test records its cases (`record`) and ends with `verify()`, which fails that test on any
defect, listing them: a `-k` run, a single file or a split run judges exactly what it ran.
(The autouse fixture in conftest.py gives each test a fresh record and fails a test that
recorded cases but never verified them.)

Outcomes:
- `refused`: a bad input answered with GarageCam's own clear error (what we want);
- `accepted`: a bad input that came out as a good frame / valid config (a defect);
- `crashed`: any other exception, i.e. a traceback for the user (a defect);
- `tolerated`: a mutation that may legitimately still be valid (a flipped bit inside JPEG
  entropy data is still a picture, a flipped weight is still a model): it must not crash and,
  when accepted, must give a sane result (finite probabilities in 0..1).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

OUTCOMES = ("refused", "accepted", "crashed", "tolerated")
DEFECTS = ("accepted", "crashed")


@dataclass
class Cases:
    """The cases of the running test."""

    counts: Counter[str] = field(default_factory=Counter)
    defects: list[str] = field(default_factory=list)
    verified: bool = False

    def add(self, category: str, outcome: str, detail: str) -> None:
        assert outcome in OUTCOMES, outcome
        self.counts[outcome] += 1
        self.verified = False
        if outcome in DEFECTS:
            self.defects.append(f"{category}: {outcome}: {detail}"[:300])


_CURRENT = Cases()


def begin() -> Cases:
    """A fresh record for the next test (conftest.py's autouse fixture)."""
    global _CURRENT  # noqa: PLW0603 - one running test at a time per process
    _CURRENT = Cases()
    return _CURRENT


def current() -> Cases:
    return _CURRENT


def record(category: str, outcome: str, detail: str = "") -> None:
    _CURRENT.add(category, outcome, detail)


def verify(minimum: int = 1) -> None:
    """Fail the running test if any case it recorded was a defect, or if it tried fewer than
    `minimum` cases. The record is emptied first, so that a hypothesis test judges each
    example on its own (and its shrinking sees no defect of another example)."""
    global _CURRENT
    done, _CURRENT = _CURRENT, Cases(verified=True)
    assert sum(done.counts.values()) >= minimum, f"only {dict(done.counts)} tried"
    assert not done.defects, "\n".join(done.defects)
