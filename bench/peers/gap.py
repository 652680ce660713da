"""Where the GarageCam engine loses time against LiteRT: isolated parts of the demo network.

    python bench/peers/gap.py --out bench/results/peers/gap        # export, then measure

Run it in the peers venv (docs/benchmarks-peers.md). Phase 1 (this process, with torch)
exports from the demo's trained module: the full network as ExecuTorch programs (fp32 NHWC,
fp32 NCHW, int8 NHWC), LiteRT and ncnn; a call-floor network (a 1x1 conv reading one
pixel, then sigmoid: each runtime's cost per call with the same 300 KB input); and prefixes
of the feature extractor (stem, then each stage; spatial mean at the end) in ExecuTorch and
LiteRT. Phase 2
(a fresh process without torch) runs everything through the torch-free binding
(`garagecam_runtime`), LiteRT and ncnn, in turns, at 1 and 2 threads, and writes JSON and
Markdown: per-case medians and the paired time ratio of ExecuTorch to LiteRT.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
#: end of the stem, then of each stage, in StudentNet.features
CUTS = (2, 6, 10, 14, 18)


def _int8(module: Any, metadata: Any, workdir: Path) -> Path:
    """The project's int8 export of the module, calibrated on generated scenes."""
    from garagecam_core.bench.snapshots import BENCH_SEED
    from garagecam_core.export import export_model
    from garagecam_core.scenes import iter_scenes

    calibration = workdir / "calibration"
    calibration.mkdir(exist_ok=True)
    for scene in iter_scenes(BENCH_SEED + 1, 32, sizes=((1280, 720),)):
        (calibration / f"{scene.index:03d}.jpg").write_bytes(scene.jpeg)
    report = export_model(
        module, metadata, workdir / "int8.pte", int8=True, progress=False,
        calibration=sorted(calibration.glob("*.jpg")),
    )  # fmt: skip
    return report.path


def _with_metadata(module: Any, metadata: Any, out: Path) -> Path:
    """`export_model` of a probabilities module with the demo's metadata."""
    from garagecam_core.export import export_model

    return export_model(module, metadata, out, outputs="probabilities", progress=False).path


def _stem_variants(torch: Any, eager: Any) -> dict[str, Any]:
    """The demo network with other stems (random weights for the new layers: speed only).

    The demo's stem is a stride-2 depthwise 3x3 on the 3 RGB channels, then a 1x1 to 16:
    with 3 channels every output pixel goes through XNNPACK's channel-tail path.
    """
    import copy

    from torch import nn

    from garagecam_core.train.student import _conv_bn

    variants = {
        # 1x1 to 16 channels at full resolution, then the stride-2 depthwise on 16 channels
        "stem_pointwise_first": [_conv_bn(3, 16, kernel=1), _conv_bn(16, 16, 2, groups=16)],
        # one dense stride-2 3x3 convolution 3 -> 16
        "stem_dense_3x3": [_conv_bn(3, 16, 2)],
    }
    torch.manual_seed(0)
    out = {}
    for name, stem in variants.items():
        module = copy.deepcopy(eager)  # the student wrapped with its sigmoid (export's)
        module.inner.features = nn.Sequential(*stem, *list(module.inner.features)[2:])
        out[name] = module.eval()
    return out


