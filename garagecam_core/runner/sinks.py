"""Where camera events go: MQTT topics, Prometheus metrics, debug snapshots on disk."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from pathlib import Path

from ..debounce import State, Transition
from ..discovery import (
    CameraInfo,
    camera_availability_message,
    discovery_messages,
    state_messages,
)
from ..errors import GarageCamError
from .camera import Camera, CameraListener, Frame
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
        ),
        Kind.STATE,
    )


class MqttSink(CameraListener):
    """Discovery at start-up, retained states on every frame, per-camera availability."""

    def __init__(self, publisher: MqttPublisher) -> None:
        self.publisher = publisher

    def announce(self, camera: Camera) -> None:
        info = CameraInfo(camera.id, camera.name, camera.engine.metadata)
        self.publisher.publish(discovery_messages(info, self.publisher.topics), Kind.CONFIG)
        self.on_availability(camera, camera.available)

    def on_frame(self, camera: Camera, frame: Frame, transitions: Sequence[Transition]) -> None:
        publish_camera_state(self.publisher, camera)

    def on_availability(self, camera: Camera, available: bool) -> None:
        self.publisher.publish(
            [camera_availability_message(self.publisher.topics, camera.id, available)],
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

    def on_availability(self, camera: Camera, available: bool) -> None:
        self.metrics.camera_up.set(camera.id, value=1.0 if available else 0.0)

    def on_failure(self, camera: Camera, error: GarageCamError, reason: str) -> None:
        self.metrics.failures.inc(camera.id, reason)


class DebugSnapshotSink(CameraListener):
    """Writes the annotated frame (ROI box, probabilities) on every state change.

    At most `max_files` JPEGs are kept; the oldest are deleted first.
    """

    def __init__(self, directory: Path, max_files: int = 100) -> None:
        self.directory = directory
        self.max_files = max_files
        self._tasks: set[asyncio.Task[None]] = set()

    def on_frame(self, camera: Camera, frame: Frame, transitions: Sequence[Transition]) -> None:
        if not transitions:
            return
        states = {label: str(state) for label, state in camera.debouncer.states.items()}
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(frame.timestamp))
        name = f"{camera.id}_{stamp}_{int(frame.timestamp * 1000) % 1000:03d}.jpg"
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
            self.directory.mkdir(parents=True, exist_ok=True)
            (self.directory / name).write_bytes(jpeg)
            files = sorted(self.directory.glob("*.jpg"), key=lambda p: p.stat().st_mtime)
            for old in files[: max(0, len(files) - self.max_files)]:
                old.unlink(missing_ok=True)
        except (OSError, GarageCamError) as err:
            _LOGGER.warning("Cannot write debug snapshot to %s: %s", self.directory, err)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
