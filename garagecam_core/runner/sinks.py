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
from ..capture import write_atomic
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

    At most `max_files` snapshots are kept, the oldest deleted first. Only files this sink
    wrote are ever deleted: their names (`garagecam-debug_<camera>_<time>.jpg`) are recorded
    in a manifest in the folder, and a file is deleted only if the manifest lists it and its
    name has that form. Anything else in the folder (a user's photos) is never touched.
    """

    MANIFEST = ".garagecam-debug-snapshots.json"
    PREFIX = "garagecam-debug_"
    _NAME = re.compile(r"^garagecam-debug_[A-Za-z0-9_-]+_\d{8}-\d{6}_\d{3}(?:-\d+)?\.jpg$")

    def __init__(self, directory: Path, max_files: int = 100) -> None:
        self.directory = directory
        self.max_files = max_files
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = threading.Lock()  # writes run in worker threads

    def on_frame(self, camera: Camera, frame: Frame, transitions: Sequence[Transition]) -> None:
        if not transitions:
            return
        states = {label: str(state) for label, state in camera.debouncer.states.items()}
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(frame.timestamp))
        name = f"{self.PREFIX}{camera.id}_{stamp}_{int(frame.timestamp * 1000) % 1000:03d}.jpg"
        task = asyncio.get_running_loop().create_task(
            asyncio.to_thread(self._write, camera, frame, states, name)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _write(self, camera: Camera, frame: Frame, states: dict[str, str], name: str) -> None:
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
                self.directory.mkdir(parents=True, exist_ok=True)
                written = self._read_manifest()
                name = self._unused_name(name, written)
                with (self.directory / name).open("xb") as out:  # never through a planted link
                    out.write(jpeg)
                written.append(name)
                while len(written) > self.max_files:
                    (self.directory / written.pop(0)).unlink(missing_ok=True)
                self._write_manifest(written)
        except (OSError, GarageCamError) as err:
            _LOGGER.warning("Cannot write debug snapshot to %s: %s", self.directory, err)

    def _unused_name(self, name: str, written: list[str]) -> str:
        """Never overwrite a file: one we wrote in the same millisecond, or anyone's."""
        candidate, counter = name, 1
        while candidate in written or (self.directory / candidate).exists():
            candidate = name.replace(".jpg", f"-{counter}.jpg")
            counter += 1
        return candidate

    def _read_manifest(self) -> list[str]:
        """Names we wrote, oldest first; a missing or damaged manifest deletes nothing."""
        path = self.directory / self.MANIFEST
        try:
            names = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as err:
            _LOGGER.warning("Ignoring the debug snapshot manifest %s: %s", path, err)
            return []
        if not isinstance(names, list):
            return []
        return [n for n in names if isinstance(n, str) and self._NAME.match(n)]

    def _write_manifest(self, names: list[str]) -> None:
        # A temporary file of our own (created exclusively, a fresh name): a fixed name could be
        # a symlink someone planted, and writing it would overwrite the link's target.
        write_atomic(self.directory / self.MANIFEST, json.dumps(names, indent=0).encode())

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
