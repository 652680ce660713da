"""The garagecam-runtime binding next to executorch's official runtime.

Same `.pte` files, same input, 1 thread: outputs compared bit for bit, inference time, and,
in fresh processes (`GARAGECAM_RUNTIME` picks the runtime), import time, cold start (new
process to first classification of a snapshot) and RSS with the model loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import GarageCamError
from ..pte_runtimes import BINDING, OFFICIAL, RUNTIME_ENV, RUNTIMES
from .stats import time_ms

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])

# A new process: import, load, classify one snapshot; reports its own figures as JSON.
_COLD_PROBE = """
import json, sys, time
start = time.perf_counter()
from garagecam_core.engine.local import LocalEngine
engine = LocalEngine(sys.argv[1], threads=1)
loaded = time.perf_counter()
engine.classify(open(sys.argv[2], "rb").read())
done = time.perf_counter()
rss = 0.0
for line in open("/proc/self/status"):
    if line.startswith("VmRSS:"):
        rss = int(line.split()[1]) / 1024
print(json.dumps({
    "import_and_load_s": loaded - start, "first_classification_s": done - start,
    "rss_mb": rss, "torch_imported": "torch" in sys.modules,
}))
"""


def compare_runtimes(
    programs: dict[str, Path],
    tensor: npt.NDArray[np.float32],
    runs: int,
    warmup: int,
    tick: Callable[[], None],
) -> list[dict[str, Any]]:
    """One row per program and runtime: inference time, and whether the binding's output
    equals the official runtime's bit for bit."""
    from ..bundle import load_program

    rows: list[dict[str, Any]] = []
    for label, path in programs.items():
        outputs: dict[str, bytes] = {}
        for runtime in RUNTIMES:
            row: dict[str, Any] = {"program": label, "runtime": runtime, "threads": 1}
            try:
                program = load_program(path, threads=1, runtime=runtime)
            except GarageCamError as err:
                rows.append({**row, "status": "skipped", "reason": str(err)})
                for _ in range(runs + warmup):
                    tick()
                continue
            output = program.run(tensor)
            outputs[runtime] = output.tobytes()
            summary = time_ms(partial(program.run, tensor), runs, warmup, tick)
            rows.append(
                {**row, "status": "ok", "inference": summary.to_dict(),
                 "probabilities": [float(v) for v in output]}
            )  # fmt: skip
        identical = outputs[BINDING] == outputs[OFFICIAL] if len(outputs) == len(RUNTIMES) else None
        for row in rows:
            if row["program"] == label:
                row["bit_identical"] = identical
    return rows


def cold_starts(
    model: Path, image: Path, repeats: int = 2, runtimes: tuple[str, ...] = RUNTIMES
) -> list[dict[str, Any]]:
    """Per runtime, the best of `repeats` fresh processes (page cache warm after the first)."""
    rows = []
    for runtime in runtimes:
        env = {**os.environ, RUNTIME_ENV: runtime}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        best: dict[str, Any] | None = None
        for _ in range(repeats):
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", _COLD_PROBE, str(model), str(image)],
                capture_output=True, text=True, env=env, check=False,
            )  # fmt: skip
            wall = time.perf_counter() - start
            if done.returncode != 0:
                last = (done.stderr.strip().splitlines() or ["no output"])[-1]
                best = {"runtime": runtime, "status": "skipped", "reason": last}
                break
            probe = json.loads(done.stdout.strip().splitlines()[-1])
            row = {"runtime": runtime, "status": "ok", "process_to_first_result_s": wall, **probe}
            if best is None or wall < best["process_to_first_result_s"]:
                best = row
        assert best is not None
        rows.append({k: round(v, 3) if isinstance(v, float) else v for k, v in best.items()})
    return rows
