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
every label, so the folder stays a dataset `garagecam train --data` reads. Writes are atomic
(temporary file + rename) and never drop a line the studio did not mean to replace: lines
for other paths and lines it cannot parse are kept verbatim, and if someone appended to the
file meanwhile (Home Assistant saving a snapshot) the edit is redone on the new content.
A copy of the file before each write is kept in `.studio/labels.jsonl.prev`.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISREG
from typing import Any

from ..capture import MANIFEST, write_atomic
from ..dataset import IMAGE_SUFFIXES
from ..dataset import _parse_flag as _flag  # the dataset's reading of 0/1 values
from ..errors import ConfigError, DatasetError
from . import layouts

LABELS_FILE = "labels.jsonl"
STUDIO_DIR = ".studio"
_RETRIES = 5


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


def _parse(line: str) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if (
        isinstance(record, dict)
        and isinstance(record.get("path"), str)
        and isinstance(record.get("labels"), dict)
    ):
        return record
    return None


def _norm(path: str) -> str:
    return Path(path).as_posix()


class LabelStore:
    """Frames of one dataset folder and their labels (thread-safe)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise ConfigError(f"dataset folder {root} does not exist or is not a folder")
        self.layout = layouts.detect(self.root)
        self.studio_dir = self.root / STUDIO_DIR
        self._lock = threading.Lock()
        self.frames: dict[str, Frame] = {}
        self.skipped_lines = 0

    @property
    def labels_path(self) -> Path:
        """Where the user's labels go: the folder's labels.jsonl, or the studio's own file
        for a labels.csv or class-folder dataset (never rewritten by the studio)."""
        return (self.root if self.layout == "jsonl" else self.studio_dir) / LABELS_FILE

    def dataset_labels(self) -> list[str]:
        """Label names used anywhere in labels.jsonl, in order of first use (a Home
        Assistant line lacks the labels whose sensor was unknown), after a labels.csv's
        header or the class folders."""
        names = dict.fromkeys(layouts.read(self.root, self.layout)[0])
        try:
            text = self.labels_path.read_text(encoding="utf-8")
        except (FileNotFoundError, UnicodeDecodeError):
            return list(names)
        for line in text.splitlines():
            record = _parse(line)
            if record:
                names.update(dict.fromkeys(str(k) for k in record["labels"]))
        return list(names)

    # -- reading -------------------------------------------------------------------------

    def scan(self) -> dict[str, Frame]:
        """Re-read the folder: every image file (not in hidden folders) and every label."""
        frames: dict[str, Frame] = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if Path(name).suffix.lower() not in IMAGE_SUFFIXES or name.startswith("."):
                    continue
                full = Path(dirpath) / name
                stat = full.lstat()
                if not S_ISREG(stat.st_mode):  # a symlink (maybe out of the folder, dangling)
                    continue
                rel = full.relative_to(self.root).as_posix()
                frames[rel] = Frame(rel, stat.st_size, stat.st_mtime_ns)
        self._read_labels(frames)
        self._read_capture(frames)
        with self._lock:
            self.frames = frames
        return frames

    def _read_labels(self, frames: dict[str, Frame]) -> None:
        skipped = 0
        try:
            text = self.labels_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            text = ""
        except UnicodeDecodeError as err:
            raise DatasetError(f"{self.labels_path} is not UTF-8 text: {err}") from err
        for path, values in layouts.read(self.root, self.layout)[1].items():
            if path in frames:  # the csv's or the class folders' labels, as the file's
                frames[path].labels, frames[path].by = dict(values), "file"
        for line in text.splitlines():
            record = _parse(line)
            if record is None:
                skipped += bool(line.strip())
                continue
            frame = frames.get(_norm(record["path"]))
            if frame is None:
                continue  # a label for a file that is not there (deleted, moved)
            labels = {str(k): f for k, v in record["labels"].items() if (f := _flag(v)) is not None}
            # the last line for a path wins, as it was written last
            frame.labels = labels
            frame.by = "user" if record.get("by") == "user" else "file"
        self.skipped_lines = skipped

    def _read_capture(self, frames: dict[str, Frame]) -> None:
        try:
            text = (self.root / MANIFEST).read_text(encoding="utf-8")
        except (FileNotFoundError, UnicodeDecodeError):
            return
        for line in text.splitlines():
            try:
                record = json.loads(line)
                frame = frames.get(_norm(record["path"]))
            except (ValueError, KeyError, TypeError):
                continue
            if frame is not None:
                frame.capture = record

    def frame(self, path: str) -> Frame | None:
        with self._lock:
            return self.frames.get(path)

    def read(self, frame: Frame) -> bytes:
        """A frame's bytes, never through a symlink (one may replace the file after a scan):
        the studio serves files of the dataset folder, nothing a link inside it points at."""
        path = self.root / frame.path
        if not path.parent.resolve().is_relative_to(self.root):
            raise FileNotFoundError(f"{frame.path} is no longer inside the dataset folder")
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with open(handle, "rb") as file:  # noqa: PTH123 - an fd
            if not S_ISREG(os.fstat(file.fileno()).st_mode):
                raise FileNotFoundError(f"{frame.path} is not a regular file")
            return file.read()

    # -- writing -------------------------------------------------------------------------

    def set_labels(self, updates: Mapping[str, Mapping[str, int]], names: Sequence[str]) -> int:
        """Write user labels for these frames (every label of `names` must be given)."""
        clean: dict[str, dict[str, int]] = {}
        for path, labels in updates.items():
            if self.frame(path) is None:
                raise ConfigError(f"unknown frame {path!r}")
            values = {name: _flag(labels.get(name)) for name in names}
            missing = [name for name, value in values.items() if value is None]
            if missing:
                raise ConfigError(f"{path}: labels {missing} must be 0 or 1")
            clean[path] = {name: int(value) for name, value in values.items() if value is not None}
        if not clean:
            return 0
        with self._lock:
            self._write(clean)
            for path, labels in clean.items():
                frame = self.frames[path]
                frame.labels, frame.by = dict(labels), "user"
        return len(clean)

    def _write(self, updates: dict[str, dict[str, int]]) -> None:
        self.studio_dir.mkdir(exist_ok=True)
        for _ in range(_RETRIES):
            before = self._read_bytes()
            data = _apply(before, updates)
            if self._read_bytes() != before:
                continue  # appended to meanwhile: redo on the new content
            if before:
                write_atomic(self.studio_dir / f"{LABELS_FILE}.prev", before)
            write_atomic(self.labels_path, data)
            return
        raise DatasetError(f"{self.labels_path} keeps changing; labels not saved, try again")

    def _read_bytes(self) -> bytes:
        try:
            return self.labels_path.read_bytes()
        except FileNotFoundError:
            return b""


def _apply(before: bytes, updates: dict[str, dict[str, int]]) -> bytes:
    """Replace the first line of each updated path in place, drop its later lines, append
    the paths that had none; every other line stays byte for byte."""
    out: list[str] = []
    done: set[str] = set()
    text = before.decode("utf-8")
    for line in text.splitlines():
        record = _parse(line)
        path = _norm(record["path"]) if record else None
        if path is None or path not in updates:
            out.append(line)
            continue
        if path not in done:
            out.append(_line(path, updates[path]))
            done.add(path)
    out += [_line(path, labels) for path, labels in updates.items() if path not in done]
    return "".join(f"{line}\n" for line in out).encode("utf-8")


def _line(path: str, labels: Mapping[str, int]) -> str:
    return json.dumps({"path": path, "labels": dict(labels), "by": "user"})
