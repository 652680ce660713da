"""Validation metrics and the threshold suggestion."""

from __future__ import annotations

import numpy as np

from garagecam_core.train.metrics import binary_metrics, suggest_thresholds


def test_binary_metrics() -> None:
    probs = np.array([0.9, 0.8, 0.3, 0.6, 0.1])
    targets = np.array([1, 1, 1, 0, 0])
    m = binary_metrics(probs, targets, 0.5)
    assert (m.precision, m.recall, m.accuracy) == (2 / 3, 2 / 3, 0.6)
    assert (m.positives, m.negatives) == (3, 2)


def test_separated_classes_get_the_middle_of_the_gap() -> None:
    probs = np.array([0.02, 0.1, 0.2, 0.7, 0.9, 0.95])
    targets = np.array([0, 0, 0, 1, 1, 1])
    on, off = suggest_thresholds(probs, targets, margin=0.2)
    assert on == 0.45  # thresholds 0.21 .. 0.70 all reach F1 = 1
    assert off == 0.25


def test_overlapping_classes_pick_the_best_f1() -> None:
    probs = np.array([0.1, 0.4, 0.55, 0.5, 0.8, 0.9])
    targets = np.array([0, 0, 0, 1, 1, 1])
    on, off = suggest_thresholds(probs, targets, margin=0.5)
    assert 0.41 <= on <= 0.5  # only (0.40, 0.50] reaches the best F1 (6/7)
    assert abs(binary_metrics(probs, targets, on).f1 - 6 / 7) < 1e-9
    assert off == 0.01  # never below 0.01 even with a wide margin
