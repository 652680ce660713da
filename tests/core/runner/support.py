"""Real parts for the runner tests: a Mosquitto broker, a camera HTTP server, an MQTT spy."""

from __future__ import annotations

import contextlib
import io
import json
import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from PIL import Image

from garagecam_core.runner.http import start_site

MOSQUITTO = "/usr/sbin/mosquitto"

# Thresholds that make the tiny (untrained) model's states deterministic:
# door_open is always ON (p >= 0), car_present always OFF (p <= 1, never >= 1).
ALWAYS = {
    "door_open": {"on_threshold": 0.0, "off_threshold": 0.0},
    "car_present": {"on_threshold": 1.0, "off_threshold": 1.0},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Any, timeout: float = 15.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


async def eventually(predicate: Any, seconds: float = 20.0, interval: float = 0.05) -> bool:
    """Async `wait_until`: polls without blocking the event loop the runner lives on."""
    import asyncio

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return bool(predicate())


class Broker:
    """A Mosquitto on a free loopback port, without persistence: a restart loses every
    retained message, so whatever a consumer sees afterwards was re-published by us."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.conf = directory / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        )
        self.log = directory / "mosquitto.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=log, stderr=log)
        if not wait_until(self._accepting, timeout=10):
            raise RuntimeError(f"mosquitto did not start: {self.log.read_text()}")

    def _accepting(self) -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
            self._proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@dataclass
class Spy:
    """Subscribes like a consumer (Home Assistant, a HomeKit bridge) and records messages."""

    port: int
    topics: tuple[str, ...] = ("#",)
    retained: dict[str, str] = field(default_factory=dict)
    messages: list[tuple[str, str, bool]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        import paho.mqtt.client as mqtt

        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="")
        self._client.on_message = self._on_message
        self._client.on_connect = self._on_connect
        self._connected = threading.Event()

    def _on_connect(self, client: Any, *_args: Any) -> None:
        for topic in self.topics:
            client.subscribe(topic)
        self._connected.set()

    def _on_message(self, _client: Any, _userdata: Any, message: Any) -> None:
        payload = message.payload.decode()
        with self.lock:
            self.messages.append((message.topic, payload, bool(message.retain)))
            if payload:
                self.retained[message.topic] = payload
            else:
                self.retained.pop(message.topic, None)

    def start(self) -> Spy:
        self._client.connect("127.0.0.1", self.port)
        self._client.loop_start()
        assert self._connected.wait(10), "spy could not connect to the broker"
        return self

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def publish(self, topic: str, payload: str, retain: bool = False) -> None:
        self._client.publish(topic, payload, retain=retain).wait_for_publish(5)

    def get(self, topic: str) -> str | None:
        with self.lock:
            return self.retained.get(topic)

    def json(self, topic: str) -> dict[str, Any]:
        value = self.get(topic)
        assert value is not None, f"nothing retained on {topic}"
        return dict(json.loads(value))

    def snapshot(self) -> dict[str, str]:
        with self.lock:
            return dict(self.retained)

    def count(self, topic: str) -> int:
        with self.lock:
            return sum(1 for t, _p, _r in self.messages if t == topic)


def fresh_spy(port: int, topics: tuple[str, ...] = ("#",)) -> Spy:
    """A new subscriber sees only what the broker retains (what a consumer starting now sees)."""
    return Spy(port, topics).start()


def jpeg(color: tuple[int, int, int] = (120, 120, 120), size: tuple[int, int] = (96, 64)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


class CameraServer:
    """A local aiohttp "camera": serves `frame` at /image.jpg, or fails as told to.

    `mode`: ok | http_500 | not_image | slow | auth (basic admin:secret needed) | digest |
    hang (the request stays open, no byte sent, until the mode changes: a hung camera).
    """

    def __init__(self) -> None:
        self.frame = jpeg()
        self.mode = "ok"
        self.requests = 0
        self.hanging = 0  # requests held open right now by `hang`
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def _image(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        if self.mode == "hang":
            self.hanging += 1
            try:
                while self.mode == "hang":
                    await _sleep(0.05)
            finally:
                self.hanging -= 1
        if self.mode == "http_500":
            return web.Response(status=500, text="boom")
        if self.mode == "not_image":
            return web.Response(text="<html>login</html>", content_type="text/html")
        if self.mode == "slow":
            await _sleep(1.5)
        if self.mode == "auth" and request.headers.get("Authorization") != _basic(
            "admin", "s3cr3t"
        ):
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="cam"'})
        return web.Response(body=self.frame, content_type="image/jpeg")

    async def start(self) -> CameraServer:
        app = web.Application()
        app.router.add_get("/image.jpg", self._image)
        self._runner, self.port = await start_site(app, "127.0.0.1", 0)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/image.jpg"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


def _basic(user: str, password: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@contextlib.contextmanager
def running_broker(directory: Path) -> Iterator[Broker]:
    """A Mosquitto of the test's own, stopped on the way out; a missing binary fails the test
    with the fix (setup.sh installs it) instead of skipping it."""
    import pytest

    if not Path(MOSQUITTO).exists():
        pytest.fail(f"{MOSQUITTO} is missing: run ./scripts/setup.sh (installs mosquitto)")
    broker = Broker(directory)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def local_engine(model: Any) -> Any:
    """The in-process engine (no worker process to start): for tests that need no isolation."""
    from garagecam_core.engine.base import ExecutorEngine
    from garagecam_core.engine.local import LocalEngine

    return ExecutorEngine(LocalEngine(model.path))


@contextlib.asynccontextmanager
async def running_runner(config: Any, **options: Any) -> AsyncIterator[Any]:
    """A real `Runner` started and polling its cameras until the block ends, then stopped as
    `garagecam run` stops it. `options` go to `Runner` (engine_factory, extra_listeners)."""
    import asyncio

    from garagecam_core.runner.app import Runner

    runner = Runner(config, **options)
    await runner.start()
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        yield runner
    finally:
        stop.set()
        await task
        await runner.stop()
