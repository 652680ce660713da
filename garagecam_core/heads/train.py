"""`train_head`: a labelled folder of frames in, a `.gcam` model out, in seconds, no PyTorch.

Embeds every frame with the trunk (cached beside the dataset), fits one logistic regression
per label (`fit.py`), scores it by cross-validation on the user's own frames (each frame
judged by a head that never saw it), picks ON/OFF thresholds, calibrates familiarity, and
writes the model atomically.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import __version__
from ..dataset import Dataset, load_dataset, write_atomic
from ..errors import DatasetError
from ..metadata import LabelSpec
from ..roi import Roi
from . import fit
from .embeddings import Progress, embed_files
from .model_file import HeadModel, TrunkRef
from .trunk import LoadedTrunk, load_trunk

#: fewest frames a head is trained from (and both states of every label among them)
MIN_FRAMES = 6


@dataclass(frozen=True)
class LabelScore:
    """Cross-validated: each frame judged by a head trained without it."""

    correct: int
    total: int
    unsure: int = 0

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.total if self.total else None

    def describe(self) -> str:
        if not self.total:
            return "not scored"
        text = f"{self.correct} of {self.total} right"
        if self.unsure:
            text += f", {self.unsure} unsure"
        return text + (" (too few frames to trust)" if self.total < 20 else "")


@dataclass(frozen=True)
class HeadTrainResult:
    path: Path
    labels: tuple[str, ...]
    frames: int
    cached_frames: int
    seconds: float
    validation: dict[str, LabelScore] = field(default_factory=dict)
    thresholds: dict[str, tuple[float, float]] = field(default_factory=dict)

    def summary(self) -> str:
        scores = "; ".join(f"{n}: {s.describe()}" for n, s in self.validation.items())
        return (
            f"wrote {self.path}: {self.frames} frames ({self.cached_frames} cached) in "
            f"{self.seconds:.1f} s; cross-validated {scores}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "labels": list(self.labels),
            "frames": self.frames,
            "cached_frames": self.cached_frames,
            "seconds": round(self.seconds, 3),
            "validation": {
                n: asdict(s) | {"accuracy": s.accuracy} for n, s in self.validation.items()
            },
            "thresholds": {n: {"on": on, "off": off} for n, (on, off) in self.thresholds.items()},
        }


def _score(
    p: npt.NDArray[np.float64], y: npt.NDArray[np.int64], on: float, off: float
) -> LabelScore:
    known = ~np.isnan(p)
    p, y = p[known], y[known]
    unsure = int(np.sum((p > off) & (p < on)))
    correct = int(np.sum(np.where(y == 1, p >= on, p <= off)))
    return LabelScore(correct, len(p), unsure)


def _label_specs(
    dataset: Dataset, cv: npt.NDArray[np.float64], targets: npt.NDArray[np.int64]
) -> list[LabelSpec]:
    specs = []
    for i, spec in enumerate(dataset.labels):
        if dataset.fixed_thresholds[i]:  # labels.yaml set them: the user's word stands
            specs.append(spec)
            continue
        on, off = fit.thresholds(cv[:, i], targets[:, i])
        specs.append(LabelSpec(spec.name, spec.device_class, on, off))
    return specs


def _check(dataset: Dataset) -> None:
    if len(dataset.samples) < MIN_FRAMES:
        raise DatasetError(
            f"{dataset.root}: {len(dataset.samples)} labelled frame(s); label at least "
            f"{MIN_FRAMES}, with every label seen both on and off"
        )


def fit_model(
    embeddings: npt.NDArray[np.float32],
    targets: npt.NDArray[np.int64],
    dataset: Dataset,
    trunk: LoadedTrunk,
    *,
    name: str,
    seed: int = 0,
) -> tuple[HeadModel, dict[str, LabelScore]]:
    """The head model (and its cross-validated scores) for embeddings already computed."""
    cv = fit.cross_validated(embeddings, targets, seed=seed)
    specs = _label_specs(dataset, cv, targets)
    metadata = trunk.info.model_metadata(
        tuple(asdict(spec) for spec in specs), name=name, version=time.strftime("%Y%m%d%H%M%S")
    )
    scores = {
        spec.name: _score(cv[:, i], targets[:, i], spec.on_threshold, spec.off_threshold)
        for i, spec in enumerate(specs)
    }
    model = HeadModel(
        metadata=metadata,
        trunk=TrunkRef(trunk.info.name, trunk.sha256, trunk.info.embedding_size),
        head=fit.fit_head(embeddings, targets),
        familiarity=fit.fit_familiarity(embeddings),
        training={
            "trained_with": f"garagecam {__version__}",
            "frames": len(targets),
            "positives": {s.name: int(targets[:, i].sum()) for i, s in enumerate(specs)},
            "cross_validated": {n: asdict(s) for n, s in scores.items()},
        },
    )
    return model, scores


def write_model(model: HeadModel, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, model.to_json().encode())
    umask = os.umask(0)
    os.umask(umask)
    out.chmod(0o666 & ~umask)  # a model is not a secret; the runner may be another user


def train_head(
    data: str | Path,
    out: str | Path,
    *,
    progress: Progress | None = None,
    seed: int = 0,
    trunk: str | Path | None = None,
    roi: Roi | None = None,
    name: str | None = None,
    threads: int | None = None,
) -> HeadTrainResult:
    """Train a head on the trunk from a labelled folder; see the module doc."""
    start = time.perf_counter()
    dataset = load_dataset(Path(data), min_images=MIN_FRAMES)
    _check(dataset)
    loaded = load_trunk(trunk, threads=threads or min(2, os.cpu_count() or 1))
    preprocessing = loaded.info.model_metadata(({"name": "x"},), "embedding")
    embeddings, hits = embed_files(
        [s.path for s in dataset.samples], loaded, preprocessing,
        cache_root=dataset.root, roi=roi, progress=progress,
    )  # fmt: skip
    if progress is not None:
        progress("fitting", 0.0)
    targets = np.array([s.targets for s in dataset.samples], dtype=np.int64)
    model, scores = fit_model(
        embeddings,
        targets,
        dataset,
        loaded,
        name=name or f"garagecam-{dataset.root.name}",
        seed=seed,
    )
    if progress is not None:
        progress("saving", 0.0)
    out = Path(out)
    write_model(model, out)
    if progress is not None:
        progress("saving", 1.0)
    return HeadTrainResult(
        path=out,
        labels=model.metadata.label_names,
        frames=len(targets),
        cached_frames=hits,
        seconds=time.perf_counter() - start,
        validation=scores,
        thresholds={s.name: (s.on_threshold, s.off_threshold) for s in model.metadata.labels},
    )


__all__ = ["HeadTrainResult", "LabelScore", "train_head"]
