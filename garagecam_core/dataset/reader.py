"""Training dataset layouts, parsed and validated before any training starts.

Multi-label (sigmoid): `labels.csv` (header `path,<label>,<label>...`, values 0/1) or
`labels.jsonl` (`{"path": ..., "labels": {"door_open": 1, ...}}` per line), paths relative
to the file, plus an optional `labels.yaml` with per-label `device_class`, `on_threshold`
and `off_threshold`. Single-label (softmax): one sub-folder per class, named like a label.

Validation collects every problem and raises one DatasetError listing them all, so a user
fixes a dataset in one go rather than one error per run. This module never imports torch.
"""

from __future__ import annotations

import csv
import json
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from PIL import Image

from ..errors import DatasetError, MetadataError
from ..metadata import LabelSpec

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})
MIN_IMAGES = 8
_MAX_LISTED = 25  # problems listed in the error message; the rest are counted
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}

Layout = Literal["csv", "jsonl", "folders"]
_Row = tuple[str, list[int]]  # path relative to the root, one 0/1 per label


@dataclass(frozen=True)
class Sample:
    path: Path
    #: one 0/1 value per label (multi-label), or one-hot over the classes (single-label)
    targets: tuple[int, ...]


@dataclass(frozen=True)
class Dataset:
    root: Path
    layout: Layout
    labels: tuple[LabelSpec, ...]
    #: True when labels.yaml fixed a label's thresholds (no suggestion overrides them)
    fixed_thresholds: tuple[bool, ...]
    samples: tuple[Sample, ...]

    @property
    def activation(self) -> Literal["sigmoid", "softmax"]:
        return "softmax" if self.layout == "folders" else "sigmoid"

    @property
    def label_names(self) -> tuple[str, ...]:
        return tuple(label.name for label in self.labels)

    def positives(self) -> dict[str, int]:
        """Images per label (multi-label) or per class (single-label) with target 1."""
        return {
            name: sum(s.targets[i] for s in self.samples) for i, name in enumerate(self.label_names)
        }


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, message: str) -> None:
        self.items.append(message)

    def raise_if_any(self, root: Path) -> None:
        if not self.items:
            return
        shown = self.items[:_MAX_LISTED]
        more = len(self.items) - len(shown)
        lines = [f"dataset {root} has {len(self.items)} problem(s):"]
        lines += [f"  - {item}" for item in shown]
        if more:
            lines.append(f"  ... and {more} more")
        raise DatasetError("\n".join(lines))


