"""Import time and memory of each runtime, each in fresh processes (`probe.py`).

A process that only imports the runtime, loads the model and runs it once: its VmRSS is
what the runtime costs a worker, its import time what it adds to a cold start. Every kind
runs `repeats` times, in turns; the figures are the medians over those processes.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

import garagecam_core

_TIMEOUT_S = 300
_FIGURES = (
    "import_ms", "load_ms", "first_run_ms", "rss_mb", "peak_rss_mb", "process_to_first_result_ms",
)  # fmt: skip


def _env() -> dict[str, str]:
    """This process's environment, with the garagecam_core it runs importable first."""
    env = dict(os.environ)
    root = str(Path(garagecam_core.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


#: suffix of the rows whose process also preprocesses a frame (probe --frame)
PIPELINE = "+preprocess"


def _probe_once(
    kind: str, threads: int, npy: Path, models: list[Path], frame: list[Path]
) -> dict[str, Any]:
    base = kind.removesuffix(PIPELINE)
    command = [sys.executable, "-m", "garagecam_core.bench.peers.probe", base, str(threads),
               str(npy), *map(str, models)]  # fmt: skip
    if kind.endswith(PIPELINE):
        command += ["--frame", *map(str, frame)]
    spawned = time.time()  # the probe reports its first result on the same clock
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=_TIMEOUT_S, env=_env(), check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": f"no answer within {_TIMEOUT_S} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        return {"error": f"exit code {done.returncode}: {tail}"[:300]}
    result: dict[str, Any] = json.loads(lines[-1])
    # new process to first result: interpreter start, imports, load, input, first run
    result["process_to_first_result_ms"] = (result.pop("first_result_at") - spawned) * 1000.0
    return result


def measure_footprints(
    programs: dict[str, list[Path]],
    tensor: npt.NDArray[np.float32],
    reference: npt.NDArray[np.float32] | None,
    *,
    threads: int,
    repeats: int,
    workdir: Path,
    tick: Callable[[], None],
    frame: tuple[bytes, str] | None = None,
) -> list[dict[str, Any]]:
    """One row per runtime kind (see `probe.KINDS`) with its model files; medians over
    `repeats` fresh processes, each kind's turn rotating with the others'. With `frame`
    (image bytes, metadata JSON) every kind is also measured as a pipeline process
    (`KIND+preprocess`: GarageCam's preprocessing makes the input from the image)."""
    npy = workdir / "probe-input.npy"
    np.save(npy, np.ascontiguousarray(tensor, dtype=np.float32))
    frame_files: list[Path] = []
    if frame is not None:
        frame_files = [workdir / "probe-frame.jpg", workdir / "probe-metadata.json"]
        frame_files[0].write_bytes(frame[0])
        frame_files[1].write_text(frame[1], encoding="utf-8")
        programs = {**programs, **{k + PIPELINE: v for k, v in programs.items()}}
    samples: dict[str, list[dict[str, Any]]] = {kind: [] for kind in programs}
    errors: dict[str, str] = {}
    for _ in range(repeats):
        for kind, models in programs.items():
            if kind in errors:
                continue
            sample = _probe_once(kind, threads, npy, models, frame_files)
            tick()
            if "error" in sample:
                errors[kind] = sample["error"]
            else:
                samples[kind].append(sample)
    rows = []
    for kind in programs:
        if kind in errors:
            rows.append({"runtime": kind, "status": "failed", "reason": errors[kind]})
            continue
        got = samples[kind]
        row: dict[str, Any] = {"runtime": kind, "status": "ok", "threads": threads,
                               "processes": len(got)}  # fmt: skip
        for figure in _FIGURES:
            row[figure] = round(statistics.median(s[figure] for s in got), 2)
        if reference is not None:
            output = np.asarray(got[-1]["output"], dtype=np.float32)
            row["max_abs_diff"] = float(np.max(np.abs(output - reference)))
        rows.append(row)
    return rows
