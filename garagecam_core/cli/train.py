"""`garagecam train`: learn a camera from a labelled folder.

By default a head on the shipped pretrained trunk (`heads.train_head`): NumPy, seconds, no
PyTorch, a `.gcam` model. `--full` (or `--init-from`, or any option only the network training
has) trains or fine-tunes the student network with PyTorch and exports a `.pte`, as before.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

_DEFAULTS: dict[str, Any] = {
    "epochs": 40,
    "input_size": 224,
    "batch_size": 32,
    "lr": 3e-3,
    "val_fraction": 0.2,
    "patience": 10,
    "seed": 0,
    "threads": 2,
    "off_margin": 0.2,
}  # kept equal to TrainOptions' defaults (checked by a test)

#: defaults when starting from a trained model (--init-from), for a few dozen frames of one
#: camera: a lower peak learning rate keeps what the model knows; small batches give enough
#: optimiser steps (60 frames in batches of 32 are one step per epoch); no early stop, as a
#: handful of validation frames make the validation loss noisy (the best epoch is kept).
#: Measured: bench/generalisation.py curve, docs/demo-model.md.
FINE_TUNE_DEFAULTS: dict[str, Any] = {"epochs": 40, "lr": 1e-3, "batch_size": 8, "patience": 40}


_DEFAULT_NAME = "garagecam-student"
#: options only the PyTorch network training reads: giving one selects it (old scripts)
_FULL_ONLY = ("epochs", "input_size", "batch_size", "lr", "patience", "int8")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "train",
        help="learn a camera from labelled snapshots (seconds, no PyTorch)",
        description=(
            "Train a model on DIR (labels.csv, labels.jsonl or one sub-folder per class; see "
            "https://garagecam.github.io/garagecam/training/). By default: a head on the "
            "shipped pretrained trunk, with NumPy, in seconds, no PyTorch; OUT is one model "
            "file (.gcam) with labels, thresholds and preprocessing inside. Embeddings are "
            "cached in DIR/.garagecam-cache, so training again is instant. --full trains the "
            "student network with PyTorch instead (from scratch, or fine-tuning with "
            "--init-from) and exports a .pte with its .pt weights, .json report and .png "
            "training curve next to it."
        ),
    )
    _add_common_arguments(parser)
    _add_full_arguments(parser)
    parser.set_defaults(func=run)


def _add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """What both trainings read: the data, the output, the split, the crop, the names."""
    parser.add_argument("--data", type=Path, required=True, metavar="DIR", help="dataset folder")
    parser.add_argument(
        "--out", type=Path, required=True, help="model to write (.gcam; .pte with --full)"
    )
    parser.add_argument(
        "--val-fraction",
        type=float,
        default=_DEFAULTS["val_fraction"],
        help="share of images kept for validation (default %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=_DEFAULTS["seed"],
        help="seed for split, augmentation and weights (default %(default)s)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=_DEFAULTS["threads"],
        help="torch CPU threads (default %(default)s)",
    )
    parser.add_argument(
        "--off-margin",
        type=float,
        default=_DEFAULTS["off_margin"],
        help="OFF threshold = suggested ON threshold - margin (default %(default)s)",
    )
    parser.add_argument(
        "--roi",
        metavar="x,y,w,h",
        help="crop every image to this region first, as the camera's ROI will",
    )
    parser.add_argument("--name", default=_DEFAULT_NAME, help="model name in the metadata")
    parser.add_argument("--model-version", default="1", help="model version in the metadata")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def _add_full_arguments(parser: argparse.ArgumentParser) -> None:
    """What only the PyTorch student network's training reads (`--full`, `--init-from`)."""
    parser.add_argument(
        "--full",
        action="store_true",
        help="train the whole student network with PyTorch (the train extra) instead of a head",
    )
    parser.add_argument(
        "--init-from",
        metavar="MODEL",
        help="fine-tune: start from 'demo' (the shipped demo model) or a model trained by "
        "garagecam train (its .pt/.pte/.json); its labels must be the dataset's",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        help=f"maximum epochs (default {_DEFAULTS['epochs']}, fine-tuning "
        f"{FINE_TUNE_DEFAULTS['epochs']}; 0 with --init-from exports the starting weights)",
    )
    parser.add_argument(
        "--input-size",
        type=int,
        metavar="PX",
        help=f"square model input in pixels (default {_DEFAULTS['input_size']}, fine-tuning: "
        "the starting model's)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        help=f"default {_DEFAULTS['batch_size']}, fine-tuning {FINE_TUNE_DEFAULTS['batch_size']}",
    )
    parser.add_argument(
        "--lr",
        type=float,
        help=f"peak learning rate, one-cycle schedule (default {_DEFAULTS['lr']}, fine-tuning "
        f"{FINE_TUNE_DEFAULTS['lr']})",
    )
    parser.add_argument(
        "--patience",
        type=int,
        help="stop after this many epochs without a better validation loss (default "
        f"{_DEFAULTS['patience']}, fine-tuning {FINE_TUNE_DEFAULTS['patience']})",
    )
    parser.add_argument(
        "--int8",
        action="store_true",
        help="export int8 (XNNPACK PTQ calibrated on training images)",
    )


