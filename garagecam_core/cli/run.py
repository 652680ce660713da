"""`garagecam run --config garagecam.yaml`: the standalone runner."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "run",
        help="run cameras -> model -> MQTT with the HTTP API (standalone runner)",
        description=(
            "Poll every configured camera, classify its snapshots, publish debounced states "
            "to MQTT (Home Assistant discovery) and serve /healthz, /metrics and /v1/ over "
            "HTTP. Stops cleanly on SIGTERM or Ctrl-C."
        ),
    )
    parser.add_argument(
        "-c",
        "--config",
        type=Path,
        required=True,
        help="YAML config file (see https://garagecam.github.io/garagecam/runner/)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help=(
            "check everything that needs no network (config, model files, label overrides, "
            "TLS files, HTTP port free, debug, capture and studio folders writable) and exit"
        ),
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..redact import SECRETS, install_secret_filter
    from ..runner.app import Runner, run_until_signalled
    from ..runner.config import load_config

    install_secret_filter()
    config = load_config(args.config)
    SECRETS.add_all(config.secrets)  # parsing returns them; start-up registers them
    if args.check:
        from ..runner.check import check_config

        report = check_config(config)
        for line in report.passed:
            print(f"ok: {line}")
        for problem in report.problems:
            print(f"error: {problem}", file=sys.stderr)
        if report.problems:
            print(f"{args.config}: {len(report.problems)} problem(s)", file=sys.stderr)
            return 1
        cameras = ", ".join(camera.id for camera in config.cameras) or "none"
        print(f"{args.config}: OK (cameras: {cameras}; models: {', '.join(config.models)})")
        return 0
    return asyncio.run(run_until_signalled(Runner(config)))
