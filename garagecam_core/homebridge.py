"""homebridge-mqttthing accessories for every camera label (paste into Homebridge's config.json).

mqttthing has no discovery: each accessory names its topics and payloads. Doors (and other
openings) become `contactSensor`s (`ON` = contact not detected = open), cars and other
presence labels `occupancySensor`s, motion labels `motionSensor`s. `getOnline` follows the
camera's availability topic, so HomeKit shows "No Response" while frames are stale and once
the runner stops or crashes (that topic is the last will of the camera's own connection).
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
