"""The studio's view of a dataset folder: its frames, their labels, and the edits.

Works on the folders the project writes:
- Home Assistant's `save_snapshot` (`<config>/garagecam/dataset`): JPEGs at the top level and
  `labels.jsonl` lines holding the sensors' states at that moment (possibly wrong, possibly
  with a label missing while a sensor was unknown): shown as *unconfirmed* labels;
- a capture folder (`garagecam_core.capture`): `images/` and `capture.jsonl`, no labels yet;
- any folder of images, with or without `labels.jsonl`;
- the other layouts `garagecam train` reads, `labels.csv` (what `garagecam scenes` writes) and
  one sub-folder per class: their labels are shown as the file's, and the user's labels go to
  `.studio/labels.jsonl` instead, leaving the original file untouched (`layouts.py`).

Labels the user sets are written to `labels.jsonl` as `{"path", "labels", "by": "user"}` with
every label, so the folder stays a dataset `garagecam train --data` reads. The files are the
dataset folder's (`garagecam_core.dataset`): edits are atomic, never drop a line the studio
did not mean to replace (lines for other paths and lines it cannot parse are kept verbatim),
are redone if someone wrote the file meanwhile, and frames are read without following links.
A copy of the file before each write is kept in `.studio/labels.jsonl.prev`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..dataset import LABELS_FILE, DatasetFolder, parse_flag
from ..errors import ConfigError, DatasetError
from . import layouts

STUDIO_DIR = ".studio"


@dataclass
class Frame:
    path: str  # POSIX path relative to the dataset folder
    size: int
    mtime_ns: int
    labels: dict[str, int] = field(default_factory=dict)
    #: "user" (set in the studio), "file" (another writer, e.g. Home Assistant's states)
    by: str | None = None
    capture: dict[str, Any] | None = None  # the capture manifest's record, if any

    @property
    def key(self) -> tuple[str, int, int]:
        """Identifies this version of the file (a changed file gets new predictions)."""
        return (self.path, self.size, self.mtime_ns)

    def confirmed(self, names: Sequence[str]) -> bool:
        return self.by == "user" and all(name in self.labels for name in names)


class LabelStore:
    """Frames of one dataset folder and their labels (thread-safe)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise ConfigError(f"dataset folder {root} does not exist or is not a folder")
        self.layout = layouts.detect(self.root)
        self.studio_dir = self.root / STUDIO_DIR
        labels_dir = self.root if self.layout == "jsonl" else self.studio_dir
        self.folder = DatasetFolder(self.root, labels=labels_dir / LABELS_FILE)
        self._lock = threading.Lock()
        self.frames: dict[str, Frame] = {}
        self.skipped_lines = 0

    @property
    def labels_path(self) -> Path:
        """Where the user's labels go: the folder's labels.jsonl, or the studio's own file
        for a labels.csv or class-folder dataset (never rewritten by the studio)."""
        return self.folder.labels.path

    def dataset_labels(self) -> list[str]:
        """Label names used anywhere in labels.jsonl, in order of first use (a Home
        Assistant line lacks the labels whose sensor was unknown), after a labels.csv's
        header or the class folders."""
        names = dict.fromkeys(layouts.read(self.root, self.layout)[0])
        try:
            lines = self.folder.labels.read().lines
        except DatasetError:
            return list(names)
        for line in lines:
            names.update(dict.fromkeys(str(k) for k in line.labels or {}))
        return list(names)

    # -- reading -------------------------------------------------------------------------

    def scan(self) -> dict[str, Frame]:
        """Re-read the folder: every image file (not in hidden folders, no links) and every
        label."""
        frames = {f.path: Frame(f.path, f.size, f.mtime_ns) for f in self.folder.frames()}
        self._read_labels(frames)
        self._read_capture(frames)
        with self._lock:
            self.frames = frames
        return frames

    def _read_labels(self, frames: dict[str, Frame]) -> None:
        lines = self.folder.labels.read()
        for path, values in layouts.read(self.root, self.layout)[1].items():
            if path in frames:  # the csv's or the class folders' labels, as the file's
                frames[path].labels, frames[path].by = dict(values), "file"
        for path, line in lines.latest().items():  # the last line for a path wins
            frame = frames.get(path)
            if frame is None or line.labels is None:
                continue  # a label for a file that is not there (deleted, moved)
            frame.labels = {str(k): f for k, v in line.labels.items()
                            if (f := parse_flag(v)) is not None}  # fmt: skip
            frame.by = "user" if line.by == "user" else "file"
        self.skipped_lines = lines.skipped

    def _read_capture(self, frames: dict[str, Frame]) -> None:
        try:
            entries = self.folder.read_manifest().entries
        except OSError:  # a link in its place: no capture details shown
            return
        for entry in entries:
            frame = frames.get(entry.path)
            if frame is not None:
                frame.capture = entry.record

    def frame(self, path: str) -> Frame | None:
        with self._lock:
            return self.frames.get(path)

    def read(self, frame: Frame) -> bytes:
        """A frame's bytes, never through a symlink (one may replace the file, or a folder
        on its path, after a scan): only files of the dataset folder are served."""
        return self.folder.read_frame(frame.path)

    # -- writing -------------------------------------------------------------------------

    def set_labels(self, updates: Mapping[str, Mapping[str, int]], names: Sequence[str]) -> int:
        """Write user labels for these frames (every label of `names` must be given)."""
        clean: dict[str, dict[str, int]] = {}
        for path, labels in updates.items():
            if self.frame(path) is None:
                raise ConfigError(f"unknown frame {path!r}")
            values = {name: parse_flag(labels.get(name)) for name in names}
            missing = [name for name, value in values.items() if value is None]
            if missing:
                raise ConfigError(f"{path}: labels {missing} must be 0 or 1")
            clean[path] = {name: int(value) for name, value in values.items() if value is not None}
        if not clean:
            return 0
        with self._lock:
            self.studio_dir.mkdir(exist_ok=True)
            records = {p: {"path": p, "labels": v, "by": "user"} for p, v in clean.items()}
            self.folder.labels.set(records, backup=self.studio_dir / f"{LABELS_FILE}.prev")
            for path, labels in clean.items():
                frame = self.frames[path]
                frame.labels, frame.by = dict(labels), "user"
        return len(clean)
