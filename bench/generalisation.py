"""How well the demo model generalises, and how many labelled frames fine-tuning needs.

Three modes, each writing JSON (and a PNG) that docs/demo-model.md quotes:

    accuracy: in-family (fresh seeds of `garagecam_core.scenes`, the generator the demo is
              trained on) next to out-of-family (`garagecam_core.scenes_family_b`, a
              separately written renderer nothing trains on), per label and per frame (a
              frame is right when every label is), at each model's own ON thresholds.
              Several models side by side: --model NAME=PATH.pte (default: the shipped demo).
    curve:    for new garages (one-garage mode, garage seeds no training set uses; family A
              and family B), fine-tune from the demo on the first N labelled frames of the
              garage (`garagecam train --init-from demo`, the user's command, run as a
              subprocess and timed end to end: start, load, train, export, check), then
              evaluate on fresh frames of the same garage; N = 0 is the demo as shipped.
              Also from scratch at the largest N, for contrast.
    sheet:    a contact sheet of generated frames (family A, one garage, family B) as PNG.

Run from the repository root with the worktree's package first on the path:

    PYTHONPATH=$PWD .venv/bin/python bench/generalisation.py accuracy \
        --model old=/tmp/old-demo.pte --model new=garagecam_core/models/demo.pte \
        --json bench/results/generalisation/accuracy.json
    PYTHONPATH=$PWD .venv/bin/python bench/generalisation.py curve \
        --json bench/results/finetune/curve.json --plot docs/images/finetune-curve.png
    PYTHONPATH=$PWD .venv/bin/python bench/generalisation.py sheet --out docs/images/scenes.png

Timings depend on the machine's load: the load average is recorded next to every run.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from garagecam_core import demo_model_path
from garagecam_core.engine.local import LocalEngine
from garagecam_core.scenes import LABELS, Scene, generate_scene, write_scenes
from garagecam_core.scenes_family_b import generate_scene_b

Generator = Callable[..., Scene]
FAMILIES: dict[str, Generator] = {"a": generate_scene, "b": generate_scene_b}
TRAINING_SEED = 1000  # scripts/make_demo_model.sh: the stream the demo is trained on
FRESH_SEEDS = (20_251_121, 77)
TRAIN_STREAM, EVAL_STREAM = 31, 32  # frame streams of a garage: labelled frames, test frames


@dataclass(frozen=True)
class Frame:
    jpeg: bytes
    truth: dict[str, int]
    light: str
    door_type: str


def _frames(family: str, seed: int, count: int, garage: int | None = None) -> list[Frame]:
    generate = FAMILIES[family]
    kwargs = {} if garage is None else {"garage": garage}
    scenes = (generate(seed, i, **kwargs) for i in range(count))
    return [Frame(s.jpeg, s.labels, getattr(s, "light", "ir" if s.night else "day"),
                  getattr(s, "door_type", "")) for s in scenes]  # fmt: skip


def _load_family(spec: str) -> str:
    """NAME=PATH.py: another generator module (e.g. an older scenes.py) as family NAME."""
    import importlib.util

    name, _, path = spec.partition("=")
    module_spec = importlib.util.spec_from_file_location(f"family_{name}", path)
    if module_spec is None or module_spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_spec.name] = module  # dataclasses look their module up there
    module_spec.loader.exec_module(module)
    FAMILIES[name] = module.generate_scene
    return name


def _evaluate(model: Path, frames: Sequence[Frame]) -> dict[str, Any]:
    """Per-label and per-frame accuracy at the model's ON thresholds, plus per-light frames."""
    with LocalEngine(model) as engine:
        thresholds = {label.name: label.on_threshold for label in engine.metadata.labels}
        decisions = []
        for frame in frames:
            probabilities = engine.classify(frame.jpeg).probabilities
            decisions.append(
                {name: (probabilities[name] >= thresholds[name]) == bool(frame.truth[name])
                 for name in LABELS}
            )  # fmt: skip
    per_frame = [all(d.values()) for d in decisions]
    by_light: dict[str, list[bool]] = {}
    for frame, right in zip(frames, per_frame, strict=True):
        by_light.setdefault(frame.light, []).append(right)
    return {
        "frames": len(frames),
        "per_label": {n: round(float(np.mean([d[n] for d in decisions])), 4) for n in LABELS},
        "per_frame": round(float(np.mean(per_frame)), 4),
        "per_frame_by_light": {
            k: [round(float(np.mean(v)), 4), len(v)] for k, v in sorted(by_light.items())
        },
        "thresholds": thresholds,
    }


