"""Cameras before API requests at each engine: one classification at a time, by priority.

An engine runs one image at a time (one worker process, or one ExecuTorch thread), so every
caller queues somewhere. Without a gate the queue is first come, first served, and a flood
of `/v1/classify` requests starves the camera polls (30 large PNGs once delayed three cameras
by 27 s). The gate keeps two queues per engine: whenever the engine frees up, a waiting
camera frame goes next and an API request only when no camera waits. A camera therefore
waits at most for the one API request already running.
"""

from __future__ import annotations

import asyncio
from collections import deque
from enum import IntEnum

from ..engine.base import AsyncEngine, Classification
from ..metadata import ModelMetadata
from ..roi import Roi


class Priority(IntEnum):
    CAMERA = 0  # served first
    API = 1


class PriorityGate:
    """Wraps one engine; `view(priority)` gives the engine as one kind of caller sees it."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._busy = False
        self._queues: dict[Priority, deque[asyncio.Future[None]]] = {p: deque() for p in Priority}

    def view(self, priority: Priority) -> GatedEngine:
        return GatedEngine(self, priority)

    def waiting(self, priority: Priority) -> int:
        return sum(1 for future in self._queues[priority] if not future.done())

    async def classify(self, image: bytes, roi: Roi | None, priority: Priority) -> Classification:
        return (await self.classify_identified(image, roi, priority))[0]

    async def classify_identified(
        self, image: bytes, roi: Roi | None, priority: Priority
    ) -> tuple[Classification, ModelMetadata]:
        """The classification and the metadata of the engine that made it (a swap may put
        another engine in place right after)."""
        await self._acquire(priority)
        try:
            engine = self.engine
            return await engine.classify(image, roi), engine.metadata
        finally:
            self._release()

    async def swap(self, engine: AsyncEngine) -> AsyncEngine:
        """Put `engine` in place of the current one as soon as the classification running now
        (if any) ends; every later one, from any queue, runs on it. Returns the old engine,
        idle from then on (its owner closes it)."""
        await self._acquire(Priority.CAMERA)
        old, self.engine = self.engine, engine
        self._release()
        return old

    async def _acquire(self, priority: Priority) -> None:
        if not self._busy:
            self._busy = True
            return
        turn = asyncio.get_running_loop().create_future()
        self._queues[priority].append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._release()  # our turn came together with the cancellation: pass it on
            else:
                self._queues[priority].remove(turn)
            raise

    def _release(self) -> None:
        for priority in Priority:  # in priority order
            queue = self._queues[priority]
            while queue:
                turn = queue.popleft()
                if not turn.done():
                    turn.set_result(None)  # the engine passes straight to it, still busy
                    return
        self._busy = False


class GatedEngine:
    """An `AsyncEngine` whose classifications go through the gate at one priority.

    Closing a view does nothing: the runner closes the engine itself once.
    """

    def __init__(self, gate: PriorityGate, priority: Priority) -> None:
        self.gate = gate
        self.priority = priority

    @property
    def metadata(self) -> ModelMetadata:
        return self.gate.engine.metadata

    async def classify(self, image: bytes, roi: Roi | None = None) -> Classification:
        return await self.gate.classify(image, roi, self.priority)

    async def classify_identified(
        self, image: bytes, roi: Roi | None = None
    ) -> tuple[Classification, ModelMetadata]:
        return await self.gate.classify_identified(image, roi, self.priority)

    async def close(self) -> None:
        """The engine belongs to the runner, which closes it."""
