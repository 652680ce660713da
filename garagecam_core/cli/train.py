"""`garagecam train`: train the student model on a labelled folder and export a `.pte`."""

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


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a small student model on labelled snapshots and export it to .pte",
        description=(
            "Train the built-in student CNN from scratch on DIR (labels.csv, labels.jsonl or "
            "one sub-folder per class; see https://garagecam.github.io/garagecam/training/), "
            "pick ON/OFF thresholds on the validation split, export OUT (.pte with labels, "
            "thresholds and preprocessing inside) and write OUT's .pt PyTorch weights, .json "
            "report and .png training curve next to it."
        ),
    )
    parser.add_argument("--data", type=Path, required=True, metavar="DIR", help="dataset folder")
    parser.add_argument("--out", type=Path, required=True, help="model to write (.pte)")
    parser.add_argument(
        "--epochs",
        type=int,
        default=_DEFAULTS["epochs"],
        help="maximum epochs (default %(default)s)",
    )
    parser.add_argument(
        "--input-size",
        type=int,
        default=_DEFAULTS["input_size"],
        metavar="PX",
        help="square model input in pixels (default %(default)s)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=_DEFAULTS["batch_size"], help="default %(default)s"
    )
    parser.add_argument(
        "--lr",
        type=float,
        default=_DEFAULTS["lr"],
        help="peak learning rate, one-cycle schedule (default %(default)s)",
    )
    parser.add_argument(
        "--val-fraction",
        type=float,
        default=_DEFAULTS["val_fraction"],
        help="share of images kept for validation (default %(default)s)",
    )
    parser.add_argument(
        "--patience",
        type=int,
        default=_DEFAULTS["patience"],
        help="stop after this many epochs without a better validation loss (default %(default)s)",
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
    parser.add_argument("--name", default="garagecam-student", help="model name in the metadata")
    parser.add_argument("--model-version", default="1", help="model version in the metadata")
    parser.add_argument(
        "--int8",
        action="store_true",
        help="export int8 (XNNPACK PTQ calibrated on training images)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..roi import Roi
    from ..train.trainer import TrainOptions, train

    options = TrainOptions(
        epochs=args.epochs,
        input_size=args.input_size,
        batch_size=args.batch_size,
        lr=args.lr,
        val_fraction=args.val_fraction,
        patience=args.patience,
        seed=args.seed,
        threads=args.threads,
        off_margin=args.off_margin,
        roi=Roi.parse(args.roi) if args.roi else None,
        name=args.name,
        version=args.model_version,
        int8=args.int8,
        progress=not args.no_progress,
    )
    result = train(args.data, args.out, options)
    report = result.report
    summary = {
        "model": str(result.model_path),
        "report": str(result.report_path),
        "curve": str(result.plot_path) if result.plot_path else None,
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
