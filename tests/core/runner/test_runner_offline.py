"""Offline on stop and on crash, seen by each consumer through a real Mosquitto broker.

A `garagecam run` subprocess with two cameras is stopped with SIGTERM (clean stop: the
runner publishes `offline` itself) or killed with SIGKILL (crash: only the broker's last
wills can speak). Either way every camera's availability topic, which is the single topic
homebridge-mqttthing's `getOnline` reads, and the bridge topic must end up `offline`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from garagecam_core.discovery import CameraInfo, Topics
from garagecam_core.homebridge import mqttthing_accessories
from garagecam_core.metadata import LabelSpec, ModelMetadata
from tests.core.runner import consumers
from tests.core.runner.support import Broker, Spy, fresh_spy, jpeg, wait_until

pytestmark = pytest.mark.mqtt

CAMERAS = ("garage", "shed")
ONLINE = {
    "garagecam/status": "online",
    **{f"garagecam/{camera}/availability": "online" for camera in CAMERAS},
}
OFFLINE = {topic: "offline" for topic in ONLINE}


def write_config(tmp_path: Path, model: Path, broker: Broker) -> Path:
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "0001.jpg").write_bytes(jpeg())
    cameras = [
        {"id": camera, "model": "tiny", "file": str(frames), "interval": 0.3} for camera in CAMERAS
    ]
    config = {
        "models": {"tiny": {"path": str(model)}},
        "mqtt": {"host": "127.0.0.1", "port": broker.port, "keepalive": 5},
        "http": None,
        "cameras": cameras,
    }
    path = tmp_path / "garagecam.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


def start_runner(config: Path, tmp_path: Path) -> subprocess.Popen[bytes]:
    log = (tmp_path / "runner.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "garagecam_core", "run", "--config", str(config)],
        stdout=log,
        stderr=log,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def shows(spy: Spy, expected: dict[str, str]) -> bool:
    retained = spy.snapshot()
    return all(retained.get(topic) == payload for topic, payload in expected.items())


def mqttthing_online(spy: Spy) -> list[bool]:
    """`online` of every accessory `garagecam homebridge-config` generates, per mqttthing."""
    config = spy.json("homeassistant/binary_sensor/garagecam_garage/door_open/config")
    assert config["device"]["name"] == "garage"
    labels = (LabelSpec("door_open", "garage_door"), LabelSpec("car_present", "occupancy"))
    model = ModelMetadata(name="tiny", input_height=64, input_width=64, labels=labels)
    infos = [CameraInfo(camera, camera, model) for camera in CAMERAS]
    accessories = mqttthing_accessories(infos, Topics(), "mqtt://127.0.0.1")
    assert len(accessories) == 2 * len(CAMERAS)
    return [consumers.mqttthing(a, spy.snapshot())["online"] for a in accessories]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_every_camera_goes_offline_on_stop_and_crash(
    tiny_model_path: Path, broker: Broker, tmp_path: Path, sig: int
) -> None:
    spy = fresh_spy(broker.port, ("garagecam/#", "homeassistant/#"))
    proc = start_runner(write_config(tmp_path, tiny_model_path, broker), tmp_path)
    try:
        assert wait_until(lambda: shows(spy, ONLINE), timeout=120), (
            spy.snapshot(),
            (tmp_path / "runner.log").read_text(),
        )
        proc.send_signal(sig)
        proc.wait(timeout=60)
        # SIGKILL: no code of ours runs; the broker publishes each connection's last will.
        assert wait_until(lambda: shows(spy, OFFLINE), timeout=20), spy.snapshot()
        assert mqttthing_online(spy) == [False] * 2 * len(CAMERAS)
        for camera in CAMERAS:
            topic = f"homeassistant/binary_sensor/garagecam_{camera}/door_open/config"
            seen = consumers.home_assistant(spy.get(topic) or "", spy.snapshot())
            assert seen["available"] is False
        if sig == signal.SIGTERM:
            assert proc.returncode == 0
            assert "Runner stopped" in (tmp_path / "runner.log").read_text()
        else:
            assert proc.returncode == -signal.SIGKILL

        # A runner started again brings every camera back online.
        restarted = start_runner(tmp_path / "garagecam.yaml", tmp_path)
        try:
            assert wait_until(lambda: shows(spy, ONLINE), timeout=120)
            assert mqttthing_online(spy) == [True] * 2 * len(CAMERAS)
        finally:
            restarted.terminate()
            restarted.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        spy.stop()
