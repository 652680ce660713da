"""homebridge-mqttthing config: documented fields, and accessories rebuilt from retained
topics alone, the way a bridge subscribing to the broker sees them."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from garagecam_core import __version__
from garagecam_core.discovery import (
    CameraInfo,
    Message,
    Topics,
    bridge_availability_message,
    camera_availability_message,
    discovery_messages,
    state_messages,
)
from garagecam_core.homebridge import mqttthing_accessories, tasmota_platform
from garagecam_core.metadata import LabelSpec, ModelMetadata
from tests.core.runner import consumers
from tests.core.runner.support import Broker, fresh_spy, wait_until

MODEL = ModelMetadata(
    name="demo",
    input_height=64,
    input_width=64,
    labels=(LabelSpec("door_open", "garage_door"), LabelSpec("car_present", "occupancy")),
)
CAMERA = CameraInfo("garage", "Garage", MODEL)

# Fields homebridge-mqttthing documents for these accessory types (README, "Common settings",
# "Contact Sensor", "Occupancy Sensor").
COMMON = {
    "accessory", "type", "name", "url", "username", "password", "topics", "onValue",
    "offValue", "onlineValue", "offlineValue", "manufacturer", "model", "serialNumber",
}  # fmt: skip
TOPICS_BY_TYPE = {
    "contactSensor": {"getContactSensorState", "getOnline"},
    "occupancySensor": {"getOccupancyDetected", "getOnline"},
}


def test_accessories_use_documented_fields() -> None:
    door, car = mqttthing_accessories([CAMERA], Topics(), "mqtt://broker:1883")
    for accessory in (door, car):
        assert set(accessory) <= COMMON
        assert accessory["accessory"] == "mqttthing"
        assert set(accessory["topics"]) == TOPICS_BY_TYPE[accessory["type"]]
        assert (accessory["onValue"], accessory["offValue"]) == ("ON", "OFF")
        assert (accessory["onlineValue"], accessory["offlineValue"]) == ("online", "offline")
        assert accessory["topics"]["getOnline"] == "garagecam/garage/availability"
        assert accessory["password"] == "<MQTT_PASSWORD>"
    assert door["type"] == "contactSensor"  # ON = contact not detected = open
    assert door["topics"]["getContactSensorState"] == "garagecam/garage/door_open"
    assert car["type"] == "occupancySensor"
    assert car["topics"]["getOccupancyDetected"] == "garagecam/garage/car_present"
    assert door["name"] == "Garage door open"


INFORMATION = {
    "Name": "Garage",
    "Manufacturer": "GarageCam",
    "Model": "demo v1",
    "FirmwareRevision": __version__,
}
RUNNER = Topics()
INTEGRATION = Topics("garagecam", "garagecam-ha")  # the HA integration's default prefix
STATES = {"door_open": "on", "car_present": "off"}


def runner_messages(topics: Topics) -> list[Message]:
    return [
        *discovery_messages(CAMERA, topics),
        *state_messages(topics, "garage", STATES, {}),
        camera_availability_message(topics, "garage", True),
        bridge_availability_message(topics, True),
    ]


def what_each_consumer_shows(topics: Topics, retained: Mapping[str, str]) -> dict[str, Any]:
    """Every consumer's view, rebuilt from retained topics alone."""
    configs = {t: p for t, p in retained.items() if t.startswith(f"{topics.discovery_prefix}/")}
    binary = {t: p for t, p in configs.items() if "/binary_sensor/" in t}
    label_of = {t: t.split("/")[-2] for t in binary}
    shown: dict[str, Any] = {
        "home_assistant": {
            label_of[t]: consumers.home_assistant(p, retained) for t, p in binary.items()
        },
        "scrypted": {
            label_of[t]: consumers.scrypted(f"{topics.discovery_prefix}/", t, p, retained)
            for t, p in binary.items()
        },
        "mqttthing": {
            a["topics"].get("getContactSensorState", "")
            or a["topics"]["getOccupancyDetected"]: consumers.mqttthing(a, retained)
            for a in mqttthing_accessories([CAMERA], topics, "mqtt://broker:1883")
        },
    }
    for release in consumers.TASMOTA_RELEASES:
        shown[f"tasmota/{release}"] = {
            label_of.get(t, t): consumers.tasmota(t, p, retained, release)
            for t, p in configs.items()
            if consumers.tasmota(t, p, retained, release) is not None
        }
    return shown


