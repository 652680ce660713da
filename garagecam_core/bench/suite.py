"""`run_bench`: every measurement of `garagecam bench`, in order, into one result dict."""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .. import student_demo_path
from ..errors import ConfigError
from ..metadata import ModelMetadata
from .goals import EAGER, ET_FP32, ET_INT8, ORT, evaluate_goals, goal_image
from .machine import load_average, machine_info
from .model_facts import count_params_and_macs, pte_facts
from .module import SourceModule, resolve_module
from .peers import LITERT, NCNN
from .peers.goals import peer_goals
from .snapshots import (
    BENCH_SEED,
    Snapshot,
    generated_snapshots,
    goal_snapshot,
    image_facts,
    load_snapshots,
)

_LOGGER = logging.getLogger(__name__)
SCHEMA_VERSION = 1
CAMERA_INTERVAL_S = 10.0
_SCENE_SIZE = ((1280, 720),)  # accuracy and calibration frames: smaller, quicker to make


@dataclass
class BenchConfig:
    model: Path | None = None  # None: the demo model
    images: list[Path] = field(default_factory=list)  # empty: generated snapshots
    threads: list[int] = field(default_factory=lambda: [1, 2])
    runs: int = 50
    warmup: int = 5
    rss_iterations: int = 5000
    accuracy_scenes: int = 200
    calibration_images: int = 32
    footprint_processes: int = 3  # fresh processes per runtime for import time and memory
    module: str | None = None  # pkg.mod:factory for the side-by-side comparison
    module_outputs: Literal["logits", "probabilities"] = "logits"
    progress: bool = True
    command: str = "garagecam bench"

    def check(self) -> None:
        if self.runs < 1 or self.warmup < 0:
            raise ConfigError("--runs must be at least 1 and --warmup at least 0")
        if not self.threads or any(t < 1 for t in self.threads):
            raise ConfigError("--threads must list thread counts of at least 1, e.g. 1,2")
        if self.rss_iterations < 0 or self.accuracy_scenes < 0 or self.calibration_images < 1:
            raise ConfigError("iteration, scene and calibration counts must not be negative")
        if self.footprint_processes < 1:
            raise ConfigError("--footprint-processes must be at least 1")

    @classmethod
    def quick(cls, **overrides: Any) -> BenchConfig:
        """A short run (CI, tests): few runs, few frames, small RSS loop."""
        values: dict[str, Any] = {
            "threads": [1], "runs": 5, "warmup": 1, "rss_iterations": 50,
            "accuracy_scenes": 16, "calibration_images": 4, "footprint_processes": 1,
        }  # fmt: skip
        values.update(overrides)
        return cls(**values)


class _Progress:
    """One tqdm bar for the whole run; a silent stand-in when disabled or tqdm is absent."""

    def __init__(self, total: int, enabled: bool) -> None:
        self._bar: Any = None
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                return
            self._bar = tqdm(total=total, unit="call", desc="bench", dynamic_ncols=True)

    def tick(self) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def phase(self, text: str) -> None:
        _LOGGER.debug("bench: %s", text)
        if self._bar is not None:
            self._bar.set_description(text)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _planned_calls(config: BenchConfig, images: int, runtimes: int) -> int:
    from .runtimes import ROUNDS, split_runs

    per = config.runs + config.warmup
    pipeline = images * len(config.threads) * per * 3  # in-process, worker, naive
    # in turns: a warm-up per turn; the peers' end to end has three pipelines
    per_turns = config.runs + config.warmup * len(split_runs(config.runs, ROUNDS))
    side_by_side = (runtimes + 3) * len(config.threads) * per_turns
    processes = runtimes * config.footprint_processes
    return pipeline + side_by_side + processes + 2 * config.accuracy_scenes + config.rss_iterations


def _write_scenes(directory: Path, count: int, seed: int) -> list[Path]:
    from ..scenes import iter_scenes

    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for scene in iter_scenes(seed, count, sizes=_SCENE_SIZE):
        path = directory / f"scene_{scene.index:04d}.jpg"
        path.write_bytes(scene.jpeg)
        paths.append(path)
    return paths


