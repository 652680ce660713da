"""How each MQTT consumer reads our topics, as small pure-Python readers.

Each reader follows the consumer's own source (rules restated, no code copied) and answers
"what would this consumer show for this discovery config, given these retained topics":

- homebridge-tasmota (NorthernMan54/homebridge-tasmota 0.2.3): `src/lib/Mqtt.ts` (subscribes
  to the literal `homeassistant/#`, components switch/sensor/binary_sensor/light/fan/
  garageDoor, configs longer than 5 bytes on `.../config`), `src/tasmotaPlatform.ts`
  (needs `dev.ids[0]`, else "Malformed HASS Discovery message", and `name`; `uniq_id` keys
  the service; a new accessory is named after the config that creates it and is only
  registered if that config added a service), `src/utils.ts` `normalizeMessage` (renames
  full top-level keys to abbreviations; its `renameKeys` discards the nested renames, so
  `device` becomes `dev` with its keys unrenamed; older releases in `src/platform.ts` only
  copy `device.identifiers` to `dev.ids` and read every other key abbreviated),
  `src/tasmotaBinarySensorService.ts` (`door`, `contact`, `doorbell` -> ContactSensor,
  `motion` -> MotionSensor, `moisture` -> LeakSensor; any other class logs "Unhandled
  Tasmota binary sensor type" and adds no service), `src/tasmotaSensorService.ts` (a sensor
  without `dev_cla` (after `findDeviceClass(unit_of_meas, ic)`) sets the accessory
  information (Name = `dev.name`, Manufacturer `dev.mf`, Model `dev.mdl`, Firmware `dev.sw`,
  all three needed) when its `uniq_id` minus `dev.ids[0]` is `_status` or `rssi`, else
  logs "missing dev_cla"; no service either way), `src/TasmotaService.ts` (`val_tpl` ->
  JSON.parse + template, else raw payload; availability only through `avty_t`).
- Scrypted (koush/scrypted `plugins/mqtt/src/autodiscovery.ts`): subscribes `<url path>#`,
  drops exactly one prefix segment, node id groups configs into one device named
  `device.name`, binary_sensor `motion` -> MotionSensor, `door`/`garage_door`/`window` ->
  EntrySensor, anything else ignored; state = `payload_on == render(value_template,
  value_json=JSON.parse(payload))`, full key names only.
- Home Assistant (homeassistant/components/mqtt/discovery.py `_replace_abbreviations`):
  abbreviations replace the full key; binary sensor state through `value_template`.
- homebridge-mqttthing (arachnetech/homebridge-mqttthing docs/Configuration.md "Boolean Value
  Settings", docs/Accessories.md "Contact Sensor"/"Occupancy Sensor"): `onValue` -> true,
  `offValue` -> false, anything else ignored; `getOnline` compared with `onlineValue`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

Retained = Mapping[str, str]

_TEMPLATE = re.compile(r"^\{\{\s*value_json((?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}\}$")


def render(template: str, payload: str) -> str:
    """`{{ value_json.a.b }}` over a JSON payload (the only form our configs use).

    Raises like the consumers do (JSON.parse) when the payload is not JSON."""
    match = _TEMPLATE.match(template)
    if match is None:
        raise ValueError(f"template not understood by this reader: {template!r}")
    value: Any = json.loads(payload)
    for part in filter(None, match.group(1).split(".")):
        value = value[part]
    return str(value)


# --- homebridge-tasmota -----------------------------------------------------------------

_TASMOTA_RENAMES = {
    "unique_id": "uniq_id", "device_class": "dev_cla", "payload_on": "pl_on",
    "payload_off": "pl_off", "device": "dev", "model": "mdl", "sw_version": "sw",
    "manufacturer": "mf", "identifiers": "ids", "value_template": "val_tpl",
    "state_topic": "stat_t", "availability_topic": "avty_t", "command_topic": "cmd_t",
    "unit_of_measurement": "unit_of_meas", "icon": "ic",
}  # fmt: skip
_TASMOTA_COMPONENTS = {"switch", "sensor", "binary_sensor", "light", "fan", "garageDoor"}
_TASMOTA_BINARY = {
    "door": "ContactSensor", "contact": "ContactSensor", "doorbell": "ContactSensor",
    "motion": "MotionSensor", "moisture": "LeakSensor",
}  # fmt: skip
_TASMOTA_SENSORS = {
    "temperature": "TemperatureSensor", "humidity": "HumiditySensor",
    "pressure": "AirPressureSensor", "illuminance": "LightSensor",
    "co2": "CarbonDioxideSensor", "pm25": "AirQualitySensor", "power": "Outlet",
}  # fmt: skip
TASMOTA_RELEASES = ("legacy", "renaming", "renaming-nested")


def _tasmota_normalize(config: dict[str, Any], release: str) -> dict[str, Any]:
    if release == "legacy":  # src/platform.ts normalizeMessage
        message = dict(config)
        if isinstance(message.get("device"), dict):
            dev = dict(message["device"])
            dev["ids"] = dev.get("identifiers")
            message["dev"] = dev
        return message
    message = {}
    for key, value in config.items():  # src/utils.ts renameKeys, top level
        nested = release == "renaming-nested" and isinstance(value, dict)
        renamed = {_TASMOTA_RENAMES.get(k, k): v for k, v in value.items()} if nested else value
        message[_TASMOTA_RENAMES.get(key, key)] = renamed
    message.setdefault("pl_on", "ON")
    message.setdefault("pl_off", "OFF")
    return message


def _tasmota_sensor_class(message: Mapping[str, Any]) -> str | None:
    """`dev_cla`, else what `findDeviceClass(unit_of_meas, ic)` guesses."""
    if message.get("dev_cla"):
        return str(message["dev_cla"])
    unit, icon = message.get("unit_of_meas"), message.get("ic")
    if unit == "%" and icon == "mdi:gauge":
        return "humidity"
    return {"°F": "temperature", "°C": "temperature", "hPa": "pressure"}.get(str(unit))


def _tasmota_sensor(message: Mapping[str, Any], shown: dict[str, Any]) -> dict[str, Any]:
    device_class = _tasmota_sensor_class(message)
    if device_class is not None:
        service = _TASMOTA_SENSORS.get(device_class)
        if service is None:
            return {**shown, "service": None, "log": "Warning: Unhandled Tasmota sensor type"}
        return {**shown, "service": service}
    dev = message["dev"]
    suffix = str(message.get("uniq_id", "")).replace(str(dev["ids"][0]), "", 1).lower()
    if suffix not in ("_status", "rssi"):
        return {**shown, "service": None, "log": "Warning: missing dev_cla"}
    information = None
    if dev.get("mf") and dev.get("mdl") and dev.get("sw"):
        information = {
            "Name": dev.get("name"),
            "Manufacturer": re.sub(r"[^-\w ]", "", dev["mf"]),
            "Model": re.sub(r"[^-\w ]", "", dev["mdl"]),
            "FirmwareRevision": re.sub(r"[^-\w. ]", "", dev["sw"]),
        }
    return {**shown, "service": None, "information": information}


def tasmota(  # noqa: PLR0911 - one return per rule of the consumer
    topic: str, payload: str, retained: Retained, release: str
) -> dict[str, Any] | None:
    """What homebridge-tasmota makes of one config, or None if it skips it."""
    parts = topic.split("/")
    if parts[0] != "homeassistant" or not topic.endswith("config") or len(payload) <= 5:
        return None
    if parts[1] not in _TASMOTA_COMPONENTS:
        return None
    message = _tasmota_normalize(json.loads(payload), release)
    ids = (message.get("dev") or {}).get("ids")
    if not ids:
        return None  # "Malformed HASS Discovery message"
    if release != "legacy" and not message.get("name"):
        return None  # "Missing accessory friendly name"
    shown: dict[str, Any] = {"accessory": ids[0], "name": message.get("name")}
    if parts[1] == "sensor":
        return _tasmota_sensor(message, shown)
    if parts[1] != "binary_sensor":
        return {**shown, "component": parts[1]}
    device_class = message.get("dev_cla")
    service = _TASMOTA_BINARY.get(device_class or "")
    if service is None:
        return {**shown, "service": None, "log": "Unhandled Tasmota binary sensor type"}
    state = None
    raw = retained.get(message.get("stat_t", ""))
    if raw is not None:
        value = raw
        if message.get("val_tpl"):
            try:
                value = render(message["val_tpl"], raw)
            except (ValueError, KeyError, TypeError):
                value = ""  # parseValue swallows the error and returns ''
        on = value == message["pl_on"]
        state = {"ContactSensor": "open" if on else "closed"}.get(service, on)
    return {**shown, "service": service, "state": state, "availability": "avty_t" in message}


def tasmota_accessories(
    configs: list[tuple[str, str]], retained: Retained, release: str
) -> dict[str, dict[str, Any]]:
    """The accessories homebridge-tasmota builds from configs arriving in this order.

    A new accessory takes the name of the config that creates it and is registered only if
    that config added a service; until then a config without a service (a status or a
    probability sensor) is lost with its accessory information."""
    accessories: dict[str, dict[str, Any]] = {}
    for topic, payload in configs:
        shown = tasmota(topic, payload, retained, release)
        if shown is None:
            continue
        accessory = accessories.get(shown["accessory"])
        if accessory is None:
            if not shown.get("service"):
                continue  # "incomplete HASS Discovery message and device definition"
            accessory = {"display_name": shown["name"], "information": None, "services": {}}
            accessories[shown["accessory"]] = accessory
        if shown.get("service"):
            accessory["services"][shown["name"]] = shown["service"]
        if shown.get("information"):
            accessory["information"] = shown["information"]
    return accessories


# --- Scrypted -------------------------------------------------------------------------------


def scrypted(url_path: str, topic: str, payload: str, retained: Retained) -> dict[str, Any] | None:
    """The Scrypted device and interface for one config, or None if it is ignored."""
    if not topic.startswith(url_path) or topic.rsplit("/", 1)[-1] != "config":
        return None
    parts = topic.split("/")[1:]  # exactly one prefix segment is dropped
    component = parts.pop(0)
    node_id = parts.pop(0) if len(parts) > 2 else None
    config = json.loads(payload)
    if component != "binary_sensor":
        return None  # (switch/light/lock are mapped too; we publish none)
    device_class = config.get("device_class")
    if device_class == "motion":
        interface, prop = "MotionSensor", "motionDetected"
    elif device_class in ("door", "garage_door", "window"):
        interface, prop = "EntrySensor", "entryOpen"
    else:
        return None
    name = (config.get("device") or {}).get("name") or node_id or config.get("name")
    value = None
    raw = retained.get(config.get("state_topic", ""))
    if raw is not None and config.get("value_template"):
        try:
            value = config.get("payload_on") == render(config["value_template"], raw)
        except (ValueError, KeyError, TypeError):
            value = None  # "callback error": the property is never set
    return {"device": name, "native_id": f"binary_sensor/{node_id}", interface: {prop: value}}


# --- Home Assistant -------------------------------------------------------------------------

_HA_ABBREVIATIONS = {short: full for full, short in _TASMOTA_RENAMES.items()}


def home_assistant(payload: str, retained: Retained) -> dict[str, Any]:
    config = json.loads(payload)
    for short in set(_HA_ABBREVIATIONS) & set(config):
        config[_HA_ABBREVIATIONS[short]] = config.pop(short)
    device = config["device"]
    for short in set(_HA_ABBREVIATIONS) & set(device):
        device[_HA_ABBREVIATIONS[short]] = device.pop(short)
    raw = retained.get(config["state_topic"])
    state = None
    if raw is not None:
        value = render(config["value_template"], raw) if "value_template" in config else raw
        state = {config["payload_on"]: "on", config["payload_off"]: "off"}.get(value)
    available = all(
        retained.get(a["topic"]) == a["payload_available"] for a in config["availability"]
    )
    return {
        "device": device["identifiers"][0],
        "device_class": config.get("device_class"),
        "state": state,
        "available": available,
    }


# --- homebridge-mqttthing -------------------------------------------------------------------


def mqttthing(accessory: Mapping[str, Any], retained: Retained) -> dict[str, Any]:
    topics = accessory["topics"]
    state_key = next(key for key in topics if key != "getOnline")
    raw = retained.get(topics[state_key])
    values = {accessory["onValue"]: True, accessory["offValue"]: False}
    return {
        "type": accessory["type"],
        state_key: values.get(raw) if raw is not None else None,
        "online": retained.get(topics["getOnline"]) == accessory["onlineValue"],
    }
