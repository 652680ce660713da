"""Training outputs next to the model: a JSON report and a training-curve PNG; and the way
back from a report to the trained network (re-export, bench)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..errors import ConfigError
from ..metadata import ModelMetadata

_LOGGER = logging.getLogger(__name__)


class _Epoch(Protocol):
    epoch: int
    train_loss: float
    val_loss: float
    val_f1: float


def write_report(report: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, indent=2, sort_keys=False) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class TrainedStudent:
    """The student network of a training report, with its trained weights loaded (eval mode),
    and the metadata that was written into the report's `.pte`."""

    module: Any
    metadata: ModelMetadata


def load_trained(report_path: Path) -> TrainedStudent:
    """Rebuild `StudentNet(len(labels), **student_kwargs)` from a `garagecam train` report
    and load the `.pt` weights it names (looked up next to the report)."""
    import torch

    from .student import StudentNet

    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"cannot read the training report {report_path}: {err}") from err
    except ValueError as err:
        raise ConfigError(f"{report_path} is not a training report (not JSON: {err})") from err
    if not isinstance(report, dict) or not isinstance(report.get("state_dict"), str):
        raise ConfigError(
            f"{report_path} is not a `garagecam train` report (no 'state_dict' entry)"
        )
    metadata = ModelMetadata.from_dict(report.get("metadata"))
    weights = report_path.parent / report["state_dict"]
    if not weights.is_file():
        raise ConfigError(
            f"{report_path} names the weights {weights.name}, which are not next to it"
        )
    module = StudentNet(len(metadata.labels), **_student_kwargs(report))
    try:
        module.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    except Exception as err:  # pickle/zip errors, shape mismatches: all mean "wrong file"
        raise ConfigError(f"{weights} does not hold this report's student weights: {err}") from err
    return TrainedStudent(module.eval(), metadata)


def _student_kwargs(report: dict[str, Any]) -> dict[str, Any]:
    kwargs = report.get("student_kwargs") or {}
    if "widths" in kwargs:
        kwargs = {**kwargs, "widths": tuple(kwargs["widths"])}
    return dict(kwargs)


def student_widths(report_path: Path) -> tuple[int, ...]:
    """The stage widths of the network a (readable) training report describes."""
    from .student import DEFAULT_WIDTHS

    report = json.loads(report_path.read_text(encoding="utf-8"))
    widths: tuple[int, ...] = _student_kwargs(report).get("widths", DEFAULT_WIDTHS)
    return widths


def resolve_init(spec: str) -> Path:
    """`demo` or a model's `.pt`/`.pte`/`.json` -> the training report next to its weights."""
    if spec == "demo":
        from .. import student_demo_path

        return student_demo_path().with_suffix(".json")
    path = Path(spec)
    if path.suffix not in (".pt", ".pte", ".json"):
        raise ConfigError(
            f"--init-from {spec!r}: give 'demo' or a model trained by `garagecam train` "
            "(its .pt, .pte or .json; the three sit side by side)"
        )
    report = path.with_suffix(".json")
    if not report.is_file():
        raise ConfigError(
            f"--init-from {spec}: no training report {report.name} next to it (fine-tuning "
            "needs the PyTorch weights and the report `garagecam train` writes)"
        )
    return report


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
