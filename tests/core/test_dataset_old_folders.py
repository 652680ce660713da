"""Folders written by the releases before the one dataset module keep working: Home
Assistant's `save_snapshot` (appended lines), capture (`capture.jsonl` in its old field
order), the studio's edits, read and extended by the new code without losing a byte."""

from __future__ import annotations

import json
from pathlib import Path

from garagecam_core.capture import CaptureRules, FrameCapture, frame_hash
from garagecam_core.dataset import MANIFEST, DatasetFolder, load_dataset
from garagecam_core.metadata import LabelSpec
from garagecam_core.scenes import generate_scene
from garagecam_core.studio.store import LabelStore

LABELS = (LabelSpec("door_open", "garage_door", 0.6, 0.4), LabelSpec("car_present", None, 0.7, 0.3))
NAMES = ["door_open", "car_present"]


def frame(index: int) -> bytes:
    return generate_scene(11, index, sizes=((320, 180),)).jpeg


def old_folder(root: Path) -> tuple[bytes, bytes]:
    """Byte for byte what the old code paths wrote; returns (labels.jsonl, capture.jsonl)."""
    labels: list[str] = []
    for i in range(4):  # save_snapshot: top-level JPEGs, lines appended (json.dumps)
        stem = f"20261130T06010{i}_door_open-{'on' if i % 2 else 'off'}_car_present-on"
        (root / f"{stem}.jpg").write_bytes(frame(i))
        record = {"path": f"{stem}.jpg", "labels": {"door_open": i % 2, "car_present": 1}}
        if i == 3:
            record["by"] = "action"  # save_snapshot with labels given
        labels.append(json.dumps(record))
    (root / "images").mkdir()
    manifest: list[str] = []
    for i in range(4, 8):  # capture: images/ + capture.jsonl, the old field order
        rel = f"images/20261130T0602{i:02d}000Z_background.jpg"
        (root / rel).write_bytes(frame(i))
        manifest.append(json.dumps({
            "path": rel, "time": f"2026-11-30T06:02:{i:02d}.000+00:00", "reason": "background",
            "bytes": len(frame(i)), "hash": f"{frame_hash(frame(i)):016x}",
            "probabilities": {"door_open": 0.1, "car_present": 0.9},
            "states": {"door_open": "off", "car_present": "on"},
        }))  # fmt: skip
        # the studio's edit of a captured frame
        labels.append(json.dumps({"path": rel, "labels": {"door_open": i % 2, "car_present": 0},
                                  "by": "user"}))  # fmt: skip
    labels_bytes = ("\n".join(labels) + "\n").encode()
    manifest_bytes = ("\n".join(manifest) + "\n").encode()
    (root / "labels.jsonl").write_bytes(labels_bytes)
    (root / MANIFEST).write_bytes(manifest_bytes)
    return labels_bytes, manifest_bytes


def test_the_studio_reads_an_old_folder(tmp_path: Path) -> None:
    old_folder(tmp_path)
    store = LabelStore(tmp_path)
    frames = store.scan()
    assert len(frames) == 8 and store.skipped_lines == 0
    snapshot = frames["20261130T060101_door_open-on_car_present-on.jpg"]
    assert snapshot.labels == {"door_open": 1, "car_present": 1} and snapshot.by == "file"
    captured = frames["images/20261130T060205000Z_background.jpg"]
    assert captured.confirmed(NAMES) and captured.capture is not None
    assert captured.capture["reason"] == "background"
    assert store.read(captured) == frame(5)


def test_training_reads_an_old_folder(tmp_path: Path) -> None:
    old_folder(tmp_path)
    dataset = load_dataset(tmp_path)
    assert dataset.layout == "jsonl" and len(dataset.samples) == 8


def test_capture_continues_an_old_manifest(tmp_path: Path) -> None:
    labels_before, manifest_before = old_folder(tmp_path)
    capture = FrameCapture(tmp_path, LABELS, CaptureRules(background_interval=1, max_frames=5))
    assert capture.frame_count == 4 and capture.total_bytes == sum(
        len(frame(i)) for i in range(4, 8)
    )
    states = {"door_open": "off", "car_present": "on"}
    sure = {"door_open": 0.05, "car_present": 0.95}
    assert capture.offer(frame(4), sure, states, now=10) is None  # a duplicate of an old frame
    assert capture.offer(frame(20), sure, states, now=20) is not None
    after = (tmp_path / MANIFEST).read_bytes()
    assert after.startswith(manifest_before)  # the old lines, byte for byte
    assert (tmp_path / "labels.jsonl").read_bytes() == labels_before


def test_save_snapshot_continues_an_old_folder(tmp_path: Path) -> None:
    labels_before, _ = old_folder(tmp_path)
    folder = DatasetFolder(tmp_path)
    stem = "20261130T060100_door_open-off_car_present-on"
    # the same frame saved again: left alone, no second line
    assert folder.save_frame(frame(0), stem, {"labels": {"door_open": 0}}, replace=False) == (
        tmp_path / f"{stem}.jpg"
    )
    assert (tmp_path / "labels.jsonl").read_bytes() == labels_before
    # a new one: its line after every old one, the old ones untouched
    path = folder.save_frame(frame(30), "20261130T070000_door_open-on", {"labels": {
        "door_open": 1}}, replace=False)  # fmt: skip
    text = (tmp_path / "labels.jsonl").read_bytes()
    assert text.startswith(labels_before) and path.name.encode() in text[len(labels_before) :]