def parse_flag(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and value in (0, 1):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return 1
        if text in _FALSE:
            return 0
    return None


def _label_specs(names: Sequence[str], problems: _Problems) -> list[LabelSpec]:
    specs = []
    for name in names:
        try:
            specs.append(LabelSpec(name))
        except MetadataError as err:
            problems.add(str(err))
    if len(set(names)) != len(names):
        problems.add(f"label names repeat: {list(names)}")
    return specs


def _read_csv(path: Path, problems: _Problems) -> tuple[list[str], list[_Row]]:
    rows: list[_Row] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [cell.strip() for cell in next(reader, [])]
        if len(header) < 2 or header[0] != "path":
            problems.add(
                f"{path.name}: the first line must be a header 'path,<label>,...' "
                f"(e.g. path,door_open,car_present), got {','.join(header)!r}"
            )
            return [], []
        names = header[1:]
        for line_no, row in enumerate(reader, start=2):
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                problems.add(
                    f"{path.name} line {line_no}: expected {len(header)} columns, got {len(row)}"
                )
                continue
            values = []
            for name, cell in zip(names, row[1:], strict=True):
                flag = parse_flag(cell)
                if flag is None:
                    problems.add(f"{path.name} line {line_no}: {name} must be 0 or 1, got {cell!r}")
                values.append(flag or 0)
            rows.append((row[0].strip(), values))
    return names, rows


def _read_jsonl(path: Path, problems: _Problems) -> tuple[list[str], list[_Row]]:
    names: list[str] | None = None
    rows: list[_Row] = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {line_no}"
        try:
            record = json.loads(line)
        except ValueError as err:
            problems.add(f"{where}: not valid JSON ({err})")
            continue
        if (
            not isinstance(record, dict)
            or not isinstance(record.get("path"), str)
            or not isinstance(record.get("labels"), dict)
        ):
            problems.add(f'{where}: expected {{"path": "...", "labels": {{"name": 0 or 1}}}}')
            continue
        labels: dict[str, Any] = record["labels"]
        if names is None:
            names = list(labels)
        if set(labels) != set(names):
            problems.add(f"{where}: labels {sorted(labels)} differ from line 1's {sorted(names)}")
            continue
        values = []
        for name in names:
            flag = parse_flag(labels[name])
            if flag is None:
                problems.add(f"{where}: {name} must be 0 or 1, got {labels[name]!r}")
            values.append(flag or 0)
        rows.append((record["path"], values))
    if names is None:
        problems.add(f"{path.name} has no records")
    return names or [], rows


def _read_folders(root: Path, problems: _Problems) -> tuple[list[str], list[_Row]]:
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    rows: list[_Row] = []
    for index, name in enumerate(classes):
        images = sorted(p for p in (root / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if len(images) < 2:
            problems.add(f"class folder {name}/ has {len(images)} image(s); it needs at least 2")
        onehot = [int(i == index) for i in range(len(classes))]
        rows += [(f"{name}/{p.name}", onehot) for p in images]
    if len(classes) < 2:
        problems.add(
            f"found {len(classes)} class folder(s); a single-label dataset needs one sub-folder "
            "per class and at least two classes (or use labels.csv for multi-label)"
        )
    return classes, rows


def _apply_yaml(
    path: Path, specs: list[LabelSpec], problems: _Problems
) -> tuple[list[LabelSpec], list[bool]]:
    fixed = [False] * len(specs)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        problems.add(f"{path.name}: not valid YAML ({err})")
        return specs, fixed
    if not isinstance(data, dict):
        problems.add(f"{path.name}: expected a mapping of label name -> settings")
        return specs, fixed
    by_name = {spec.name: i for i, spec in enumerate(specs)}
    for name, settings in data.items():
        if name not in by_name:
            problems.add(f"{path.name}: label {name!r} is not in the dataset's labels")
            continue
        if not isinstance(settings, dict):
            problems.add(f"{path.name}: {name} must be a mapping (device_class, thresholds)")
            continue
        unknown = sorted(set(settings) - {"device_class", "on_threshold", "off_threshold"})
        if unknown:
            problems.add(f"{path.name}: {name} has unknown keys {unknown}")
            continue
        index = by_name[name]
        has_on, has_off = "on_threshold" in settings, "off_threshold" in settings
        if has_on != has_off:
            problems.add(f"{path.name}: {name} needs both on_threshold and off_threshold")
            continue
        current = specs[index]
        try:
            specs[index] = LabelSpec(
                name,
                settings.get("device_class", current.device_class),
                settings.get("on_threshold", current.on_threshold),
                settings.get("off_threshold", current.off_threshold),
            )
        except MetadataError as err:
            problems.add(f"{path.name}: {err}")
            continue
        fixed[index] = has_on
    return specs, fixed


def _check_image(path: Path) -> str | None:
    """Cheap full check: decode at reduced scale (JPEG draft) to catch truncated files."""
    try:
        with Image.open(path) as image:
            image.draft("RGB", (64, 64))
            image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        return f"{path.name}: cannot read image ({err})"
    return None


def _read_layout(root: Path, problems: _Problems) -> tuple[Layout, list[str], list[_Row]]:
    csv_path, jsonl_path = root / "labels.csv", root / "labels.jsonl"
    if csv_path.is_file() and jsonl_path.is_file():
        raise DatasetError(f"{root} has both labels.csv and labels.jsonl: keep only one")
    if csv_path.is_file():
        return ("csv", *_read_csv(csv_path, problems))
    if jsonl_path.is_file():
        return ("jsonl", *_read_jsonl(jsonl_path, problems))
    return ("folders", *_read_folders(root, problems))


def _samples(root: Path, rows: list[_Row], problems: _Problems) -> list[Sample]:
    """Resolve paths and check each file exists once and is a readable image."""
    seen: set[Path] = set()
    samples = []
    for rel, values in rows:
        path = (root / rel).resolve()
        if not rel:
            problems.add("a row has an empty path")
        elif path in seen:
            problems.add(f"{rel}: listed more than once")
        elif not path.is_file():
            problems.add(f"{rel}: file not found")
        else:
            error = _check_image(path)
            if error:
                problems.add(error)
        seen.add(path)
        samples.append(Sample(path, tuple(values)))
    return samples


def load_dataset(root: Path, min_images: int = MIN_IMAGES) -> Dataset:
    """Parse and validate a dataset folder; raises one DatasetError listing every problem."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist or is not a folder")
    problems = _Problems()
    layout, names, rows = _read_layout(root, problems)
    specs = _label_specs(names, problems)
    fixed = [False] * len(specs)
    yaml_path = root / "labels.yaml"
    if yaml_path.is_file() and len(specs) == len(names):
        specs, fixed = _apply_yaml(yaml_path, specs, problems)
    samples = _samples(root, rows, problems)
    if len(samples) < min_images:
        problems.add(f"only {len(samples)} image(s); training needs at least {min_images}")
    if layout != "folders":
        for i, name in enumerate(names):
            counts = Counter(s.targets[i] for s in samples)
            if samples and len(counts) < 2:
                only = next(iter(counts))
                problems.add(
                    f"label {name!r} is {only} on every image; it needs examples of both 0 and 1"
                )
    problems.raise_if_any(root)
    return Dataset(root, layout, tuple(specs), tuple(fixed), tuple(samples))


def split(dataset: Dataset, val_fraction: float, seed: int) -> tuple[list[Sample], list[Sample]]:
    """Split stratified by label combination; every combination with 2+ images is in both."""
    if not 0.0 < val_fraction < 1.0:
        raise DatasetError(f"validation fraction must be between 0 and 1, got {val_fraction}")
    groups: dict[tuple[int, ...], list[Sample]] = {}
    for sample in dataset.samples:
        groups.setdefault(sample.targets, []).append(sample)
    rng = random.Random(seed)  # noqa: S311 - reproducible split, not security
    train: list[Sample] = []
    val: list[Sample] = []
    for key in sorted(groups):
        members = groups[key]
        rng.shuffle(members)
        n_val = round(len(members) * val_fraction)
        n_val = min(max(1, n_val), len(members) - 1) if len(members) >= 2 else 0
        val += members[:n_val]
        train += members[n_val:]
    if not val:
        raise DatasetError("the dataset is too small to keep images aside for validation")
    return train, val