@contextmanager
def _engine(kind: str, model: Path, threads: int) -> Iterator[Any]:
    if kind == "in-process":
        from ..engine.local import LocalEngine

        engine: Any = LocalEngine(model, threads=threads)
    else:
        from ..engine.worker import WorkerEngine

        engine = WorkerEngine(model, threads=threads)
    try:
        yield engine
    finally:
        engine.close()


def run_bench(config: BenchConfig) -> dict[str, Any]:
    config.check()
    from ..bundle import read_metadata

    started = time.perf_counter()
    model_path = config.model or student_demo_path()
    metadata = read_metadata(model_path)
    snapshots = load_snapshots(config.images) if config.images else generated_snapshots()
    source = resolve_module(
        metadata, config.module, config.model is None, student_demo_path().parent
    )
    # 6 runtimes side by side, plus the binding and the official runtime on 2 programs
    progress = _Progress(_planned_calls(config, len(snapshots), 6 + 4), config.progress)
    result: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "command": config.command,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "config": {
            **{k: v for k, v in asdict(config).items() if k not in ("progress", "command")},
            "model": str(model_path),
            "images": [s.name for s in snapshots],
        },
        "images": image_facts(snapshots),
    }
    try:
        with tempfile.TemporaryDirectory(prefix="garagecam-bench-") as tmp:
            workdir = Path(tmp)
            result["model"] = _model_facts(model_path, metadata, source)
            result["pipeline"], result["memory"] = _pipeline(
                config, model_path, snapshots, progress
            )
            result["naive"] = _naive(
                config, metadata=metadata, source=source, snapshots=snapshots, progress=progress
            )
            result["runtimes"], result["int8"], programs = _side_by_side(
                config, metadata=metadata, source=source, snapshots=snapshots, result=result,
                workdir=workdir, progress=progress,
            )  # fmt: skip
            result["binding"] = _binding(
                config, model=model_path, programs=programs, metadata=metadata,
                snapshots=snapshots, result=result, workdir=workdir, progress=progress,
            )  # fmt: skip
    finally:
        progress.close()
    result["capacity"] = _capacity(result)
    result["goals"] = evaluate_goals(result) + peer_goals(result)
    result["duration_s"] = round(time.perf_counter() - started, 1)
    result["machine"]["load_average_end"] = load_average()
    return result


def _model_facts(
    path: Path, metadata: ModelMetadata, source: SourceModule | None
) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "name": metadata.name,
        "version": metadata.version,
        "labels": list(metadata.label_names),
        "input_size": [metadata.input_height, metadata.input_width],
        "weights": source.weights if source else "the .pte only (no --module given)",
        "params": None,
        "macs": None,
        "pte": pte_facts(path),
    }
    if source is not None:
        import torch

        example = torch.zeros(1, 3, metadata.input_height, metadata.input_width)
        facts["params"], facts["macs"] = count_params_and_macs(source.module, example)
    return facts


