"""The engine interface: image bytes in, probabilities per label and timings out."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any, Protocol, Self

from ..errors import EngineClosedError, InvalidOutputError
from ..metadata import ModelMetadata
from ..roi import Roi

_LOGGER = logging.getLogger(__name__)

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
    #: how unlike the model's training frames this frame is (above 1: unfamiliar, the labels
    #: are not to be trusted); None for models that cannot tell (plain `.pte` bundles)
    novelty: float | None = None

    @property
    def unfamiliar(self) -> bool:
        return self.novelty is not None and self.novelty > 1.0

    def __post_init__(self) -> None:
        if self.novelty is not None and not self.novelty >= 0:  # also refuses NaN
            raise InvalidOutputError(f"novelty must be a number from 0, got {self.novelty!r}")
        # Every engine (in-process, worker, remote) builds its answer here: one gate keeps a
        # broken model's NaN from reaching the debouncer, the HTTP API or MQTT as a "frame".
        for label, value in self.probabilities.items():
            if not (PROBABILITY_MIN <= value <= PROBABILITY_MAX):  # also False for NaN
                raise InvalidOutputError(
                    f"the model answered {value!r} for {label!r}, not a probability from 0 "
                    "to 1: the model file or its metadata (mean/std) is broken"
                )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "probabilities": {k: round(v, 6) for k, v in self.probabilities.items()},
            "timings": self.timings.to_dict(),
            "image_size": list(self.image_size),
        }
        if self.novelty is not None:
            # inf (a black frame) is no JSON number: capped, still far above 1
            data["novelty"] = round(min(self.novelty, 1e6), 4)
            data["unfamiliar"] = self.unfamiliar
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Classification:
        width, height = data["image_size"]
        return cls(
            probabilities={str(k): float(v) for k, v in data["probabilities"].items()},
            timings=Timings.from_dict(data["timings"]),
            image_size=(int(width), int(height)),
            novelty=None if data.get("novelty") is None else float(data["novelty"]),
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


_Call = tuple["concurrent.futures.Future[Any]", Callable[..., Any], tuple[Any, ...]]


class _DaemonThreads:
    """A fixed set of daemonic threads running submitted calls in order.

    Not `concurrent.futures.ThreadPoolExecutor`: its threads are non-daemonic, so an idle
    one makes Home Assistant's shutdown wait for it ("Found 2 non-daemonic threads", +10 s)
    and one stuck in a request holds the interpreter at exit.
    """

    def __init__(self, size: int, name: str) -> None:
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._run, name=f"{name}_{index}", daemon=True)
            for index in range(size)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._calls.put((future, fn, args))
        return future

    def shutdown(self) -> None:
        """Let the threads end once the calls already queued are done (no waiting here)."""
        for _ in self._threads:
            self._calls.put(None)

    def _run(self) -> None:
        while (call := self._calls.get()) is not None:
            future, fn, args = call
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args)
            except BaseException as err:  # handed to the awaiting caller
                future.set_exception(err)
            else:
                future.set_result(result)


class ExecutorEngine:
    """Runs a synchronous engine in daemonic threads so the event loop keeps running.

    Use it around a `WorkerEngine`: the thread only waits on a pipe (GIL released) while
    the child process computes. Around a `LocalEngine` the event loop would stall for the
    whole `execute()` with the official runtime, which holds the GIL; the garagecam-runtime
    binding releases it (docs/runtime.md).

    `close()` never blocks the event loop and waits at most `close_timeout` seconds for a
    request in flight (a hung worker): the engine is closed by its thread when that request
    ends, and the daemonic thread never holds up the process exit.
    """

    def __init__(
        self, engine: Engine, max_concurrency: int = 1, close_timeout: float = 5.0
    ) -> None:
        self._engine = engine
        self._threads = _DaemonThreads(max_concurrency, "garagecam-engine")
        self._close_timeout = close_timeout
        self._closed = False

    @property
    def metadata(self) -> ModelMetadata:
        return self._engine.metadata

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def closed(self) -> bool:
        return self._closed

    async def classify(self, image: bytes, roi: Roi | None = None) -> Classification:
        if self._closed:
            raise EngineClosedError("the inference engine is closed")
        result: Classification = await asyncio.wrap_future(
            self._threads.submit(self._engine.classify, image, roi)
        )
        return result

    async def close(self, wait: bool = True) -> None:
        """Close the engine (safe to call twice); returns within `close_timeout` seconds.

        `wait=False` returns at once and lets the engine close in the background: for a
        process that is exiting anyway (a worker child also ends when its stdin closes).
        """
        if self._closed:
            return
        self._closed = True
        self._threads.shutdown()
        # Its own daemonic thread: not queued behind a request, never joined at exit.
        closing = _DaemonThreads(1, "garagecam-engine-close")
        done = closing.submit(self._engine.close)
        closing.shutdown()
        if not wait:
            return
        try:
            await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(done)), self._close_timeout)
        except TimeoutError:
            _LOGGER.warning(
                "the inference engine is still busy after %g s; it closes when its request ends",
                self._close_timeout,
            )