def _machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "loadavg_start": os.getloadavg()}  # fmt: skip


def accuracy(args: argparse.Namespace) -> dict[str, Any]:
    models = dict(item.split("=", 1) for item in args.model) or {"demo": str(demo_model_path())}
    per_seed = args.frames // len(FRESH_SEEDS)
    sets = {
        "in_family": [f for seed in FRESH_SEEDS for f in _frames("a", seed, per_seed)],
        "out_of_family": [f for seed in FRESH_SEEDS for f in _frames("b", seed, per_seed)],
    }
    for spec in args.family:
        name = _load_family(spec)
        sets[name] = [f for seed in FRESH_SEEDS for f in _frames(name, seed, per_seed)]
    result: dict[str, Any] = {"machine": _machine(), "fresh_seeds": FRESH_SEEDS, "models": {}}
    for name, path in models.items():
        result["models"][name] = {"path": path, **{k: _evaluate(Path(path), v)
                                                    for k, v in sets.items()}}  # fmt: skip
        print(name, json.dumps(result["models"][name], indent=1), flush=True)
    return result


def _balanced(generate: Generator, count: int, garage: int) -> Iterator[Scene]:
    """The labelled frames of a garage: door and car states in turn, so the first 4 frames
    already hold every combination (a user labels frames of both states of each label)."""
    for i in range(count):
        yield generate(TRAIN_STREAM, i, door_open=bool(i % 2), car_present=bool(i // 2 % 2),
                       garage=garage)  # fmt: skip


def _train(data: Path, out: Path, extra: Sequence[str], threads: int) -> dict[str, Any]:
    """`garagecam train` as the user runs it; wall time from process start to exit."""
    argv = [sys.executable, "-m", "garagecam_core", "train", "--data", str(data), "--out",
            str(out), "--threads", str(threads), "--no-progress", *extra]  # fmt: skip
    load = os.getloadavg()
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"training failed: {' '.join(argv)}\n{proc.stderr[-2000:]}")
    report = json.loads(out.with_suffix(".json").read_text())
    return {"wall_seconds": round(seconds, 1), "loadavg_before": load,
            "loadavg_after": os.getloadavg(), "report_seconds": report["seconds"],
            "epochs_run": report["epochs_run"], "best_epoch": report["best_epoch"],
            "args": extra}  # fmt: skip


def curve(args: argparse.Namespace) -> dict[str, Any]:
    garages = [("a", int(g)) for g in args.garages_a] + [("b", int(g)) for g in args.garages_b]
    sizes = sorted(set(args.n))
    result: dict[str, Any] = {"machine": _machine(), "eval_frames": args.eval_frames,
                              "init": args.init, "fine_tune_args": args.fine_tune_args,
                              "garages": []}  # fmt: skip
    demo = Path(args.init) if args.init != "demo" else demo_model_path()
    with tempfile.TemporaryDirectory() as tmp:
        for family, garage in garages:
            generate = FAMILIES[family]
            test = _frames(family, EVAL_STREAM, args.eval_frames, garage)
            entry: dict[str, Any] = {"family": family, "garage": garage, "runs": []}
            if not args.skip_fine_tune:
                base = _evaluate(demo, test)
                entry["runs"].append({"n": 0, "mode": "demo", **base})
                print(family, garage, 0, base["per_frame"], flush=True)
            root = Path(tmp) / f"{family}{garage}"
            for n in sizes:
                modes = []
                if not args.skip_fine_tune:
                    modes.append(("fine-tune", ["--init-from", args.init, *args.fine_tune_args]))
                if n == max(sizes) and not args.no_scratch:
                    modes.append(("scratch", ["--input-size", "160", *args.scratch_args]))
                data = root / f"n{n}"
                write_scenes(data, _balanced(generate, n, garage), n, f"g{garage}")
                for mode, extra in modes:
                    out = root / f"{mode}-{n}.pte"
                    timing = _train(data, out, extra, args.threads)
                    scores = _evaluate(out, test)
                    entry["runs"].append({"n": n, "mode": mode, **scores, **timing})
                    print(family, garage, n, mode, scores["per_frame"], scores["per_label"],
                          timing["wall_seconds"], flush=True)  # fmt: skip
            result["garages"].append(entry)
    return result


