"""homebridge-mqttthing config: documented fields, and accessories rebuilt from retained
topics alone, the way a bridge subscribing to the broker sees them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from garagecam_core.discovery import CameraInfo, Topics, discovery_messages, state_messages
from garagecam_core.homebridge import mqttthing_accessories
from garagecam_core.metadata import LabelSpec, ModelMetadata
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


@pytest.mark.mqtt
def test_bridge_rebuilds_accessories_from_retained_topics(broker: Broker) -> None:
    """Publish like the runner, then subscribe like a bridge and rebuild every accessory."""
    topics = Topics()
    publisher = fresh_spy(broker.port, topics=())
    messages = discovery_messages(CAMERA, topics) + state_messages(
        topics, "garage", {"door_open": "on", "car_present": "off"}, {}
    )
    for topic, payload, retain in messages:
        publisher.publish(topic, payload, retain=retain)
    publisher.publish("garagecam/garage/availability", "online", retain=True)
    publisher.publish("garagecam/status", "online", retain=True)
    publisher.stop()

    bridge = fresh_spy(broker.port, topics=("homeassistant/#", "garagecam/#"))
    try:
        assert wait_until(lambda: len(bridge.snapshot()) == 9)
        retained = bridge.snapshot()
        rebuilt: dict[str, dict[str, Any]] = {}
        for topic, payload in retained.items():
            if topic.startswith("homeassistant/binary_sensor/") and topic.endswith("/config"):
                config = json.loads(payload)
                # homebridge-tasmota needs device ids and a name; Scrypted reads payload_on.
                assert config["device"]["identifiers"] and config["name"]
                online = all(
                    retained.get(a["topic"]) == a["payload_available"]
                    for a in config["availability"]
                )
                rebuilt[config["unique_id"]] = {
                    "class": config["device_class"],
                    "on": retained.get(config["state_topic"]) == config["payload_on"],
                    "online": online,
                }
        assert rebuilt == {
            "garagecam_garage_door_open": {"class": "garage_door", "on": True, "online": True},
            "garagecam_garage_car_present": {"class": "occupancy", "on": False, "online": True},
        }
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
