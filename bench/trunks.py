"""Compare candidate trunks on the real photos and on generated scenes, against their cost.

    .venv/bin/python bench/trunks.py --trunk garagecam_core/models/trunk-lite0.pte \
        --trunk /tmp/trunk-lite1.pte --trunk /tmp/trunk-lite2.pte \
        --scenes build/demo-model/data --fresh build/fresh-scenes --photos /work/realphotos

For each trunk: file size, time per frame (this runtime, 1 thread, median of 30 after a
warm-up), and the accuracy of heads trained on its embeddings: on 100 fresh generated
scenes (trained on --scenes), and on each real garage unseen in training (trained on the
scenes and the other real garages). Trunks other than the shipped one are exported with
`python -m garagecam_core.export_trunk --variant lite1 --out ...`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
from real_garages import LABELS, _head_verdicts, _tally, read_photos, write_report  # type: ignore[import-not-found]

from garagecam_core.dataset import load_dataset
from garagecam_core.heads.embeddings import embed_files
from garagecam_core.heads.trunk import load_trunk
from garagecam_core.preprocess import prepare


def _speed(path: Path, image: bytes) -> float:
    trunk = load_trunk(path, threads=1)
    meta = trunk.info.model_metadata(({"name": "x"},), "speed")
    tensor = prepare(image, meta).tensor
    for _ in range(3):
        trunk.embed(tensor)
    times = []
    for _ in range(30):
        start = time.perf_counter()
        trunk.embed(tensor)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _embed(path: Path, files: list[Path], cache: Path | None) -> np.ndarray:
    trunk = load_trunk(path, threads=2)
    meta = trunk.info.model_metadata(({"name": "x"},), "embedding")
    return embed_files(files, trunk, meta, cache_root=cache)[0]


def compare(trunk: Path, scenes: Path, fresh: Path, photos_root: Path) -> dict[str, Any]:
    train = load_dataset(scenes)
    test = load_dataset(fresh)
    photos = [p for p in read_photos(photos_root) if p.path.is_file()]
    sx = _embed(trunk, [s.path for s in train.samples], scenes)
    sy = np.array([s.targets for s in train.samples])
    fx = _embed(trunk, [s.path for s in test.samples], fresh)
    fy = np.array([s.targets for s in test.samples])
    px = _embed(trunk, [p.path for p in photos], None)
    py = np.array([[-1 if p.targets[k] is None else p.targets[k] for k in LABELS] for p in photos])
    fresh_v = _head_verdicts(sx, sy, fx, fy)
    unseen: dict[str, list[str]] = {}
    for garage in sorted({p.garage for p in photos}):
        mine = np.array([p.garage == garage for p in photos])
        one = _head_verdicts(
            np.vstack([sx, px[~mine]]), np.vstack([sy, py[~mine]]), px[mine], py[mine]
        )
        for label, v in one.items():
            unseen.setdefault(label, []).extend(v)
    return {
        "bytes": trunk.stat().st_size,
        "ms_per_frame_1_thread": round(_speed(trunk, test.samples[0].path.read_bytes()), 2),
        "fresh_scenes": {k: _tally(v) for k, v in fresh_v.items()},
        "unseen_real_garages": {k: _tally(v) for k, v in unseen.items()},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trunk", type=Path, action="append", required=True)
    parser.add_argument("--scenes", type=Path, required=True)
    parser.add_argument("--fresh", type=Path, required=True)
    parser.add_argument("--photos", type=Path, default=Path("/work/realphotos"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report = {str(t): compare(t, args.scenes, args.fresh, args.photos) for t in args.trunk}
    write_report(report, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
