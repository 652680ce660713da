"""Training outputs next to the model: a JSON report and a training-curve PNG."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

_LOGGER = logging.getLogger(__name__)


class _Epoch(Protocol):
    epoch: int
    train_loss: float
    val_loss: float
    val_f1: float


def write_report(report: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def plot_history(history: Sequence[_Epoch], path: Path, title: str = "") -> Path | None:
    """Loss (train, validation) and validation F1 per epoch; None if matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display; never pick an interactive backend
        import matplotlib.pyplot as plt
    except ImportError:
        _LOGGER.warning("matplotlib is not installed: no training curve written")
        return None
    epochs = [h.epoch for h in history]
    fig, loss_ax = plt.subplots(figsize=(7, 4), dpi=100)
    loss_ax.plot(epochs, [h.train_loss for h in history], label="train loss")
    loss_ax.plot(epochs, [h.val_loss for h in history], label="validation loss")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("loss")
    f1_ax = loss_ax.twinx()
    f1_ax.plot(epochs, [h.val_f1 for h in history], color="tab:green", linestyle="--",
               label="validation F1 (mean, at 0.5)")  # fmt: skip
    f1_ax.set_ylabel("F1")
    f1_ax.set_ylim(0.0, 1.02)
    lines = loss_ax.get_lines() + f1_ax.get_lines()
    loss_ax.legend(lines, [line.get_label() for line in lines], loc="center right")
    loss_ax.set_title(f"training {title}".strip())
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
