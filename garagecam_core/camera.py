"""One camera's poll loop: snapshot -> engine -> debouncer -> listeners.

Polls start every `interval` seconds (fixed rate: a slow snapshot or a wait for the engine
does not push the next poll back). Failures never stop the loop (or other cameras): they are
counted, logged once when the camera becomes unreachable and once when it is back, and
retried with exponential backoff.

Availability is the age of the last good frame (taken when its snapshot was fetched) at the
moment it is read, and a timer reports the change the moment that age passes `max_age`, even
while a poll is blocked on a hung camera or a stopped worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .debounce import Debouncer, Transition
from .engine.base import AsyncEngine, Classification
from .errors import EngineError, GarageCamError, ImageError, SourceError
from .roi import Roi
from .sources import SnapshotSource

_LOGGER = logging.getLogger("garagecam.runner.camera")


@dataclass(frozen=True)
class Frame:
    """The last successfully analysed frame of a camera."""

    image: bytes
    classification: Classification
    timestamp: float  # Unix time the snapshot was fetched (its age decides availability)
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
        self.failures = 0  # consecutive
        self.last_error: str | None = None
        self._lost_logged = False
        self._bugs = 0  # unexpected errors in a row: the traceback of the first is logged
        self._reported_available = False  # what the listeners were last told
        self._unfamiliar_logged = False
        self._new_frame = asyncio.Event()  # wakes the freshness timer

    @property
    def available(self) -> bool:
        """True while the last good frame is at most `max_age` seconds old, right now."""
        return self.debouncer.available(self._clock())

    # --- one attempt ----------------------------------------------------------------------------

    async def poll_once(self) -> bool:
        """Fetch, classify and debounce one frame; True on success."""
        start = time.perf_counter()
        try:
            image = await self.source.fetch()
        except SourceError as err:
            self._failed(err, err.reason)
            return False
        fetched_at = self._clock()
        try:
            classification = await self.engine.classify(image, self.roi)
        except ImageError as err:
            self._failed(err, "bad_image")
            return False
        except EngineError as err:
            self._failed(err, "engine")
            return False
        transitions = self.debouncer.update(
            classification.probabilities, fetched_at, unfamiliar=classification.unfamiliar
        )
        self._report_familiarity()
        frame = Frame(image, classification, fetched_at, (time.perf_counter() - start) * 1000.0)
        self.last_frame = frame
        self._new_frame.set()
        self._succeeded()
        for listener in self.listeners:
            listener.on_frame(self, frame, transitions)
        return True

    def _report_familiarity(self) -> None:
        """One line when the frames become unfamiliar to the model, one when they no longer
        are: the user is told the camera needs labels without a line per frame."""
        unfamiliar = self.debouncer.unfamiliar
        if unfamiliar and not self._unfamiliar_logged:
            _LOGGER.warning(
                "Camera %s: the frames look unlike anything model %s was trained on; its "
                "states are unknown until it learns this camera from a few labelled frames "
                "(capture + studio, or 'garagecam train': docs/training.md)",
                self.id,
                self.model_name,
            )
        elif self._unfamiliar_logged and not unfamiliar:
            _LOGGER.info("Camera %s: the frames are familiar to the model again", self.id)
        self._unfamiliar_logged = unfamiliar

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

    def _unexpected(self, error: Exception) -> None:
        """A bug: its traceback once, then one line per repeat until a poll ends normally."""
        self.failures += 1
        self.last_error = f"unexpected error: {type(error).__name__}"
        self._bugs += 1
        if self._bugs == 1:
            _LOGGER.exception("Camera %s: unexpected error; retrying with backoff", self.id)
        else:
            _LOGGER.warning(
                "Camera %s: unexpected error again (%s: %s)", self.id, type(error).__name__, error
            )

    def _no_bug(self) -> None:
        if self._bugs:
            _LOGGER.info(
                "Camera %s: no unexpected error any more (after %d in a row)",
                self.id,
                self._bugs,
            )
            self._bugs = 0

    def _succeeded(self) -> None:
        if self._lost_logged:
            _LOGGER.info("Camera %s: frames are back after %d failures", self.id, self.failures)
        self._lost_logged = False
        self.failures = 0
        self.last_error = None
        # A frame that waited longer than max_age (stopped worker) is already stale.
        self.check_freshness()

    def check_freshness(self) -> bool:
        """Tell the listeners when availability (the age of the last frame) has changed."""
        fresh = self.available
        if fresh == self._reported_available:
            return fresh
        if not fresh:
            _LOGGER.warning(
                "Camera %s: no good frame for %.0f s: states unavailable",
                self.id,
                self.debouncer.max_age or 0,
            )
        self._reported_available = fresh
        for listener in self.listeners:
            listener.on_availability(self, fresh)
        return fresh

    def stale_in(self) -> float | None:
        """Seconds until the last good frame passes max_age; None if it never will / no frame."""
        last, max_age = self.debouncer.last_frame_time, self.debouncer.max_age
        if last is None or max_age is None:
            return None
        return last + max_age - self._clock()

    # --- the loop -------------------------------------------------------------------------------

    def next_delay(self) -> float:
        """The normal interval, doubled per consecutive failure up to max_backoff."""
        if self.failures == 0:
            return self.interval
        return float(min(self.interval * 2 ** min(self.failures - 1, 30), self.max_backoff))

    async def run(self, stop: asyncio.Event) -> None:
        timer = asyncio.create_task(self._freshness_timer(), name=f"camera-{self.id}-freshness")
        try:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    await self.poll_once()
                except Exception as err:  # a bug must not silently kill this camera's loop
                    self._unexpected(err)
                else:
                    self._no_bug()
                self.check_freshness()
                if self.failures:  # backoff counts from the failure
                    delay = self.next_delay()
                else:  # fixed rate: the next poll is due `interval` after this one started
                    delay = started + self.interval - time.monotonic()
                if delay > 0:
                    # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
                    # cancellation that lands as the awaited event fires (fixed in 3.12)
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(delay):
                            await stop.wait()
        finally:
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer

    async def _freshness_timer(self) -> None:
        """Report staleness when the last frame's age passes max_age, whatever the poll does."""
        while True:
            self.check_freshness()
            stale_in = self.stale_in() if self._reported_available else None
            self._new_frame.clear()
            # A few ms past the limit so that the frame is stale when we look again.
            timeout = None if stale_in is None else max(stale_in, 0.0) + 0.01
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow the stop's
            # cancellation when a frame arrives at that moment, and this loop never ends
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._new_frame.wait()
