"""One camera's poll loop: snapshot -> engine -> debouncer -> listeners.

Failures never stop the loop (or other cameras): they are counted, logged once when the
camera becomes unreachable and once when it is back, and retried with exponential backoff.
After `max_age` seconds without a good frame the camera becomes unavailable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..debounce import Debouncer, Transition
from ..engine.base import AsyncEngine, Classification
from ..errors import EngineError, GarageCamError, ImageError, SourceError
from ..roi import Roi
from .sources import SnapshotSource

_LOGGER = logging.getLogger("garagecam.runner.camera")


@dataclass(frozen=True)
class Frame:
    """The last successfully analysed frame of a camera."""

    image: bytes
    classification: Classification
    timestamp: float  # Unix time
    end_to_end_ms: float


class CameraListener:
    """Receives a camera's events; override what you need (runs on the event loop)."""

    def on_frame(self, camera: Camera, frame: Frame, transitions: Sequence[Transition]) -> None:
        """A frame was classified and the debouncer updated."""

    def on_availability(self, camera: Camera, available: bool) -> None:
        """The camera's states became (un)available."""

    def on_failure(self, camera: Camera, error: GarageCamError, reason: str) -> None:
        """An attempt to get or classify a frame failed."""


class Camera:
    def __init__(
        self,
        camera_id: str,
        name: str,
        source: SnapshotSource,
        engine: AsyncEngine,
        debouncer: Debouncer,
        *,
        model_name: str,
        interval: float,
        roi: Roi | None = None,
        max_backoff: float = 300.0,
        listeners: Sequence[CameraListener] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.id = camera_id
        self.name = name
        self.source = source
        self.engine = engine
        self.debouncer = debouncer
        self.model_name = model_name
        self.interval = interval
        self.roi = roi
        self.max_backoff = max(max_backoff, interval)
        self.listeners = list(listeners)
        self._clock = clock
        self.last_frame: Frame | None = None
        self.available = False
        self.failures = 0  # consecutive
        self.last_error: str | None = None
        self._lost_logged = False

    # --- one attempt ----------------------------------------------------------------------------

    async def poll_once(self) -> bool:
        """Fetch, classify and debounce one frame; True on success."""
        start = time.perf_counter()
        try:
            image = await self.source.fetch()
        except SourceError as err:
            self._failed(err, err.reason)
            return False
        try:
            classification = await self.engine.classify(image, self.roi)
        except ImageError as err:
            self._failed(err, "bad_image")
            return False
        except EngineError as err:
            self._failed(err, "engine")
            return False
        now = self._clock()
        transitions = self.debouncer.update(classification.probabilities, now)
        frame = Frame(image, classification, now, (time.perf_counter() - start) * 1000.0)
        self.last_frame = frame
        self._succeeded()
        for listener in self.listeners:
            listener.on_frame(self, frame, transitions)
        return True

    def _failed(self, error: GarageCamError, reason: str) -> None:
        self.failures += 1
        self.last_error = str(error)
        if not self._lost_logged:
            self._lost_logged = True
            _LOGGER.warning(
                "Camera %s: no frame (%s: %s); retrying with backoff", self.id, reason, error
            )
        else:
            _LOGGER.debug("Camera %s: still failing (%s: %s)", self.id, reason, error)
        for listener in self.listeners:
            listener.on_failure(self, error, reason)

    def _succeeded(self) -> None:
        if self._lost_logged:
            _LOGGER.info("Camera %s: frames are back after %d failures", self.id, self.failures)
        self._lost_logged = False
        self.failures = 0
        self.last_error = None
        self._set_available(True)

    def check_freshness(self) -> bool:
        """Mark the camera unavailable once its last good frame is older than max_age."""
        fresh = self.debouncer.available(self._clock())
        if self.available and not fresh:
            _LOGGER.warning(
                "Camera %s: no good frame for %.0f s: states unavailable",
                self.id,
                self.debouncer.max_age or 0,
            )
        self._set_available(fresh)
        return fresh

    def _set_available(self, available: bool) -> None:
        if available != self.available:
            self.available = available
            for listener in self.listeners:
                listener.on_availability(self, available)

    # --- the loop -------------------------------------------------------------------------------

    def next_delay(self) -> float:
        """The normal interval, doubled per consecutive failure up to max_backoff."""
        if self.failures == 0:
            return self.interval
        return float(min(self.interval * 2 ** min(self.failures - 1, 30), self.max_backoff))

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.poll_once()
            except Exception:  # a bug must not silently kill this camera's loop
                _LOGGER.exception("Camera %s: unexpected error", self.id)
                self.failures += 1
            self.check_freshness()
            await self._sleep(stop, self.next_delay())

    async def _sleep(self, stop: asyncio.Event, delay: float) -> None:
        """Wait `delay` (or until stop), waking up when the frames go stale meanwhile."""
        deadline = time.monotonic() + delay
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            step = remaining
            if self.available and self.debouncer.max_age is not None and self.last_frame:
                stale_in = self.last_frame.timestamp + self.debouncer.max_age - self._clock()
                step = min(step, max(stale_in, 0.0) + 0.05)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=step)
            self.check_freshness()
