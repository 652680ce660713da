"""Per-stage timings of the whole pipeline, bytes in and debounced states out.

The engine reports decode, preprocess and inference for each classification (for the
worker engine these are measured inside the child); the bench adds the debouncer and the
wall time of the whole call, so worker end to end includes the process boundary.

`call_overhead` is, per classification, the wall time of `engine.classify` minus the decode,
preprocess and inference it reports: for the worker engine the process boundary (shared
buffer, pipe, framing, the child's loop), for the in-process engine the Python around the
stages. Taken from the same calls as the stages, the difference between the two engines does
not depend on how fast the machine happened to decode during either run (two end-to-end
medians measured minutes apart differ by more than the boundary costs on a shared 2-core VM).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from ..debounce import Debouncer
from ..engine.base import Engine
from ..metadata import ModelMetadata
from .naive import eager_probabilities, naive_preprocess
from .snapshots import Snapshot
from .stats import summarize

STAGES = (
    "decode", "preprocess", "decode_preprocess", "inference", "debounce", "call_overhead",
    "end_to_end",
)  # fmt: skip


def _clock(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def measure_engine(
    engine: Engine,
    snapshot: Snapshot,
    runs: int,
    warmup: int,
    tick: Callable[[], None],
) -> dict[str, Any]:
    """Stage summaries of `runs` classifications (after `warmup`) of one snapshot."""
    debouncer = Debouncer.for_model(engine.metadata)
    samples: dict[str, list[float]] = {stage: [] for stage in STAGES}
    for index in range(warmup + runs):
        start = time.perf_counter()
        result = engine.classify(snapshot.data)
        mark = time.perf_counter()
        debouncer.update(result.probabilities, now=float(index))
        end = time.perf_counter()
        tick()
        if index < warmup:
            continue
        timings = result.timings
        samples["decode"].append(timings.decode_ms)
        samples["preprocess"].append(timings.preprocess_ms)
        samples["decode_preprocess"].append(timings.decode_ms + timings.preprocess_ms)
        samples["inference"].append(timings.inference_ms)
        staged = timings.decode_ms + timings.preprocess_ms + timings.inference_ms
        samples["call_overhead"].append((mark - start) * 1000.0 - staged)
        samples["debounce"].append((end - mark) * 1000.0)
        samples["end_to_end"].append((end - start) * 1000.0)
    return {stage: summarize(values).to_dict() for stage, values in samples.items()}


def measure_naive(
    module: Any,
    metadata: ModelMetadata,
    snapshot: Snapshot,
    *,
    runs: int,
    warmup: int,
    tick: Callable[[], None],
) -> tuple[dict[str, Any], npt.NDArray[np.float32]]:
    """The same stages for the naive pipeline; also returns its last probabilities."""
    debouncer = Debouncer.for_model(metadata)
    samples: dict[str, list[float]] = {"decode_preprocess": [], "inference": [], "end_to_end": []}
    probabilities: npt.NDArray[np.float32] = np.zeros(len(metadata.labels), np.float32)
    for index in range(warmup + runs):
        start = time.perf_counter()
        tensor = naive_preprocess(snapshot.data, metadata)
        mark = time.perf_counter()
        probabilities = eager_probabilities(module, tensor)
        inferred = time.perf_counter()
        frame = {n: float(v) for n, v in zip(metadata.label_names, probabilities, strict=True)}
        debouncer.update(frame, now=float(index))
        tick()
        if index < warmup:
            continue
        samples["decode_preprocess"].append((mark - start) * 1000.0)
        samples["inference"].append((inferred - mark) * 1000.0)
        samples["end_to_end"].append(_clock(start))
    return {stage: summarize(values).to_dict() for stage, values in samples.items()}, probabilities
