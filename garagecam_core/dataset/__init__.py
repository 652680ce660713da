"""The dataset: one folder of frames, their manifest and bounds, and `labels.jsonl`.

- `folder`: `DatasetFolder`, what capture, `save_snapshot`, the debug snapshots and the
  studio write and read (frames, manifest, bounds with oldest-first eviction);
- `labels`: `LabelsFile`, every `labels.jsonl` read and edit;
- `files`: the file rules under both (atomic writes, no symbolic links, the folder's lock);
- `reader`: `load_dataset`, the validated view `garagecam train` and the heads train on
  (`labels.csv`, `labels.jsonl` or one sub-folder per class).

Torch-free; imports no app.
"""

from .files import folder_lock, read_no_follow, write_atomic
from .folder import IMAGES_DIR, MANIFEST, Added, Bounds, DatasetFolder, FrameFile, Manifest
from .labels import LABELS_FILE, LabelLine, LabelLines, LabelsFile, parse_line
from .reader import (
    IMAGE_SUFFIXES,
    MIN_IMAGES,
    Dataset,
    Layout,
    Sample,
    load_dataset,
    parse_flag,
    split,
)

__all__ = [
    "IMAGES_DIR",
    "IMAGE_SUFFIXES",
    "LABELS_FILE",
    "MANIFEST",
    "MIN_IMAGES",
    "Added",
    "Bounds",
    "Dataset",
    "DatasetFolder",
    "FrameFile",
    "LabelLine",
    "LabelLines",
    "LabelsFile",
    "Layout",
    "Manifest",
    "Sample",
    "folder_lock",
    "load_dataset",
    "parse_flag",
    "parse_line",
    "read_no_follow",
    "split",
    "write_atomic",
]
