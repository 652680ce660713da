"""labels.jsonl edits: atomic, never losing a line, on Home Assistant and capture folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from garagecam_core.dataset import labels as labels_module
from garagecam_core.dataset import load_dataset
from garagecam_core.errors import ConfigError
from garagecam_core.studio.store import LabelStore
from tests.images import scene_jpeg

NAMES = ["door_open", "car_present"]


def ha_folder(root: Path) -> Path:
    """What `garagecam.save_snapshot` writes: JPEGs + labels.jsonl with the states then."""
    for i in range(4):
        (root / f"20261130T06010{i}_door_open-on.jpg").write_bytes(scene_jpeg(320, 180))
    lines = [
        json.dumps({"path": "20261130T060100_door_open-on.jpg",
                    "labels": {"door_open": 1, "car_present": 0}}),
        json.dumps({"path": "20261130T060101_door_open-on.jpg", "labels": {"door_open": 1}}),
        "{broken line somebody wrote",
        json.dumps({"path": "gone.jpg", "labels": {"door_open": 0, "car_present": 0}}),
    ]  # fmt: skip
    (root / "labels.jsonl").write_text("\n".join(lines) + "\n")
    return root


def test_reads_home_assistant_folder(tmp_path: Path) -> None:
    store = LabelStore(ha_folder(tmp_path))
    frames = store.scan()
    assert len(frames) == 4
    first = frames["20261130T060100_door_open-on.jpg"]
    assert first.labels == {"door_open": 1, "car_present": 0} and first.by == "file"
    assert not first.confirmed(NAMES)
    assert frames["20261130T060101_door_open-on.jpg"].labels == {"door_open": 1}
    assert store.skipped_lines == 1
    assert store.dataset_labels() == NAMES


def test_edit_replaces_only_that_path_and_keeps_every_other_line(tmp_path: Path) -> None:
    store = LabelStore(ha_folder(tmp_path))
    store.scan()
    before = (tmp_path / "labels.jsonl").read_text().splitlines()
    store.set_labels({"20261130T060101_door_open-on.jpg": {"door_open": 0, "car_present": 1},
                      "20261130T060103_door_open-on.jpg": {"door_open": 1, "car_present": 1}},
                     NAMES)  # fmt: skip
    after = (tmp_path / "labels.jsonl").read_text().splitlines()
    assert after[0] == before[0]
    assert json.loads(after[1]) == {
        "path": "20261130T060101_door_open-on.jpg",
        "labels": {"door_open": 0, "car_present": 1},
        "by": "user",
    }
    assert after[2:4] == before[2:4]  # the broken line and the line of a missing file stay
    assert json.loads(after[4])["path"] == "20261130T060103_door_open-on.jpg"
    assert (tmp_path / ".studio" / "labels.jsonl.prev").read_text().splitlines() == before
    frame = LabelStore(tmp_path).scan()["20261130T060101_door_open-on.jpg"]
    assert frame.by == "user" and frame.confirmed(NAMES)


def test_duplicate_lines_of_a_path_collapse_into_the_new_one(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(scene_jpeg(64, 64))
    line = json.dumps({"path": "a.jpg", "labels": {"door_open": 1, "car_present": 1}})
    (tmp_path / "labels.jsonl").write_text(f"{line}\n{line}\n")
    store = LabelStore(tmp_path)
    store.scan()
    store.set_labels({"a.jpg": {"door_open": 0, "car_present": 0}}, NAMES)
    lines = (tmp_path / "labels.jsonl").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["labels"] == {"door_open": 0, "car_present": 0}


def test_lines_appended_during_an_edit_are_not_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LabelStore(ha_folder(tmp_path))
    store.scan()
    appended = json.dumps({"path": "new.jpg", "labels": {"door_open": 0, "car_present": 0}})
    real_apply = labels_module.apply_updates
    calls = []

    def apply_while_home_assistant_appends(before: bytes, updates: dict) -> bytes:  # type: ignore[type-arg]
        calls.append(1)
        if len(calls) == 1:  # Home Assistant saves a snapshot right now
            with (tmp_path / "labels.jsonl").open("a") as handle:
                handle.write(appended + "\n")
        return real_apply(before, updates)

    monkeypatch.setattr(labels_module, "apply_updates", apply_while_home_assistant_appends)
    store.set_labels({"20261130T060102_door_open-on.jpg": {"door_open": 1, "car_present": 0}},
                     NAMES)  # fmt: skip
    text = (tmp_path / "labels.jsonl").read_text()
    assert appended in text and "20261130T060102" in text and len(calls) == 2


def test_bad_edits_write_nothing(tmp_path: Path) -> None:
    store = LabelStore(ha_folder(tmp_path))
    store.scan()
    before = (tmp_path / "labels.jsonl").read_bytes()
    with pytest.raises(ConfigError, match="unknown frame"):
        store.set_labels({"../etc/passwd": {"door_open": 1, "car_present": 1}}, NAMES)
    with pytest.raises(ConfigError, match="0 or 1"):
        store.set_labels({"20261130T060102_door_open-on.jpg": {"door_open": 2}}, NAMES)
    assert (tmp_path / "labels.jsonl").read_bytes() == before


def test_confirmed_labels_make_a_training_dataset(tmp_path: Path) -> None:
    for i in range(8):
        (tmp_path / "images").mkdir(exist_ok=True)
        (tmp_path / "images" / f"{i}.jpg").write_bytes(scene_jpeg(96, 64, door_open=bool(i % 2)))
    store = LabelStore(tmp_path)
    store.scan()
    store.set_labels(
        {f"images/{i}.jpg": {"door_open": i % 2, "car_present": i // 4} for i in range(8)}, NAMES
    )
    dataset = load_dataset(tmp_path)
    assert len(dataset.samples) == 8 and dataset.label_names == tuple(NAMES)


def test_missing_folders_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        LabelStore(tmp_path / "nope")
