"""int8 against eager for the demo student: post-training quantisation error, as the bench
exports it (calibration frames from the bench's seed + 1), on the bench frames and on 200
generated scenes (the bench's accuracy seed). The committed figures were taken with the
generator's frame 0 as the bench frame (the IR night frame, then called generated-*.jpg).

    PYTHONPATH=$PWD .venv/bin/python bench/int8_error.py [CALIBRATION_FRAMES]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt

from garagecam_core import student_demo_path
from garagecam_core.bench.module import resolve_module
from garagecam_core.bench.naive import eager_probabilities
from garagecam_core.bench.snapshots import BENCH_SEED, generated_snapshots
from garagecam_core.bench.suite import _write_scenes
from garagecam_core.bundle import load_program, read_metadata
from garagecam_core.export import export_model
from garagecam_core.preprocess import prepare
from garagecam_core.scenes import iter_scenes


def _logit(p: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    q = np.clip(p.astype(np.float64), 1e-6, 1 - 1e-6)
    return np.asarray(np.log(q / (1 - q)))


def main(calibration: int, out: Path) -> None:
    metadata = read_metadata(student_demo_path())
    source = resolve_module(metadata, None, True, student_demo_path().parent)
    assert source is not None
    eager = source.probabilities_module(metadata)
    frames = _write_scenes(out / f"cal{calibration}", calibration, BENCH_SEED + 1)
    int8 = export_model(
        source.module, metadata, out / f"int8-{calibration}.pte", int8=True,
        calibration=frames, outputs=source.outputs, progress=False,
    )  # fmt: skip
    program = load_program(int8.path)

    def both(jpeg: bytes) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        tensor = prepare(jpeg, metadata).tensor
        fp = eager_probabilities(eager, np.ascontiguousarray(tensor))
        return fp, np.asarray(program.run(tensor), np.float32).reshape(-1)

    for snapshot in generated_snapshots():
        fp, q = both(snapshot.data)
        print(snapshot.name, "eager", fp.round(4), "int8", q.round(4),
              "diff", np.abs(fp - q).max().round(4))  # fmt: skip
    diffs, logits, flips = [], [], 0
    for scene in iter_scenes(BENCH_SEED + 2, 200, sizes=((1280, 720),)):
        fp, q = both(scene.jpeg)
        diffs.append(np.abs(fp - q))
        logits.append(np.abs(_logit(fp) - _logit(q)))
        flips += int(np.sum((fp >= 0.5) != (q >= 0.5)))
    d, lg = np.concatenate(diffs), np.concatenate(logits)
    print(f"calib {calibration}: 200 scenes x {len(diffs[0])} labels: |dp| median "
          f"{np.median(d):.4f} p90 {np.percentile(d, 90):.4f} p99 {np.percentile(d, 99):.4f} "
          f"max {d.max():.4f}; >0.05: {np.mean(d > 0.05) * 100:.1f}%; |dlogit| median "
          f"{np.median(lg):.3f} p90 {np.percentile(lg, 90):.3f} max {lg.max():.3f}; "
          f"decisions flipped at 0.5: {flips}/{d.size}")  # fmt: skip


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 32, Path(tmp))
