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
            "Build a module from a factory (--module, --labels, --input-size), or rebuild a "
            "trained student from its training report (--from-training), export it with "
            "torch.export and ExecuTorch (XNNPACK) and embed labels and preprocessing in the .pte."
        ),
    )
    parser.add_argument(
        "--module", metavar="PKG.MOD:FACTORY",
        help="callable returning a torch.nn.Module (the current directory is importable)",
    )  # fmt: skip
    parser.add_argument(
        "--labels", metavar="LABELS",
        help="name[:device_class[:on:off]],... e.g. door_open:garage_door,car_present:occupancy",
    )  # fmt: skip
    parser.add_argument("--input-size", metavar="N|HxW", help="e.g. 224 or 240x320")
    parser.add_argument(
        "--from-training", type=Path, metavar="REPORT.json",
        help="re-export the network `garagecam train` wrote (its .json report and the .pt "
        "weights next to it) with the report's labels, thresholds and preprocessing, e.g. "
        "as int8 or after an upgrade, without training again",
    )  # fmt: skip
    parser.add_argument("--out", required=True, type=Path, help="output .pte file")
    parser.add_argument("--int8", action="store_true", help="int8 post-training quantization")
    parser.add_argument(
        "--calibration", type=Path, metavar="DIR",
        help="images (jpg/png/webp/bmp, searched recursively) to calibrate --int8",
    )  # fmt: skip
    parser.add_argument("--name", help="model name (default: the output file's stem)")
    parser.add_argument("--model-version", help="model version (default: 1)")
    # Defaults are applied in `run`: None means "not given", which --from-training needs.
    parser.add_argument("--resize-mode", choices=("stretch", "letterbox"), help="default stretch")
    parser.add_argument("--activation", choices=("sigmoid", "softmax"), help="default sigmoid")
    parser.add_argument(
        "--module-outputs", choices=("logits", "probabilities"),
        help="logits (default): the activation is appended to the graph; probabilities: "
        "the module applies it itself",
    )  # fmt: skip
    for flag, default in (("--mean", IMAGENET_MEAN), ("--std", IMAGENET_STD)):
        parser.add_argument(flag, metavar="A,B,C", help=f"default {','.join(map(str, default))}")
    parser.add_argument("--channel-order", choices=("RGB", "BGR"), help="default RGB")
    parser.add_argument(
        "--nchw",
        action="store_true",
        help="export a program that reads NCHW input memory (default: channels_last/NHWC, "
        "which skips XNNPACK's input transpose)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no calibration progress bar")
    parser.set_defaults(func=run)


#: flags that describe the model; --from-training takes all of them from the report
_MODEL_FLAGS = (
    "module", "labels", "input_size", "resize_mode", "activation", "module_outputs", "mean",
    "std", "channel_order",
)  # fmt: skip


def _flag(dest: str) -> str:
    return f"--{dest.replace('_', '-')}"


def _metadata_from_flags(args: argparse.Namespace) -> ModelMetadata:
    required = ("module", "labels", "input_size")
    missing = [_flag(f) for f in required if getattr(args, f) is None]
    if missing:
        raise ConfigError(f"export needs {', '.join(missing)} (or --from-training REPORT.json)")
    height, width = parse_input_size(args.input_size)
    return ModelMetadata(
        name=args.name or args.out.stem,
        version=args.model_version or "1",
        input_height=height,
        input_width=width,
        labels=parse_label_specs(args.labels),
        channel_order=as_channel_order(args.channel_order or "RGB"),
        mean=parse_triple(args.mean, "--mean") if args.mean else IMAGENET_MEAN,
        std=parse_triple(args.std, "--std") if args.std else IMAGENET_STD,
        resize_mode=args.resize_mode or "stretch",
        activation=args.activation or "sigmoid",
    )


def _trained(args: argparse.Namespace) -> tuple[Any, ModelMetadata]:
    from dataclasses import replace

    from ..train.report import load_trained

    given = [_flag(f) for f in _MODEL_FLAGS if getattr(args, f) is not None]
    if given:
        raise ConfigError(
            f"--from-training takes the model and its metadata from the report; "
            f"drop {', '.join(given)}"
        )
    trained = load_trained(args.from_training)
    metadata = trained.metadata
    if args.name:
        metadata = replace(metadata, name=args.name)
    if args.model_version:
        metadata = replace(metadata, version=args.model_version)
    return trained.module, metadata


def run(args: argparse.Namespace) -> int:
    from ..export import calibration_files, export_model, load_factory

    if args.int8 and args.calibration is None:
        raise ConfigError("--int8 needs --calibration DIR (images preprocessed as at inference)")
    if args.calibration is not None and not args.int8:
        raise ConfigError("--calibration is only used with --int8")
    if args.from_training is not None:
        module, metadata = _trained(args)
    else:
        metadata = _metadata_from_flags(args)
        module = load_factory(args.module)
    calibration = calibration_files(args.calibration) if args.int8 else None
    report = export_model(
        module,
        metadata,
        args.out,
        int8=args.int8,
        calibration=calibration,
        progress=not args.no_progress,
        outputs=args.module_outputs or "logits",
        channels_last=not args.nchw,
    )
    print(report.summary())
    return 0
