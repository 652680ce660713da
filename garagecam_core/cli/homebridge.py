"""`garagecam homebridge-config --config FILE`: homebridge-mqttthing accessories as JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "homebridge-config",
        help="print homebridge-mqttthing accessories for every camera label",
        description=(
            "Print the homebridge-mqttthing accessory JSON for every camera label of the "
            "runner config (contact sensors for doors, occupancy sensors for cars), ready to "
            "paste into the 'accessories' list of Homebridge's config.json."
        ),
    )
    parser.add_argument("-c", "--config", type=Path, required=True, help="runner YAML config")
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
    from ..homebridge import mqttthing_accessories
    from ..runner.config import load_config

    config = load_config(args.config)
    if config.mqtt is None:
        raise ConfigError(f"{args.config} has no 'mqtt' section: mqttthing needs the broker")
    mqtt = config.mqtt
    metadata = {name: read_metadata(model.path) for name, model in config.models.items()}
    cameras = [CameraInfo(c.id, c.name, metadata[c.model]) for c in config.cameras]
    scheme = "mqtts" if mqtt.tls is not None else "mqtt"
    username: str | None = "<MQTT_USERNAME>"
    password: str | None = "<MQTT_PASSWORD>"  # noqa: S105 - a placeholder for the user
    if args.with_credentials:
        username, password = mqtt.username, mqtt.password
    accessories = mqttthing_accessories(
        cameras,
        Topics(mqtt.discovery_prefix, mqtt.base_topic),
        f"{scheme}://{mqtt.host}:{mqtt.port}",
        username,
        password,
    )
    print(json.dumps({"accessories": accessories}, indent=2))
    return 0
