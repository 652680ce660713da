"""`garagecam homebridge-config --config FILE`: Homebridge config entries as JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

PLUGINS = ("mqttthing", "tasmota")


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "homebridge-config",
        help="print Homebridge config entries (mqttthing, tasmota) for every camera label",
        description=(
            "Print Homebridge config.json entries for every camera label of the runner config: "
            "homebridge-mqttthing 'accessories' (contact sensors for doors, occupancy sensors "
            "for cars) and/or a homebridge-tasmota 'platforms' entry that adds each camera's "
            "availability to its discovered sensors. Use one plugin: both show the same "
            "sensors."
        ),
    )
    parser.add_argument("-c", "--config", type=Path, required=True, help="runner YAML config")
    parser.add_argument(
        "--plugin",
        choices=PLUGINS,
        action="append",
        help="the Homebridge plugin to write for (repeatable; default: mqttthing)",
    )
    parser.add_argument(
        "--with-credentials",
        action="store_true",
        help="fill in the MQTT username/password from the config instead of placeholders",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..bundle import read_metadata
    from ..discovery import CameraInfo, Topics
    from ..errors import ConfigError
    from ..homebridge import TASMOTA_PREFIX, mqttthing_accessories, tasmota_platform
    from ..runner.config import load_config

    config = load_config(args.config)
    if config.mqtt is None:
        raise ConfigError(f"{args.config} has no 'mqtt' section: Homebridge reads the broker")
    mqtt = config.mqtt
    plugins = args.plugin or ["mqttthing"]
    if "tasmota" in plugins:
        if mqtt.discovery_prefix != TASMOTA_PREFIX:
            raise ConfigError(
                f"homebridge-tasmota reads discovery under '{TASMOTA_PREFIX}/' only; "
                f"mqtt.discovery_prefix is '{mqtt.discovery_prefix}'"
            )
        if mqtt.tls is not None:
            raise ConfigError("homebridge-tasmota connects without TLS (mqtt://); use mqttthing")
    metadata = {name: read_metadata(model.path) for name, model in config.models.items()}
    cameras = [CameraInfo(c.id, c.name, metadata[c.model]) for c in config.cameras]
    topics = Topics(mqtt.discovery_prefix, mqtt.base_topic)
    username: str | None = "<MQTT_USERNAME>"
    password: str | None = "<MQTT_PASSWORD>"  # noqa: S105 - a placeholder for the user
    if args.with_credentials:
        username, password = mqtt.username, mqtt.password
    out: dict[str, Any] = {}
    if "mqttthing" in plugins:
        scheme = "mqtts" if mqtt.tls is not None else "mqtt"
        url = f"{scheme}://{mqtt.host}:{mqtt.port}"
        out["accessories"] = mqttthing_accessories(cameras, topics, url, username, password)
    if "tasmota" in plugins:
        broker = f"{mqtt.host}:{mqtt.port}"
        out["platforms"] = [tasmota_platform(cameras, topics, broker, username, password)]
    print(json.dumps(out, indent=2))
    return 0