def _pipeline(
    config: BenchConfig, model: Path, snapshots: list[Snapshot], progress: _Progress
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Stage timings per engine, thread count and image; memory of the leanest worker."""
    from .memory import measure_growth, rss_mb
    from .stages import measure_engine

    rows, memory = [], None
    for kind in ("in-process", "worker"):
        for threads in config.threads:
            with _engine(kind, model, threads) as engine:
                measure_memory = kind == "worker" and threads == min(config.threads)
                loaded_mb = rss_mb(engine.pid) if measure_memory else 0.0
                for snapshot in snapshots:
                    progress.phase(f"{kind} {snapshot.size[0]}x{snapshot.size[1]} x{threads}")
                    stages = measure_engine(
                        engine, snapshot, config.runs, config.warmup, progress.tick
                    )
                    rows.append(
                        {
                            "image": snapshot.name, "size": list(snapshot.size),
                            "engine": kind, "threads": threads, "stages": stages,
                        }
                    )  # fmt: skip
                if measure_memory:
                    progress.phase(f"worker RSS over {config.rss_iterations} frames")
                    memory = measure_growth(
                        engine, engine.pid, goal_snapshot(snapshots), config.rss_iterations,
                        tick=progress.tick, loaded_mb=loaded_mb, threads=threads,
                    )  # fmt: skip
                    timed = len(snapshots) * (config.runs + config.warmup)
                    memory["frames_classified"] = timed + config.rss_iterations
    return rows, memory


def _naive(
    config: BenchConfig,
    *,
    metadata: ModelMetadata,
    source: SourceModule | None,
    snapshots: list[Snapshot],
    progress: _Progress,
) -> list[dict[str, Any]]:
    if source is None:
        for _ in range(len(snapshots) * len(config.threads) * (config.runs + config.warmup)):
            progress.tick()
        return []
    from .runtimes import torch_threads
    from .stages import measure_naive

    rows, eager = [], source.probabilities_module(metadata)
    for threads in config.threads:
        with torch_threads(threads):
            for snapshot in snapshots:
                progress.phase(f"naive {snapshot.size[0]}x{snapshot.size[1]} x{threads}")
                stages, _ = measure_naive(
                    eager, metadata, snapshot,
                    runs=config.runs, warmup=config.warmup, tick=progress.tick,
                )  # fmt: skip
                rows.append(
                    {"image": snapshot.name, "size": list(snapshot.size), "threads": threads,
                     "stages": stages}
                )  # fmt: skip
    return rows


def _side_by_side(
    config: BenchConfig,
    *,
    metadata: ModelMetadata,
    source: SourceModule | None,
    snapshots: list[Snapshot],
    result: dict[str, Any],
    workdir: Path,
    progress: _Progress,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None, dict[str, Path]]:
    """Runtimes side by side; also returns the programs measured ({"fp32": path, ...})."""
    from ..preprocess import prepare
    from . import runtimes as rt
    from .peers.bench import peer_candidates, peer_figures

    snapshot = goal_snapshot(snapshots)
    tensor = prepare(snapshot.data, metadata).tensor
    if source is None:
        why = "needs the PyTorch module: pass --module pkg.mod:factory"
        candidates = [
            rt.Candidate(EAGER, None, why),
            rt.Candidate(ORT, None, why),
            rt.executorch_candidate(ET_FP32, config.model, tensor),
            rt.Candidate(ET_INT8, None, why),
            rt.Candidate(LITERT, None, why),
            rt.Candidate(NCNN, None, why),
        ]
        rows = rt.measure_runtimes(
            candidates, config.threads, config.runs, config.warmup, progress.tick
        )
        return rows, None, {"fp32": config.model or student_demo_path()}
    from ..export import export_model

    progress.phase("export fp32 .pte")
    fp32 = export_model(
        source.module, metadata, workdir / "fp32.pte", outputs=source.outputs, progress=False
    )
    progress.phase("export int8 .pte (calibrating)")
    calibration = _write_scenes(workdir / "calibration", config.calibration_images, BENCH_SEED + 1)
    int8 = export_model(
        source.module, metadata, workdir / "int8.pte", int8=True, calibration=calibration,
        outputs=source.outputs, progress=False,
    )  # fmt: skip
    for key, report in (("fp32_export", fp32), ("int8_export", int8)):
        result["model"][key] = {
            "size_bytes": report.size_bytes,
            "delegated_ops": report.delegated_ops,
            "portable_ops": list(report.portable_ops),
            "total_ops": report.total_ops,
        }
    progress.phase("ONNX export")
    eager = source.probabilities_module(metadata)
    candidates = [
        rt.eager_candidate(eager, tensor),
        rt.onnxruntime_candidate(eager, tensor, workdir),
        rt.executorch_candidate(ET_FP32, fp32.path, tensor),
        rt.executorch_candidate(ET_INT8, int8.path, tensor),
    ]
    progress.phase("LiteRT and ncnn conversion")
    peer_columns, peer_models = peer_candidates(eager, tensor, workdir)
    candidates += peer_columns
    progress.phase("runtimes side by side")
    rows = rt.measure_runtimes(
        candidates, config.threads, config.runs, config.warmup, progress.tick
    )
    result["peers"] = peer_figures(
        peer_models, module=eager, engine_model=config.model or student_demo_path(),
        onnx=workdir / "model.onnx", metadata=metadata, snapshot=snapshot, tensor=tensor,
        threads=config.threads, runs=config.runs, warmup=config.warmup,
        processes=config.footprint_processes, workdir=workdir, tick=progress.tick,
        phase=progress.phase,
    )  # fmt: skip
    progress.phase("int8 vs fp32 accuracy")
    accuracy = _int8_accuracy(config, metadata, fp32.path, int8.path, progress)
    accuracy["size_ratio"] = round(fp32.size_bytes / int8.size_bytes, 3)
    accuracy["trained_weights"] = source.trained
    return rows, accuracy, {"fp32": fp32.path, "int8": int8.path}


def _binding(
    config: BenchConfig,
    *,
    model: Path,
    programs: dict[str, Path],
    metadata: ModelMetadata,
    snapshots: list[Snapshot],
    result: dict[str, Any],
    workdir: Path,
    progress: _Progress,
) -> dict[str, Any]:
    """The garagecam-runtime binding vs the official runtime: outputs, time, cold start."""
    from ..preprocess import prepare
    from .binding import cold_starts, compare_runtimes

    snapshot = goal_snapshot(snapshots)
    tensor = prepare(snapshot.data, metadata).tensor
    progress.phase("binding vs official runtime")
    rows = compare_runtimes(programs, tensor, config.runs, config.warmup, progress.tick)
    for _ in range(len(rows), 4):  # planned for two programs
        for _ in range(config.runs + config.warmup):
            progress.tick()
    progress.phase("cold starts (fresh processes)")
    image = workdir / "cold_start.jpg"
    image.write_bytes(snapshot.data)
    return {"inference": rows, "cold_start": cold_starts(model, image)}


def _int8_accuracy(
    config: BenchConfig, metadata: ModelMetadata, fp32: Path, int8: Path, progress: _Progress
) -> dict[str, Any]:
    """Accuracy (threshold 0.5 per label) of both programs on generated, labelled scenes."""
    from ..bundle import load_program
    from ..preprocess import prepare
    from ..scenes import LABELS, iter_scenes

    if set(metadata.label_names) != set(LABELS) or config.accuracy_scenes == 0:
        for _ in range(2 * config.accuracy_scenes):
            progress.tick()
        return {"scenes": 0, "accuracy_fp32": None, "accuracy_int8": None}
    programs = {"fp32": load_program(fp32), "int8": load_program(int8)}
    correct = {"fp32": 0, "int8": 0}
    agree = total = 0
    order = list(metadata.label_names)
    for scene in iter_scenes(BENCH_SEED + 2, config.accuracy_scenes, sizes=_SCENE_SIZE):
        tensor = prepare(scene.jpeg, metadata).tensor
        truth = np.array([scene.labels[name] for name in order], dtype=bool)
        decisions = {}
        for name, program in programs.items():
            decisions[name] = np.asarray(program.run(tensor)).reshape(-1) >= 0.5
            correct[name] += int(np.sum(decisions[name] == truth))
            progress.tick()
        agree += int(np.sum(decisions["fp32"] == decisions["int8"]))
        total += len(order)
    fp32_acc, int8_acc = 100.0 * correct["fp32"] / total, 100.0 * correct["int8"] / total
    return {
        "scenes": config.accuracy_scenes,
        "accuracy_fp32": round(fp32_acc, 2),
        "accuracy_int8": round(int8_acc, 2),
        "accuracy_delta_points": round(fp32_acc - int8_acc, 2),
        "decision_agreement": round(100.0 * agree / total, 2),
    }


def _capacity(result: dict[str, Any]) -> list[dict[str, Any]]:
    size, cores = goal_image(result), result["machine"]["usable_cpus"] or 1
    rows: list[dict[str, Any]] = []
    if size is None:
        return rows
    goal = next(r["image"] for r in result["pipeline"] if r["size"] == size)
    for row in result["pipeline"]:
        if row["image"] != goal or row["threads"] != 1:
            continue
        per_second = 1000.0 / row["stages"]["end_to_end"]["median"]
        rows.append(
            {
                "engine": row["engine"],
                "image": goal,
                "classifications_per_s_per_core": round(per_second, 2),
                "cameras_at_10s_per_core": round(per_second * CAMERA_INTERVAL_S, 1),
                "cameras_at_10s_machine": round(per_second * CAMERA_INTERVAL_S * cores, 1),
            }
        )
    return rows
