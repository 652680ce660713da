"""`garagecam demo`: the whole product on bundled defaults, no camera needed.

A local HTTP "camera" serves generated garage scenes following a script (the door opens,
the car leaves, the door closes, the car comes back), the runner polls it with the demo
model and prints every state change next to what the scene really shows.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from aiohttp import web

from ..camera import Camera, CameraListener, Frame
from ..debounce import Transition
from ..engine.factory import EngineKind, ModelConfig
from .app import Runner, run_until_signalled
from .config import (
    CameraConfig,
    HttpConfig,
    HttpSourceConfig,
    MqttConfig,
    RunnerConfig,
)
from .http import start_site

_LOGGER = logging.getLogger("garagecam.runner.demo")

# (door_open, car_present) per phase: every label changes at least twice.
SCRIPT: tuple[tuple[bool, bool], ...] = (
    (False, True),
    (True, True),
    (True, False),
    (False, False),
    (True, False),
    (True, True),
)
FRAME_SIZE = (960, 540)


@dataclass(frozen=True)
class DemoOptions:
    model: Path
    engine: str = "worker"
    interval: float = 1.0
    phase_seconds: float = 8.0
    duration: float | None = None
    mqtt: str | None = None
    http_port: int = 0
    seed: int = 7


class SceneCamera:
    """Serves `/image.jpg`: a fresh generated frame of the current script phase."""

    def __init__(self, phase_seconds: float, seed: int) -> None:
        self.phase_seconds = phase_seconds
        self.seed = seed
        self._started = time.monotonic()
        self._index = 0
        self._runner: web.AppRunner | None = None
        self.url = ""

    def truth(self) -> tuple[bool, bool]:
        phase = int((time.monotonic() - self._started) / self.phase_seconds)
        return SCRIPT[phase % len(SCRIPT)]

    async def _image(self, _request: web.Request) -> web.Response:
        from ..scenes import generate_scene

        door, car = self.truth()
        self._index += 1
        scene = await asyncio.to_thread(
            generate_scene,
            self.seed,
            self._index,
            sizes=(FRAME_SIZE,),
            door_open=door,
            car_present=car,
        )
        return web.Response(body=scene.jpeg, content_type="image/jpeg")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/image.jpg", self._image)
        self._runner, port = await start_site(app, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{port}/image.jpg"
        self._started = time.monotonic()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class Printer(CameraListener):
    """Prints state changes as they happen, with the scene's ground truth."""

    def __init__(self, scene: SceneCamera, out: TextIO) -> None:
        self.scene = scene
        self.out = out
        self.frames = 0
        self.transitions = 0
        self.agree = 0
        self.compared = 0

    def on_frame(self, camera: Camera, frame: Frame, transitions: Sequence[Transition]) -> None:
        self.frames += 1
        door, car = self.scene.truth()
        truth = {"door_open": door, "car_present": car}
        for label, state in camera.debouncer.states.items():
            if label in truth and str(state) in ("on", "off"):
                self.compared += 1
                self.agree += (str(state) == "on") == truth[label]
        for t in transitions:
            self.transitions += 1
            stamp = time.strftime("%H:%M:%S", time.localtime(t.timestamp))
            scene = ", ".join(f"{k}={'yes' if v else 'no'}" for k, v in truth.items())
            print(
                f"{stamp}  {camera.id}  {t.label}: {t.old.name} -> {t.new.name} "
                f"(p={t.probability:.2f}, {frame.classification.timings.total_ms:.0f} ms)"
                f"   scene: {scene}",
                file=self.out,
                flush=True,
            )

    def summary(self) -> str:
        agreement = f"{100.0 * self.agree / self.compared:.0f}%" if self.compared else "n/a"
        return (
            f"demo finished: {self.frames} frames, {self.transitions} state changes, "
            f"states matched the scene on {agreement} of label-frames "
            "(lags by the debounce confirm frames after each change)"
        )


def parse_host_port(text: str, default_port: int = 1883) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        return text, default_port
    if not port.isdigit() or not 0 < int(port) < 65536:
        from ..errors import ConfigError

        raise ConfigError(f"--mqtt must be HOST or HOST:PORT, got {text!r}")
    return host, int(port)


def demo_config(options: DemoOptions, camera_url: str) -> RunnerConfig:
    mqtt = None
    if options.mqtt:
        host, port = parse_host_port(options.mqtt)
        mqtt = MqttConfig(host=host, port=port)
    engine: EngineKind = "local" if options.engine == "local" else "worker"
    return RunnerConfig(
        cameras=(
            CameraConfig(
                id="demo_garage",
                name="Demo garage",
                source=HttpSourceConfig(url=camera_url),
                model="demo",
                interval=options.interval,
            ),
        ),
        models={"demo": ModelConfig("demo", options.model, engine)},
        mqtt=mqtt,
        http=HttpConfig(host="127.0.0.1", port=options.http_port),
    )


async def run_demo(options: DemoOptions, out: TextIO = sys.stdout) -> int:
    scene = SceneCamera(options.phase_seconds, options.seed)
    await scene.start()
    printer = Printer(scene, out)
    runner = Runner(demo_config(options, scene.url), extra_listeners=[printer])
    stop = asyncio.Event()
    timers: list[asyncio.TimerHandle] = []

    def started() -> None:
        if runner.http is not None:
            print(f"Runner API: http://127.0.0.1:{runner.http.port}/v1/cameras", file=out)
        if options.duration is not None:  # counted from here: loading the model takes a while
            timers.append(asyncio.get_running_loop().call_later(options.duration, stop.set))

    print(
        f"GarageCam demo: camera {scene.url}, model {options.model.name}, "
        f"one frame every {options.interval:g} s, the scene changes every "
        f"{options.phase_seconds:g} s" + ("" if options.duration else " (Ctrl-C to stop)"),
        file=out,
        flush=True,
    )
    try:
        await run_until_signalled(runner, stop, on_started=started)
    finally:
        for timer in timers:
            timer.cancel()
        await scene.stop()
    print(printer.summary(), file=out, flush=True)
    return 0
