"""`max_age` holds while a poll is blocked: a hung camera, a stopped (SIGSTOP) worker.

Availability is the age of the last good frame when it is read (`/v1/cameras`, metrics)
and a timer reports the change to MQTT and metrics as soon as that age passes `max_age`,
not when the blocked poll finally returns.
"""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from garagecam_core.camera import Camera, CameraListener
from garagecam_core.engine.base import ExecutorEngine
from garagecam_core.engine.worker import WorkerEngine
from garagecam_core.runner.app import Runner
from garagecam_core.runner.config import parse_config
from tests.core.runner.support import (
    ALWAYS,
    CameraServer,
    eventually,
    jpeg,
    local_engine,
    running_runner,
)

MAX_AGE = 1.0


class AvailabilityLog(CameraListener):
    def __init__(self) -> None:
        self.events: list[tuple[str, bool]] = []

    def on_availability(self, camera: Camera, available: bool) -> None:
        self.events.append((camera.id, available))


def camera(camera_id: str, **source: Any) -> dict[str, Any]:
    return {
        "id": camera_id,
        "model": "tiny",
        "interval": 0.2,
        "max_age": MAX_AGE,
        "confirm_frames": 1,
        "labels": ALWAYS,
        **source,
    }


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def camera_json(session: aiohttp.ClientSession, runner: Runner, camera_id: str) -> Any:
    assert runner.http is not None
    url = f"http://127.0.0.1:{runner.http.port}/v1/cameras"
    async with session.get(url) as response:
        assert response.status == 200
        return (await response.json())[camera_id]


async def test_hung_camera_turns_unavailable_at_max_age(
    tiny_model_path: Path, camera_server: CameraServer, session: aiohttp.ClientSession
) -> None:
    """timeout 30 s, max_age 1 s: unavailable while the request is still hanging."""
    config = parse_config(
        {
            "models": {"tiny": {"path": str(tiny_model_path)}},
            "http": {"port": 0},
            "cameras": [camera("garage", snapshot={"url": camera_server.url, "timeout": 30})],
        }
    )
    log = AvailabilityLog()
    async with running_runner(config, engine_factory=local_engine, extra_listeners=[log]) as runner:
        garage = runner.cameras["garage"]
        try:
            assert await eventually(lambda: garage.available)
            assert log.events == [("garage", True)]

            camera_server.mode = "hang"
            assert await eventually(lambda: camera_server.hanging >= 1)
            assert await eventually(lambda: ("garage", False) in log.events, seconds=10)
            # The poll that hangs has not returned (its timeout is 30 s): the timer did it.
            assert camera_server.hanging >= 1
            assert garage.failures == 0
            assert not garage.available
            assert (await camera_json(session, runner, "garage"))["available"] is False
            assert runner.metrics.camera_up.value("garage") == 0.0

            camera_server.mode = "ok"
            assert await eventually(lambda: log.events[-1] == ("garage", True))
            assert (await camera_json(session, runner, "garage"))["available"] is True
        finally:
            camera_server.mode = "ok"


async def test_stopped_worker_never_reports_a_stale_frame_as_available(
    tiny_model_path: Path, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    """The worker is SIGSTOPped mid-run: the poll blocks inside the engine (model timeout
    30 s) and the last frame ages past max_age; the API and the listeners must say so."""
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "0001.jpg").write_bytes(jpeg())
    config = parse_config(
        {
            "models": {"tiny": {"path": str(tiny_model_path)}},  # worker engine (default)
            "http": {"port": 0},
            "cameras": [camera("shed", file=str(frames))],
        }
    )
    log = AvailabilityLog()
    async with running_runner(config, extra_listeners=[log]) as runner:
        shed = runner.cameras["shed"]
        engine = runner.engines["tiny"]
        assert isinstance(engine, ExecutorEngine) and isinstance(engine.engine, WorkerEngine)
        pid = engine.engine.pid
        assert pid is not None
        stopped = False
        try:
            assert await eventually(lambda: shed.available)
            os.kill(pid, signal.SIGSTOP)
            stopped = True
            assert await eventually(lambda: ("shed", False) in log.events, seconds=10)
            status = await camera_json(session, runner, "shed")
            assert status["available"] is False
            assert shed.last_frame is not None
            assert shed.stale_in() is not None and shed.stale_in() < 0  # older than max_age
            assert runner.metrics.camera_up.value("shed") == 0.0

            os.kill(pid, signal.SIGCONT)
            stopped = False
            assert await eventually(lambda: log.events[-1] == ("shed", True), seconds=30)
            assert (await camera_json(session, runner, "shed"))["available"] is True
        finally:
            if stopped:
                os.kill(pid, signal.SIGCONT)
