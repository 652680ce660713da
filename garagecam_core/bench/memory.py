"""Worker process memory: RSS while classifying (the working figure), right after loading,
peak, and growth over many frames."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..engine.base import Engine
from ..errors import WorkerError
from .snapshots import Snapshot

_MB = 1024 * 1024


def rss_mb(pid: int | None) -> float:
    """Resident set size of a process, in MiB."""
    import psutil

    if pid is None:
        raise WorkerError("the inference worker is not running")
    return float(psutil.Process(pid).memory_info().rss) / _MB


def _peak_rss_mb(pid: int) -> float | None:
    """Linux high-water mark of the resident set (VmHWM); None where /proc has none."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return None


def measure_growth(
    engine: Engine,
    pid: int | None,
    snapshot: Snapshot,
    iterations: int,
    *,
    tick: Callable[[], None],
    loaded_mb: float,
    threads: int,
) -> dict[str, Any]:
    """RSS of the worker `pid` before and after `iterations` more classifications.

    Call it on a worker that has already classified (the bench's timed runs): the first
    frames allocate the buffers every later frame reuses (decode buffers, the runtime's
    arena: ~5 MB over the RSS right after loading); what must stay flat is the rest. The
    reported `worker_rss_mb` is the working figure, after all those frames; `loaded_mb`
    (measured by the caller before the first frame) is kept as `worker_rss_loaded_mb`.
    """
    start_mb = rss_mb(pid)
    for _ in range(iterations):
        engine.classify(snapshot.data)
        tick()
    end_mb = rss_mb(pid)
    peak_mb = _peak_rss_mb(pid) if pid is not None else None
    growth = end_mb - start_mb
    return {
        "image": snapshot.name,
        "threads": threads,
        "worker_rss_mb": round(end_mb, 2),
        "worker_rss_loaded_mb": round(loaded_mb, 2),
        "worker_peak_rss_mb": None if peak_mb is None else round(peak_mb, 2),
        "iterations": iterations,
        "rss_start_mb": round(start_mb, 2),
        "rss_end_mb": round(end_mb, 2),
        "growth_mb": round(growth, 3),
        "growth_kb_per_1000": round(growth * 1024 * 1000 / max(1, iterations), 2),
    }
