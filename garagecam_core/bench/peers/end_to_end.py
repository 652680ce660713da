"""GarageCam's engines against a LiteRT pipeline with the same preprocessing, bytes to states.

Both start from the same JPEG bytes and end with debounced states: GarageCam through its
engines' `classify` (in-process, and the worker child), the LiteRT pipeline through the
project's own `prepare` (the same decode and preprocessing) then the LiteRT interpreter.
Only the inference and the code around it differ. Times are taken in turns (`ROUNDS`), as
in the runtime comparison, so the per-round ratios pair like with like.
"""

from __future__ import annotations

import contextlib
import statistics
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ...debounce import Debouncer
from ...metadata import ModelMetadata
from ...preprocess import prepare
from ..runtimes import ROUNDS, split_runs
from ..snapshots import Snapshot
from ..stats import sample_ms, summarize
from .programs import LiteRTProgram, nhwc

IN_PROCESS = "garagecam-in-process"
WORKER = "garagecam-worker"
LITERT_PIPELINE = "litert-pipeline"


@contextlib.contextmanager
def _contenders(
    model: Path, tflite: Path, metadata: ModelMetadata, data: bytes, threads: int
) -> Iterator[dict[str, Callable[[], object]]]:
    from ...engine.local import LocalEngine
    from ...engine.worker import WorkerEngine

    names = metadata.label_names
    debouncers = {
        name: Debouncer.for_model(metadata) for name in (IN_PROCESS, WORKER, LITERT_PIPELINE)
    }
    frame = [0.0]  # debouncer clock: one "second" per call, as in the pipeline stages

    def engine_call(name: str, engine: Any) -> Callable[[], object]:
        def call() -> object:
            frame[0] += 1.0
            return debouncers[name].update(engine.classify(data).probabilities, now=frame[0])

        return call

    program = LiteRTProgram(tflite, threads)

    def litert_call() -> object:
        frame[0] += 1.0
        values = program.run(nhwc(prepare(data, metadata).tensor))
        probabilities = {n: float(v) for n, v in zip(names, values, strict=True)}
        return debouncers[LITERT_PIPELINE].update(probabilities, now=frame[0])

    with (
        LocalEngine(model, threads=threads) as local,
        WorkerEngine(model, threads=threads) as worker,
    ):
        yield {
            IN_PROCESS: engine_call(IN_PROCESS, local),
            WORKER: engine_call(WORKER, worker),
            LITERT_PIPELINE: litert_call,
        }


def measure_end_to_end(
    model: Path,
    tflite: Path,
    metadata: ModelMetadata,
    snapshot: Snapshot,
    *,
    threads: list[int],
    runs: int,
    warmup: int,
    tick: Callable[[], None],
) -> list[dict[str, Any]]:
    """Rows per pipeline and thread count: end-to-end summary and per-round medians."""
    rows = []
    shares = split_runs(runs, ROUNDS)
    for count in threads:
        with _contenders(model, tflite, metadata, snapshot.data, count) as calls:
            order = list(calls)
            samples: dict[str, list[list[float]]] = {name: [] for name in order}
            for index, share in enumerate(shares):
                shift = index % len(order)
                for name in order[shift:] + order[:shift]:
                    samples[name].append(sample_ms(calls[name], share, warmup, tick))
        for name in order:
            values = [v for turn in samples[name] for v in turn]
            rows.append(
                {
                    "pipeline": name,
                    "threads": count,
                    "image": snapshot.name,
                    "size": list(snapshot.size),
                    "end_to_end": summarize(values).to_dict(),
                    "round_medians": [round(statistics.median(t), 4) for t in samples[name]],
                }
            )
    return rows
