"""Dataset layouts are parsed and every problem is reported at once, before training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from garagecam_core.dataset import load_dataset, split
from garagecam_core.errors import DatasetError
from tests.images import encode, solid


def _jpeg(path: Path, shade: int = 100) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode(solid(40, 30, (shade, shade, shade))))


def _csv_dataset(root: Path, rows: list[tuple[str, int, int]]) -> None:
    lines = ["path,door_open,car_present"]
    for name, door, car in rows:
        _jpeg(root / name, 40 + 10 * (door + 2 * car))
        lines.append(f"{name},{door},{car}")
    (root / "labels.csv").write_text("\n".join(lines) + "\n")


def _balanced(count: int = 8) -> list[tuple[str, int, int]]:
    return [(f"img/{i}.jpg", i % 2, (i // 2) % 2) for i in range(count)]


def test_csv_layout_with_yaml_settings(tmp_path: Path) -> None:
    _csv_dataset(tmp_path, _balanced())
    (tmp_path / "labels.yaml").write_text(
        "door_open:\n  device_class: garage_door\n  on_threshold: 0.7\n  off_threshold: 0.3\n"
        "car_present:\n  device_class: occupancy\n"
    )
    dataset = load_dataset(tmp_path)
    assert dataset.layout == "csv"
    assert dataset.activation == "sigmoid"
    door, car = dataset.labels
    assert (door.device_class, door.on_threshold, door.off_threshold) == ("garage_door", 0.7, 0.3)
    assert car.device_class == "occupancy"
    assert dataset.fixed_thresholds == (True, False)
    assert dataset.positives() == {"door_open": 4, "car_present": 4}
    assert all(sample.path.is_absolute() for sample in dataset.samples)


def test_jsonl_layout(tmp_path: Path) -> None:
    lines = []
    for name, door, car in _balanced():
        _jpeg(tmp_path / name)
        lines.append(json.dumps({"path": name, "labels": {"door_open": door, "car_present": car}}))
    (tmp_path / "labels.jsonl").write_text("\n".join(lines) + "\n")
    dataset = load_dataset(tmp_path)
    assert dataset.layout == "jsonl"
    assert dataset.label_names == ("door_open", "car_present")
    assert [s.targets for s in dataset.samples][:2] == [(0, 0), (1, 0)]


def test_folder_layout_is_single_label(tmp_path: Path) -> None:
    for cls in ("closed", "open", "half_open"):
        for i in range(3):
            _jpeg(tmp_path / cls / f"{i}.jpg")
    (tmp_path / "open" / "notes.txt").write_text("not an image, ignored")
    dataset = load_dataset(tmp_path)
    assert dataset.layout == "folders"
    assert dataset.activation == "softmax"
    assert dataset.label_names == ("closed", "half_open", "open")
    assert dataset.positives() == {"closed": 3, "half_open": 3, "open": 3}


def test_every_problem_is_listed_in_one_error(tmp_path: Path) -> None:
    rows = [("a.jpg", 1, 1), ("b.jpg", 0, 1), ("c.jpg", 1, 1)]
    _csv_dataset(tmp_path, rows)
    (tmp_path / "c.jpg").write_bytes((tmp_path / "c.jpg").read_bytes()[:200])  # truncated
    (tmp_path / "d.jpg").write_bytes(b"<html>login</html>")
    with (tmp_path / "labels.csv").open("a") as handle:
        handle.write("missing.jpg,1,1\nd.jpg,1,1\na.jpg,0,1\nb.jpg,maybe,1\nshort.jpg,1\n")
    with pytest.raises(DatasetError) as caught:
        load_dataset(tmp_path)
    message = str(caught.value)
    assert "missing.jpg: file not found" in message
    assert "c.jpg: cannot read image" in message
    assert "d.jpg: cannot read image" in message
    assert "a.jpg: listed more than once" in message
    assert "line 8: door_open must be 0 or 1, got 'maybe'" in message
    assert "line 9: expected 3 columns, got 2" in message
    assert "'car_present' is 1 on every image" in message
    assert "only 7 image(s); training needs at least 8" in message
    assert "b.jpg: listed more than once" in message
    assert message.startswith(f"dataset {tmp_path} has 9 problem(s):")


def test_bad_header_and_label_names(tmp_path: Path) -> None:
    (tmp_path / "labels.csv").write_text("file,door\nx.jpg,1\n")
    with pytest.raises(DatasetError, match=r"header 'path,<label>,\.\.\.'"):
        load_dataset(tmp_path)
    (tmp_path / "labels.csv").write_text("path,Door Open\nx.jpg,1\n")
    with pytest.raises(DatasetError, match="label 'Door Open' is not a valid name"):
        load_dataset(tmp_path)


def test_yaml_problems(tmp_path: Path) -> None:
    _csv_dataset(tmp_path, _balanced())
    (tmp_path / "labels.yaml").write_text(
        "door_open:\n  device_class: garage\n"
        "car_present:\n  on_threshold: 0.6\n"
        "bike:\n  device_class: presence\n"
    )
    with pytest.raises(DatasetError) as caught:
        load_dataset(tmp_path)
    message = str(caught.value)
    assert "unknown Home Assistant device class 'garage'" in message
    assert "car_present needs both on_threshold and off_threshold" in message
    assert "label 'bike' is not in the dataset's labels" in message


def test_layout_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(tmp_path / "nope")
    with pytest.raises(DatasetError, match="at least two classes"):
        load_dataset(tmp_path)
    (tmp_path / "labels.csv").write_text("path,a\n")
    (tmp_path / "labels.jsonl").write_text("")
    with pytest.raises(DatasetError, match=r"both labels\.csv and labels\.jsonl"):
        load_dataset(tmp_path)


def test_jsonl_problems(tmp_path: Path) -> None:
    _jpeg(tmp_path / "a.jpg")
    (tmp_path / "labels.jsonl").write_text(
        '{"path": "a.jpg", "labels": {"door_open": 1}}\n'
        "not json\n"
        '{"path": "a.jpg"}\n'
        '{"path": "a.jpg", "labels": {"car_present": 1}}\n'
        '{"path": "a.jpg", "labels": {"door_open": 2}}\n'
    )
    with pytest.raises(DatasetError) as caught:
        load_dataset(tmp_path)
    message = str(caught.value)
    assert "line 2: not valid JSON" in message
    assert 'line 3: expected {"path": "...", "labels": {"name": 0 or 1}}' in message
    assert "line 4: labels ['car_present'] differ" in message
    assert "line 5: door_open must be 0 or 1, got 2" in message


def test_split_is_stratified_and_reproducible(tmp_path: Path) -> None:
    _csv_dataset(tmp_path, _balanced(40))
    dataset = load_dataset(tmp_path)
    train, val = split(dataset, 0.25, seed=3)
    assert len(train) + len(val) == 40
    assert {s.targets for s in val} == {(0, 0), (1, 0), (0, 1), (1, 1)}
    assert not {s.path for s in train} & {s.path for s in val}
    assert split(dataset, 0.25, seed=3) == (train, val)
    with pytest.raises(DatasetError, match="between 0 and 1"):
        split(dataset, 1.5, seed=3)
