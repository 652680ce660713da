"""Discovery payloads: topics, required keys, and Home Assistant's own discovery schemas."""

from __future__ import annotations

import json
from typing import Any

import pytest

from garagecam_core import __version__
from garagecam_core.discovery import (
    CameraInfo,
    Topics,
    binary_sensor_config,
    discovery_device_class,
    discovery_messages,
    is_our_config,
    removal_messages,
    sanitize,
    state_messages,
)
from garagecam_core.metadata import LabelSpec, ModelMetadata

MODEL = ModelMetadata(
    name="demo",
    input_height=64,
    input_width=64,
    labels=(LabelSpec("door_open", "garage_door"), LabelSpec("car_present", "occupancy")),
    version="2",
)
INFO = CameraInfo("garage", "Garage", MODEL)
TOPICS = Topics()


def configs() -> dict[str, dict[str, Any]]:
    return {m.topic: json.loads(m.payload) for m in discovery_messages(INFO, TOPICS)}


def test_topics_are_per_component_and_retained() -> None:
    messages = discovery_messages(INFO, TOPICS)
    assert all(m.retain for m in messages)
    assert [m.topic for m in messages] == [
        "homeassistant/binary_sensor/garagecam_garage/door_open/config",
        "homeassistant/binary_sensor/garagecam_garage/car_present/config",
        "homeassistant/sensor/garagecam_garage/status/config",  # after the binary sensors
        "homeassistant/sensor/garagecam_garage/door_open_probability/config",
        "homeassistant/sensor/garagecam_garage/car_present_probability/config",
        "homeassistant/sensor/garagecam_garage/inference_ms/config",
    ]


def test_binary_sensor_payload() -> None:
    door = configs()["homeassistant/binary_sensor/garagecam_garage/door_open/config"]
    assert door == {
        "name": "Door open",
        "unique_id": "garagecam_garage_door_open",
        "device": {
            "identifiers": ["garagecam_garage"],
            "ids": ["garagecam_garage"],
            "name": "Garage",
            "manufacturer": "GarageCam",
            "mf": "GarageCam",
            "model": "demo v2",
            "mdl": "demo v2",
            "sw_version": __version__,
            "sw": __version__,
        },
        "origin": {
            "name": "GarageCam",
            "sw_version": __version__,
            "support_url": "https://github.com/garagecam/garagecam",
        },
        "availability": [
            {
                "topic": "garagecam/status",
                "payload_available": "online",
                "payload_not_available": "offline",
            },
            {
                "topic": "garagecam/garage/availability",
                "payload_available": "online",
                "payload_not_available": "offline",
            },
        ],
        "availability_mode": "all",
        "device_class": "door",  # the model says garage_door: see discovery_device_class
        "state_topic": "garagecam/garage/door_open/json",
        "value_template": "{{ value_json.state }}",
        "payload_on": "ON",
        "payload_off": "OFF",
        # homebridge-tasmota's abbreviations, same values
        "uniq_id": "garagecam_garage_door_open",
        "stat_t": "garagecam/garage/door_open/json",
        "val_tpl": "{{ value_json.state }}",
        "dev_cla": "door",
        "pl_on": "ON",
        "pl_off": "OFF",
    }


@pytest.mark.parametrize(
    ("model_class", "published"),
    [
        ("garage_door", "door"), ("door", "door"), ("opening", "door"), ("window", "door"),
        ("motion", "motion"), ("moving", "motion"), ("occupancy", "occupancy"),
        ("presence", "presence"), (None, None),
    ],
)  # fmt: skip
def test_published_device_class(model_class: str | None, published: str | None) -> None:
    label = LabelSpec("x", model_class)
    assert discovery_device_class(label) == published
    config = binary_sensor_config(INFO, TOPICS, label)
    assert config.get("device_class") == published == config.get("dev_cla")


def test_diagnostic_sensors_are_disabled_by_default() -> None:
    all_configs = configs()
    probability = all_configs[
        "homeassistant/sensor/garagecam_garage/car_present_probability/config"
    ]
    inference = all_configs["homeassistant/sensor/garagecam_garage/inference_ms/config"]
    for config in (probability, inference):
        assert config["entity_category"] == "diagnostic"
        assert config["enabled_by_default"] is False
    assert probability["unit_of_measurement"] == "%"
    assert probability["state_topic"] == "garagecam/garage/car_present/probability"
    assert inference["unit_of_measurement"] == "ms"
    assert inference["device_class"] == "duration"
    # Unique ids are unique.
    ids = [c["unique_id"] for c in all_configs.values()]
    assert len(set(ids)) == len(ids)


