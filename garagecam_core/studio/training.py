"""Training from the studio: `garagecam train` as a background process on the confirmed labels.

The studio writes the frames the user confirmed (every label set) as a dataset of their own,
`.studio/runs/<id>/data/labels.jsonl` (absolute image paths, plus a `labels.yaml` with the
device classes of the current model), and runs the very command a user would type, so the
metrics, threshold suggestion, report and curve are the CLI's. Progress comes from its
per-epoch log lines (`--no-progress`). Afterwards the new model and the current one are
compared on the run's validation frames (held out from training).

When the confirmed labels are the demo model's (door_open, car_present), the run fine-tunes
the demo (`--init-from demo`) instead of starting from random weights: measured on generated
garages, fine-tuning needs far fewer frames for the same accuracy (docs/demo-model.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import importlib.util
import json
import logging
import math
import re
import shlex
import sys
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import yaml

from ..dataset import LABELS_FILE, MIN_IMAGES, LabelsFile, write_atomic
from ..errors import ConfigError, DatasetError
from ..metadata import LabelSpec

_LOGGER = logging.getLogger(__name__)
_EPOCH = re.compile(
    r"epoch (\d+)/(\d+): train loss ([\d.naninf]+), validation loss ([\d.naninf]+), F1 ([\d.]+)"
)
INSTALL_HINT = "pip install 'garagecam-core[train]'"
EXPORTING = "exporting the model to ExecuTorch (no progress lines; often 10-30 s)"


def train_available() -> bool:
    """The `train` extra is installed (torch and executorch importable)."""
    return all(importlib.util.find_spec(name) is not None for name in ("torch", "executorch"))


@dataclass(frozen=True)
class TrainSettings:
    #: the fine-tuning recipe of `garagecam train --init-from` (40 epochs in batches of 8):
    #: a few dozen frames in batches of 16-32 are only 2-3 optimiser steps per epoch
    epochs: int = 40
    input_size: int = 160
    batch_size: int = 8
    #: None: as many as epochs (no early stop). On a few dozen frames the validation loss
    #: rises during the one-cycle warm-up before it falls: measured on 60 generated frames
    #: (96 px, 30 epochs), patience 8 stopped at epoch 9 with F1 0, no early stop reached
    #: F1 0.9+; the best epoch's weights are kept either way.
    patience: int | None = None
    seed: int = 0
    threads: int = 2
    val_fraction: float = 0.2
    #: start from the demo model when the dataset's labels are the demo's (with `full`)
    fine_tune: bool = True
    #: train the whole network with PyTorch (`garagecam train`, the settings above) instead
    #: of a head on the pretrained trunk (seconds, no PyTorch; the default)
    full: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainSettings:
        known = {k: data[k] for k in asdict(cls()) if k in data and data[k] is not None}
        kinds: dict[str, Any] = {"patience": int, "fine_tune": _flag, "full": _flag}
        try:
            settings = cls(
                **{k: kinds.get(k, type(getattr(cls(), k)))(v) for k, v in known.items()}
            )
        except (TypeError, ValueError) as err:
            raise ConfigError(f"bad training setting: {err}") from err
        if not (1 <= settings.epochs <= 500 and 16 <= settings.input_size <= 1024):
            raise ConfigError("epochs must be 1-500 and input_size 16-1024")
        return settings

    def flags(self) -> list[str]:
        return [
            "--epochs", str(self.epochs), "--input-size", str(self.input_size),
            "--batch-size", str(self.batch_size),
            "--patience", str(self.patience or self.epochs),
            "--seed", str(self.seed), "--threads", str(self.threads),
            "--val-fraction", str(self.val_fraction),
        ]  # fmt: skip


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ValueError(f"expected true or false, got {value!r}")


def demo_label_names() -> tuple[str, ...]:
    """The demo model's labels, read from its training report (no torch needed)."""
    from .. import student_demo_path

    report = json.loads(student_demo_path().with_suffix(".json").read_text(encoding="utf-8"))
    return tuple(label["name"] for label in report["metadata"]["labels"])


def dataset_label_names(data_dir: Path) -> tuple[str, ...] | None:
    """Label names (in order) of a dataset written by `write_training_data`, None if absent."""
    try:
        lines = LabelsFile(data_dir / LABELS_FILE).read().lines
    except (OSError, DatasetError):
        return None
    first = lines[0].labels if lines else None
    return tuple(first) if first is not None else None


