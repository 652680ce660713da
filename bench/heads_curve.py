"""Heads learnt from the first N frames of one garage, judged on 200 later frames of it.

The same question as the fine-tuning curve of docs/demo-model.md (bench/generalisation.py
curve), asked of heads on the pretrained trunk: generated garages of both families, written by
`garagecam scenes --garage G --family F --count 260 --seed 31 --size 1280x720 --out DIR`:

    .venv/bin/python bench/heads_curve.py /tmp/curve/a-101 /tmp/curve/b-1 --n 12 60

A frame counts as right for a label when the head is sure and right; "unknown" is a frame
the head calls unfamiliar or a probability between its OFF and ON thresholds. Also prints how
long fitting took (the embeddings of the N frames are cached, as `garagecam train` does).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
from real_garages import write_report  # type: ignore[import-not-found]

from garagecam_core.dataset import load_dataset
from garagecam_core.heads import fit
from garagecam_core.heads.embeddings import embed_files
from garagecam_core.heads.trunk import load_trunk

EVAL_FRAMES = 200


def _verdicts(
    x: np.ndarray, y: np.ndarray, tx: np.ndarray, ty: np.ndarray
) -> tuple[dict[str, Any], float]:
    start = time.perf_counter()
    head = fit.fit_head(x, y)
    cv = fit.cross_validated(x, y)
    bands = [fit.thresholds(cv[:, i], y[:, i]) for i in range(y.shape[1])]
    familiarity = fit.fit_familiarity(x)
    seconds = time.perf_counter() - start
    out: dict[str, Any] = {}
    for i, (on, off) in enumerate(bands):
        right = unknown = 0
        for e, target in zip(tx, ty[:, i], strict=True):
            p = float(head.probabilities(e)[i])
            if familiarity.novelty(e) > 1 or off < p < on:
                unknown += 1
            elif (p >= on) == bool(target):
                right += 1
        n = len(ty)
        wrong = n - right - unknown
        out[str(i)] = {"right": right / n, "unknown": unknown / n, "wrong": wrong / n, "on": on}
    return out, seconds


def curve(root: Path, sizes: list[int]) -> dict[str, Any]:
    dataset = load_dataset(root)
    trunk = load_trunk(threads=2)
    meta = trunk.info.model_metadata(({"name": "x"},), "embedding")
    x, _ = embed_files([s.path for s in dataset.samples], trunk, meta, cache_root=root)
    y = np.array([s.targets for s in dataset.samples], dtype=np.int64)
    test_x, test_y = x[-EVAL_FRAMES:], y[-EVAL_FRAMES:]
    result: dict[str, Any] = {}
    for n in sizes:
        train_y = y[:n]
        if any(len(set(train_y[:, i].tolist())) < 2 for i in range(y.shape[1])):
            result[str(n)] = "a label has one state in the first frames"
            continue
        scores, seconds = _verdicts(x[:n], train_y, test_x, test_y)
        names = dataset.label_names
        result[str(n)] = {names[int(k)]: v for k, v in scores.items()} | {
            "fit_s": round(seconds, 2)
        }
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("garages", type=Path, nargs="+")
    parser.add_argument("--n", type=int, nargs="+", default=[12, 60])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report = {str(g): curve(g, args.n) for g in args.garages}
    write_report(report, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
