"""The peer goals (issue: "close the gap"), checked against one bench result.

Inference and end-to-end ratios are paired: the median over rounds of the ratio of the two
contenders' per-round medians, both measured in the same turns (see `measure_runtimes`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..goals import ET_FP32
from ..runtimes import paired_ratio
from . import LITERT, NCNN
from .end_to_end import IN_PROCESS, LITERT_PIPELINE, WORKER
from .footprint import PIPELINE

#: peers whose fresh-process memory is the bar for the worker's
MEMORY_PEERS = (LITERT, NCNN)


def _find(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    return next((r for r in rows if all(r.get(k) == v for k, v in match.items())), None)


def _ratio(a: dict[str, Any] | None, b: dict[str, Any] | None) -> float | None:
    return paired_ratio(a, b) if a and b else None


def _goal(goal_id: str, text: str, target: str, value: float | None, *, limit: float | None,
          unit: str = "x") -> dict[str, Any]:  # fmt: skip
    """`limit`: met when value <= limit; None: reported only."""
    met = None if value is None or limit is None else value <= limit
    measured = None if value is None else round(value, 3)
    return {"id": goal_id, "goal": text, "target": target, "measured": measured, "unit": unit,
            "met": met}  # fmt: skip


def peer_goals(result: dict[str, Any]) -> list[dict[str, Any]]:
    return list(_goals(result))


def _plural(count: int) -> str:
    return f"{count} thread{'s' if count > 1 else ''}"


def _goals(result: dict[str, Any]) -> Iterator[dict[str, Any]]:
    rows = [r for r in result.get("runtimes", []) if r.get("status") == "ok"]
    counts = sorted({int(r["threads"]) for r in result.get("runtimes", [])})
    for count in counts:
        engine = _find(rows, runtime=ET_FP32, threads=count)
        yield _goal(
            f"engine_vs_litert_{count}", f"GarageCam engine inference time / LiteRT's "
            f"({_plural(count)})", "<= 1.0",
            _ratio(engine, _find(rows, runtime=LITERT, threads=count)), limit=1.0,
        )  # fmt: skip
        yield _goal(
            f"engine_vs_ncnn_{count}", f"GarageCam engine inference time / ncnn's "
            f"({_plural(count)})", "reported",
            _ratio(engine, _find(rows, runtime=NCNN, threads=count)), limit=None,
        )  # fmt: skip
    peers = result.get("peers") or {}
    flows = peers.get("end_to_end") or []
    for count in counts:
        litert = _find(flows, pipeline=LITERT_PIPELINE, threads=count)
        yield _goal(
            f"end_to_end_vs_litert_{count}", "GarageCam end to end (in-process engine) / a "
            f"LiteRT pipeline with the same preprocessing ({_plural(count)})", "<= 1.0",
            _ratio(_find(flows, pipeline=IN_PROCESS, threads=count), litert), limit=1.0,
        )  # fmt: skip
        yield _goal(
            f"worker_end_to_end_vs_litert_{count}", "GarageCam end to end (worker engine) / "
            f"the LiteRT pipeline ({_plural(count)})", "reported",
            _ratio(_find(flows, pipeline=WORKER, threads=count), litert), limit=None,
        )  # fmt: skip
    footprint = [r for r in peers.get("footprint", []) if r.get("status") == "ok"]
    peer_rss = [r["rss_mb"] for r in footprint if r["runtime"] in MEMORY_PEERS]
    best = min(peer_rss) if peer_rss else None
    worker = (result.get("memory") or {}).get("worker_rss_mb")
    yield _goal(
        "worker_rss_vs_best_peer", "GarageCam worker RSS while classifying / best peer's "
        "RSS (fresh process, model loaded, after the same probe frames)", "<= 1.0",
        worker / best if worker and best else None, limit=1.0,
    )  # fmt: skip
    # the same with the preprocessing a pipeline needs around any runtime (Pillow, buffers)
    pipelines = [
        r["rss_mb"] for r in footprint if r["runtime"] in {p + PIPELINE for p in MEMORY_PEERS}
    ]
    yield _goal(
        "worker_rss_vs_best_peer_pipeline", "GarageCam worker RSS / best peer's RSS in a "
        "process that also preprocesses the frame (same preprocessing)", "reported",
        worker / min(pipelines) if worker and pipelines else None, limit=None,
    )  # fmt: skip
    engine = _find(footprint, runtime="garagecam-engine")
    yield _goal(
        "engine_process_rss_vs_best_peer", "Fresh process with GarageCam's engine call path / "
        "best peer's RSS", "reported",
        engine["rss_mb"] / best if engine and best else None, limit=None,
    )  # fmt: skip
