"""MQTT topics and payloads: Home Assistant discovery configs, states, availability.

Pure functions returning `Message(topic, payload, retain)` tuples, shared by the standalone
runner (paho) and the Home Assistant integration (its own MQTT client). No MQTT client here.

Layout (defaults: discovery prefix `homeassistant`, base topic `garagecam`):

- `<base>/status`                          bridge availability (LWT `offline`), retained
- `<base>/<camera>/availability`           per-camera availability (frames fresh), retained
- `<base>/<camera>/<label>`                debounced state `ON` / `OFF`, retained (mqttthing)
- `<base>/<camera>/<label>/json`           the same state as `{"state": "ON"}`, retained (discovery)
- `<base>/<camera>/<label>/probability`    probability in percent, retained
- `<base>/<camera>/inference_ms`           last inference time, retained
- `<prefix>/<component>/<node_id>/<object_id>/config`   discovery, retained

Per-component discovery topics (not the device-based form) because homebridge-tasmota and
Scrypted only read those. What each consumer reads, from their source (see
the manual's docs/homekit.md, "Basis for each column", for the references):

- Scrypted's MQTT autodiscovery reads full key names only (`state_topic`, `device_class`,
  `payload_on`, `value_template`, `device.name`) and always parses the state payload as JSON
  through `value_template`: hence the JSON state topic.
- homebridge-tasmota reads abbreviated names (`uniq_id`, `stat_t`, `dev_cla`, `pl_on`,
  `val_tpl`, `dev.ids`); newer releases also rename full top-level keys, older ones do not.
  Binary sensor configs therefore carry both forms with identical values; Home Assistant
  expands abbreviations over the full key (same value, so nothing changes).
- Device classes are published in the form every consumer maps (`door`, `motion`), see
  `discovery_device_class`.
- Availability is the `availability` list (bridge and camera, mode `all`). homebridge-tasmota
  reads a single `avty_t` only, and Home Assistant refuses `availability_topic` (`avty_t`
  expands to it) next to `availability`: so the configs leave it out and the Homebridge
  config adds it per sensor through homebridge-tasmota's `injections` (`homebridge.py`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from . import __version__
from .metadata import LabelSpec, ModelMetadata

PAYLOAD_ON = "ON"
PAYLOAD_OFF = "OFF"
#: Home Assistant's MQTT binary sensor shows "unknown" for this payload; published when a
#: known state becomes unknown because the frames are unfamiliar to the model
PAYLOAD_UNKNOWN = "None"
ONLINE = "online"
OFFLINE = "offline"
DEFAULT_DISCOVERY_PREFIX = "homeassistant"
DEFAULT_BASE_TOPIC = "garagecam"
MANUFACTURER = "GarageCam"
SUPPORT_URL = "https://github.com/garagecam/garagecam"

_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")


class Message(NamedTuple):
    topic: str
    payload: str
    retain: bool


def sanitize(segment: str) -> str:
    """A topic segment restricted to [a-zA-Z0-9_-] (others become `_`), never empty."""
    cleaned = _UNSAFE.sub("_", segment.strip())
    return cleaned or "_"


def label_title(label: str) -> str:
    """Entity name shown to users: `door_open` -> `Door open`."""
    text = label.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class Topics:
    """Every topic the runner publishes or listens to, from two configurable roots."""

    discovery_prefix: str = DEFAULT_DISCOVERY_PREFIX
    base: str = DEFAULT_BASE_TOPIC

    @property
    def bridge_availability(self) -> str:
        return f"{self.base}/status"

    @property
    def homeassistant_status(self) -> str:
        """Home Assistant announces `online` here after it (re)starts."""
        return f"{self.discovery_prefix}/status"

    def node_id(self, camera_id: str) -> str:
        return f"{sanitize(self.base)}_{sanitize(camera_id)}"

    def camera_availability(self, camera_id: str) -> str:
        return f"{self.base}/{sanitize(camera_id)}/availability"

    def unique_id(self, camera_id: str, object_id: str) -> str:
        """A discovery config's `unique_id` (homebridge-tasmota's key for injections)."""
        return f"{self.node_id(camera_id)}_{sanitize(object_id)}"

    def state(self, camera_id: str, label: str) -> str:
        return f"{self.base}/{sanitize(camera_id)}/{sanitize(label)}"

    def state_json(self, camera_id: str, label: str) -> str:
        return f"{self.state(camera_id, label)}/json"

    def probability(self, camera_id: str, label: str) -> str:
        return f"{self.state(camera_id, label)}/probability"

    def inference_ms(self, camera_id: str) -> str:
        return f"{self.base}/{sanitize(camera_id)}/inference_ms"

    def config(self, component: str, camera_id: str, object_id: str) -> str:
        return (
            f"{self.discovery_prefix}/{component}/{self.node_id(camera_id)}/"
            f"{sanitize(object_id)}/config"
        )

    @property
    def config_wildcard(self) -> str:
        """Subscription matching every per-component discovery config."""
        return f"{self.discovery_prefix}/+/+/+/config"


@dataclass(frozen=True)
class CameraInfo:
    """What discovery needs to know about one camera."""

    camera_id: str
    name: str
    model: ModelMetadata


def device(info: CameraInfo, topics: Topics) -> dict[str, Any]:
    ids = [topics.node_id(info.camera_id)]
    model = f"{info.model.name} v{info.model.version}"
    # homebridge-tasmota reads the device only abbreviated (`dev.ids`, `dev.mf`, `dev.mdl`,
    # `dev.sw`: it never renames nested keys); Home Assistant expands each abbreviation over
    # its full key, which carries the same value.
    return {
        "identifiers": ids,
        "ids": ids,
        "name": info.name,
        "manufacturer": MANUFACTURER,
        "mf": MANUFACTURER,
        "model": model,
        "mdl": model,
        "sw_version": __version__,
        "sw": __version__,
    }


def origin() -> dict[str, str]:
    return {"name": MANUFACTURER, "sw_version": __version__, "support_url": SUPPORT_URL}


def availability(info: CameraInfo, topics: Topics) -> list[dict[str, str]]:
    return [
        {
            "topic": topic,
            "payload_available": ONLINE,
            "payload_not_available": OFFLINE,
        }
        for topic in (topics.bridge_availability, topics.camera_availability(info.camera_id))
    ]


def _common(info: CameraInfo, topics: Topics, object_id: str) -> dict[str, Any]:
    return {
        "unique_id": topics.unique_id(info.camera_id, object_id),
        "device": device(info, topics),
        "origin": origin(),
        "availability": availability(info, topics),
        "availability_mode": "all",
    }


# Label device class -> the class published in discovery. homebridge-tasmota only updates
# `door`/`contact` (contact sensor), `motion`, `moisture` and `doorbell`; Scrypted only maps
# `door`/`garage_door`/`window` (entry sensor) and `motion`. `door` is the one opening class
# both know, and Home Assistant (and its HomeKit Bridge) shows it as a contact sensor too.
_DISCOVERY_DEVICE_CLASS = {
    "door": "door", "garage_door": "door", "opening": "door", "window": "door",
    "motion": "motion", "moving": "motion",
}  # fmt: skip

STATE_VALUE_TEMPLATE = "{{ value_json.state }}"


def discovery_device_class(label: LabelSpec) -> str | None:
    """The device class published for a label (others, e.g. `occupancy`, pass unchanged)."""
    if not label.device_class:
        return None
    return _DISCOVERY_DEVICE_CLASS.get(label.device_class, label.device_class)


def binary_sensor_config(info: CameraInfo, topics: Topics, label: LabelSpec) -> dict[str, Any]:
    config = {
        "name": label_title(label.name),
        **_common(info, topics, label.name),
        "state_topic": topics.state_json(info.camera_id, label.name),
        "value_template": STATE_VALUE_TEMPLATE,
        "payload_on": PAYLOAD_ON,
        "payload_off": PAYLOAD_OFF,
    }
    device_class = discovery_device_class(label)
    if device_class:
        config["device_class"] = device_class
    return {**config, **_tasmota_aliases(config)}


# Full key -> abbreviation, for the keys homebridge-tasmota reads without expanding them.
_TASMOTA_ALIASES = {
    "unique_id": "uniq_id",
    "state_topic": "stat_t",
    "value_template": "val_tpl",
    "device_class": "dev_cla",
    "payload_on": "pl_on",
    "payload_off": "pl_off",
}


def _tasmota_aliases(config: Mapping[str, Any]) -> dict[str, Any]:
    return {short: config[full] for full, short in _TASMOTA_ALIASES.items() if full in config}


def probability_sensor_config(info: CameraInfo, topics: Topics, label: LabelSpec) -> dict[str, Any]:
    return {
        "name": f"{label_title(label.name)} probability",
        **_common(info, topics, f"{label.name}_probability"),
        "state_topic": topics.probability(info.camera_id, label.name),
        "unit_of_measurement": "%",
        "state_class": "measurement",
        "suggested_display_precision": 1,
        "entity_category": "diagnostic",
        "enabled_by_default": False,
        "icon": "mdi:percent",
    }


STATUS_OBJECT_ID = "status"


def status_sensor_config(info: CameraInfo, topics: Topics) -> dict[str, Any]:
    """The camera's availability (`online`/`offline`) as a diagnostic sensor.

    homebridge-tasmota takes the HomeKit accessory information (name = `dev.name`,
    manufacturer, model, firmware) only from a sensor without device class whose unique id
    is `<dev.ids[0]>_status` (Tasmota's own status sensor), hence this exact id and no
    device class. Its availability is the bridge alone, so Home Assistant shows `offline`
    rather than "unavailable" when the camera's frames are stale.
    """
    config = {
        "name": "Status",
        **_common(info, topics, STATUS_OBJECT_ID),
        "state_topic": topics.camera_availability(info.camera_id),
        "entity_category": "diagnostic",
        "icon": "mdi:cctv",
    }
    config["availability"] = config["availability"][:1]  # the bridge (runner) only
    return {**config, **_tasmota_aliases(config)}  # older releases read `uniq_id` only


def inference_sensor_config(info: CameraInfo, topics: Topics) -> dict[str, Any]:
    return {
        "name": "Inference time",
        **_common(info, topics, "inference_ms"),
        "state_topic": topics.inference_ms(info.camera_id),
        "device_class": "duration",
        "unit_of_measurement": "ms",
        "state_class": "measurement",
        "suggested_display_precision": 0,
        "entity_category": "diagnostic",
        "enabled_by_default": False,
    }


def _dump(payload: Mapping[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True)


def discovery_messages(info: CameraInfo, topics: Topics) -> list[Message]:
    """Retained discovery configs for one camera: a binary sensor per label + diagnostics."""
    messages = []
    for label in info.model.labels:
        messages.append(
            Message(
                topics.config("binary_sensor", info.camera_id, label.name),
                _dump(binary_sensor_config(info, topics, label)),
                True,
            )
        )
    # After the binary sensors: homebridge-tasmota drops a status config that reaches it
    # before the accessory exists (it is created by the first config with a service).
    messages.append(
        Message(
            topics.config("sensor", info.camera_id, STATUS_OBJECT_ID),
            _dump(status_sensor_config(info, topics)),
            True,
        )
    )
    for label in info.model.labels:
        messages.append(
            Message(
                topics.config("sensor", info.camera_id, f"{label.name}_probability"),
                _dump(probability_sensor_config(info, topics, label)),
                True,
            )
        )
    messages.append(
        Message(
            topics.config("sensor", info.camera_id, "inference_ms"),
            _dump(inference_sensor_config(info, topics)),
            True,
        )
    )
    return messages


def removal_messages(config_topics: Iterable[str]) -> list[Message]:
    """Empty retained payloads: Home Assistant removes the entity and the broker the topic."""
    return [Message(topic, "", True) for topic in config_topics]


def bridge_availability_message(topics: Topics, online: bool) -> Message:
    return Message(topics.bridge_availability, ONLINE if online else OFFLINE, True)


def camera_availability_message(topics: Topics, camera_id: str, online: bool) -> Message:
    return Message(topics.camera_availability(camera_id), ONLINE if online else OFFLINE, True)


def state_payload(state: str) -> str | None:
    """`ON`/`OFF` for a debounced state; None while it is still unknown (nothing to publish)."""
    value = str(state).lower()
    if value == "on":
        return PAYLOAD_ON
    if value == "off":
        return PAYLOAD_OFF
    return None


def state_messages(
    topics: Topics,
    camera_id: str,
    states: Mapping[str, str],
    probabilities: Mapping[str, float | None],
    inference_ms: float | None = None,
    *,
    unfamiliar: bool = False,
) -> list[Message]:
    """Retained states, probabilities in percent, last inference time. Unknown states are
    not published at start-up; once the model says the frames are `unfamiliar`, they are
    (as `PAYLOAD_UNKNOWN`), so no consumer keeps showing a state the model cannot back."""
    messages = []
    for label, state in states.items():
        payload = state_payload(state)
        if payload is None and unfamiliar:
            payload = PAYLOAD_UNKNOWN
        if payload is not None:
            messages.append(Message(topics.state(camera_id, label), payload, True))
            messages.append(
                Message(topics.state_json(camera_id, label), _dump({"state": payload}), True)
            )
    for label, probability in probabilities.items():
        if probability is not None:
            messages.append(
                Message(topics.probability(camera_id, label), f"{probability * 100:.1f}", True)
            )
    if inference_ms is not None:
        messages.append(Message(topics.inference_ms(camera_id), f"{inference_ms:.1f}", True))
    return messages


def is_our_config(topics: Topics, topic: str, payload: bytes | str) -> str | None:
    """The node id if `topic` is a discovery config this runner (same base topic) published."""
    parts = topic.split("/")
    prefix_parts = topics.discovery_prefix.split("/")
    if len(parts) != len(prefix_parts) + 4 or parts[-1] != "config":
        return None
    if parts[: len(prefix_parts)] != prefix_parts:
        return None
    node = parts[len(prefix_parts) + 1]
    if not node.startswith(f"{sanitize(topics.base)}_"):
        return None
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or not str(data.get("state_topic", "")).startswith(
        f"{topics.base}/"
    ):
        return None
    return node