def expected_for_runner() -> dict[str, Any]:
    accessory = {"accessory": "garagecam_garage"}
    tasmota = {
        "door_open": {**accessory, "name": "Door open", "service": "ContactSensor",
                      "state": "open", "availability": False},
        # No occupancy mapping: no service at all, an error in the log.
        "car_present": {**accessory, "name": "Car present", "service": None,
                        "log": "Unhandled Tasmota binary sensor type"},
    }  # fmt: skip
    prefix = "homeassistant/sensor/garagecam_garage"
    sensors: dict[str, Any] = {
        f"{prefix}/{label}_probability/config": {
            **accessory, "name": f"{title} probability", "service": None,
            "log": "Warning: missing dev_cla",
        }
        for label, title in (("door_open", "Door open"), ("car_present", "Car present"))
    }  # fmt: skip
    sensors[f"{prefix}/inference_ms/config"] = {
        **accessory, "name": "Inference time", "service": None,
        "log": "Warning: Unhandled Tasmota sensor type",
    }  # fmt: skip
    legacy_inference = {
        f"{prefix}/inference_ms/config": {
            **sensors[f"{prefix}/inference_ms/config"], "log": "Warning: missing dev_cla"
        }
    }  # fmt: skip
    # The status sensor carries the accessory information (name, manufacturer, model).
    sensors[f"{prefix}/status/config"] = {
        **accessory, "name": "Status", "service": None, "information": INFORMATION,
    }  # fmt: skip
    return {
        "home_assistant": {
            "door_open": {
                "device": "garagecam_garage",
                "device_class": "door",
                "state": "on",
                "available": True,
            },
            "car_present": {
                "device": "garagecam_garage",
                "device_class": "occupancy",
                "state": "off",
                "available": True,
            },
        },
        "scrypted": {
            "door_open": {
                "device": "Garage",
                "native_id": "binary_sensor/garagecam_garage",
                "EntrySensor": {"entryOpen": True},
            },
            "car_present": None,  # Scrypted maps no occupancy class
        },
        "mqttthing": {
            "garagecam/garage/door_open": {
                "type": "contactSensor",
                "getContactSensorState": True,
                "online": True,
            },
            "garagecam/garage/car_present": {
                "type": "occupancySensor",
                "getOccupancyDetected": False,
                "online": True,
            },
        },
        **{f"tasmota/{release}": {**tasmota, **sensors} for release in consumers.TASMOTA_RELEASES},
        # Older releases read `dev_cla` only; the inference sensor publishes `device_class`.
        "tasmota/legacy": {**tasmota, **sensors, **legacy_inference},
    }


def test_each_consumer_shows_each_label() -> None:
    retained = {topic: payload for topic, payload, _ in runner_messages(RUNNER)}
    assert what_each_consumer_shows(RUNNER, retained) == expected_for_runner()


@pytest.mark.parametrize("release", consumers.TASMOTA_RELEASES)
def test_tasmota_accessory_is_named_after_the_camera(release: str) -> None:
    """In publish order the accessory gets the camera's name, manufacturer and model.

    homebridge-tasmota names a new accessory after the config that creates it (the first
    binary sensor) and takes the accessory information from the `<node>_status` sensor."""
    messages = runner_messages(RUNNER)
    retained = {topic: payload for topic, payload, _ in messages}
    configs = [(m.topic, m.payload) for m in messages if m.topic.endswith("/config")]
    accessories = consumers.tasmota_accessories(configs, retained, release)
    assert accessories == {
        "garagecam_garage": {
            "display_name": "Door open",
            "information": INFORMATION,
            "services": {"Door open": "ContactSensor"},
        }
    }
    # A status config reaching the plugin before any binary sensor (a broker delivering
    # retained sensor configs first) is dropped with the unregistered accessory: the
    # reason discovery publishes it after the binary sensors.
    sensors_first = sorted(configs, key=lambda config: "/binary_sensor/" in config[0])
    late = consumers.tasmota_accessories(sensors_first, retained, release)
    assert late["garagecam_garage"]["information"] is None


def test_integration_prefix_reaches_scrypted_not_tasmota() -> None:
    """homebridge-tasmota only reads the literal `homeassistant/` prefix (src/lib/Mqtt.ts)."""
    retained = {topic: payload for topic, payload, _ in runner_messages(INTEGRATION)}
    shown = what_each_consumer_shows(INTEGRATION, retained)
    for release in consumers.TASMOTA_RELEASES:
        assert shown[f"tasmota/{release}"] == {}
    assert shown["scrypted"]["door_open"] == {
        "device": "Garage",
        "native_id": "binary_sensor/garagecam-ha_garage",
        "EntrySensor": {"entryOpen": True},
    }
    assert shown["mqttthing"]["garagecam-ha/garage/door_open"]["getContactSensorState"] is True