def plot_curve(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for entry in result["garages"]:
        runs = [r for r in entry["runs"] if r["mode"] in ("demo", "fine-tune")]
        label = f"family {entry['family'].upper()}, garage {entry['garage']}"
        ax.plot([r["n"] for r in runs], [100 * r["per_frame"] for r in runs], marker="o",
                label=label)  # fmt: skip
        scratch = [r for r in entry["runs"] if r["mode"] == "scratch"]
        for r in scratch:
            ax.scatter([r["n"]], [100 * r["per_frame"]], marker="x", color="grey")
    ax.axhline(97, color="tab:red", linestyle="--", linewidth=1, label="goal 97 %")
    ax.set_xlabel("labelled frames of the new garage (0 = the demo as shipped)")
    ax.set_ylabel("frames right (%)")
    ax.set_title("fine-tuning the demo on a new garage (x: from scratch)")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def sheet(args: argparse.Namespace) -> None:
    from PIL import Image, ImageDraw

    rows = [
        ("family A (training generator)", [generate_scene(7, i) for i in range(6)]),
        ("family A (training generator)", [generate_scene(7, i) for i in range(6, 12)]),
        ("family A, one garage (--garage 3)",
         [generate_scene(9, i, garage=3) for i in range(6)]),
        ("family B (held out)", [generate_scene_b(7, i) for i in range(6)]),
        ("family B, one garage (--garage 1)",
         [generate_scene_b(9, i, garage=1) for i in range(6)]),
    ]  # fmt: skip
    tile_w, tile_h, caption = 256, 144, 18
    img = Image.new("RGB", (tile_w * 6, (tile_h + caption) * len(rows)), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    for r, (title, scenes) in enumerate(rows):
        y = r * (tile_h + caption)
        draw.text((4, y + 3), title, fill=(0, 0, 0))
        for c, scene in enumerate(scenes):
            tile = Image.open(io.BytesIO(scene.jpeg)).convert("RGB").resize((tile_w, tile_h))
            tag = f"door {'open' if scene.door_open else 'closed'}, car {scene.car_present:d}"
            ImageDraw.Draw(tile).text((4, tile_h - 14), tag, fill=(255, 255, 0))
            img.paste(tile, (c * tile_w, y + caption))
    img.save(args.out, optimize=True)


def _pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def tables(args: argparse.Namespace) -> None:
    """The markdown tables of docs/demo-model.md, from the JSON results."""
    acc = json.loads(args.accuracy.read_text())
    sets = [k for k in next(iter(acc["models"].values())) if isinstance(
        next(iter(acc["models"].values()))[k], dict) and "per_frame" in
        next(iter(acc["models"].values()))[k]]  # fmt: skip
    print("| model | frames | " + " | ".join(f"{s}: door_open / car_present / frame"
                                           for s in sets) + " |")  # fmt: skip
    print("| --- | --- |" + " --- |" * len(sets))
    for name, entry in acc["models"].items():
        cells = [" / ".join([*(_pct(entry[s]["per_label"][n]) for n in LABELS),
                             f"**{_pct(entry[s]['per_frame'])}**"]) for s in sets]  # fmt: skip
        print(f"| {name} | {entry[sets[0]]['frames']} | " + " | ".join(cells) + " |")
    print()
    cur = json.loads(args.curve.read_text())
    extra: dict[tuple[str, int], dict[str, Any]] = {}
    if args.scratch and args.scratch.is_file():  # from scratch with the fine-tuning's batches
        for g in json.loads(args.scratch.read_text())["garages"]:
            for r in g["runs"]:
                extra[(g["family"], g["garage"])] = r
    sizes = sorted({r["n"] for g in cur["garages"] for r in g["runs"]})
    print("| garage | " + " | ".join(f"N = {n}" for n in sizes) + " | from scratch, N = "
          f"{max(sizes)} | from scratch, batch 8, N = {max(sizes)} |")  # fmt: skip
    print("| --- |" + " --- |" * (len(sizes) + 2))
    for g in cur["garages"]:
        runs = {(r["n"], r["mode"]): r for r in g["runs"]}
        cells = []
        for n in sizes:
            r = runs.get((n, "demo" if n == 0 else "fine-tune"))
            cells.append("" if r is None else _pct(r["per_frame"]) + (
                f" ({r['wall_seconds']:.0f} s)" if "wall_seconds" in r else ""))  # fmt: skip
        scratch = runs.get((max(sizes), "scratch"))
        for run in (scratch, extra.get((g["family"], g["garage"]))):
            if run is None:
                cells.append("")
            else:
                cells.append(f"{_pct(run['per_frame'])} ({run['wall_seconds']:.0f} s)")
        print(f"| family {g['family'].upper()}, garage {g['garage']} | " + " | ".join(cells)
              + " |")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    acc = sub.add_parser("accuracy")
    acc.add_argument("--model", action="append", default=[], metavar="NAME=PATH")
    acc.add_argument("--frames", type=int, default=400, help="per family (default 400)")
    acc.add_argument("--family", action="append", default=[], metavar="NAME=PATH.py",
                     help="also evaluate on another generator module's generate_scene")  # fmt: skip
    acc.add_argument("--json", type=Path)
    cur = sub.add_parser("curve")
    cur.add_argument("--garages-a", nargs="*", default=["101", "202", "303"])
    cur.add_argument("--garages-b", nargs="*", default=["1"])
    cur.add_argument("--n", type=int, nargs="*", default=[10, 20, 40, 60])
    cur.add_argument("--eval-frames", type=int, default=200)
    cur.add_argument("--threads", type=int, default=2)
    cur.add_argument("--fine-tune-args", type=shlex.split, default=[],
                     help="extra garagecam train flags for the fine-tuning runs, as one "
                     "string: --fine-tune-args='--lr 0.001'")  # fmt: skip
    cur.add_argument("--init", default="demo", help="model to fine-tune (default: demo)")
    cur.add_argument("--no-scratch", action="store_true", help="skip the from-scratch run")
    cur.add_argument("--skip-fine-tune", action="store_true", help="only the from-scratch run")
    cur.add_argument(
        "--scratch-args",
        type=shlex.split,
        default=[],
        help="extra garagecam train flags for the from-scratch run, as one string",
    )
    cur.add_argument("--json", type=Path)
    cur.add_argument("--plot", type=Path)
    sh = sub.add_parser("sheet")
    sh.add_argument("--out", type=Path, required=True)
    tab = sub.add_parser("tables")
    tab.add_argument(
        "--accuracy", type=Path, default=Path("bench/results/generalisation/accuracy.json")
    )
    tab.add_argument("--curve", type=Path, default=Path("bench/results/finetune/curve.json"))
    tab.add_argument(
        "--scratch", type=Path, default=Path("bench/results/finetune/scratch-batch8.json")
    )
    args = parser.parse_args(argv)
    if args.mode == "sheet":
        sheet(args)
        return 0
    if args.mode == "tables":
        tables(args)
        return 0
    result = accuracy(args) if args.mode == "accuracy" else curve(args)
    result["command"] = " ".join(["bench/generalisation.py", *(argv or sys.argv[1:])])
    result["machine"]["loadavg_end"] = os.getloadavg()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    if args.mode == "curve" and args.plot:
        plot_curve(result, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
