"""`garagecam infer`: classify image files, one JSON object per line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, GarageCamError
from ..roi import Roi

if TYPE_CHECKING:
    from ..engine.base import Engine


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "infer",
        help="classify image files with a .pte model",
        description=(
            "Print one JSON object per image: file, probabilities, timings (ms) and image "
            "size, or file and error. Exit code 1 if any image failed."
        ),
    )
    parser.add_argument(
        "--model", type=Path, help="model bundle (.pte); default: the demo model shipped"
    )
    parser.add_argument("--roi", type=_roi, metavar="X,Y,W,H", help="crop box (fractions)")
    parser.add_argument("--threads", type=int, default=1, help="inference threads (default 1)")
    parser.add_argument(
        "--worker",
        action="store_true",
        help="run inference in a child process (as Home Assistant does)",
    )
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    parser.set_defaults(func=run)


def _roi(text: str) -> Roi:
    # argparse turns only ArgumentTypeError/ValueError into its one-line usage error.
    try:
        return Roi.parse(text)
    except ConfigError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _open_engine(args: argparse.Namespace) -> Engine:
    from .. import demo_model_path

    model = args.model or demo_model_path()
    if args.worker:  # the worker logs its runtime's messages at DEBUG itself
        from ..engine.worker import WorkerEngine

        return WorkerEngine(model, threads=args.threads)
    from ..engine.local import LocalEngine

    if getattr(args, "verbose", 0):
        return LocalEngine(model, threads=args.threads)
    # The ExecuTorch runtime writes INFO lines to fd 2 while its thread pool is made and the
    # program loads: keep them out of the output unless asked for (-v).
    from ..pte_runtimes import native_stderr_to_log

    with native_stderr_to_log():
        return LocalEngine(model, threads=args.threads)


def run(args: argparse.Namespace) -> int:
    engine = _open_engine(args)
    failed = False
    try:
        for path in args.images:
            line: dict[str, Any] = {"file": str(path)}
            try:
                from ..preprocess import read_image_file  # bounded: not /dev/zero whole

                result = engine.classify(read_image_file(path), args.roi)
            except OSError as err:
                line |= {"error": "FileError", "message": f"cannot read {path}: {err.strerror}"}
                failed = True
            except GarageCamError as err:
                line |= {"error": type(err).__name__, "message": str(err)}
                failed = True
            else:
                line |= result.to_dict()
            print(json.dumps(line), flush=True)
    finally:
        engine.close()
    return 1 if failed else 0
