"""Keeps each camera's frames worth labelling (`garagecam_core.capture`), off the camera loop.

The frame the camera already classified (its bytes, probabilities and the states after
debouncing) is offered to the camera's `FrameCapture` in a thread, as a task of its own: the
camera never waits for the disk. At most one write per camera runs at a time; a frame that
arrives while the previous one is still being written is not offered (counted as `busy`;
a state change it carried is still seen on the next frame, since the capture compares with
the last states it was given).

Capture never fails the camera: an unwritable folder or a full disk is logged once per
camera (one line, then nothing until a frame is written again, which is logged too) and
counted in
`garagecam_capture_refused_total{reason="error"}`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..camera import Camera, CameraListener, Frame
from ..capture import CaptureRules, FrameCapture
from ..debounce import Transition
from ..metadata import LabelSpec
from .metrics import RunnerMetrics

_LOGGER = logging.getLogger("garagecam.runner.capture")

KEPT_REASONS = ("state_change", "unsure", "background")


@dataclass
class _Folder:
    directory: Path
    labels: tuple[LabelSpec, ...]
    capture: FrameCapture | None = None  # opened on the first frame, in the thread
    writing: asyncio.Task[None] | None = None
    failing: bool = False


class CaptureSink(CameraListener):
    def __init__(self, metrics: RunnerMetrics, rules: CaptureRules) -> None:
        self.metrics = metrics
        self.rules = rules
        self._folders: dict[str, _Folder] = {}

    def add_camera(self, camera_id: str, directory: Path, labels: Sequence[LabelSpec]) -> None:
        self._folders[camera_id] = _Folder(directory, tuple(labels))

    def folder(self, camera_id: str) -> Path | None:
        folder = self._folders.get(camera_id)
        return folder.directory if folder else None

    def set_labels(self, camera_id: str, labels: Sequence[LabelSpec]) -> None:
        """The camera's model (or its thresholds) changed: judge "unsure" by the new ones."""
        folder = self._folders.get(camera_id)
        if folder is not None:
            folder.labels = tuple(labels)  # the next offer uses them

    def on_frame(self, camera: Camera, frame: Frame, transitions: Sequence[Transition]) -> None:
        folder = self._folders.get(camera.id)
        if folder is None:
            return
        if folder.writing is not None and not folder.writing.done():
            self.metrics.capture_refused.inc(camera.id, "busy")
            return
        states = {label: str(state) for label, state in camera.debouncer.states.items()}
        folder.writing = asyncio.get_running_loop().create_task(
            self._offer(camera.id, folder, frame, states), name=f"capture-{camera.id}"
        )

    async def _offer(
        self, camera_id: str, folder: _Folder, frame: Frame, states: dict[str, str]
    ) -> None:
        try:
            outcomes = await asyncio.to_thread(
                self._offer_blocking, folder, frame.image, frame.classification.probabilities,
                states,
            )  # fmt: skip
        except Exception as err:  # never the camera's problem
            self.metrics.capture_refused.inc(camera_id, "error")
            if not folder.failing:
                folder.failing = True
                if isinstance(err, OSError | ValueError):  # unwritable, full, bad manifest
                    _LOGGER.warning(
                        "Camera %s: cannot keep frames for labelling in %s (%s); the camera "
                        "runs on, capture retries with each frame",
                        camera_id,
                        folder.directory,
                        getattr(err, "strerror", None) or err,
                    )
                else:  # a bug: its traceback, once
                    _LOGGER.exception("Camera %s: unexpected error in capture", camera_id)
            return
        if folder.failing and any(outcome in KEPT_REASONS for outcome in outcomes):
            # Only a frame written proves the folder works again: a frame not worth keeping
            # wrote nothing, and while the disk stays full the warning must not flap.
            folder.failing = False
            _LOGGER.info("Camera %s: frames for labelling are kept again", camera_id)
        for outcome, count in outcomes.items():
            if outcome in KEPT_REASONS:
                self.metrics.captured.inc(camera_id, outcome, amount=count)
            elif outcome == "full":
                self.metrics.capture_refused.inc(camera_id, "full", amount=count)
        if folder.capture is not None:
            self.metrics.capture_bytes.set(camera_id, value=folder.capture.total_bytes)

    def _offer_blocking(
        self,
        folder: _Folder,
        image: bytes,
        probabilities: Mapping[str, float],
        states: Mapping[str, str],
    ) -> dict[str, int]:
        """Offer one frame (opening the folder first if needed); what happened to it."""
        if folder.capture is None:
            folder.capture = FrameCapture(folder.directory, folder.labels, self.rules)
        capture = folder.capture
        capture.labels = folder.labels
        before = dict(capture.outcomes)
        capture.offer(image, probabilities, states)
        return {k: v - before.get(k, 0) for k, v in capture.outcomes.items() if v != before.get(k)}

    async def drain(self) -> None:
        tasks = [f.writing for f in self._folders.values() if f.writing is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
