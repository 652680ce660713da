"""`garagecam mqtt cleanup --config FILE`: remove entities of cameras no longer configured."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "mqtt", help="MQTT maintenance (cleanup of removed cameras)"
    )
    commands = parser.add_subparsers(dest="mqtt_command", metavar="ACTION", required=True)
    cleanup = commands.add_parser(
        "cleanup",
        help="remove the discovery configs of cameras no longer in the config",
        description=(
            "Read the retained discovery configs under the discovery prefix, keep those of "
            "cameras in the config, and publish empty retained configs for the others (this "
            "runner's base topic only): Home Assistant then deletes their entities."
        ),
    )
    cleanup.add_argument("-c", "--config", type=Path, required=True, help="runner YAML config")
    cleanup.add_argument(
        "--wait",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="how long to collect retained configs from the broker (default 2)",
    )
    cleanup.add_argument("--dry-run", action="store_true", help="only list what would be removed")
    cleanup.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..redact import SECRETS, install_secret_filter
    from ..runner.cleanup import cleanup_removed_cameras
    from ..runner.config import load_config

    install_secret_filter()
    config = load_config(args.config)
    SECRETS.add_all(config.secrets)  # parsing returns them; start-up registers them
    return cleanup_removed_cameras(config, args.wait, dry_run=args.dry_run)
