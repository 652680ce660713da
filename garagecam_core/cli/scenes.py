"""`garagecam scenes`: write synthetic garage scenes in the training layout."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

from ..scenes import DEFAULT_SIZES

_LOGGER = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "scenes",
        help="generate synthetic garage scenes (demo/test data, not a substitute for real data)",
        description=(
            "Write COUNT generated garage snapshots (JPEG) plus labels.csv (door_open, "
            "car_present) and labels.yaml into DIR, ready for 'garagecam train --data DIR'. "
            "The same seed always gives the same images. By default every image shows a new "
            "garage; --garage G keeps one garage and camera (those of seed G) and varies only "
            "door, car, people, light and weather: the frames of one new garage."
        ),
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    parser.add_argument("--count", type=int, default=200, help="number of images (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--size",
        default=",".join(f"{w}x{h}" for w, h in DEFAULT_SIZES),
        metavar="WxH[,WxH...]",
        help="camera resolutions to pick from (default %(default)s)",
    )
    parser.add_argument(
        "--garage",
        type=int,
        metavar="SEED",
        help="one garage: fix the garage and camera of this seed, vary only the moment",
    )
    parser.add_argument(
        "--family",
        choices=("a", "b"),
        default="a",
        help="a: the generator the demo is trained on (default); b: a separately written "
        "renderer the demo never sees, to measure generalisation (see docs/demo-model.md)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..scenes import parse_sizes, write_dataset

    sizes = parse_sizes(args.size)
    start = time.perf_counter()
    if args.family == "b":
        from ..scenes_family_b import write_dataset_b

        csv_path = write_dataset_b(
            args.out, args.seed, args.count, sizes, not args.no_progress, garage=args.garage
        )
    else:
        csv_path = write_dataset(
            args.out, args.seed, args.count, sizes, not args.no_progress, garage=args.garage
        )
    _LOGGER.info(
        "wrote %d scenes to %s in %.1f s (labels: %s)",
        args.count, args.out, time.perf_counter() - start, csv_path,
    )  # fmt: skip
    return 0
