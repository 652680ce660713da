"""Summaries of repeated timings (milliseconds) and the loop that collects them."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Summary:
    """Median and p90 (the figures the report uses), plus mean/min/max and the count."""

    median: float
    p90: float
    mean: float
    min: float
    max: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def summarize(samples: Sequence[float]) -> Summary:
    if not samples:
        raise ValueError("no samples to summarize")
    ordered = sorted(samples)
    # Nearest-rank p90: an observed value, stable for small n.
    rank = max(0, min(len(ordered) - 1, -(-9 * len(ordered) // 10) - 1))
    return Summary(
        median=statistics.median(ordered),
        p90=ordered[rank],
        mean=statistics.fmean(ordered),
        min=ordered[0],
        max=ordered[-1],
        n=len(ordered),
    )


def sample_ms(
    fn: Callable[[], object], runs: int, warmup: int, tick: Callable[[], None]
) -> list[float]:
    """Call `fn` `warmup` times untimed, then `runs` times timed; `tick` after each call."""
    for _ in range(warmup):
        fn()
        tick()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000.0)
        tick()
    return samples


def time_ms(fn: Callable[[], object], runs: int, warmup: int, tick: Callable[[], None]) -> Summary:
    """`sample_ms`, summarised."""
    return summarize(sample_ms(fn, runs, warmup, tick))
