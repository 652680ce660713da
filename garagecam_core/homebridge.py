"""Homebridge configuration for the runner's MQTT topics (paste into Homebridge's config.json).

Two plugins read them; HomeKit shows "No Response" for an accessory whose camera is offline
(frames stale, runner stopped or crashed: the camera's availability topic is the last will of
the camera's own MQTT connection):

- homebridge-mqttthing has no discovery: each accessory names its topics and payloads. Doors
  (and other openings) become `contactSensor`s (`ON` = contact not detected = open), cars and
  other presence labels `occupancySensor`s, motion labels `motionSensor`s. `getOnline`
  follows the camera's availability topic.
- homebridge-tasmota builds accessories from the Home Assistant discovery configs under the
  literal `homeassistant/` prefix. It takes availability from a single `avty_t` topic, which
  the discovery configs cannot carry (see `discovery.py`), so its platform entry injects one
  per binary sensor: the camera's availability topic (`injections`, matched by unique id).
  It maps `door`, `motion`, `moisture` and `doorbell` binary sensors only: no car sensor.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .discovery import OFFLINE, ONLINE, PAYLOAD_OFF, PAYLOAD_ON, CameraInfo, Topics, label_title
from .metadata import LabelSpec

# mqttthing accessory type and the topic key that carries the state, per device class.
_CONTACT = ("contactSensor", "getContactSensorState")
_OCCUPANCY = ("occupancySensor", "getOccupancyDetected")
_MOTION = ("motionSensor", "getMotionDetected")
_BY_DEVICE_CLASS = {
    "door": _CONTACT, "garage_door": _CONTACT, "opening": _CONTACT, "window": _CONTACT,
    "occupancy": _OCCUPANCY, "presence": _OCCUPANCY,
    "motion": _MOTION, "moving": _MOTION,
}  # fmt: skip

#: the only discovery prefix homebridge-tasmota subscribes to (src/lib/Mqtt.ts)
TASMOTA_PREFIX = "homeassistant"


def accessory_kind(label: LabelSpec) -> tuple[str, str]:
    """(mqttthing type, state topic key) for a label; plain labels become contact sensors."""
    return _BY_DEVICE_CLASS.get(label.device_class or "", _CONTACT)


def mqttthing_accessories(
    cameras: Iterable[CameraInfo],
    topics: Topics,
    broker_url: str,
    username: str | None = "<MQTT_USERNAME>",
    password: str | None = "<MQTT_PASSWORD>",  # noqa: S107 - a placeholder for the user
) -> list[dict[str, Any]]:
    accessories = []
    for camera in cameras:
        for label in camera.model.labels:
            kind, state_key = accessory_kind(label)
            accessory: dict[str, Any] = {
                "accessory": "mqttthing",
                "type": kind,
                "name": f"{camera.name} {label_title(label.name).lower()}",
                "url": broker_url,
            }
            if username is not None:
                accessory["username"] = username
            if password is not None:
                accessory["password"] = password
            accessory.update(
                {
                    "topics": {
                        state_key: topics.state(camera.camera_id, label.name),
                        "getOnline": topics.camera_availability(camera.camera_id),
                    },
                    "onValue": PAYLOAD_ON,
                    "offValue": PAYLOAD_OFF,
                    "onlineValue": ONLINE,
                    "offlineValue": OFFLINE,
                    "manufacturer": "GarageCam",
                    "model": camera.model.name,
                    "serialNumber": f"{topics.node_id(camera.camera_id)}_{label.name}",
                }
            )
            accessories.append(accessory)
    return accessories


def tasmota_injections(cameras: Iterable[CameraInfo], topics: Topics) -> list[dict[str, Any]]:
    """Per binary sensor: its camera's availability topic and payloads, as homebridge-tasmota
    reads them (`avty_t`, `pl_avail`, `pl_not_avail`); `topic` is the config's unique id."""
    return [
        {
            "topic": topics.unique_id(camera.camera_id, label.name),
            "injection": [
                {"key": "avty_t", "value": topics.camera_availability(camera.camera_id)},
                {"key": "pl_avail", "value": ONLINE},
                {"key": "pl_not_avail", "value": OFFLINE},
            ],
        }
        for camera in cameras
        for label in camera.model.labels
    ]


def tasmota_platform(
    cameras: Iterable[CameraInfo],
    topics: Topics,
    broker: str,
    username: str | None = "<MQTT_USERNAME>",
    password: str | None = "<MQTT_PASSWORD>",  # noqa: S107 - a placeholder for the user
) -> dict[str, Any]:
    """homebridge-tasmota's platform entry; `broker` is `host:port` (it connects `mqtt://`)."""
    platform: dict[str, Any] = {"platform": "Tasmota", "name": "GarageCam", "mqttHost": broker}
    if username is not None:
        platform["mqttUsername"] = username
    if password is not None:
        platform["mqttPassword"] = password
    platform["injections"] = tasmota_injections(cameras, topics)
    return platform
