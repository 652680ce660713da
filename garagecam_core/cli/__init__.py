"""`garagecam` command line: one module per subcommand, each with `register(subparsers)`.

Subcommand modules are imported only to build the parser; they import torch, executorch
and the like inside their `run()` so `garagecam --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import GarageCamError

# Module names under garagecam_core.cli, in the order they appear in --help.
_COMMANDS = (
    "demo", "run", "infer", "export", "model", "train", "studio", "scenes", "bench", "mqtt",
    "homebridge",
)  # fmt: skip

LOG_FORMAT = "%(asctime)s [%(levelname)s] %(name)s: %(message)s"


def setup_logging(verbose: int = 0) -> None:
    level = logging.DEBUG if verbose > 0 else logging.INFO
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stderr, force=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="garagecam",
        description="Private, local garage camera classifier (ExecuTorch).",
    )
    parser.add_argument("--version", action="version", version=f"garagecam {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"{__name__}.{name}":
                continue  # subcommand not part of this build
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    setup_logging(args.verbose)
    try:
        result: int = args.func(args)
    except GarageCamError as err:
        print(f"garagecam {args.command}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
