"""The labels a dataset folder already holds in the layouts `garagecam train` reads besides
`labels.jsonl`: `labels.csv` (what `garagecam scenes` writes) and one sub-folder per class.

The studio shows them as labels from the file (unconfirmed, like Home Assistant's lines) and
never rewrites them: for these layouts the user's labels go to `.studio/labels.jsonl`, so the
original file and folders stay exactly as they were (see `LabelStore.labels_path`).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Literal

from ..dataset import IMAGE_SUFFIXES, MANIFEST, parse_flag
from ..errors import DatasetError

Layout = Literal["jsonl", "csv", "folders"]
FileLabels = dict[str, dict[str, int]]  # frame path (POSIX, relative) -> label -> 0/1


def _has_images(folder: Path) -> bool:
    return any(
        p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
        for p in folder.iterdir()
    )


def class_folders(root: Path) -> list[str]:
    """Sub-folders holding images, when the folder is laid out one sub-folder per class:
    at least two of them, no images at the top level, no `labels.jsonl`, no capture
    manifest (a capture folder has one `images/` sub-folder and is not a class layout)."""
    if (root / "labels.jsonl").is_file() or (root / MANIFEST).is_file() or _has_images(root):
        return []
    names = sorted(
        p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and
        _has_images(p)
    )  # fmt: skip
    return names if len(names) >= 2 else []


def detect(root: Path) -> Layout:
    """Which layout holds the folder's own labels ("jsonl" also for a plain image folder)."""
    if (root / "labels.csv").is_file():
        if (root / "labels.jsonl").is_file():
            raise DatasetError(
                f"{root} has both labels.csv and labels.jsonl (garagecam train refuses that "
                "too): keep only one"
            )
        return "csv"
    return "folders" if class_folders(root) else "jsonl"


def read_csv(path: Path) -> tuple[list[str], FileLabels]:
    """Header label names and each row's labels; cells that are not 0/1 are left out."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DatasetError(f"cannot read {path}: {err}") from err
    header = [cell.strip() for cell in rows[0]] if rows else []
    if len(header) < 2 or header[0] != "path":
        raise DatasetError(f"{path}: the first line must be a header 'path,<label>,...'")
    names = header[1:]
    labels: FileLabels = {}
    for row in rows[1:]:
        if len(row) != len(header) or not row[0].strip():
            continue  # garagecam train lists these problems; the studio shows what it can
        values = {n: f for n, cell in zip(names, row[1:], strict=True)
                  if (f := parse_flag(cell)) is not None}  # fmt: skip
        labels[Path(row[0].strip()).as_posix()] = values
    return names, labels


def read_folders(root: Path) -> tuple[list[str], FileLabels]:
    """Class names (sorted, as `garagecam train` orders them) and one-hot labels per image."""
    names = class_folders(root)
    labels: FileLabels = {}
    for name in names:
        onehot = {other: int(other == name) for other in names}
        for image in sorted((root / name).iterdir()):
            if image.is_file() and image.suffix.lower() in IMAGE_SUFFIXES:
                labels[f"{name}/{image.name}"] = dict(onehot)
    return names, labels


def read(root: Path, layout: Layout) -> tuple[list[str], FileLabels]:
    """The label names and labels of a csv or folders layout (nothing for jsonl)."""
    if layout == "csv":
        return read_csv(root / "labels.csv")
    if layout == "folders":
        return read_folders(root)
    return [], {}
