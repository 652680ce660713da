"""`garagecam model info X.pte`: what a bundle contains."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("model", help="inspect .pte model bundles")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    info = actions.add_parser(
        "info",
        help="print a bundle's metadata, size and tensor shapes as JSON",
        description="Validate a .pte bundle and print its metadata as JSON.",
    )
    info.add_argument("model", type=Path, help=".pte file")
    info.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..bundle import load_program

    program = load_program(args.model)
    info = {
        "file": str(args.model),
        "size_bytes": args.model.stat().st_size,
        "input_shape": list(program.input_shape),
        "output_shape": list(program.output_shape),
        "metadata": program.metadata.to_dict(),
    }
    print(json.dumps(info, indent=2))
    return 0
