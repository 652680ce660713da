"""*Train* on the pretrained trunk: `garagecam_core.heads.train_head` in a thread of the
studio's process, seconds and no PyTorch.

The confirmed frames are written as a dataset to one shared folder, `.studio/head-data/`
(the run's own copy stays in `.studio/runs/<id>/data/`), because the trunk's embeddings are
cached beside the dataset: the frames embedded for one run are instant for the next. The
result is one `.gcam` file; its scores are cross-validated on the user's frames (each frame
judged by a head trained without it), with their sample sizes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import GarageCamError
from .training import TRUST_FRAMES, TrainingJob, interval, score

#: the shared training folder, inside the dataset's `.studio/`
HEAD_DATA = "head-data"


class _Cancelled(Exception):
    """Raised from the progress callback to stop a run the user cancelled."""


@dataclass
class HeadTrainingJob(TrainingJob):
    kind: ClassVar[str] = "head"
    #: where the dataset is written for `train_head` (the embedding cache lives beside it)
    train_dir: Path = Path()
    #: the model's name in its metadata
    name: str = "garagecam-studio"
    #: the frames and labels trained on, for the comparison with the current model
    records: list[tuple[str, dict[str, int]]] = field(default_factory=list)
    result: Any = None  # the HeadTrainResult once done
    _cancelled: bool = field(default=False, init=False)

    @property
    def init_from(self) -> str | None:
        return None

    @property
    def mode_text(self) -> str:
        return "training a head on the pretrained trunk (seconds, no PyTorch)"

    @property
    def model_path(self) -> Path:
        return self.directory / "model.gcam"

    def command(self, program: Sequence[str] = ("garagecam",)) -> list[str]:
        """The command line that trains the same head (for the record)."""
        return [*program, "train", "--data", str(self.data_dir), "--out", str(self.model_path)]

    async def run(self) -> None:
        self.status, self.stage = "running", "loading the trunk"
        self.log.append(self.mode_text)
        try:
            result = await asyncio.to_thread(self._train)
        except _Cancelled:
            self.status = self.stage = "cancelled"
            return
        except (GarageCamError, OSError, ValueError) as err:
            self.status, self.stage, self.error = "failed", "failed", str(err)
            self.log.append(str(err))
            return
        if self._cancelled:  # cancelled after the last progress call: the file stays unused
            self.status = self.stage = "cancelled"
            return
        self.result = result
        self.summary = {
            **result.to_dict(),
            "thresholds": {name: list(pair) for name, pair in result.thresholds.items()},
            "text": result.summary(),
        }
        self.stage = "comparing with the current model on the same frames"
        self.status = "done"

    def _train(self) -> Any:
        from ..heads import train_head

        return train_head(
            self.train_dir, self.model_path, progress=self._progress, seed=self.settings.seed,
            name=self.name, threads=self.settings.threads,
        )  # fmt: skip

    def _progress(self, stage: str, fraction: float) -> None:
        if self._cancelled:
            raise _Cancelled
        if stage == "embedding":
            done = round(fraction * self.frames)
            self.stage = f"embedding the frames with the trunk: {done}/{self.frames}"
        elif stage == "fitting":
            self.stage = "fitting the head and cross-validating it on your frames"
        elif stage == "saving":
            self.stage = "saving the model"

    def cancel(self) -> None:
        if self.status in ("starting", "running"):
            self._cancelled = True
            self.status = self.stage = "cancelled"


def compare_cross_validated(
    validation: Mapping[str, Any],
    records: Sequence[tuple[str, Mapping[str, int]]],
    current: Mapping[str, dict[str, float] | None],
    current_thresholds: Mapping[str, tuple[float, float]],
) -> dict[str, Any]:
    """The new head's cross-validated scores (`LabelScore` per label) next to the current
    model on the same frames (`current`: path -> its probabilities, None when it could not
    classify the frame), scored by the same rule (`training.score`)."""
    result: dict[str, Any] = {"frames": len(records), "too_few": len(records) < TRUST_FRAMES,
                              "trust_frames": TRUST_FRAMES, "method": "cross-validated",
                              "labels": {}}  # fmt: skip
    usable = [(labels, current[path]) for path, labels in records if current.get(path)]
    for name, cv in validation.items():
        entry: dict[str, Any] = {
            "new": {"correct": cv.correct, "total": cv.total, "unsure": cv.unsure,
                    "accuracy": cv.accuracy, "interval": interval(cv.correct, cv.total)},
        }  # fmt: skip
        pairs = [(labels[name], probs[name]) for labels, probs in usable
                 if probs is not None and name in probs and name in labels]  # fmt: skip
        if name in current_thresholds and pairs:
            on, off = current_thresholds[name]
            targets = np.array([t for t, _ in pairs], dtype=np.int64)
            probs_now = np.array([p for _, p in pairs], dtype=np.float32)
            entry["current"] = score(probs_now, targets, on, off)
        result["labels"][name] = entry
    return result