def run(args: argparse.Namespace) -> int:
    if args.full or args.init_from or any(getattr(args, k) for k in _FULL_ONLY):
        return run_full(args)
    return run_head(args)


def run_head(args: argparse.Namespace) -> int:
    from ..heads import train_head
    from ..roi import Roi

    if args.out.suffix.lower() == ".pte":
        print(
            f"note: {args.out} will hold a head model (.gcam format, read by its content); "
            "name it .gcam, or add --full for a PyTorch-trained .pte",
            file=sys.stderr,
        )
    shown: dict[str, int] = {}

    def progress(stage: str, fraction: float) -> None:
        step = int(fraction * 10)
        if not args.no_progress and shown.get(stage) != step:
            shown[stage] = step
            print(f"{stage}: {fraction:.0%}", file=sys.stderr)

    result = train_head(
        args.data,
        args.out,
        progress=progress,
        seed=args.seed,
        roi=Roi.parse(args.roi) if args.roi else None,
        name=None if args.name == _DEFAULT_NAME else args.name,
    )
    json.dump({"summary": result.summary(), **result.to_dict()}, sys.stdout, indent=2)
    print()
    return 0


def run_full(args: argparse.Namespace) -> int:
    from ..roi import Roi
    from ..train.report import resolve_init
    from ..train.trainer import TrainOptions, train

    init = resolve_init(args.init_from) if args.init_from else None
    defaults = {**_DEFAULTS, **(FINE_TUNE_DEFAULTS if init else {})}
    if init and args.input_size is None:
        defaults["input_size"] = _init_input_size(init)
    given = {key: getattr(args, key) for key in defaults if getattr(args, key, None) is not None}
    chosen = {**defaults, **given}
    options = TrainOptions(
        epochs=chosen["epochs"],
        input_size=chosen["input_size"],
        batch_size=chosen["batch_size"],
        lr=chosen["lr"],
        val_fraction=args.val_fraction,
        patience=chosen["patience"],
        seed=args.seed,
        threads=args.threads,
        off_margin=args.off_margin,
        roi=Roi.parse(args.roi) if args.roi else None,
        name=args.name,
        version=args.model_version,
        int8=args.int8,
        progress=not args.no_progress,
        init_from=init,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = train(args.data, args.out, options)
    report = result.report
    summary = {
        "model": str(result.model_path),
        "report": str(result.report_path),
        "curve": str(result.plot_path) if result.plot_path else None,
        "fine_tuned_from": str(init) if init else None,
        "epochs_run": report["epochs_run"],
        "best_epoch": report["best_epoch"],
        "thresholds": {
            label["name"]: [label["on_threshold"], label["off_threshold"]]
            for label in report["metadata"]["labels"]
        },
        "validation": {
            name: {k: m[k] for k in ("precision", "recall", "f1", "accuracy")}
            for name, m in report["pte_validation_metrics"]["at_on_threshold"].items()
        },
        "size_bytes": report["export"]["size_bytes"],
    }
    json.dump(summary, sys.stdout, indent=2)
    print()
    return 0


def _init_input_size(report_path: Path) -> int:
    from ..errors import ConfigError
    from ..metadata import ModelMetadata

    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
        return ModelMetadata.from_dict(report["metadata"]).input_width
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ConfigError(f"{report_path} is not a readable training report: {err}") from err
