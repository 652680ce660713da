"""Validation metrics and threshold suggestions (numpy only)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32] | npt.NDArray[np.float64]
_GRID = np.round(np.arange(0.05, 0.951, 0.01), 2)


@dataclass(frozen=True)
class LabelMetrics:
    threshold: float
    precision: float
    recall: float
    f1: float
    accuracy: float
    positives: int
    negatives: int

    def to_dict(self) -> dict[str, Any]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def binary_metrics(
    probabilities: FloatArray, targets: npt.NDArray[np.int64], threshold: float
) -> LabelMetrics:
    """Precision/recall/F1/accuracy of `probability >= threshold` against 0/1 targets.

    Precision (recall) is 1.0 when nothing is predicted (present) positive: no mistake made.
    """
    predicted = probabilities >= threshold
    actual = targets.astype(bool)
    tp = int(np.sum(predicted & actual))
    fp = int(np.sum(predicted & ~actual))
    fn = int(np.sum(~predicted & actual))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = float(np.mean(predicted == actual)) if len(actual) else 0.0
    return LabelMetrics(
        threshold=float(threshold),
        precision=precision,
        recall=recall,
        f1=f1,
        accuracy=accuracy,
        positives=int(actual.sum()),
        negatives=int((~actual).sum()),
    )


def suggest_thresholds(
    probabilities: FloatArray, targets: npt.NDArray[np.int64], margin: float = 0.2
) -> tuple[float, float]:
    """(on, off) thresholds from the validation precision/recall trade-off.

    ON is the middle of the widest range of thresholds reaching the best F1 (robust when the
    classes are well separated, where any threshold in the gap is "best"); OFF is `margin`
    below it, so the debouncer has a hysteresis band.
    """
    scores = np.array([binary_metrics(probabilities, targets, t).f1 for t in _GRID])
    best = scores.max()
    runs: list[tuple[int, int]] = []
    start: int | None = None
    for i, score in enumerate(scores):
        if score >= best - 1e-9:
            start = i if start is None else start
        elif start is not None:
            runs.append((start, i - 1))
            start = None
    if start is not None:
        runs.append((start, len(scores) - 1))
    first, last = max(runs, key=lambda run: run[1] - run[0])
    on = float(np.round((_GRID[first] + _GRID[last]) / 2, 2))
    off = float(np.round(max(0.01, on - margin), 2))
    return on, off


def evaluate(
    probabilities: FloatArray,
    targets: npt.NDArray[np.int64],
    names: tuple[str, ...],
    thresholds: tuple[float, ...],
) -> dict[str, Any]:
    """Per-label metrics at the given thresholds, plus top-1 accuracy for softmax models."""
    result: dict[str, Any] = {
        name: binary_metrics(probabilities[:, i], targets[:, i], thresholds[i]).to_dict()
        for i, name in enumerate(names)
    }
    return result


def top1_accuracy(probabilities: FloatArray, targets: npt.NDArray[np.int64]) -> float:
    return float(np.mean(probabilities.argmax(axis=1) == targets.argmax(axis=1)))
