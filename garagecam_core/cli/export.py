"""`garagecam export`: a PyTorch module factory to a self-describing `.pte` bundle."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..metadata import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ModelMetadata,
    as_channel_order,
    parse_label_specs,
)


def parse_input_size(text: str) -> tuple[int, int]:
    """`224` (square) or `HxW` such as `240x320` -> (height, width)."""
    parts = text.lower().split("x")
    try:
        sizes = [int(p) for p in parts]
    except ValueError as err:
        raise ConfigError(
            f"--input-size must be N or HxW (e.g. 224 or 240x320), got {text!r}"
        ) from err
    if len(sizes) == 1:
        return sizes[0], sizes[0]
    if len(sizes) == 2:
        return sizes[0], sizes[1]
    raise ConfigError(f"--input-size must be N or HxW (e.g. 224 or 240x320), got {text!r}")


def parse_triple(text: str, option: str) -> tuple[float, float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError as err:
        raise ConfigError(f"{option} must be three numbers like 0.485,0.456,0.406") from err
    if len(values) != 3:
        raise ConfigError(f"{option} must be three comma-separated numbers, got {text!r}")
    return values[0], values[1], values[2]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a PyTorch model to a .pte bundle",
        description=(
            "Build a module from a factory, export it with torch.export and ExecuTorch "
            "(XNNPACK) and embed labels and preprocessing in the .pte."
        ),
    )
    parser.add_argument(
        "--module", required=True, metavar="PKG.MOD:FACTORY",
        help="callable returning a torch.nn.Module (the current directory is importable)",
    )  # fmt: skip
    parser.add_argument(
        "--labels", required=True, metavar="LABELS",
        help="name[:device_class[:on:off]],... e.g. door_open:garage_door,car_present:occupancy",
    )  # fmt: skip
    parser.add_argument("--input-size", required=True, metavar="N|HxW", help="e.g. 224 or 240x320")
    parser.add_argument("--out", required=True, type=Path, help="output .pte file")
    parser.add_argument("--int8", action="store_true", help="int8 post-training quantization")
    parser.add_argument(
        "--calibration", type=Path, metavar="DIR",
        help="images (jpg/png/webp/bmp, searched recursively) to calibrate --int8",
    )  # fmt: skip
    parser.add_argument("--name", help="model name (default: the output file's stem)")
    parser.add_argument("--model-version", default="1", help="model version (default: 1)")
    parser.add_argument("--resize-mode", choices=("stretch", "letterbox"), default="stretch")
    parser.add_argument("--activation", choices=("sigmoid", "softmax"), default="sigmoid")
    parser.add_argument(
        "--module-outputs", choices=("logits", "probabilities"), default="logits",
        help="logits (default): the activation is appended to the graph; probabilities: "
        "the module applies it itself",
    )  # fmt: skip
    parser.add_argument("--mean", default=",".join(map(str, IMAGENET_MEAN)), metavar="A,B,C")
    parser.add_argument("--std", default=",".join(map(str, IMAGENET_STD)), metavar="A,B,C")
    parser.add_argument("--channel-order", choices=("RGB", "BGR"), default="RGB")
    parser.add_argument(
        "--nchw",
        action="store_true",
        help="export a program that reads NCHW input memory (default: channels_last/NHWC, "
        "which skips XNNPACK's input transpose)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no calibration progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..export import calibration_files, export_model, load_factory

    height, width = parse_input_size(args.input_size)
    metadata = ModelMetadata(
        name=args.name or args.out.stem,
        version=args.model_version,
        input_height=height,
        input_width=width,
        labels=parse_label_specs(args.labels),
        channel_order=as_channel_order(args.channel_order),
        mean=parse_triple(args.mean, "--mean"),
        std=parse_triple(args.std, "--std"),
        resize_mode=args.resize_mode,
        activation=args.activation,
    )
    if args.int8 and args.calibration is None:
        raise ConfigError("--int8 needs --calibration DIR (images preprocessed as at inference)")
    if args.calibration is not None and not args.int8:
        raise ConfigError("--calibration is only used with --int8")
    calibration = calibration_files(args.calibration) if args.int8 else None
    module = load_factory(args.module)
    report = export_model(
        module,
        metadata,
        args.out,
        int8=args.int8,
        calibration=calibration,
        progress=not args.no_progress,
        outputs=args.module_outputs,
        channels_last=not args.nchw,
    )
    print(report.summary())
    return 0
