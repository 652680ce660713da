"""Each fuzz test gets a fresh record of its cases and must verify them itself (tally.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.core.fuzz import tally


@pytest.fixture(autouse=True)
def fuzz_cases() -> Iterator[tally.Cases]:
    yield tally.begin()
    cases = tally.current()
    if cases.counts and not cases.verified:
        pytest.fail(f"recorded {dict(cases.counts)} but never called tally.verify()")
