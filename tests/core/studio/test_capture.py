"""Capture rules and bounds, on real JPEGs written to a real folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from garagecam_core.capture import (
    CaptureRules,
    FrameCapture,
    frame_hash,
    hamming,
)
from garagecam_core.dataset import MANIFEST, load_dataset
from garagecam_core.errors import ConfigError
from garagecam_core.metadata import LabelSpec
from garagecam_core.scenes import generate_scene
from tests.images import encode, scene, truncated

LABELS = (LabelSpec("door_open", "garage_door", 0.6, 0.4), LabelSpec("car_present", None, 0.7, 0.3))
SURE = {"door_open": 0.05, "car_present": 0.95}
STATES = {"door_open": "off", "car_present": "on"}
SIZE = ((320, 180),)


def frame(index: int) -> bytes:
    return generate_scene(7, index, sizes=SIZE).jpeg


def capture(tmp_path: Path, **rules: int | float) -> FrameCapture:
    return FrameCapture(tmp_path, LABELS, CaptureRules(**rules))  # type: ignore[arg-type]


def manifest(tmp_path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (tmp_path / MANIFEST).read_text().splitlines()]


def test_near_identical_frames_hash_close_and_different_scenes_far() -> None:
    base = scene(640, 360, door_open=False)
    a = frame_hash(encode(base, quality=90))
    b = frame_hash(encode(base, quality=40))  # same picture, other JPEG quality
    c = frame_hash(encode(scene(640, 360, door_open=True), quality=90))
    assert a is not None and b is not None and c is not None
    assert hamming(a, b) <= 4 < hamming(a, c)
    assert frame_hash(b"not an image") is None


def test_first_frame_is_kept_as_background_then_rate_limited(tmp_path: Path) -> None:
    cap = capture(tmp_path, background_interval=100)
    assert cap.offer(frame(0), SURE, STATES, now=1000) is not None
    assert cap.offer(frame(1), SURE, STATES, now=1050) is None  # sure, no change, too soon
    kept = cap.offer(frame(2), SURE, STATES, now=1100)
    assert kept is not None and kept.read_bytes() == frame(2)
    assert [r["reason"] for r in manifest(tmp_path)] == ["background", "background"]


def test_state_change_is_kept_at_once(tmp_path: Path) -> None:
    cap = capture(tmp_path, background_interval=10_000)
    cap.offer(frame(0), SURE, STATES, now=0)
    assert cap.offer(frame(1), SURE, STATES, now=1) is None
    opened = {"door_open": "on", "car_present": "on"}
    assert cap.offer(frame(2), {"door_open": 0.9, "car_present": 0.9}, opened, now=2) is not None
    assert manifest(tmp_path)[-1]["reason"] == "state_change"
    assert manifest(tmp_path)[-1]["states"] == opened


def test_unknown_to_known_is_not_a_state_change(tmp_path: Path) -> None:
    cap = capture(tmp_path, background_interval=10_000)
    cap.offer(frame(0), SURE, {"door_open": "unknown", "car_present": "unknown"}, now=0)
    assert cap.offer(frame(1), SURE, STATES, now=1) is None


def test_unsure_frames_between_thresholds_are_kept_and_rate_limited(tmp_path: Path) -> None:
    cap = capture(tmp_path, background_interval=10_000, unsure_interval=30)
    cap.offer(frame(0), SURE, STATES, now=0)
    unsure = {"door_open": 0.5, "car_present": 0.95}  # 0.4 < 0.5 < 0.6
    assert cap.offer(frame(1), unsure, STATES, now=1) is not None
    assert cap.offer(frame(2), unsure, STATES, now=10) is None  # within unsure_interval
    assert cap.offer(frame(3), unsure, STATES, now=31) is not None
    on_threshold = {"door_open": 0.6, "car_present": 0.95}  # on the edge: sure enough
    assert cap.offer(frame(4), on_threshold, STATES, now=100) is None
    assert [r["reason"] for r in manifest(tmp_path)] == ["background", "unsure", "unsure"]
    assert manifest(tmp_path)[1]["probabilities"] == unsure


def test_near_duplicates_are_skipped_whatever_the_reason(tmp_path: Path) -> None:
    cap = capture(tmp_path, background_interval=1)
    image = scene(640, 360, door_open=False)
    assert cap.offer(encode(image, quality=90), SURE, STATES, now=0) is not None
    assert cap.offer(encode(image, quality=50), SURE, STATES, now=10) is None
    flipped = {"door_open": "on", "car_present": "on"}
    assert cap.offer(encode(image, quality=70), SURE, flipped, now=20) is None
    assert cap.frame_count == 1


def test_undecodable_frame_is_not_kept(tmp_path: Path) -> None:
    cap = capture(tmp_path)
    assert cap.offer(truncated(frame(0), 0.02), SURE, STATES, now=0) is None
    assert cap.offer(b"garbage", SURE, STATES, now=0) is None
    assert list((tmp_path / "images").iterdir()) == []


def test_count_bound_deletes_oldest_unlabelled_own_frames_only(tmp_path: Path) -> None:
    cap = capture(tmp_path, background_interval=1, max_frames=3)
    paths = [cap.offer(frame(i), SURE, STATES, now=i * 10) for i in range(3)]
    assert all(paths)
    # The user labelled the oldest frame: it must survive; the second oldest goes.
    first = paths[0].relative_to(tmp_path).as_posix()  # type: ignore[union-attr]
    (tmp_path / "labels.jsonl").write_text(
        json.dumps({"path": first, "labels": {"door_open": 0, "car_present": 1}}) + "\n"
    )
    foreign = tmp_path / "images" / "mine.jpg"  # a file capture did not write
    foreign.write_bytes(frame(9))
    assert cap.offer(frame(3), SURE, STATES, now=100) is not None
    assert paths[0].exists() and not paths[1].exists() and paths[2].exists()  # type: ignore[union-attr]
    assert foreign.exists()
    assert cap.frame_count == 3
    assert manifest(tmp_path)[0]["path"] == first


def test_byte_bound_and_full_of_labelled_frames_stops_capture(tmp_path: Path) -> None:
    sizes = [len(frame(i)) for i in range(3)]
    cap = capture(tmp_path, background_interval=1, max_bytes=sizes[0] + sizes[1])
    a = cap.offer(frame(0), SURE, STATES, now=0)
    b = cap.offer(frame(1), SURE, STATES, now=10)
    assert a and b
    lines = [
        json.dumps({"path": p.relative_to(tmp_path).as_posix(), "labels": {"door_open": 0}})
        for p in (a, b)
    ]
    (tmp_path / "labels.jsonl").write_text("\n".join(lines) + "\n")
    assert cap.offer(frame(2), SURE, STATES, now=20) is None  # nothing may be deleted
    assert a.exists() and b.exists() and cap.frame_count == 2
    assert cap.total_bytes <= sizes[0] + sizes[1]


def test_file_changed_since_capture_is_not_deleted(tmp_path: Path) -> None:
    cap = capture(tmp_path, background_interval=1, max_frames=1)
    first = cap.offer(frame(0), SURE, STATES, now=0)
    assert first is not None
    first.write_bytes(b"the user's own file now" * 100)
    assert cap.offer(frame(1), SURE, STATES, now=10) is not None
    assert first.read_bytes().startswith(b"the user's own file now")


def test_manifest_survives_restart_and_keeps_foreign_lines(tmp_path: Path) -> None:
    cap = capture(tmp_path, background_interval=1, max_frames=2)
    cap.offer(frame(0), SURE, STATES, now=0)
    with (tmp_path / MANIFEST).open("a") as handle:
        handle.write("not json, somebody's note\n")
    again = capture(tmp_path, background_interval=1, max_frames=2)
    assert again.frame_count == 1
    assert again.offer(frame(0), SURE, STATES, now=50) is None  # duplicate of a kept frame
    again.offer(frame(1), SURE, STATES, now=60)
    again.offer(frame(2), SURE, STATES, now=70)  # evicts frame 0, rewrites the manifest
    text = (tmp_path / MANIFEST).read_text()
    assert "not json, somebody's note" in text
    assert again.frame_count == 2


def test_labelled_capture_folder_is_a_training_dataset(tmp_path: Path) -> None:
    cap = capture(tmp_path, background_interval=1)
    records = []
    for i in range(10):
        path = cap.offer(frame(i), SURE, STATES, now=i * 10)
        assert path is not None
        records.append({"path": path.relative_to(tmp_path).as_posix(),
                        "labels": {"door_open": i % 2, "car_present": (i // 2) % 2}})  # fmt: skip
    (tmp_path / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    dataset = load_dataset(tmp_path)
    assert dataset.layout == "jsonl" and len(dataset.samples) == 10


def test_rules_are_checked() -> None:
    with pytest.raises(ConfigError, match="max_frames"):
        CaptureRules(max_frames=0)


def test_a_png_snapshot_is_kept_as_png(tmp_path: Path) -> None:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.open(io.BytesIO(frame(0))).save(out, format="PNG")
    path = capture(tmp_path).offer(out.getvalue(), {"door_open": 0.1, "car_present": 0.9}, STATES)
    assert path is not None and path.suffix == ".png"
    with Image.open(path) as image:
        assert image.format == "PNG"