def test_status_sensor_is_what_homebridge_tasmota_reads_for_accessory_information() -> None:
    """Unique id `<dev.ids[0]>_status`, no device class (src/tasmotaSensorService.ts)."""
    status = configs()["homeassistant/sensor/garagecam_garage/status/config"]
    assert status["unique_id"] == status["uniq_id"] == "garagecam_garage_status"
    assert status["unique_id"] == f"{status['device']['ids'][0]}_status"
    assert "device_class" not in status and "unit_of_measurement" not in status
    assert status["state_topic"] == status["stat_t"] == "garagecam/garage/availability"
    assert [a["topic"] for a in status["availability"]] == ["garagecam/status"]
    assert status["entity_category"] == "diagnostic"
    device = status["device"]
    assert (device["mf"], device["mdl"], device["sw"]) == ("GarageCam", "demo v2", __version__)


def test_topic_segments_are_sanitised() -> None:
    assert sanitize("front door/#+ é") == "front_door_____"
    assert sanitize("") == "_"
    info = CameraInfo("my cam", "My cam", MODEL)
    topics = Topics("ha/disc", "gc home")
    messages = discovery_messages(info, topics)
    for message in messages:
        segments = message.topic.split("/")
        assert all(segment and sanitize(segment) == segment for segment in segments)
        payload = json.loads(message.payload)
        assert "+" not in payload["state_topic"] and "#" not in payload["state_topic"]


def test_state_messages_skip_unknown_and_format_numbers() -> None:
    messages = state_messages(
        TOPICS,
        "garage",
        {"door_open": "on", "car_present": "unknown"},
        {"door_open": 0.91234, "car_present": None},
        inference_ms=12.345,
    )
    assert [(m.topic, m.payload, m.retain) for m in messages] == [
        ("garagecam/garage/door_open", "ON", True),
        ("garagecam/garage/door_open/json", '{"state":"ON"}', True),
        ("garagecam/garage/door_open/probability", "91.2", True),
        ("garagecam/garage/inference_ms", "12.3", True),
    ]


def test_removal_and_ownership() -> None:
    topic, payload, _ = discovery_messages(INFO, TOPICS)[0]
    assert is_our_config(TOPICS, topic, payload) == "garagecam_garage"
    assert is_our_config(Topics(base="other"), topic, payload) is None
    assert is_our_config(TOPICS, "homeassistant/binary_sensor/zigbee_x/door/config", "{}") is None
    foreign = json.dumps({"state_topic": "zigbee2mqtt/door"})
    assert (
        is_our_config(TOPICS, "homeassistant/binary_sensor/garagecam_x/y/config", foreign) is None
    )
    assert removal_messages([topic]) == [(topic, "", True)]


@pytest.mark.parametrize("component", ["binary_sensor", "sensor"])
def test_payloads_pass_home_assistant_discovery_schema(
    component: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Expand abbreviations and validate with Home Assistant's own code (Python 3.13 venv)."""
    module = pytest.importorskip(
        f"homeassistant.components.mqtt.{component}",
        reason="Home Assistant is installed only in the Python 3.13 environment",
    )
    from homeassistant.components.mqtt.discovery import _replace_all_abbreviations
    from homeassistant.components.mqtt.schemas import MQTT_ORIGIN_INFO_SCHEMA
    from homeassistant.helpers import frame

    # cv.template reports "validated outside the event loop" through the frame helper, which
    # needs a running Home Assistant; the validation itself does not.
    monkeypatch.setattr(frame, "report_usage", lambda *args, **kwargs: None)
    checked = 0
    for topic, payload in configs().items():
        if f"/{component}/" not in topic:
            continue
        expanded = json.loads(json.dumps(payload))
        _replace_all_abbreviations(expanded)
        # An abbreviation replaces its full key: both forms must carry the same value.
        shared = (set(expanded) & set(payload)) - {"device"}
        assert {k: expanded[k] for k in shared} == {k: payload[k] for k in shared}, topic
        assert expanded["device"]["identifiers"] == payload["device"]["identifiers"]
        validated = module.DISCOVERY_SCHEMA(expanded)
        # The schema silently drops unknown keys: every key must survive.
        assert set(expanded) <= {str(key) for key in validated}, topic
        assert expanded["device"] == {
            "identifiers": ["garagecam_garage"], "name": "Garage", "manufacturer": "GarageCam",
            "model": "demo v2", "sw_version": __version__,
        }  # fmt: skip
        MQTT_ORIGIN_INFO_SCHEMA(payload["origin"])
        checked += 1
    assert checked >= 2
