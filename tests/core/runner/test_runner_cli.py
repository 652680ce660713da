"""The runner's command line in real subprocesses: demo (finite and SIGTERM), run --check,
mqtt cleanup, homebridge-config."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.core.runner.support import Broker, free_port, fresh_spy, wait_until

pytestmark = pytest.mark.mqtt

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def garagecam(*args: str) -> list[str]:
    return [sys.executable, "-m", "garagecam_core", *args]


def test_demo_finite_with_mqtt(tiny_model_path: Path, broker: Broker) -> None:
    result = subprocess.run(
        garagecam(
            "demo",
            "--model", str(tiny_model_path),
            "--duration", "5",
            "--interval", "0.2",
            "--phase", "1",
            "--mqtt", f"127.0.0.1:{broker.port}",
        ),
        capture_output=True,
        text=True,
        timeout=180,
        env=ENV,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("GarageCam demo: camera http://127.0.0.1:")
    assert "demo finished: " in result.stdout
    frames = int(result.stdout.split("demo finished: ")[1].split(" frames")[0])
    assert frames >= 3
    # Log format of the CLI, with the runner's logger names.
    assert "[INFO] garagecam.runner: Runner started with 1 camera(s)" in result.stderr
    # state changes are printed once (stdout), not logged a second time
    assert " -> " in result.stdout and "State change" not in result.stderr

    consumer = fresh_spy(broker.port)
    try:
        assert wait_until(lambda: consumer.get("garagecam/status") == "offline")
        config = consumer.json("homeassistant/binary_sensor/garagecam_demo_garage/door_open/config")
        assert config["device"]["name"] == "Demo garage"
        assert config["device_class"] == "door"  # garage_door, published as every bridge maps it
    finally:
        consumer.stop()


def test_demo_stops_gracefully_on_sigterm(tiny_model_path: Path) -> None:
    proc = subprocess.Popen(
        garagecam(
            "demo", "--model", str(tiny_model_path), "--interval", "0.2", "--engine", "local"
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 120
        seen = ""
        while "Runner started" not in seen and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            seen += line
        assert "Runner started" in seen, seen
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Received SIGTERM: shutting down" in err
    assert "Runner stopped" in err
    assert "demo finished" in out


def test_run_check_validates_the_issue_example(tmp_path: Path) -> None:
    config = tmp_path / "garagecam.yaml"
    config.write_text(
        "mqtt:\n  host: 127.0.0.1\n  port: 1883\nhttp:\n  host: 127.0.0.1\n"
        f"  port: {free_port()}\n"
        "  token: change-me\ncameras:\n  - id: garage\n    name: Garage\n    snapshot:\n"
        "      url: http://192.0.2.10/image.jpg\n    interval: 10\n"
    )
    result = subprocess.run(
        garagecam("run", "--config", str(config), "--check"),
        capture_output=True, text=True, timeout=60, env=ENV, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "OK (cameras: garage; models: demo)" in result.stdout

    config.write_text("cameras:\n  - id: garage\n    snapshot: {url: http://x, pasword: y}\n")
    result = subprocess.run(
        garagecam("run", "--config", str(config), "--check"),
        capture_output=True, text=True, timeout=60, env=ENV, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "cameras[0].snapshot.pasword: unknown key" in result.stderr


def write_config(path: Path, broker: Broker, cameras: list[dict[str, Any]]) -> Path:
    import yaml

    path.write_text(
        yaml.safe_dump(
            {"mqtt": {"host": "127.0.0.1", "port": broker.port}, "http": None, "cameras": cameras}
        )
    )
    return path


def test_mqtt_cleanup_removes_only_cameras_gone_from_config(tmp_path: Path, broker: Broker) -> None:
    spy = fresh_spy(broker.port)
    try:
        # Retained configs left by an earlier run with cameras garage and shed, plus a foreign one.
        left_over = {
            "homeassistant/binary_sensor/garagecam_garage/door_open/config": "garagecam/garage",
            "homeassistant/binary_sensor/garagecam_shed/door_open/config": "garagecam/shed",
            "homeassistant/sensor/garagecam_shed/inference_ms/config": "garagecam/shed",
            "homeassistant/binary_sensor/zigbee_door/contact/config": "zigbee2mqtt/door",
        }
        for topic, state_root in left_over.items():
            spy.publish(topic, json.dumps({"state_topic": f"{state_root}/x"}), retain=True)
        assert wait_until(lambda: len(spy.snapshot()) == 4)

        config = write_config(
            tmp_path / "garagecam.yaml", broker, [{"id": "garage", "file": str(tmp_path)}]
        )
        result = subprocess.run(
            garagecam("mqtt", "cleanup", "--config", str(config), "--wait", "1"),
            capture_output=True, text=True, timeout=120, env=ENV, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "removed 2 discovery configs of 1 camera(s) no longer configured: shed" in (
            result.stdout
        )
        assert wait_until(
            lambda: (
                set(spy.snapshot())
                == {
                    "homeassistant/binary_sensor/garagecam_garage/door_open/config",
                    "homeassistant/binary_sensor/zigbee_door/contact/config",
                }
            )
        ), spy.snapshot()
    finally:
        spy.stop()