def export_all(workdir: Path, stems: bool = False) -> dict[str, Any]:
    import torch

    from garagecam_core import student_demo_path
    from garagecam_core.bench.module import resolve_module
    from garagecam_core.bench.peers import litert, ncnn
    from garagecam_core.bench.snapshots import generated_snapshots, goal_snapshot
    from garagecam_core.bundle import read_metadata
    from garagecam_core.export import lower_to_pte
    from garagecam_core.preprocess import prepare

    metadata = read_metadata(student_demo_path())
    source = resolve_module(metadata, None, True, student_demo_path().parent)
    assert source is not None and source.trained, "needs the demo's trained weights"
    eager = source.probabilities_module(metadata)
    tensor = prepare(goal_snapshot(generated_snapshots()).data, metadata).tensor
    nchw = np.ascontiguousarray(tensor)
    np.save(workdir / "input.npy", nchw)
    example = torch.from_numpy(nchw)
    done = workdir / "cases.json"
    cases: dict[str, Any] = json.loads(done.read_text()) if done.is_file() else {}

    def lower(name: str, module: Any, layout: str) -> Path:
        example_in = (
            example.contiguous(memory_format=torch.channels_last) if layout == "NHWC" else example
        )
        data, summary = lower_to_pte(module, example_in, None)
        assert not summary.portable_ops, summary.portable_ops
        path = workdir / f"{name}.{layout.lower()}.pte"
        path.write_bytes(data)
        return path

    class Prefix(torch.nn.Module):
        def __init__(self, layers: Any) -> None:
            super().__init__()
            self.layers = layers

        def forward(self, x: Any) -> Any:
            # keepdim + flatten: a plain mean over (2, 3) is not delegated to XNNPACK
            return self.layers(x).mean((2, 3), keepdim=True).flatten(1)

    class CallFloor(torch.nn.Module):
        """Same input and output as the demo, almost no compute: a 1x1 conv that reads one
        pixel (stride = input size), sigmoid. What is left is each runtime's cost per call."""

        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 2, 1, stride=tuple(example.shape[2:]))

        def forward(self, x: Any) -> Any:
            return torch.sigmoid(self.conv(x).flatten(1))

    torch.manual_seed(0)
    parts: dict[str, Any] = {"full": eager, "call_floor": CallFloor().eval()}
    for cut in CUTS:
        parts[f"features_{cut:02d}"] = Prefix(source.module.features[:cut]).eval()
    if stems:
        parts.update(_stem_variants(torch, eager))
    for name, module in parts.items():
        if name in cases:
            continue  # exported by an earlier run (--keep)
        started = time.perf_counter()
        with torch.no_grad():
            reference = module(example).numpy().reshape(-1)
        directory = workdir / name
        directory.mkdir(exist_ok=True)
        case: dict[str, Any] = {"reference": reference.tolist(),
                                "pte_nhwc": str(lower(name, module, "NHWC"))}  # fmt: skip
        case["tflite"] = str(litert.convert(module, tensor, directory))
        if name == "call_floor":  # with the demo's metadata: the engines' loader accepts it
            case["pte_engine"] = str(_with_metadata(module, metadata, workdir / "engine.pte"))
        if name == "full":
            case["pte_nchw"] = str(lower(name, module, "NCHW"))
            case["ncnn"] = [str(p) for p in ncnn.convert(module, tensor, directory / "ncnn")]
            case["pte_int8"] = str(_int8(source.module, metadata, workdir))
        cases[name] = case
        done.write_text(json.dumps(cases, indent=1))
        print(f"exported {name} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return cases


def _runners(
    cases: dict[str, Any], count: int, x: Any, engine_path: bool
) -> dict[tuple[str, str], Any]:
    """(case, runtime) -> a no-argument call, every program loaded at `count` threads."""
    import garagecam_runtime

    from garagecam_core.bench.peers.programs import LiteRTProgram, NcnnProgram, nhwc

    x_nhwc_view = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    runners: dict[tuple[str, str], Any] = {}
    for name, case in cases.items():
        program = garagecam_runtime.Program.load(case["pte_nhwc"])
        program.load_method("forward")
        runners[name, "executorch-binding"] = lambda p=program: p.run(x_nhwc_view)
        if name in ("full", "call_floor"):
            # the binding's C++ entry point alone: what its Python wrapper costs
            native = program._native
            runners[name, "executorch-binding-native"] = lambda n=native: n.run(
                "forward", x_nhwc_view
            )
        if name in ("full", "call_floor") and engine_path:
            from garagecam_core import student_demo_path
            from garagecam_core.bundle import load_program

            # programs with GarageCam metadata: the demo is the same export as "full"
            loaded = load_program(case.get("pte_engine", student_demo_path()), count)
            runners[name, "garagecam-engine"] = lambda p=loaded: p.run(x_nhwc_view)
        lite = LiteRTProgram(Path(case["tflite"]), count)
        array = nhwc(x)
        runners[name, "litert"] = lambda p=lite, a=array: p.run(a)
        if "pte_nchw" in case:
            nchw_program = garagecam_runtime.Program.load(case["pte_nchw"])
            runners[name, "executorch-binding-nchw-program"] = lambda p=nchw_program: p.run(x)
            runners[name, "executorch-binding-nhwc-program-nchw-memory"] = lambda p=program: p.run(
                x
            )
        if "pte_int8" in case:
            int8 = garagecam_runtime.Program.load(case["pte_int8"])
            runners[name, "executorch-binding-int8"] = lambda p=int8: p.run(x_nhwc_view)
        if "ncnn" in case:
            net, chw = NcnnProgram(*map(Path, case["ncnn"]), count), x[0].copy()
            runners[name, "ncnn"] = lambda p=net, c=chw: p.run(c)
    return runners


def measure(workdir: Path, runs: int, warmup: int, threads: list[int]) -> dict[str, Any]:
    """Torch-free: the binding, LiteRT and ncnn, in turns per thread count."""
    import garagecam_runtime

    from garagecam_core.bench.runtimes import ROUNDS, paired_ratio, split_runs
    from garagecam_core.bench.stats import sample_ms, summarize

    cases = json.loads((workdir / "cases.json").read_text())
    # GarageCam's engine call path (bundle.load_program) where it runs on the binding (the
    # issue-12 code); elsewhere the engines would import torch into this process: left out
    engine_path = importlib.util.find_spec("garagecam_core.pte_runtimes") is not None
    x = np.load(workdir / "input.npy")
    rows: list[dict[str, Any]] = []
    for count in threads:
        garagecam_runtime.set_thread_count(count)
        runners = _runners(cases, count, x, engine_path)
        diffs = {}
        for (name, runtime), run in runners.items():
            out = np.asarray(run(), dtype=np.float32).reshape(-1)
            diffs[name, runtime] = float(np.max(np.abs(out - np.asarray(cases[name]["reference"]))))
        samples: dict[tuple[str, str], list[list[float]]] = {key: [] for key in runners}
        keys = list(runners)
        for index, share in enumerate(split_runs(runs, ROUNDS)):
            shift = index % len(keys)
            for key in keys[shift:] + keys[:shift]:
                samples[key].append(sample_ms(runners[key], share, warmup, lambda: None))
        for (name, runtime), turns in samples.items():
            row = {"case": name, "runtime": runtime, "threads": count,
                   "inference": summarize([v for t in turns for v in t]).to_dict(),
                   "round_medians": [round(float(np.median(t)), 4) for t in turns],
                   "max_abs_diff": diffs[name, runtime]}  # fmt: skip
            rows.append(row)
        for row in rows:
            if row["threads"] == count:
                lite = next(r for r in rows if r["case"] == row["case"] and r["runtime"] == "litert"
                            and r["threads"] == count)  # fmt: skip
                row["time_vs_litert"] = paired_ratio(row, lite)
    version = garagecam_runtime.EXECUTORCH_VERSION
    return {"rows": rows, "runs": runs, "warmup": warmup, "threads": threads,
            "load": os.getloadavg(), "executorch": version}  # fmt: skip


def to_markdown(result: dict[str, Any]) -> str:
    lines = [
        f"Runs {result['runs']} per case in {len(result['rows'][0]['round_medians'])} turns, "
        f"warm-up {result['warmup']} per turn; load average at the end "
        f"{', '.join(f'{v:.2f}' for v in result['load'])}.",
        "",
        "| Case | Runtime | Threads | median ms | p90 ms | time / LiteRT's | max abs diff |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in sorted(result["rows"], key=lambda r: (r["threads"], r["case"], r["runtime"])):
        ratio = r.get("time_vs_litert")
        lines.append(
            f"| {r['case']} | {r['runtime']} | {r['threads']} | {r['inference']['median']:.3f} | "
            f"{r['inference']['p90']:.3f} | {'–' if ratio is None else f'{ratio:.2f}x'} | "
            f"{r['max_abs_diff']:.2g} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="output prefix (.json, .md)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/garagecam-gap"))
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--measure-only", action="store_true", help="reuse the exported files")
    parser.add_argument("--keep", action="store_true", help="export only what is missing")
    parser.add_argument(
        "--stems", action="store_true", help="also the demo network with other stems (speed)"
    )
    parser.add_argument("--phase", choices=("export", "measure"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    if args.phase == "export":
        args.workdir.mkdir(parents=True, exist_ok=True)
        export_all(args.workdir, stems=args.stems)
        return 0
    if args.phase == "measure":
        result = measure(args.workdir, args.runs, args.warmup, threads)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
        args.out.with_suffix(".md").write_text(to_markdown(result))
        print(to_markdown(result))
        return 0
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))),
    }
    base = [sys.executable, __file__, "--out", str(args.out), "--workdir", str(args.workdir),
            "--runs", str(args.runs), "--warmup", str(args.warmup),
            "--threads", args.threads, *(["--stems"] if args.stems else [])]  # fmt: skip
    if not args.measure_only:
        if args.workdir.exists() and not args.keep:
            import shutil

            shutil.rmtree(args.workdir)
        subprocess.run([*base, "--phase", "export"], check=True, env=env)
    # a fresh process: no torch, no exporter next to the runtimes being measured
    return subprocess.run([*base, "--phase", "measure"], check=False, env=env).returncode


if __name__ == "__main__":
    raise SystemExit(main())
