"""In-process ExecuTorch engine.

With the garagecam-runtime binding (the default where it is installed) inference releases
the GIL, so a thread of an event-loop process can run this engine without stalling the loop.
executorch's official runtime (the fallback) holds the GIL for the whole inference: there,
callers that own an event loop should use `WorkerEngine` (a child process) instead.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..bundle import LoadedProgram, load_program
from ..errors import EngineClosedError
from ..heads.program import HeadProgram
from ..metadata import ModelMetadata
from ..preprocess import DEFAULT_LIMITS, ImageLimits, prepare
from ..roi import Roi
from .base import Classification, ClosingEngine, Timings


class LocalEngine(ClosingEngine):
    """Loads and validates the bundle at construction (errors surface right away).

    `threads` sizes ExecuTorch's process-wide thread pool before the program loads;
    `runtime` picks "binding" or "official" (default: the binding when installed).
    """

    def __init__(
        self,
        model_path: str | Path,
        threads: int = 1,
        limits: ImageLimits = DEFAULT_LIMITS,
        runtime: str | None = None,
    ) -> None:
        self._program: LoadedProgram | HeadProgram | None = load_program(
            model_path, threads=threads, runtime=runtime
        )
        self._metadata = self._program.metadata
        self._limits = limits
        self.model_path = Path(model_path)

    @property
    def metadata(self) -> ModelMetadata:
        return self._metadata

    @property
    def runtime(self) -> str | None:
        """The runtime running the model ("binding" or "official"); None once closed."""
        return self._program.runtime if self._program else None

    def classify(self, image: bytes, roi: Roi | None = None) -> Classification:
        program = self._program
        if program is None:
            raise EngineClosedError("the inference engine is closed")
        start = time.perf_counter()
        prepared = prepare(image, self._metadata, roi, self._limits)
        inference_start = time.perf_counter()
        values, novelty = program.evaluate(prepared.tensor)
        done = time.perf_counter()
        return Classification(
            probabilities=self._metadata.named(values),
            novelty=novelty,
            timings=Timings(
                decode_ms=prepared.decode_ms,
                preprocess_ms=prepared.preprocess_ms,
                inference_ms=(done - inference_start) * 1000.0,
                total_ms=(done - start) * 1000.0,
            ),
            image_size=prepared.image_size,
        )

    def close(self) -> None:
        self._program = None
