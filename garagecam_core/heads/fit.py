"""Fitting a head with NumPy: per-label logistic regression, familiarity, thresholds.

Few-shot by design: a dozen labelled frames of one camera. The features are standardised
(the training frames' mean and spread, with a floor so a feature that never varied in a dozen
frames cannot explode), each label is an L2-regularised logistic regression with classes
weighted to balance (three open-door frames must count as much as nine closed ones), solved
by Nesterov-accelerated gradient descent: no SciPy, under a second for a thousand frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .model_file import Familiarity, FloatArray, Head

#: L2 strength per frame; high on purpose: 1280 features, a dozen frames
DEFAULT_L2 = 1.0
_SCALE_FLOOR = 0.05
_ITERATIONS = 400
#: the familiarity threshold is this many times the typical gap between training frames, and
#: never below `_MIN_THRESHOLD` (a dozen near-identical frames would otherwise flag every
#: change of light as unfamiliar)
_THRESHOLD_FACTOR = 1.5
_MIN_THRESHOLD = 0.04
MAX_PROTOTYPES = 512


def _sigmoid(z: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -60.0, 60.0))), dtype=np.float64)


def _lipschitz(x: npt.NDArray[np.float64], weights: npt.NDArray[np.float64]) -> float:
    """Upper bound of the logistic loss' curvature: largest eigenvalue of X'WX/4 (power
    iteration), so a fixed step 1/L always descends."""
    rng = np.random.default_rng(0)
    v = rng.standard_normal(x.shape[1])
    for _ in range(30):
        v = x.T @ (weights * (x @ v))
        v /= np.linalg.norm(v) or 1.0
    return float(v @ (x.T @ (weights * (x @ v)))) / 4.0


def logistic(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], l2: float = DEFAULT_L2
) -> tuple[npt.NDArray[np.float64], float]:
    """Class-balanced L2 logistic regression of 0/1 `y` on `x` (n, d): (weights, bias)."""
    n = len(y)
    positives = float(y.sum())
    if positives in (0.0, float(n)):
        raise ValueError("both states of the label are needed")
    sample = np.where(y > 0.5, n / (2 * positives), n / (2 * (n - positives))) / n
    step = 1.0 / (_lipschitz(np.hstack([x, np.ones((n, 1))]), sample) + l2 / n)
    w: npt.NDArray[np.float64] = np.zeros(x.shape[1], dtype=np.float64)
    b = 0.0
    w_prev, b_prev = w.copy(), b
    for it in range(1, _ITERATIONS + 1):
        momentum = (it - 1) / (it + 2)
        vw, vb = w + momentum * (w - w_prev), b + momentum * (b - b_prev)
        error = sample * (_sigmoid(x @ vw + vb) - y)
        w_prev, b_prev = w, b
        w = vw - step * (x.T @ error + (l2 / n) * vw)
        b = vb - step * float(error.sum())
    return w, b


@dataclass(frozen=True)
class Standardiser:
    center: npt.NDArray[np.float64]
    scale: npt.NDArray[np.float64]

    @classmethod
    def of(cls, x: npt.NDArray[np.float64]) -> Standardiser:
        scale = np.maximum(x.std(axis=0), _SCALE_FLOOR * (float(x.std()) or 1.0))
        return cls(x.mean(axis=0), scale)

    def __call__(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return (x - self.center) / self.scale


def fit_head(
    embeddings: FloatArray, targets: npt.NDArray[np.int64], l2: float = DEFAULT_L2
) -> Head:
    """A head for every label (column of `targets`) on (n, D) embeddings."""
    x = embeddings.astype(np.float64)
    standard = Standardiser.of(x)
    z = standard(x)
    fitted = [logistic(z, targets[:, i].astype(np.float64), l2) for i in range(targets.shape[1])]
    return Head(
        center=standard.center.astype(np.float32),
        scale=standard.scale.astype(np.float32),
        weights=np.stack([w for w, _ in fitted]).astype(np.float32),
        bias=np.array([b for _, b in fitted], dtype=np.float32),
    )


def _unit(x: FloatArray) -> FloatArray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit: FloatArray = (x / np.where(norms == 0, 1.0, norms)).astype(np.float32)
    return unit


def _spread_out(unit: FloatArray, count: int) -> FloatArray:
    """`count` rows that cover the set (farthest-point sampling), for large training sets."""
    chosen = [0]
    nearest = 1.0 - unit @ unit[0]
    for _ in range(count - 1):
        index = int(np.argmax(nearest))
        chosen.append(index)
        nearest = np.minimum(nearest, 1.0 - unit @ unit[index])
    spread: FloatArray = unit[chosen]
    return spread


def fit_familiarity(embeddings: FloatArray) -> Familiarity:
    """Prototypes and a threshold from the training frames' nearest-neighbour gaps."""
    unit = _unit(embeddings)
    if len(unit) < 2:
        return Familiarity(unit, _MIN_THRESHOLD)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -1.0)
    gaps = 1.0 - similarity.max(axis=1)  # each frame's distance to its nearest other frame
    typical = float(np.quantile(gaps, 0.9))
    threshold = min(2.0, max(_MIN_THRESHOLD, _THRESHOLD_FACTOR * typical))
    prototypes = unit if len(unit) <= MAX_PROTOTYPES else _spread_out(unit, MAX_PROTOTYPES)
    return Familiarity(prototypes, threshold)


def cross_validated(
    embeddings: FloatArray, targets: npt.NDArray[np.int64], folds: int = 5, seed: int = 0
) -> npt.NDArray[np.float64]:
    """Each frame's probabilities from a head trained without it (k-fold; leave-one-out for
    a dozen frames). NaN where a fold lacked one of a label's states."""
    n = len(embeddings)
    folds = min(folds, n) if n > 20 else n
    order = np.random.default_rng(seed).permutation(n)
    out = np.full(targets.shape, math.nan)
    x = embeddings.astype(np.float64)
    for fold in range(folds):
        test = order[fold::folds]
        train = np.setdiff1d(order, test)
        standard = Standardiser.of(x[train])
        for i in range(targets.shape[1]):
            y = targets[train, i].astype(np.float64)
            if y.min() == y.max():
                continue
            w, b = logistic(standard(x[train]), y)
            out[test, i] = _sigmoid(standard(x[test]) @ w + b)
    return out


def thresholds(
    probabilities: npt.NDArray[np.float64], targets: npt.NDArray[np.int64]
) -> tuple[float, float]:
    """(on, off) for one label: a band around the balanced decision point 0.5, narrowed when
    the cross-validated probabilities of the user's frames crowd into it."""
    known = ~np.isnan(probabilities)
    if known.sum() < 8:
        return 0.6, 0.4
    p, y = probabilities[known], targets[known]
    # widest band around 0.5 that no correctly classified frame falls into, within 0.1..0.3
    right = np.where(y == 1, p >= 0.5, p < 0.5)
    margins = np.abs(p[right] - 0.5)
    half = float(np.clip(np.quantile(margins, 0.1) if len(margins) else 0.1, 0.05, 0.2))
    return round(0.5 + half, 2), round(0.5 - half, 2)