def test_plain_state_payload_would_fail_scrypted() -> None:
    """Why the JSON topic exists: Scrypted JSON-parses every state through value_template."""
    door = json.loads(discovery_messages(CAMERA, RUNNER)[0].payload)
    plain = {**door, "state_topic": "garagecam/garage/door_open"}
    retained = {"garagecam/garage/door_open": "ON"}
    topic = "homeassistant/binary_sensor/garagecam_garage/door_open/config"
    shown = consumers.scrypted("homeassistant/", topic, json.dumps(plain), retained)
    assert shown is not None and shown["EntrySensor"] == {"entryOpen": None}


@pytest.mark.mqtt
def test_bridge_rebuilds_accessories_from_retained_topics(broker: Broker) -> None:
    """Publish like the runner, then subscribe like each bridge and rebuild what it shows."""
    publisher = fresh_spy(broker.port, topics=())
    messages = runner_messages(RUNNER)
    for topic, payload, retain in messages:
        publisher.publish(topic, payload, retain=retain)
    publisher.stop()

    bridge = fresh_spy(broker.port, topics=("homeassistant/#", "garagecam/#"))
    try:
        assert wait_until(lambda: len(bridge.snapshot()) == len(messages))
        retained = bridge.snapshot()
        assert what_each_consumer_shows(RUNNER, retained) == expected_for_runner()
    finally:
        bridge.stop()


def test_cli_prints_paste_ready_json(tiny_model_path: Path, tmp_path: Path) -> None:
    config = tmp_path / "garagecam.yaml"
    config.write_text(
        f"models:\n  tiny: {{path: {tiny_model_path}}}\n"
        "mqtt: {host: 192.0.2.1, username: u, password: very-secret}\n"
        "cameras:\n  - {id: garage, name: Garage, model: tiny, file: frames}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "garagecam_core", "homebridge-config", "--config", str(config)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    accessories = json.loads(result.stdout)["accessories"]
    assert [a["type"] for a in accessories] == ["contactSensor", "occupancySensor"]
    assert accessories[0]["url"] == "mqtt://192.0.2.1:1883"
    assert "very-secret" not in result.stdout


def test_tasmota_platform_injects_each_cameras_availability() -> None:
    """homebridge-tasmota reads one `avty_t` per discovered config; HA's discovery cannot carry
    it next to `availability`, so the platform entry injects it by unique id."""
    platform = tasmota_platform([CAMERA], RUNNER, "192.0.2.1:1883", "u", "p")
    assert (platform["platform"], platform["mqttHost"]) == ("Tasmota", "192.0.2.1:1883")
    assert (platform["mqttUsername"], platform["mqttPassword"]) == ("u", "p")
    retained = {topic: payload for topic, payload, _ in runner_messages(RUNNER)}
    unique_ids = {
        json.loads(payload)["uniq_id"]
        for topic, payload in retained.items()
        if "/binary_sensor/" in topic and topic.endswith("/config")
    }
    assert {i["topic"] for i in platform["injections"]} == unique_ids
    for injection in platform["injections"]:
        keys = {item["key"]: item["value"] for item in injection["injection"]}
        assert keys == {
            "avty_t": "garagecam/garage/availability",
            "pl_avail": "online",
            "pl_not_avail": "offline",
        }
    placeholders = tasmota_platform([CAMERA], RUNNER, "broker:1883")
    assert placeholders["mqttPassword"] == "<MQTT_PASSWORD>"


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "garagecam_core", "homebridge-config", "--config", str(config),
         *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_cli_writes_the_tasmota_platform(tiny_model_path: Path, tmp_path: Path) -> None:
    config = tmp_path / "garagecam.yaml"
    config.write_text(
        f"models:\n  tiny: {{path: {tiny_model_path}}}\n"
        "mqtt: {host: 192.0.2.1, port: 1884, username: u, password: very-secret}\n"
        "cameras:\n  - {id: garage, name: Garage, model: tiny, file: frames}\n"
    )
    result = _cli(config, "--plugin", "tasmota")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert list(out) == ["platforms"]
    (platform,) = out["platforms"]
    assert platform["mqttHost"] == "192.0.2.1:1884"
    assert "very-secret" not in result.stdout
    both = json.loads(_cli(config, "--plugin", "mqttthing", "--plugin", "tasmota").stdout)
    assert list(both) == ["accessories", "platforms"]


def test_cli_refuses_tasmota_where_it_cannot_read(tiny_model_path: Path, tmp_path: Path) -> None:
    config = tmp_path / "garagecam.yaml"
    config.write_text(
        f"models:\n  tiny: {{path: {tiny_model_path}}}\n"
        "mqtt: {host: 192.0.2.1, discovery_prefix: ha}\n"
        "cameras:\n  - {id: garage, name: Garage, model: tiny, file: frames}\n"
    )
    result = _cli(config, "--plugin", "tasmota")
    assert result.returncode != 0 and not result.stdout
    (line,) = result.stderr.strip().splitlines()
    assert "homebridge-tasmota reads discovery under 'homeassistant/' only" in line
