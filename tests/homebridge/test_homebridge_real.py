"""The real Homebridge 1.11.4 with homebridge-mqttthing and homebridge-tasmota, a real
Mosquitto and a real `garagecam run`: what each plugin shows HomeKit for the door and the car,
read over HAP's HTTP API the way a HomeKit controller reads it (insecure mode, `-I`).

Homebridge comes from scripts/lib/homebridge.sh (setup.sh runs it) as build/homebridge; when it
is missing the tests fail with that fix, they do not skip.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from garagecam_core import demo_model_path
from garagecam_core.engine.local import LocalEngine
from garagecam_core.scenes import generate_scene
from tests.core.runner.support import Broker, free_port, running_broker, wait_until

pytestmark = pytest.mark.mqtt

ROOT = Path(__file__).resolve().parents[2]
HOMEBRIDGE = ROOT / "build" / "homebridge"
PIN = "031-45-154"
# HAP characteristic types (Apple's short UUIDs)
CONTACT_STATE, OCCUPANCY, NAME = "6A", "71", "23"
# HAP status of a characteristic whose accessory does not answer: Apple Home's "No Response"
NO_RESPONSE = -70402
OPEN, CLOSED = 1, 0  # ContactSensorState: 1 = contact not detected


@functools.cache
def sure_scene(door_open: bool) -> bytes:
    """A generated garage (door and car alike) the demo model gets right by a wide margin."""
    with LocalEngine(demo_model_path()) as engine:
        for index in range(300):
            drawn = generate_scene(5, index, sizes=((320, 180),))
            if (drawn.door_open, drawn.car_present) != (door_open, door_open):
                continue
            probabilities = engine.classify(drawn.jpeg).probabilities.values()
            if all((p > 0.8) if door_open else (p < 0.2) for p in probabilities):
                return drawn.jpeg
    raise AssertionError(f"no sure scene with door_open={door_open}")


def homebridge_bin() -> Path:
    binary = HOMEBRIDGE / "node_modules" / ".bin" / "homebridge"
    if not binary.exists():
        pytest.fail(f"{binary} is missing: run scripts/lib/homebridge.sh (setup.sh runs it)")
    return binary


@dataclass
class Garage:
    """A runner watching a file camera, and the Homebridge reading its topics."""

    tmp: Path
    frame: Path
    config: Path
    runner: subprocess.Popen[bytes] | None = None
    homebridge: subprocess.Popen[bytes] | None = None
    port: int = 0

    def show(self, door_open: bool) -> None:
        partial = self.frame.with_suffix(".part")
        partial.write_bytes(sure_scene(door_open))
        partial.replace(self.frame)  # the file camera never reads half a picture

    def start_runner(self) -> None:
        log = (self.tmp / "runner.log").open("ab")
        self.runner = subprocess.Popen(
            [sys.executable, "-m", "garagecam_core", "run", "--config", str(self.config)],
            stdout=log, stderr=log, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip

    def stop_runner(self, sig: signal.Signals) -> None:
        assert self.runner is not None
        self.runner.send_signal(sig)
        self.runner.wait(timeout=60)

    def get(self, path: str) -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", headers={"Authorization": PIN}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.load(response)
        except urllib.error.HTTPError as err:  # 207 Multi-Status is a normal answer
            if err.code != 207:
                raise
            return json.load(err)

    def accessories(self) -> dict[str, dict[str, Any]]:
        """Service name -> {characteristic type: value, or the HAP status of an error}, for
        every contact and occupancy service: `GET /accessories` for the services, then
        `GET /characteristics` for the values, as a controller reads them (the first serves
        cached values; the second asks the plugin and reports "No Response" errors)."""
        wanted: dict[str, tuple[str, str]] = {}  # "aid.iid" -> (service name, type)
        for accessory in self.get("/accessories")["accessories"]:
            for service in accessory["services"]:
                chars = {short(c["type"]): c for c in service["characteristics"]}
                for kind in (CONTACT_STATE, OCCUPANCY):
                    if kind in chars:
                        name = chars[NAME]["value"] if NAME in chars else service["type"]
                        wanted[f"{accessory['aid']}.{chars[kind]['iid']}"] = (name, kind)
        if not wanted:
            return {}
        answer = self.get(f"/characteristics?id={','.join(wanted)}")
        shown: dict[str, dict[str, Any]] = {}
        for item in answer["characteristics"]:
            name, kind = wanted[f"{item['aid']}.{item['iid']}"]
            shown[name] = {kind: item["value"] if "value" in item else item["status"]}
        return shown

    def log(self) -> str:
        return (self.tmp / "homebridge.log").read_text(errors="replace")


def short(uuid: str) -> str:
    """`0000006A-0000-1000-8000-0026BB765291` or `6A` -> `6A`."""
    return uuid.split("-", maxsplit=1)[0].lstrip("0").upper()


def write_runner_config(tmp: Path, broker: Broker) -> tuple[Path, Path]:
    frames = tmp / "frames"
    frames.mkdir()
    sharp = {"on_threshold": 0.5, "off_threshold": 0.5}  # no band: follow the scene at once
    labels = {label: sharp for label in ("door_open", "car_present")}
    config = {
        "models": {"demo": {"path": str(demo_model_path())}},
        "mqtt": {"host": "127.0.0.1", "port": broker.port, "keepalive": 5},
        "http": None,
        "cameras": [{
            "id": "garage", "name": "Garage", "model": "demo", "file": str(frames / "frame.jpg"),
            "interval": 0.3, "confirm_frames": 1, "labels": labels, "max_age": 3,
        }],
    }  # fmt: skip
    path = tmp / "garagecam.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return path, frames / "frame.jpg"


def homebridge_config(runner_config: Path, port: int) -> dict[str, Any]:
    """What `garagecam homebridge-config` writes for both plugins, under a loopback bridge."""
    result = subprocess.run(
        [sys.executable, "-m", "garagecam_core", "homebridge-config", "--config",
         str(runner_config), "--plugin", "mqttthing", "--plugin", "tasmota",
         "--with-credentials"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    entries = json.loads(result.stdout)
    bridge = {
        "name": "GarageCam test", "username": "0E:47:43:00:00:01", "port": port, "pin": PIN,
        "bind": ["127.0.0.1"], "advertiser": "ciao",
    }  # fmt: skip
    return {"bridge": bridge, **entries}


def start_homebridge(garage: Garage) -> None:
    storage = garage.tmp / "homebridge"
    storage.mkdir(exist_ok=True)
    garage.port = free_port()
    config = homebridge_config(garage.config, garage.port)
    (storage / "config.json").write_text(json.dumps(config, indent=2))
    log = (garage.tmp / "homebridge.log").open("ab")
    garage.homebridge = subprocess.Popen(
        [str(homebridge_bin()), "-I", "-U", str(storage), "-P",
         str(HOMEBRIDGE / "node_modules"), "--no-qrcode"],
        stdout=log, stderr=subprocess.STDOUT, cwd=garage.tmp,
    )  # fmt: skip


@pytest.fixture
def garage(tmp_path: Path) -> Iterator[Garage]:
    homebridge_bin()  # fail first, before starting anything, when it is not installed
    with running_broker(tmp_path) as broker:
        config, frame = write_runner_config(tmp_path, broker)
        garage = Garage(tmp_path, frame, config)
        try:
            yield garage
        finally:
            for process in (garage.homebridge, garage.runner):
                if process is not None and process.poll() is None:
                    process.terminate()
                    try:
                        process.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()


DOOR_MQTTTHING, CAR_MQTTTHING, DOOR_TASMOTA = "Garage door open", "Garage car present", "Door open"


def shows(garage: Garage, expected: dict[str, dict[str, Any]]) -> bool:
    try:
        shown = garage.accessories()
    except OSError:  # Homebridge still starting
        return False
    return all(shown.get(name) == value for name, value in expected.items())


def wait_shows(garage: Garage, expected: dict[str, dict[str, Any]], timeout: float = 60) -> None:
    if not wait_until(lambda: shows(garage, expected), timeout=timeout, interval=0.3):
        try:
            shown: Any = garage.accessories()
        except OSError as err:
            shown = err
        pytest.fail(f"Homebridge shows {shown}, expected {expected}\n{garage.log()[-4000:]}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_homebridge_shows_door_and_car_then_no_response(
    garage: Garage, sig: signal.Signals
) -> None:
    garage.show(door_open=False)
    garage.start_runner()
    start_homebridge(garage)
    closed = {
        DOOR_MQTTTHING: {CONTACT_STATE: CLOSED},
        CAR_MQTTTHING: {OCCUPANCY: 0},
        DOOR_TASMOTA: {CONTACT_STATE: CLOSED},
    }
    wait_shows(garage, closed, timeout=120)
    # homebridge-tasmota maps no occupancy binary sensor: the car is mqttthing's only
    assert not any(OCCUPANCY in v for k, v in garage.accessories().items() if k != CAR_MQTTTHING)

    garage.show(door_open=True)
    wait_shows(
        garage,
        {
            DOOR_MQTTTHING: {CONTACT_STATE: OPEN},
            CAR_MQTTTHING: {OCCUPANCY: 1},
            DOOR_TASMOTA: {CONTACT_STATE: OPEN},
        },
    )

    garage.stop_runner(sig)
    no_response = {
        DOOR_MQTTTHING: {CONTACT_STATE: NO_RESPONSE},
        CAR_MQTTTHING: {OCCUPANCY: NO_RESPONSE},
        DOOR_TASMOTA: {CONTACT_STATE: NO_RESPONSE},
    }
    wait_shows(garage, no_response)


def test_tasmota_shows_the_door_again_when_the_runner_is_back(garage: Garage) -> None:
    """homebridge-tasmota follows the injected availability both ways, and shows "No
    Response" for a camera that stops delivering frames while the runner keeps running."""
    garage.show(door_open=True)
    garage.start_runner()
    start_homebridge(garage)
    wait_shows(garage, {DOOR_TASMOTA: {CONTACT_STATE: OPEN}}, timeout=120)
    garage.stop_runner(signal.SIGKILL)
    wait_shows(garage, {DOOR_TASMOTA: {CONTACT_STATE: NO_RESPONSE}})

    garage.show(door_open=False)
    garage.start_runner()
    wait_shows(
        garage, {DOOR_TASMOTA: {CONTACT_STATE: CLOSED}, DOOR_MQTTTHING: {CONTACT_STATE: CLOSED}}
    )

    garage.frame.unlink()  # the camera fails: after max_age (3 s) its states are stale
    wait_shows(
        garage,
        {DOOR_TASMOTA: {CONTACT_STATE: NO_RESPONSE}, DOOR_MQTTTHING: {CONTACT_STATE: NO_RESPONSE}},
    )
    assert garage.runner is not None and garage.runner.poll() is None  # still running
