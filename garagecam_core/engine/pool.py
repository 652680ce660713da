"""One engine per model file, shared by every camera that runs it.

A worker process holds a model in memory (~48 MB with the garagecam-runtime binding): cameras
(and Home Assistant's config flows) that use the same file share one. Each user holds a
`PooledEngine` handle; the engine closes when the last handle is closed, or with the pool.
Home Assistant's integration and the Scrypted plugin both keep their local engines here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol, TypeVar

from ..errors import EngineClosedError, EngineError, GarageCamError, ModelNotFoundError
from ..metadata import ModelMetadata
from ..roi import Roi
from .base import AsyncEngine, Classification, ExecutorEngine
from .factory import EngineFactory, EngineKind, ModelConfig, default_engine_factory

_LOGGER = logging.getLogger(__name__)

_T = TypeVar("_T")


class RunBlocking(Protocol):
    """Runs a blocking call off the event loop: `asyncio.to_thread`, or Home Assistant's
    `hass.async_add_executor_job` (its executor, tracked by Home Assistant)."""

    def __call__(self, fn: Callable[..., _T], /, *args: Any) -> Awaitable[_T]: ...


class ModelKey(NamedTuple):
    """The model file as it is now (a file replaced under the same name is another model:
    it gets its own engine at the next open) and how it runs."""

    path: Path
    mtime_ns: int
    size: int
    engine: EngineKind
    threads: int
    timeout: float


def model_key(model: ModelConfig) -> ModelKey:
    """Blocking (stats the file); ModelNotFoundError when it cannot be read."""
    try:
        stat = model.path.stat()
        path = model.path.resolve()
    except FileNotFoundError as err:  # the words of the core's own model file check
        raise ModelNotFoundError(f"model file {model.path} does not exist") from err
    except OSError as err:
        raise ModelNotFoundError(f"cannot read model file {model.path}: {err.strerror}") from err
    return ModelKey(
        path, stat.st_mtime_ns, stat.st_size, model.engine, model.threads, model.timeout
    )


@dataclass(eq=False)
class _Slot:
    key: ModelKey
    opening: asyncio.Future[AsyncEngine] = field(init=False)
    users: int = 0
    #: closed (or closing): by its last user, or by `EnginePool.close()`
    retired: bool = False


class EnginePool:
    """Opens each model once (`factory`, run by `run_blocking`) and counts its users.

    Acquiring a model that is still loading waits for that load; other models load meanwhile.
    A load that fails leaves nothing behind (the next acquire tries again); one whose callers
    all gave up (cancelled) is closed as soon as it is done.
    """

    def __init__(
        self,
        factory: EngineFactory = default_engine_factory,
        run_blocking: RunBlocking = asyncio.to_thread,
    ) -> None:
        self._factory = factory
        self._run = run_blocking
        self._slots: dict[ModelKey, _Slot] = {}
        self._background: set[asyncio.Task[None]] = set()  # closes that outlive their caller

    def __len__(self) -> int:
        """Models open or loading."""
        return len(self._slots)

    async def acquire(self, model: ModelConfig) -> PooledEngine:
        """A handle on the model's engine, opened now unless another user has it (or is
        opening it). Raises the factory's GarageCamErrors; anything else it raises (a worker
        process that cannot start) as EngineError."""
        key = await self._run(model_key, model)
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = _Slot(key)
            # the file that was keyed, whatever a symlink on the way points to meanwhile
            opened = dataclasses.replace(model, path=key.path)
            slot.opening = asyncio.ensure_future(self._open(slot, opened))
        slot.users += 1
        try:
            # shielded: a caller that gives up does not abandon a half-started worker
            engine = await asyncio.shield(slot.opening)
            if slot.retired:
                raise EngineClosedError("the engine pool closed while the model was loading")
        except BaseException:
            await self._release(slot)
            raise
        return PooledEngine(self, slot, engine)

    async def close(self, *, wait: bool = True) -> None:
        """Close every engine, used or not (the process stops). `wait=False` does not wait
        for worker processes to exit: they end on their own once their pipe closes.
        Handles still held afterwards refuse to classify; closing them is harmless."""
        slots, self._slots = list(self._slots.values()), {}
        await asyncio.gather(*(self._retire(slot, wait) for slot in slots))
        if wait and self._background:
            await asyncio.gather(*self._background)

    async def _open(self, slot: _Slot, model: ModelConfig) -> AsyncEngine:
        try:
            return await self._run(self._factory, model)
        except Exception as err:
            if self._slots.get(slot.key) is slot:
                del self._slots[slot.key]  # nothing to share: the next acquire tries again
            if isinstance(err, GarageCamError):
                raise
            raise EngineError(
                f"cannot load {model.path.name}: {type(err).__name__}: {err}"
            ) from err

    async def _release(self, slot: _Slot) -> None:
        slot.users -= 1
        if slot.users > 0:
            return
        if self._slots.get(slot.key) is slot:
            del self._slots[slot.key]
        await self._retire(slot, wait=True)

    async def _retire(self, slot: _Slot, wait: bool) -> None:
        if slot.retired:
            return
        slot.retired = True
        if slot.opening.done():
            if _opened(slot):
                await _close(slot.opening.result(), wait)
            return
        # still loading (its callers gave up, or the pool closes): close it once it is open
        task = asyncio.ensure_future(self._close_when_open(slot.opening))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    @staticmethod
    async def _close_when_open(opening: asyncio.Future[AsyncEngine]) -> None:
        try:
            engine = await opening
        except Exception:  # the load failed: nothing to close (its callers got the error)
            return
        await _close(engine, wait=True)


def _opened(slot: _Slot) -> bool:
    opening = slot.opening
    return opening.done() and not opening.cancelled() and opening.exception() is None


async def _close(engine: AsyncEngine, wait: bool) -> None:
    """Close an engine nobody uses any more; a failure is logged, not raised: its users are
    gone, and the other engines still have to close."""
    try:
        if isinstance(engine, ExecutorEngine):
            await engine.close(wait=wait)
        else:
            await engine.close()
    except Exception:
        _LOGGER.warning("closing an inference engine failed", exc_info=True)


class PooledEngine:
    """One user's handle on a pooled engine, itself an `AsyncEngine`: `close()` releases the
    handle (once); the engine closes with its last handle."""

    def __init__(self, pool: EnginePool, slot: _Slot, engine: AsyncEngine) -> None:
        self._pool = pool
        self._slot = slot
        self.target = engine
        self._released = False

    @property
    def metadata(self) -> ModelMetadata:
        return self.target.metadata

    async def classify(self, image: bytes, roi: Roi | None = None) -> Classification:
        if self._released:
            raise EngineClosedError("the inference engine is closed")
        return await self.target.classify(image, roi)

    async def close(self) -> None:
        if not self._released:
            self._released = True
            await self._pool._release(self._slot)
