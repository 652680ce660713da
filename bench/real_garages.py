"""Measure models on the real garage photos of bench/real (per garage, not only pooled).

Not a test: CI cannot fetch the photos. Rebuild them with bench/real/assemble.py, then:

    .venv/bin/python bench/real_garages.py --photos /work/realphotos \
        --model garagecam_core/models/demo.gcam --model garagecam_core/models/demo.pte \
        --scenes build/demo-scenes --json bench/results/real/real.json

For each --model: per garage, the share of frames whose label it gets right, says unknown
(unfamiliar frame, or a probability between its OFF and ON thresholds), or gets confidently
wrong. With --scenes (a generated dataset): heads on the shipped trunk for two questions the
photos can answer: an unseen garage (trained on the scenes and every other real garage,
tested on this one) and a few labels of this garage (leave-one-out within the garage, with
and without the scenes).
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from garagecam_core.dataset import load_dataset
from garagecam_core.engine.local import LocalEngine
from garagecam_core.heads import fit
from garagecam_core.heads.embeddings import embed_files
from garagecam_core.heads.trunk import load_trunk

LABELS = ("door_open", "car_present")
MANIFEST = Path(__file__).parent / "real" / "manifest.csv"


@dataclass(frozen=True)
class Photo:
    garage: str
    path: Path
    targets: dict[str, int | None]


def read_photos(root: Path, manifest: Path = MANIFEST) -> list[Photo]:
    photos = []
    with manifest.open() as handle:
        for row in csv.DictReader(handle):
            targets = {k: (int(row[k]) if row[k] != "" else None) for k in LABELS}
            photos.append(Photo(row["garage"], root / row["file"], targets))
    return photos


def _verdict(p: float, unfamiliar: bool, on: float, off: float, target: int) -> str:
    if unfamiliar or off < p < on:
        return "unknown"
    return "right" if (p >= on) == bool(target) else "wrong"


def _tally(verdicts: Sequence[str]) -> dict[str, Any]:
    n = len(verdicts)
    return {"n": n} | {
        v: round(verdicts.count(v) / n, 3) if n else None for v in ("right", "unknown", "wrong")
    }


def score_model(model: Path, photos: Sequence[Photo]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with LocalEngine(model, threads=2) as engine:
        meta = engine.metadata
        per: dict[str, dict[str, list[str]]] = {}
        for photo in photos:
            result = engine.classify(photo.path.read_bytes())
            for label in LABELS:
                target = photo.targets[label]
                if target is None or label not in meta.label_names:
                    continue
                spec = meta.label(label)
                verdict = _verdict(
                    result.probabilities[label], result.unfamiliar, spec.on_threshold,
                    spec.off_threshold, target,
                )  # fmt: skip
                for key in (photo.garage, "all"):
                    per.setdefault(key, {}).setdefault(label, []).append(verdict)
        for garage, labels in per.items():
            out[garage] = {label: _tally(v) for label, v in labels.items()}
    return out


def _embed(paths: Sequence[Path], cache_root: Path | None) -> np.ndarray:
    trunk = load_trunk(threads=2)
    meta = trunk.info.model_metadata(({"name": "x"},), "embedding")
    values, _ = embed_files(list(paths), trunk, meta, cache_root=cache_root)
    return values


def _head_verdicts(
    train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray
) -> dict[str, list[str]]:
    """Fit on train (labels with both states), judge test: right/unknown/wrong per label."""
    out: dict[str, list[str]] = {}
    familiarity = fit.fit_familiarity(train_x.astype(np.float32))
    for i, label in enumerate(LABELS):
        known = train_y[:, i] >= 0
        y = train_y[known, i]
        if len(set(y.tolist())) < 2:
            continue
        head = fit.fit_head(train_x[known].astype(np.float32), y[:, None].astype(np.int64))
        on, off = 0.6, 0.4
        for x, target in zip(test_x, test_y[:, i], strict=True):
            if target < 0:
                continue
            p = float(head.probabilities(x.astype(np.float32))[0])
            unfamiliar = familiarity.novelty(x.astype(np.float32)) > 1
            out.setdefault(label, []).append(_verdict(p, unfamiliar, on, off, int(target)))
    return out


def heads_on_photos(photos: Sequence[Photo], scenes: Path) -> dict[str, Any]:
    dataset = load_dataset(scenes)
    scene_x = _embed([s.path for s in dataset.samples], scenes)
    scene_y = np.array([s.targets for s in dataset.samples])
    photo_x = _embed([p.path for p in photos], None)
    photo_y = np.array(
        [[-1 if p.targets[k] is None else p.targets[k] for k in LABELS] for p in photos]
    )
    garages = sorted({p.garage for p in photos})
    result: dict[str, Any] = {"unseen_garage": {}, "leave_one_out_in_garage": {}}
    for garage in garages:
        mine = np.array([p.garage == garage for p in photos])
        train_x = np.vstack([scene_x, photo_x[~mine]])
        train_y = np.vstack([scene_y, photo_y[~mine]])
        verdicts = _head_verdicts(train_x, train_y, photo_x[mine], photo_y[mine])
        result["unseen_garage"][garage] = {k: _tally(v) for k, v in verdicts.items()}
        if mine.sum() < 4:
            continue
        for with_scenes in (False, True):
            pooled: dict[str, list[str]] = {}
            for index in np.flatnonzero(mine):
                rest = mine.copy()
                rest[index] = False
                tx, ty = photo_x[rest], photo_y[rest]
                if with_scenes:
                    tx, ty = np.vstack([scene_x, tx]), np.vstack([scene_y, ty])
                one = _head_verdicts(tx, ty, photo_x[[index]], photo_y[[index]])
                for label, v in one.items():
                    pooled.setdefault(label, []).extend(v)
            key = f"{garage} ({'with' if with_scenes else 'without'} scenes)"
            result["leave_one_out_in_garage"][key] = {k: _tally(v) for k, v in pooled.items()}
    return result


def write_report(report: dict[str, Any], path: Path | None) -> None:
    """Print the report as JSON, and write it to `path` too when given."""
    text = json.dumps(report, indent=1)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    print(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=Path, default=Path("/work/realphotos"))
    parser.add_argument("--model", type=Path, action="append", default=[])
    parser.add_argument("--scenes", type=Path, help="generated dataset for the head experiments")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    photos = [p for p in read_photos(args.photos) if p.path.is_file()]
    report: dict[str, Any] = {"photos": len(photos), "models": {}}
    for model in args.model:
        report["models"][str(model)] = score_model(model, photos)
    if args.scenes:
        report["heads"] = heads_on_photos(photos, args.scenes)
    write_report(report, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