def write_training_data(
    directory: Path,
    root: Path,
    records: Sequence[tuple[str, Mapping[str, int]]],
    labels: Sequence[LabelSpec],
) -> Path:
    """The confirmed frames as a `garagecam train` dataset (absolute paths into `root`),
    each file written atomically (a run never reads half a file of the previous one)."""
    LabelsFile(directory / LABELS_FILE).write_all(
        {"path": str(root / path), "labels": dict(values)} for path, values in records
    )
    user_yaml = root / "labels.yaml"
    if user_yaml.is_file():
        write_atomic(directory / "labels.yaml", user_yaml.read_bytes())
    else:
        classes = {spec.name: {"device_class": spec.device_class} for spec in labels
                   if spec.device_class}  # fmt: skip
        if classes:
            write_atomic(directory / "labels.yaml", yaml.safe_dump(classes).encode())
    return directory


@dataclass
class EpochPoint:
    epoch: int
    epochs: int
    train_loss: float
    val_loss: float
    f1: float


@dataclass
class TrainingJob:
    """One run of `garagecam train`; `status`: running, done, failed or cancelled."""

    kind: ClassVar[str] = "full"  # the whole network with PyTorch (HeadTrainingJob: "head")
    id: str
    directory: Path
    settings: TrainSettings
    frames: int
    status: str = "starting"
    error: str | None = None
    epochs: list[EpochPoint] = field(default_factory=list)
    log: deque[str] = field(default_factory=lambda: deque(maxlen=60))
    summary: dict[str, Any] | None = None
    comparison: dict[str, Any] | None = None
    deployed: bool = False
    #: what the run is doing now, in words for the page (the export after the last epoch
    #: and the comparison take a while and print no epoch line)
    stage: str = "starting"
    _process: asyncio.subprocess.Process | None = None
    _init_from: str | None = field(default=None, init=False)
    _init_checked: bool = field(default=False, init=False)

    @property
    def init_from(self) -> str | None:
        """`demo` when this run fine-tunes the demo model (its labels are the data's)."""
        if not self._init_checked:
            names = dataset_label_names(self.data_dir)
            if names is None:
                return None  # data not written yet: decide once it is
            self._init_checked = True
            try:
                demo = demo_label_names()
            except (OSError, ValueError, KeyError, TypeError) as err:
                _LOGGER.warning("cannot read the demo model's labels, training from scratch: %s",
                                err)  # fmt: skip
                demo = ()
            self._init_from = "demo" if self.settings.fine_tune and names == demo else None
        return self._init_from

    @property
    def mode_text(self) -> str:
        if self.init_from == "demo":
            return "fine-tuning the demo model (same labels) on your frames"
        return "training from scratch on your frames"

    @property
    def model_path(self) -> Path:
        return self.directory / "model.pte"

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    def command(self, program: Sequence[str] = ("garagecam",)) -> list[str]:
        init = ["--init-from", self.init_from] if self.init_from else []
        return [*program, "train", "--full", "--data", str(self.data_dir),
                "--out", str(self.model_path), *init, *self.settings.flags(),
                "--no-progress"]  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "error": self.error,
            "frames": self.frames,
            "settings": asdict(self.settings),
            "epochs": [asdict(e) for e in self.epochs],
            "log": list(self.log)[-15:],
            "summary": self.summary,
            "comparison": self.comparison,
            "deployed": self.deployed,
            "init_from": self.init_from,
            "mode": self.mode_text,
            "stage": self.stage,
            "command": shlex.join(self.command()),
            "kind": self.kind,
            "model_file": self.model_path.name,
        }

    async def run(self) -> None:
        argv = self.command((sys.executable, "-m", "garagecam_core"))
        self.status = "running"
        self.stage = "loading the frames"
        self.log.append(self.mode_text)
        try:
            self._process = await asyncio.create_subprocess_exec(
                *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                stdin=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            out, _ = await asyncio.gather(self._read_stdout(), self._read_stderr())
            code = await self._process.wait()
        except OSError as err:
            self.status, self.error = "failed", f"cannot start training: {err}"
            return
        if self.status == "cancelled":
            self.stage = "cancelled"
            return
        if code != 0:
            self.stage = "failed"
            errors = [line for line in self.log if "error" in line.lower()]
            self.status = "failed"
            self.error = errors[-1] if errors else f"garagecam train exited with code {code}"
            return
        try:
            self.summary = json.loads(out)
        except ValueError:
            self.summary = None
        self.stage = "comparing with the current model on the held-out frames"
        self.status = "done"

    async def _read_stdout(self) -> str:
        assert self._process is not None and self._process.stdout is not None
        return (await self._process.stdout.read()).decode(errors="replace")

    async def _read_stderr(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        async for raw in self._process.stderr:
            self.take_line(raw.decode(errors="replace").rstrip())

    def take_line(self, line: str) -> None:
        """One log line of `garagecam train`: kept for the page, epochs and stage read."""
        if not line:
            return
        self.log.append(line)
        match = _EPOCH.search(line)
        if match:
            epoch, total = int(match.group(1)), int(match.group(2))
            losses = (float(match.group(3)), float(match.group(4)), float(match.group(5)))
            self.epochs.append(EpochPoint(epoch, total, *losses))
            self.stage = EXPORTING if epoch == total else f"epoch {epoch}/{total}"
        elif "early stop" in line:
            self.stage = EXPORTING

    def cancel(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self.status = "cancelled"
            with contextlib.suppress(ProcessLookupError):
                self._process.terminate()

    def report(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.model_path.with_suffix(".json").read_text())
        return data


def new_run_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def check_trainable(records: Sequence[tuple[str, Mapping[str, int]]], names: Sequence[str]) -> None:
    """The problems `garagecam train` would refuse, said before starting a process."""
    if len(records) < MIN_IMAGES:
        raise ConfigError(
            f"{len(records)} confirmed frame(s); training needs at least {MIN_IMAGES} "
            "(label more frames first)"
        )
    for name in names:
        values = {labels[name] for _, labels in records}
        if len(values) < 2:
            raise ConfigError(
                f"label {name!r} is {next(iter(values))} on every confirmed frame; "
                "label some frames of the other state"
            )


#: below this many held-out frames the page says the comparison is too small to trust (one
#: frame of 13 is 7.7 points; measured: 61.5 % -> 100 % on 13 frames was 94 % on 200 fresh ones)
TRUST_FRAMES = 50


def interval(correct: int, total: int, z: float = 1.96) -> tuple[float, float] | None:
    """Wilson score interval (95 %) of `correct` of `total`: how far the true accuracy may
    be from the measured one on this few frames."""
    if total <= 0:
        return None
    p = correct / total
    centre = p + z * z / (2 * total)
    spread = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    scale = 1 + z * z / total
    return (round(max(0.0, (centre - spread) / scale), 4),
            round(min(1.0, (centre + spread) / scale), 4))  # fmt: skip


def score(
    probs: npt.NDArray[np.float32], targets: npt.NDArray[np.int64], on: float, off: float
) -> dict[str, Any]:
    """Frames right (`correct` of `total`): at or above ON when the label is yes, at or below
    OFF when it is no; frames between OFF and ON are `unsure` and not right (the debouncer
    holds its state there). The same rule as the heads' cross-validation, so the two compare."""
    yes = targets == 1
    correct = int(np.sum(np.where(yes, probs >= on, probs <= off)))
    total = int(targets.size)
    return {
        "correct": correct,
        "total": total,
        "accuracy": round(correct / total, 4) if total else None,
        "interval": interval(correct, total),
        "unsure": int(((probs > off) & (probs < on)).sum()),
    }


def compare(
    samples: Sequence[tuple[Sequence[int], Sequence[float], Sequence[float] | None]],
    names: Sequence[str],
    new_thresholds: Sequence[tuple[float, float]],
    current_thresholds: Mapping[str, tuple[float, float]],
) -> dict[str, Any]:
    """The new and the current model on the same held-out frames, per label, each at its own
    (ON, OFF) thresholds (see `score`). `samples`: (targets, new probabilities, current
    probabilities or None when the current model could not classify the frame)."""
    usable = [s for s in samples if s[2] is not None]
    result: dict[str, Any] = {"frames": len(usable), "too_few": len(usable) < TRUST_FRAMES,
                              "trust_frames": TRUST_FRAMES, "labels": {}}  # fmt: skip
    if not usable:
        return result
    targets = np.array([s[0] for s in usable], dtype=np.int64)
    new = np.array([s[1] for s in usable], dtype=np.float32)
    current = np.array([s[2] for s in usable], dtype=np.float32)
    for i, name in enumerate(names):
        on, off = new_thresholds[i]
        entry: dict[str, Any] = {"new": score(new[:, i], targets[:, i], on, off)}
        if name in current_thresholds:
            on, off = current_thresholds[name]
            entry["current"] = score(current[:, i], targets[:, i], on, off)
        result["labels"][name] = entry
    return result
