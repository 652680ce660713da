"""`garagecam bench`: how fast is the pipeline here, and how does it compare?"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError

_LOGGER = logging.getLogger(__name__)
_SHIPPED = Path("shipped-trunk")  # --trunk without a path: the trunk in the package


def _threads(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected thread counts like 1,2, got {text!r}") from err
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"thread counts must be at least 1, got {text!r}")
    return list(dict.fromkeys(values))


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="benchmark the pipeline and compare runtimes (ExecuTorch, ONNX Runtime, PyTorch)",
        description=(
            "Time every stage of the pipeline (decode, preprocess, inference, debounce, end to "
            "end) in the in-process and worker engines; run the same network in ExecuTorch "
            "XNNPACK fp32 and int8, ONNX Runtime, PyTorch eager and a naive pipeline; measure "
            "worker memory and capacity. Prints a Markdown table; --json, --markdown and "
            "--plot write the results. Defaults: the demo student network (demo.pte) and "
            "generated daylight 1920x1080 and 2560x1440 and IR night 2560x1440 JPEG snapshots; "
            "--trunk measures the pretrained trunk the default demo.gcam runs on."
        ),
    )
    parser.add_argument(
        "--model", type=Path, help="model .pte (default: the demo student network, demo.pte)"
    )
    parser.add_argument(
        "--module",
        metavar="PKG.MOD:FACTORY",
        help="factory of the PyTorch module (logits out) for the runtime comparison; needed "
        "with --model, the demo student's network is known",
    )
    parser.add_argument(
        "--module-outputs", choices=("logits", "probabilities"), default="logits",
        help="what the --module returns (as in 'garagecam export'; default logits)",
    )  # fmt: skip
    parser.add_argument(
        "--image", type=Path, action="append", default=[], metavar="IMG",
        help="snapshot to measure (repeatable; default: generated 1920x1080 and 2560x1440)",
    )  # fmt: skip
    parser.add_argument(
        "--threads", type=_threads, help="thread counts to compare (default 1,2; quick: 1)"
    )
    parser.add_argument("--runs", type=int, help="timed runs per case (default 50; quick: 5)")
    parser.add_argument("--warmup", type=int, help="untimed runs first (default 5; quick: 1)")
    parser.add_argument(
        "--rss-iterations", type=int,
        help="worker classifications for the RSS growth check (default 5000; quick: 50)",
    )  # fmt: skip
    parser.add_argument(
        "--accuracy-scenes", type=int,
        help="generated scenes for the int8 vs fp32 accuracy (default 200; quick: 16)",
    )  # fmt: skip
    parser.add_argument(
        "--footprint-processes", type=int,
        help="fresh processes per runtime for import time and memory (default 3; quick: 1)",
    )  # fmt: skip
    parser.add_argument(
        "--trunk", nargs="?", type=Path, const=_SHIPPED, metavar="TRUNK.pte",
        help="instead of the pipeline: the pretrained trunk (default: the shipped one) against "
        "LiteRT, ncnn, ONNX Runtime and eager on the same weights (--threads, --runs, "
        "--warmup, --footprint-processes, --json and --markdown apply)",
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="a short run with small counts")
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="write all figures")
    parser.add_argument("--markdown", type=Path, metavar="OUT.md", help="write the tables")
    parser.add_argument("--plot", type=Path, metavar="OUT.png", help="write the chart")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _run_trunk(args: argparse.Namespace) -> int:
    from ..bench.report import write_json
    from ..bench.trunk import TrunkBenchConfig, run_trunk_bench, trunk_markdown

    values: dict[str, Any] = {"command": _command(args)}
    if args.trunk != _SHIPPED:
        values["trunk"] = args.trunk
    for key in ("threads", "runs", "warmup", "footprint_processes"):
        if getattr(args, key) is not None:
            values[key] = getattr(args, key)
    result = run_trunk_bench(TrunkBenchConfig(**values))
    text = trunk_markdown(result)
    if args.json is not None:
        write_json(result, args.json)
    if args.markdown is not None:
        args.markdown.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


def run(args: argparse.Namespace) -> int:
    if args.trunk is not None:
        return _run_trunk(args)
    from ..bench.report import to_markdown, write_json, write_markdown, write_plot
    from ..bench.suite import BenchConfig, run_bench

    overrides: dict[str, Any] = {
        key: value
        for key, value in (
            ("threads", args.threads), ("runs", args.runs), ("warmup", args.warmup),
            ("rss_iterations", args.rss_iterations), ("accuracy_scenes", args.accuracy_scenes),
            ("footprint_processes", args.footprint_processes),
        )
        if value is not None
    }  # fmt: skip
    overrides.update(
        model=args.model,
        images=list(args.image),
        module=args.module,
        module_outputs=args.module_outputs,
        progress=not args.no_progress and sys.stderr.isatty(),
        command=_command(args),
    )
    config = BenchConfig.quick(**overrides) if args.quick else BenchConfig(**overrides)
    if args.model is not None and args.module is None:
        _LOGGER.warning(
            "no --module given: only ExecuTorch fp32 runs in the runtime comparison (eager, "
            "ONNX Runtime, int8 and the naive pipeline need the PyTorch module)"
        )
    result = run_bench(config)
    for path, writer in ((args.json, write_json), (args.markdown, write_markdown)):
        if path is not None:
            writer(result, path)
    if args.plot is not None:
        try:
            write_plot(result, args.plot)
        except ImportError as err:
            raise ConfigError(f"--plot needs matplotlib (pip install matplotlib): {err}") from err
    print(to_markdown(result))
    return 0


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces this run (recorded in the JSON)."""
    words = ["garagecam", "bench"]
    for flag in ("model", "module", "threads", "runs", "warmup", "rss_iterations",
                 "accuracy_scenes", "footprint_processes", "json", "markdown", "plot"):  # fmt: skip
        value = getattr(args, flag)
        if value is not None:
            text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
            words += [f"--{flag.replace('_', '-')}", text]
    if args.module_outputs != "logits":
        words += ["--module-outputs", args.module_outputs]
    for image in args.image:
        words += ["--image", str(image)]
    if args.trunk is not None:
        words += ["--trunk"] + ([] if args.trunk == _SHIPPED else [str(args.trunk)])
    if args.quick:
        words.append("--quick")
    return shlex.join(words)
