"""`garagecam demo`: generated garage scenes -> demo model -> printed state changes."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo",
        help="run the whole pipeline on generated garage scenes (no camera needed)",
        description=(
            "Start a local HTTP camera serving generated garage scenes that change over time "
            "(the door opens, the car leaves, ...), run the demo model on it through the "
            "runner and print every state change. Runs until Ctrl-C unless --duration is given."
        ),
    )
    parser.add_argument(
        "--duration", type=float, default=None, metavar="SECONDS", help="stop after this long"
    )
    parser.add_argument(
        "--mqtt",
        default=None,
        metavar="HOST[:PORT]",
        help="also publish discovery and states to this MQTT broker",
    )
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help="a .pte model to use instead of the bundled demo model",
    )
    parser.add_argument(
        "--interval", type=float, default=1.0, help="seconds between frames (default 1)"
    )
    parser.add_argument(
        "--phase",
        type=float,
        default=8.0,
        metavar="SECONDS",
        help="how long each scene (door/car combination) lasts (default 8)",
    )
    parser.add_argument(
        "--engine",
        choices=("worker", "local"),
        default="worker",
        help="inference in a worker process (default) or in this process",
    )
    parser.add_argument(
        "--http-port",
        type=int,
        default=0,
        help="port of the runner's HTTP API on 127.0.0.1 (default: any free port)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import demo_model_path
    from ..errors import ConfigError
    from ..runner.demo import DemoOptions, run_demo

    for name in ("duration", "interval", "phase"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise ConfigError(f"--{name} must be a positive number of seconds, got {value}")
    if not args.verbose:
        # The demo prints every state change itself (stdout); the log would say it twice.
        logging.getLogger("garagecam_core.debounce").setLevel(logging.WARNING)
    options = DemoOptions(
        model=args.model or demo_model_path(),
        engine=args.engine,
        interval=args.interval,
        phase_seconds=args.phase,
        duration=args.duration,
        mqtt=args.mqtt,
        http_port=args.http_port,
    )
    return asyncio.run(run_demo(options))
