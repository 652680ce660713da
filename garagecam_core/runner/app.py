"""Wires the runner together: models, cameras, MQTT, HTTP; graceful start and stop."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp

from ..camera import Camera, CameraListener
from ..capture import labels_with_policies
from ..debounce import Debouncer, LabelPolicy, PolicyError, merge_policies
from ..discovery import Topics
from ..engine.base import AsyncEngine
from ..engine.factory import EngineFactory, default_engine_factory
from ..errors import ConfigError, GarageCamError
from ..metadata import ModelMetadata
from ..sources import FileSource, HttpSnapshotSource, OnvifSource, SnapshotSource
from .capture import CaptureSink
from .config import (
    CameraConfig,
    FileSourceConfig,
    HttpSourceConfig,
    OnvifSourceConfig,
    RunnerConfig,
)
from .http import ApiContext, HttpServer
from .metrics import RunnerMetrics
from .mqtt import Kind, MqttPublisher
from .priority import Priority, PriorityGate
from .sinks import DebugSnapshotSink, MetricsSink, MqttSink

if TYPE_CHECKING:
    from ..studio.state import Studio

_LOGGER = logging.getLogger("garagecam.runner")


def label_policies(
    camera: CameraConfig, metadata: ModelMetadata, where: str
) -> dict[str, LabelPolicy]:
    """The model's thresholds with the camera's per-label overrides applied."""
    try:
        return merge_policies(metadata, camera.labels, camera.confirm_frames)
    except PolicyError as err:
        key = f"{where}.labels" + (f".{err.label}" if err.label else "")
        raise ConfigError(f"{key}: {err.detail}") from err


class Runner:
    """The standalone runner. `await start()`, then `await run(stop_event)`, then `stop()`."""

    def __init__(
        self,
        config: RunnerConfig,
        *,
        engine_factory: EngineFactory = default_engine_factory,
        extra_listeners: Sequence[CameraListener] = (),
    ) -> None:
        self.config = config
        self._engine_factory = engine_factory
        self._extra_listeners = list(extra_listeners)
        self.metrics = RunnerMetrics()
        self.engines: dict[str, AsyncEngine] = {}
        self.gates: dict[str, PriorityGate] = {}  # cameras first, then API requests
        self.cameras: dict[str, Camera] = {}
        self.mqtt: MqttPublisher | None = None
        self.camera_mqtt: dict[str, MqttPublisher] = {}  # availability, with its own will
        self.http: HttpServer | None = None
        self._mqtt_sink: MqttSink | None = None
        self._debug_sink: DebugSnapshotSink | None = None
        self.capture: CaptureSink | None = None
        self.studio: Studio | None = None
        self._swapping = asyncio.Lock()  # one model replacement at a time
        self._session: aiohttp.ClientSession | None = None
        self._started = False

    # --- start ------------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            await self._load_models()
            self._session = aiohttp.ClientSession()
            self._build_cameras()
            if self.config.mqtt is not None:
                self._start_mqtt()
            if self.config.http is not None:
                http = self.config.http
                context = ApiContext(
                    engines={n: g.view(Priority.API) for n, g in self.gates.items()},
                    cameras=self.cameras,
                    metrics=self.metrics,
                    health=self.health_problems,
                    token=http.token,
                    max_body_bytes=http.max_body_bytes,
                    max_inflight_bytes=http.max_inflight_bytes or http.max_body_bytes,
                    max_queued_requests=http.max_queued_requests,
                    open_metrics=http.open_metrics,
                    ingress_gateway=http.ingress_gateway,
                )
                if self.config.studio is not None:
                    self.studio = await self._start_studio()
                self.http = HttpServer(context, http.host, http.port, studio=self.studio)
                await self.http.start()
                if self.studio is not None:
                    _LOGGER.info(
                        "Studio pages on http://%s:%d/studio/ (%s%s)",
                        http.host,
                        self.http.port,
                        "API token required" if http.token else "no token: this machine only",
                        f"; Home Assistant ingress from {http.ingress_gateway}"
                        if http.ingress_gateway
                        else "",
                    )
        except BaseException:
            await self.stop()
            raise
        self._started = True

    async def _load_models(self) -> None:
        for name, model in self.config.models.items():
            _LOGGER.info("Loading model %s from %s (%s engine)", name, model.path, model.engine)
            started = time.perf_counter()
            engine = await asyncio.to_thread(self._engine_factory, model)
            self.engines[name] = engine
            self.gates[name] = PriorityGate(engine)
            meta = engine.metadata
            _LOGGER.info(
                "Model %s ready in %.1f s: %s v%s, labels %s, input %dx%d",
                name,
                time.perf_counter() - started,
                meta.name,
                meta.version,
                ", ".join(meta.label_names),
                meta.input_width,
                meta.input_height,
            )
            self._model_info(name, engine, present=True)

    def _model_info(self, name: str, engine: AsyncEngine, *, present: bool) -> None:
        meta = engine.metadata
        series = (name, meta.name, meta.version, ",".join(meta.label_names))
        kind = self.config.models[name].engine
        if present:
            self.metrics.model_info.set(*series, kind, value=1)
        else:
            self.metrics.model_info.remove(*series, kind)

    def _make_source(self, camera: CameraConfig) -> SnapshotSource:
        assert self._session is not None
        source = camera.source
        if isinstance(source, HttpSourceConfig):
            return HttpSnapshotSource(
                self._session,
                source.url,
                username=source.username,
                password=source.password,
                auth=source.auth,
                timeout=source.timeout,
                max_bytes=source.max_bytes,
                verify_ssl=source.verify_ssl,
            )
        if isinstance(source, OnvifSourceConfig):
            return OnvifSource(
                self._session,
                source.host,
                source.port,
                username=source.username,
                password=source.password,
                profile=source.profile,
                auth=source.auth,
                timeout=source.timeout,
                max_bytes=source.max_bytes,
            )
        if isinstance(source, FileSourceConfig):
            return FileSource(source.path)
        raise ConfigError(f"camera {camera.id}: unsupported source {source!r}")

    def _build_cameras(self) -> None:
        listeners: list[CameraListener] = [MetricsSink(self.metrics)]
        if self.config.debug_snapshots is not None:
            debug = self.config.debug_snapshots
            self._debug_sink = DebugSnapshotSink(debug.directory, debug.max_files)
            listeners.append(self._debug_sink)
        capture = self.config.capture
        if capture is not None and any(camera.capture for camera in self.config.cameras):
            self.capture = CaptureSink(self.metrics, capture.rules())
            listeners.append(self.capture)  # after debouncing: it keeps the states too
        listeners += self._extra_listeners
        for index, camera in enumerate(self.config.cameras):
            engine = self.gates[camera.model].view(Priority.CAMERA)
            policies = label_policies(camera, engine.metadata, f"cameras[{index}]")
            debouncer = Debouncer(policies, max_age=camera.effective_max_age, name=camera.id)
            if self.capture is not None and capture is not None and camera.capture:
                folder = capture.folder(camera.id)
                labels = labels_with_policies(engine.metadata.labels, policies)
                self.capture.add_camera(camera.id, folder, labels)
                _LOGGER.info("Camera %s: frames worth labelling are kept in %s", camera.id, folder)
            self.cameras[camera.id] = Camera(
                camera.id,
                camera.name,
                self._make_source(camera),
                engine,
                debouncer,
                model_name=camera.model,
                interval=camera.interval,
                roi=camera.roi,
                max_backoff=camera.max_backoff,
                listeners=listeners,
            )
            _LOGGER.info(
                "Camera %s (%s): %s every %g s, model %s",
                camera.id,
                camera.name,
                self.cameras[camera.id].source.description,
                camera.interval,
                camera.model,
            )

    def _start_mqtt(self) -> None:
        config = self.config.mqtt
        assert config is not None
        topics = Topics(config.discovery_prefix, config.base_topic)
        client_id = config.client_id or f"garagecam-{socket.gethostname()}-{config.base_topic}"
        publisher = MqttPublisher(config, topics, client_id=client_id)
        publisher.add_connection_listener(
            lambda connected: self.metrics.mqtt_connected.set(value=1.0 if connected else 0.0)
        )
        self.metrics.mqtt_connected.set(value=0.0)
        # One connection per camera whose last will is its availability topic: a crash
        # turns each camera offline, not only the bridge (see mqtt.py).
        self.camera_mqtt = {
            camera_id: MqttPublisher(
                config,
                topics,
                client_id=f"{client_id}-{camera_id}",
                will_topic=topics.camera_availability(camera_id),
                bridge=False,
            )
            for camera_id in self.cameras
        }
        sink = MqttSink(publisher, self.camera_mqtt)
        for camera in self.cameras.values():
            camera.listeners.append(sink)
            sink.announce(camera)
        self.mqtt, self._mqtt_sink = publisher, sink
        publisher.start()
        for camera_publisher in self.camera_mqtt.values():
            camera_publisher.start()

    # --- the studio and model replacement --------------------------------------------------

    async def _start_studio(self) -> Studio | None:
        """The studio for the configured dataset and model; a studio that cannot start is
        logged and left out (the cameras and the API matter more)."""
        from ..studio.state import Studio, default_deploy_target

        config = self.config.studio
        assert config is not None
        model = self.config.models[config.model]
        studio = None
        try:
            capture, camera = self.capture, config.camera
            captured = capture.folder(camera) if capture and camera else None
            if config.dataset == captured:  # the camera's capture folder: made here
                await asyncio.to_thread(config.dataset.mkdir, parents=True, exist_ok=True)
            studio = Studio(
                config.dataset,
                model.path,
                deploy_to=default_deploy_target(model.path, None),  # never the bundled demo
                check_model=lambda candidate: self.check_replacement(model.name, candidate),
                on_model_change=lambda target: self.replace_model(model.name, target),
                no_target=_demo_not_replaced(config.camera, model.name),
            )
            await studio.start()
        except (GarageCamError, OSError) as err:
            _LOGGER.error("Studio not started: %s", err)
            if studio is not None:
                await studio.close()
            return None
        users = [c.id for c in self.config.cameras if c.model == model.name]
        _LOGGER.info(
            "Studio on %s for model %s (cameras using it: %s; and API clients asking for it)",
            config.dataset,
            model.name,
            ", ".join(users) or "none",
        )
        return studio

    def _policies_for(
        self, name: str, metadata: ModelMetadata
    ) -> dict[str, dict[str, LabelPolicy]]:
        """Each camera of model `name`: its label policies under `metadata`; ConfigError when
        `metadata` cannot replace the running model."""
        current = self.engines[name].metadata
        if sorted(metadata.label_names) != sorted(current.label_names):
            raise ConfigError(
                f"model {name}: the new model's labels ({', '.join(metadata.label_names)}) are "
                f"not the cameras' labels ({', '.join(current.label_names)}); the current model "
                "keeps running"
            )
        return {
            camera.id: label_policies(camera, metadata, f"cameras[{index}]")
            for index, camera in enumerate(self.config.cameras)
            if camera.model == name
        }

    async def check_replacement(self, name: str, candidate: Path) -> None:
        """Refuse (ConfigError) a file whose labels do not fit the cameras of model `name`."""
        from ..bundle import read_metadata

        metadata = await asyncio.to_thread(read_metadata, candidate)
        try:
            self._policies_for(name, metadata)
        except ConfigError:
            self.metrics.model_swaps.inc(name, "refused")
            raise

    async def replace_model(self, name: str, path: Path) -> None:
        """Run model `name` from `path` from now on, without a restart.

        The new engine is loaded and its labels checked first; on any error it is closed and
        the current one keeps running. Then it takes the old engine's place at the priority
        gate once the classification in flight is done, so every camera sharing the model
        (and the API) uses it from its next frame; the old engine is closed.
        """
        async with self._swapping:
            model = dataclasses.replace(self.config.models[name], path=path)
            started = time.perf_counter()
            try:
                engine = await asyncio.to_thread(self._engine_factory, model)
            except GarageCamError:
                self.metrics.model_swaps.inc(name, "failed")
                raise
            try:
                policies = self._policies_for(name, engine.metadata)
            except BaseException:
                await engine.close()
                self.metrics.model_swaps.inc(name, "refused")
                raise
            old = await self.gates[name].swap(engine)
            self._model_info(name, old, present=False)
            self.engines[name] = engine
            self._model_info(name, engine, present=True)
            for camera_id, camera_policies in policies.items():
                camera = self.cameras[camera_id]
                for label, policy in camera_policies.items():
                    camera.debouncer.set_policy(label, policy)
                if self.capture is not None:
                    labels = labels_with_policies(engine.metadata.labels, camera_policies)
                    self.capture.set_labels(camera_id, labels)
                if self._mqtt_sink is not None:
                    self._mqtt_sink.announce(camera)  # the device's model and version
            self.metrics.model_swaps.inc(name, "ok")
            meta = engine.metadata
            _LOGGER.info(
                "Model %s replaced in %.1f s: now %s v%s from %s (cameras: %s)",
                name,
                time.perf_counter() - started,
                meta.name,
                meta.version,
                path,
                ", ".join(policies) or "none",
            )
            try:
                await old.close()
            except GarageCamError as err:
                _LOGGER.warning("Closing the replaced model %s: %s", name, err)

    # --- health -----------------------------------------------------------------------------

    def health_problems(self) -> list[str]:
        problems = []
        missing = sorted(set(self.config.models) - set(self.engines))
        if missing:
            problems.append(f"models not loaded: {', '.join(missing)}")
        if self.mqtt is not None and not self.mqtt.connected:
            problems.append(f"MQTT broker {self.mqtt.where} not connected")
        return problems

    # --- run and stop -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Poll every camera until `stop` is set; one camera's failures never stop the others."""
        tasks = [
            asyncio.create_task(camera.run(stop), name=f"camera-{camera.id}")
            for camera in self.cameras.values()
        ]
        if self.mqtt is not None:
            tasks.append(asyncio.create_task(self._republish_loop(stop), name="mqtt-republish"))
        try:
            await stop.wait()
        finally:
            stop.set()
            # A poll blocked on a hung camera would hold the stop (and `offline`) for up to
            # its snapshot timeout: cancel the fetches, the stop needs none of them.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _republish_loop(self, stop: asyncio.Event) -> None:
        assert self.config.mqtt is not None and self.mqtt is not None
        interval = self.config.mqtt.republish_interval
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except TimeoutError:
                count = self.mqtt.republish(Kind.STATE, Kind.AVAILABILITY)
                count += sum(p.republish(Kind.AVAILABILITY) for p in self.camera_mqtt.values())
                _LOGGER.debug("Periodic re-publish of %d state topics", count)

    async def stop(self) -> None:
        """Publish `offline` (every camera and the bridge), close the HTTP server, the engines
        (worker processes), the session."""
        publishers = [*self.camera_mqtt.values(), *([self.mqtt] if self.mqtt else [])]
        if publishers:
            await asyncio.gather(*(publisher.stop() for publisher in publishers))
        if self.http is not None:
            await self.http.stop()
        if self.studio is not None:
            await self.studio.close()
            self.studio = None
        if self.capture is not None:
            await self.capture.drain()
        if self._debug_sink is not None:
            await self._debug_sink.drain()
        async with self._swapping:  # a model being replaced right now is closed too
            for name, engine in list(self.engines.items()):
                try:
                    await engine.close()
                except GarageCamError as err:
                    _LOGGER.warning("Closing model %s: %s", name, err)
            self.engines.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._started:
            _LOGGER.info("Runner stopped")
        self._started = False


def _demo_not_replaced(camera: str | None, model: str) -> str:
    """Why "Use this model" cannot replace the bundled demo model, and what to do instead."""
    who = f"camera {camera} uses" if camera is not None else f"the studio's model {model} is"
    where = "for the camera" if camera is not None else "as studio.model"
    return (
        f"{who} the bundled demo model, which is never replaced: copy it to a file, name "
        f"that file under 'models:' {where}, restart the runner, then 'Use this model' "
        "replaces it (or download the model)"
    )


async def run_until_signalled(
    runner: Runner,
    stop: asyncio.Event | None = None,
    on_started: Callable[[], None] | None = None,
) -> int:
    """Start, run until SIGTERM/SIGINT (or `stop`), stop gracefully; returns exit code 0."""
    import signal

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, _on_signal, sig, stop)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # not the main thread / platform
            pass
    try:
        await runner.start()
        _LOGGER.info("Runner started with %d camera(s)", len(runner.cameras))
        if on_started is not None:
            on_started()
        await runner.run(stop)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await runner.stop()
    return 0


def _on_signal(sig: int, stop: asyncio.Event) -> None:
    _LOGGER.info("Received %s: shutting down", getattr(sig, "name", sig))
    stop.set()
