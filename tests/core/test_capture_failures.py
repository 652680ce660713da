"""FrameCapture when the disk fails, and the unsure band from the entry's thresholds.

Real writes fail here: RLIMIT_FSIZE makes the kernel refuse a file past a size (EFBIG), as
a full disk refuses it (ENOSPC), part-way through the write.
"""

from __future__ import annotations

import json
import resource
import signal
from pathlib import Path

import pytest

from garagecam_core.capture import FrameCapture, labels_with_policies
from garagecam_core.dataset import IMAGES_DIR, MANIFEST
from garagecam_core.debounce import LabelOverride, merge_policies
from garagecam_core.metadata import LabelSpec, ModelMetadata
from garagecam_core.scenes import generate_scene

LABELS = (LabelSpec("door_open", "garage_door", 0.6, 0.4), LabelSpec("car_present", None, 0.7, 0.3))
STATES = {"door_open": "off", "car_present": "on"}
SURE = {"door_open": 0.05, "car_present": 0.95}


def frame(index: int) -> bytes:
    return generate_scene(11, index, sizes=((320, 180),)).jpeg


def test_a_write_that_fails_half_way_leaves_no_file(tmp_path: Path) -> None:
    capture = FrameCapture(tmp_path, LABELS)
    assert capture.offer(frame(0), SURE, STATES, now=1000.0) is not None
    before = (tmp_path / MANIFEST).read_bytes()
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024, limit[1]))
    try:
        with pytest.raises(OSError, match="too large"):
            capture.offer(frame(1), SURE, {"door_open": "on", "car_present": "on"}, now=1010.0)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limit)
        signal.signal(signal.SIGXFSZ, previous)
    # no truncated frame that no manifest line lists (it would never be deleted)
    assert len(list((tmp_path / IMAGES_DIR).iterdir())) == 1
    assert (tmp_path / MANIFEST).read_bytes() == before
    assert capture.frame_count == 1
    # the disk has room again: the next frame worth keeping is kept
    assert capture.offer(frame(2), SURE, {"door_open": "off", "car_present": "on"}, now=1020.0)
    assert capture.frame_count == 2


def test_a_manifest_that_cannot_be_read_keeps_no_image(tmp_path: Path) -> None:
    capture = FrameCapture(tmp_path, LABELS)
    (tmp_path / MANIFEST).mkdir()  # not a regular file: neither read nor replaced
    with pytest.raises(OSError, match="not a regular file"):
        capture.offer(frame(0), SURE, STATES, now=1000.0)
    assert list((tmp_path / IMAGES_DIR).iterdir()) == []
    assert capture.frame_count == 0


def test_unsure_band_is_the_merged_one(tmp_path: Path) -> None:
    metadata = ModelMetadata(name="m", input_height=8, input_width=8, labels=LABELS)
    policies = merge_policies(
        metadata, {"door_open": LabelOverride(on_threshold=0.9, off_threshold=0.1)}
    )
    labels = labels_with_policies(LABELS, policies)
    assert [(s.name, s.on_threshold, s.off_threshold) for s in labels] == [
        ("door_open", 0.9, 0.1),
        ("car_present", 0.7, 0.3),
    ]
    assert labels[0].device_class == "garage_door"
    # a label without a policy keeps the model's thresholds
    assert labels_with_policies(LABELS, {}) == list(LABELS)

    capture = FrameCapture(tmp_path, labels)
    capture.offer(frame(0), SURE, STATES, now=1000.0)  # background
    # 0.8 is ON for the model (0.6) but inside the merged 0.1-0.9 band
    assert capture.offer(frame(1), {**SURE, "door_open": 0.8}, STATES, now=1010.0) is not None
    assert json.loads((tmp_path / MANIFEST).read_text().splitlines()[-1])["reason"] == "unsure"
