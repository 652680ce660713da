"""The runner end to end: real worker engine, real Mosquitto (restarted mid-run), a local
camera that starts failing, and what an MQTT consumer sees in the retained topics."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from garagecam_core.runner.config import parse_config
from garagecam_core.runner.priority import GatedEngine
from tests.core.runner.support import (
    ALWAYS,
    Broker,
    CameraServer,
    eventually,
    jpeg,
    local_engine,
    running_runner,
)

pytestmark = pytest.mark.mqtt


def runner_config(
    model: Path, broker: Broker, camera_url: str, frames: Path, **mqtt: Any
) -> dict[str, Any]:
    return {
        "models": {"tiny": {"path": str(model)}},  # worker engine (the default)
        "mqtt": {
            "host": "127.0.0.1",
            "port": broker.port,
            "reconnect_min_delay": 0.2,
            "reconnect_max_delay": 1,
            **mqtt,
        },
        "http": None,
        "cameras": [
            {
                "id": "garage",
                "name": "Garage",
                "model": "tiny",
                "snapshot": {"url": camera_url, "timeout": 1},
                "interval": 0.2,
                "max_age": 1.0,
                "max_backoff": 0.4,
                "confirm_frames": 1,
                "labels": ALWAYS,
            },
            {
                "id": "shed",
                "name": "Shed",
                "model": "tiny",
                "file": str(frames),
                "interval": 0.2,
                "confirm_frames": 1,
                "labels": ALWAYS,
            },
        ],
    }


def frames_dir(tmp_path: Path) -> Path:
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "0001.jpg").write_bytes(jpeg((90, 90, 90)))
    (frames / "0002.jpg").write_bytes(jpeg((30, 60, 90), size=(128, 72)))
    return frames


EXPECTED_STATES = {
    "garagecam/status": "online",
    "garagecam/garage/availability": "online",
    "garagecam/shed/availability": "online",
    "garagecam/garage/door_open": "ON",
    "garagecam/garage/car_present": "OFF",
    "garagecam/shed/door_open": "ON",
    "garagecam/shed/car_present": "OFF",
}


def has(spy: Any, expected: dict[str, str]) -> bool:
    snapshot = spy.snapshot()
    return all(snapshot.get(topic) == value for topic, value in expected.items())


async def test_runner_mqtt_end_to_end(  # noqa: PLR0917 - fixtures
    tiny_model_path: Path,
    broker: Broker,
    camera_server: CameraServer,
    spy_factory: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="garagecam.runner")
    config = parse_config(
        runner_config(tiny_model_path, broker, camera_server.url, frames_dir(tmp_path))
    )
    async with running_runner(config) as runner:
        # One loaded model (one worker process) shared by both cameras.
        assert list(runner.engines) == ["tiny"]
        garage, shed = runner.cameras["garage"].engine, runner.cameras["shed"].engine
        assert isinstance(garage, GatedEngine) and isinstance(shed, GatedEngine)
        assert garage.gate is shed.gate is runner.gates["tiny"]
        assert garage.gate.engine is runner.engines["tiny"]

        consumer = spy_factory()
        assert await eventually(lambda: has(consumer, EXPECTED_STATES)), consumer.snapshot()
        configs = [t for t in consumer.snapshot() if t.startswith("homeassistant/")]
        assert (
            len(configs) == 12
        )  # 2 cameras x (2 binary sensors + status + 2 probabilities + 1 time)
        door = consumer.json("homeassistant/binary_sensor/garagecam_garage/door_open/config")
        assert door["device"]["model"] == "tiny vtest"
        probability = float(consumer.get("garagecam/garage/door_open/probability") or "nan")
        assert 0.0 <= probability <= 100.0
        assert float(consumer.get("garagecam/garage/inference_ms") or "nan") > 0

        # The camera starts failing: after max_age its states go unavailable, the shed stays.
        camera_server.mode = "http_500"
        assert await eventually(lambda: consumer.get("garagecam/garage/availability") == "offline")
        assert consumer.get("garagecam/shed/availability") == "online"
        assert runner.metrics.failures.value("garage", "http_5xx") >= 1
        await asyncio.sleep(0.5)  # a few more failures, still logged only once
        lost = [r for r in caplog.records if "Camera garage: no frame" in r.getMessage()]
        assert len(lost) == 1
        assert "http_5xx" in lost[0].getMessage()

        camera_server.mode = "ok"
        assert await eventually(lambda: consumer.get("garagecam/garage/availability") == "online")
        assert any("Camera garage: frames are back" in r.getMessage() for r in caplog.records)

        # Broker restart without persistence: every retained topic must come back from us.
        broker.restart()
        assert await eventually(lambda: runner.mqtt is not None and runner.mqtt.connected)

        def expected() -> dict[str, str]:
            # what the runner holds retained now: frames keep changing inference_ms, so it is
            # read again at each comparison rather than once before the republish arrives
            held = {"garagecam/status": "online"}
            for publisher in [runner.mqtt, *runner.camera_mqtt.values()]:
                held.update(publisher.retained() if publisher else {})
            return held

        assert expected()["garagecam/garage/availability"] == "online"
        after_restart = spy_factory()
        assert await eventually(lambda: after_restart.snapshot() == expected()), sorted(
            set(expected().items()) ^ set(after_restart.snapshot().items())
        )
        assert has(after_restart, EXPECTED_STATES)
        assert len([t for t in after_restart.snapshot() if t.endswith("/config")]) == 12

        # Home Assistant restarting asks for discovery again.
        topic = "homeassistant/binary_sensor/garagecam_shed/car_present/config"
        before = after_restart.count(topic)
        after_restart.publish("homeassistant/status", "online")
        assert await eventually(lambda: after_restart.count(topic) > before)

    # Graceful stop: `offline` retained for the bridge (every entity becomes unavailable).
    final = spy_factory()
    assert await eventually(lambda: final.get("garagecam/status") == "offline")
    assert runner.engines == {}


async def test_states_republished_periodically(
    tiny_model_path: Path, broker: Broker, spy_factory: Any, tmp_path: Path
) -> None:
    """HomeKit bridges drop accessories that stay silent: states are sent again on a timer."""
    config = parse_config(
        runner_config(
            tiny_model_path,
            broker,
            "http://127.0.0.1:9/unused.jpg",
            frames_dir(tmp_path),
            republish_interval=0.3,
        )
    )
    # Only the file camera, polled rarely: repeats can only come from the re-publish timer.
    config = type(config)(
        cameras=(type(config.cameras[1])(**{**config.cameras[1].__dict__, "interval": 3600}),),
        models=config.models,
        mqtt=config.mqtt,
        http=None,
    )
    async with running_runner(config, engine_factory=local_engine):
        spy = spy_factory()
        assert await eventually(lambda: spy.count("garagecam/shed/door_open") >= 3)
        assert spy.get("garagecam/shed/door_open") == "ON"


async def test_states_are_published_on_change_only(
    tiny_model_path: Path, broker: Broker, spy_factory: Any, tmp_path: Path
) -> None:
    """Many frames with the same states: each state topic is sent once (retained), not
    once per frame; the periodic re-publish (here: off) is the only repeat."""
    config = parse_config(
        runner_config(
            tiny_model_path,
            broker,
            "http://127.0.0.1:9/unused.jpg",
            frames_dir(tmp_path),
            republish_interval=3600,
        )
    )
    config = type(config)(
        cameras=(type(config.cameras[1])(**{**config.cameras[1].__dict__, "interval": 0.05}),),
        models=config.models,
        mqtt=config.mqtt,
        http=None,
    )
    spy = spy_factory(("garagecam/#",))
    async with running_runner(config, engine_factory=local_engine) as runner:
        assert await eventually(lambda: runner.metrics.frames.value("shed") >= 20)
        await asyncio.sleep(0.3)  # anything still in flight reaches the spy
        assert spy.get("garagecam/shed/door_open") == "ON"
        for topic in ("door_open", "door_open/json", "car_present", "car_present/json"):
            assert spy.count(f"garagecam/shed/{topic}") == 1, topic
        with spy.lock:
            availability = [p for t, p, _ in spy.messages if t == "garagecam/shed/availability"]
        assert availability in (["online"], ["offline", "online"])  # before the first frame
        # Diagnostics follow their value: the two frames alternate, so they do change.
        assert spy.count("garagecam/shed/door_open/probability") >= 1
