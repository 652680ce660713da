"""Where camera events go: MQTT topics, Prometheus metrics, debug snapshots on disk."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..camera import Camera, CameraListener, Frame
from ..dataset import Bounds, DatasetFolder, read_no_follow
from ..debounce import State, Transition
from ..discovery import (
    CameraInfo,
    camera_availability_message,
    discovery_messages,
    state_messages,
)
from ..errors import GarageCamError
from .metrics import RunnerMetrics
from .mqtt import Kind, MqttPublisher

_LOGGER = logging.getLogger("garagecam.runner.sinks")

_STATE_VALUE = {State.ON: 1.0, State.OFF: 0.0, State.UNKNOWN: -1.0}


def publish_camera_state(publisher: MqttPublisher, camera: Camera) -> None:
    frame = camera.last_frame
    publisher.publish(
        state_messages(
            publisher.topics,
            camera.id,
            {label: str(state) for label, state in camera.debouncer.states.items()},
            camera.debouncer.probabilities,
            frame.classification.timings.inference_ms if frame else None,
            unfamiliar=camera.debouncer.unfamiliar,
        ),
        Kind.STATE,
    )


class MqttSink(CameraListener):
    """Discovery at start-up, retained states when they change, per-camera availability.

    A camera's availability goes through its own connection (`availability`, whose last
    will is that topic) when one is given, else through the bridge connection.
    """

    def __init__(
        self, publisher: MqttPublisher, availability: Mapping[str, MqttPublisher] | None = None
    ) -> None:
        self.publisher = publisher
        self.availability = dict(availability or {})

    def announce(self, camera: Camera) -> None:
        info = CameraInfo(camera.id, camera.name, camera.engine.metadata)
        self.publisher.publish(discovery_messages(info, self.publisher.topics), Kind.CONFIG)
        self.on_availability(camera, camera.available)

    def on_frame(self, camera: Camera, frame: Frame, transitions: Sequence[Transition]) -> None:
        publish_camera_state(self.publisher, camera)

    def on_availability(self, camera: Camera, available: bool) -> None:
        publisher = self.availability.get(camera.id, self.publisher)
        publisher.publish(
            [camera_availability_message(publisher.topics, camera.id, available)],
            Kind.AVAILABILITY,
        )


class MetricsSink(CameraListener):
    def __init__(self, metrics: RunnerMetrics) -> None:
        self.metrics = metrics

    def on_frame(self, camera: Camera, frame: Frame, transitions: Sequence[Transition]) -> None:
        metrics = self.metrics
        metrics.frames.inc(camera.id)
        metrics.inference_seconds.observe(
            camera.model_name, value=frame.classification.timings.total_ms / 1000.0
        )
        metrics.end_to_end_seconds.observe(camera.id, value=frame.end_to_end_ms / 1000.0)
        metrics.last_frame.set(camera.id, value=frame.timestamp)
        for label, probability in frame.classification.probabilities.items():
            metrics.probability.set(camera.id, label, value=probability)
        for label, state in camera.debouncer.states.items():
            metrics.state.set(camera.id, label, value=_STATE_VALUE[state])
        if frame.classification.novelty is not None:
            metrics.novelty.set(camera.id, value=frame.classification.novelty)
        if frame.classification.unfamiliar:
            metrics.unfamiliar.inc(camera.id)

    def on_availability(self, camera: Camera, available: bool) -> None:
        self.metrics.camera_up.set(camera.id, value=1.0 if available else 0.0)

    def on_failure(self, camera: Camera, error: GarageCamError, reason: str) -> None:
        self.metrics.failures.inc(camera.id, reason)


class DebugSnapshotSink(CameraListener):
    """Writes the annotated frame (ROI box, probabilities) on every state change.

    The folder is a dataset folder (`garagecam_core.dataset.DatasetFolder`) with its own
    manifest, `.garagecam-debug-snapshots.jsonl`: at most `max_files` snapshots are kept, the
    oldest deleted first, and only files the manifest lists and that are still the size
    written are ever deleted. Anything else in the folder (a user's photos) is never
    touched. The list an older release kept (`.garagecam-debug-snapshots.json`, a JSON list
    of names) is taken over once: the names of its form become the oldest entries.
    """

    MANIFEST = ".garagecam-debug-snapshots.jsonl"
    LEGACY_MANIFEST = ".garagecam-debug-snapshots.json"
    PREFIX = "garagecam-debug_"
    _LEGACY_NAME = re.compile(r"^garagecam-debug_[A-Za-z0-9_-]+_\d{8}-\d{6}_\d{3}(?:-\d+)?\.jpg$")

    def __init__(self, directory: Path, max_files: int = 100) -> None:
        self.directory = directory
        self.max_files = max_files
        self.folder = DatasetFolder(directory, manifest=self.MANIFEST, images="")
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = threading.Lock()  # writes run in worker threads

    def on_frame(self, camera: Camera, frame: Frame, transitions: Sequence[Transition]) -> None:
        if not transitions:
            return
        states = {label: str(state) for label, state in camera.debouncer.states.items()}
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(frame.timestamp))
        stem = f"{self.PREFIX}{camera.id}_{stamp}_{int(frame.timestamp * 1000) % 1000:03d}"
        task = asyncio.get_running_loop().create_task(
            asyncio.to_thread(self._write, camera, frame, states, stem)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _write(self, camera: Camera, frame: Frame, states: dict[str, str], stem: str) -> None:
        from ..debug_frame import render_debug_frame

        try:
            jpeg = render_debug_frame(
                frame.image,
                roi=camera.roi,
                probabilities=frame.classification.probabilities,
                states=states,
                title=camera.name,
            )
            with self._lock:
                self._take_over_legacy_list()
                fields = {"camera": camera.id, "time": round(frame.timestamp, 3)}
                added = self.folder.add_frame(jpeg, stem, fields, Bounds(self.max_files))
            if added.refused is not None:
                _LOGGER.warning("Debug snapshot not written to %s: %s", self.directory,
                                added.refused)  # fmt: skip
        except (OSError, GarageCamError) as err:
            _LOGGER.warning("Cannot write debug snapshot to %s: %s", self.directory, err)

    def _take_over_legacy_list(self) -> None:
        """The names an older release listed (a damaged list: nothing taken over)."""
        legacy = self.directory / self.LEGACY_MANIFEST
        try:
            names = json.loads(read_no_follow(self.directory, self.LEGACY_MANIFEST))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as err:
            _LOGGER.warning("Ignoring the old debug snapshot list %s: %s", legacy, err)
            names = []
        if isinstance(names, list):
            self.folder.adopt([n for n in names if isinstance(n, str)
                               and self._LEGACY_NAME.match(n)])  # fmt: skip
        legacy.unlink(missing_ok=True)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
