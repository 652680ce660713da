"""The engine interface: image bytes in, probabilities per label and timings out."""

from __future__ import annotations

import asyncio
import concurrent.futures
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any, Protocol, Self

from ..errors import InvalidOutputError
from ..metadata import ModelMetadata
from ..roi import Roi

#: float32 sigmoid/softmax outputs may round a hair past 0 or 1; anything further is not a
#: probability (logits from a model exported without its activation, NaN, inf)
PROBABILITY_MIN = -1e-4
PROBABILITY_MAX = 1 + 1e-4


@dataclass(frozen=True)
class Timings:
    """Milliseconds spent in each stage of one classification."""

    decode_ms: float
    preprocess_ms: float
    inference_ms: float
    total_ms: float

    def to_dict(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Timings:
        return cls(
            decode_ms=float(data["decode_ms"]),
            preprocess_ms=float(data["preprocess_ms"]),
            inference_ms=float(data["inference_ms"]),
            total_ms=float(data["total_ms"]),
        )


@dataclass(frozen=True)
class Classification:
    """Result of classifying one image."""

    probabilities: dict[str, float]
    timings: Timings
    #: size (width, height) of the decoded source frame, before any crop
    image_size: tuple[int, int]

    def __post_init__(self) -> None:
        # Every engine (in-process, worker, remote) builds its answer here: one gate keeps a
        # broken model's NaN from reaching the debouncer, the HTTP API or MQTT as a "frame".
        for label, value in self.probabilities.items():
            if not (PROBABILITY_MIN <= value <= PROBABILITY_MAX):  # also False for NaN
                raise InvalidOutputError(
                    f"the model answered {value!r} for {label!r}, not a probability from 0 "
                    "to 1: the model file or its metadata (mean/std) is broken"
                )

    def to_dict(self) -> dict[str, Any]:
        return {
            "probabilities": {k: round(v, 6) for k, v in self.probabilities.items()},
            "timings": self.timings.to_dict(),
            "image_size": list(self.image_size),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Classification:
        width, height = data["image_size"]
        return cls(
            probabilities={str(k): float(v) for k, v in data["probabilities"].items()},
            timings=Timings.from_dict(data["timings"]),
            image_size=(int(width), int(height)),
        )


class Engine(Protocol):
    """Synchronous engine (CLI, worker process, benchmarks)."""

    @property
    def metadata(self) -> ModelMetadata: ...

    def classify(self, image: bytes, roi: Roi | None = None) -> Classification: ...

    def close(self) -> None: ...


class ClosingEngine:
    """`with engine:` closes it on the way out (the sync engines' shared context manager)."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncEngine(Protocol):
    """Engine for callers that own an event loop (runner, Home Assistant)."""

    @property
    def metadata(self) -> ModelMetadata: ...

    async def classify(self, image: bytes, roi: Roi | None = None) -> Classification: ...

    async def close(self) -> None: ...


class ExecutorEngine:
    """Runs a synchronous engine in a thread so the event loop keeps running.

    Use it around a `WorkerEngine`: the thread only waits on a pipe (GIL released) while
    the child process computes. Around a `LocalEngine` the event loop would stall for the
    whole `execute()` because ExecuTorch holds the GIL (see docs/design.md).
    """

    def __init__(self, engine: Engine, max_concurrency: int = 1) -> None:
        self._engine = engine
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_concurrency, thread_name_prefix="garagecam-engine"
        )

    @property
    def metadata(self) -> ModelMetadata:
        return self._engine.metadata

    @property
    def engine(self) -> Engine:
        return self._engine

    async def classify(self, image: bytes, roi: Roi | None = None) -> Classification:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._engine.classify, image, roi)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._engine.close)
        self._pool.shutdown(wait=True)
