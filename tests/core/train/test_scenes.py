"""The synthetic scene generator: deterministic, labelled, in the training layout."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from PIL import Image

from garagecam_core.cli import main
from garagecam_core.errors import ConfigError
from garagecam_core.scenes import generate_scene, iter_scenes, parse_sizes, write_dataset
from garagecam_core.train.dataset import load_dataset

SMALL = ((320, 180),)


def test_same_seed_and_index_give_identical_bytes() -> None:
    first = generate_scene(7, 3, sizes=SMALL)
    again = generate_scene(7, 3, sizes=SMALL)
    assert first == again
    assert generate_scene(8, 3, sizes=SMALL).jpeg != first.jpeg
    assert generate_scene(7, 4, sizes=SMALL).jpeg != first.jpeg


def test_frames_do_not_depend_on_how_many_are_generated() -> None:
    few = [s.jpeg for s in iter_scenes(11, 3, SMALL)]
    many = [s.jpeg for s in iter_scenes(11, 6, SMALL)]
    assert many[:3] == few
    assert [s.index for s in iter_scenes(11, 2, SMALL, start=4)] == [4, 5]


def test_default_sizes_are_camera_resolutions_and_decode_as_jpeg() -> None:
    sizes = set()
    for scene in iter_scenes(3, 8):
        image = Image.open(io.BytesIO(scene.jpeg))
        assert image.format == "JPEG"
        assert image.size == scene.size
        sizes.add(scene.size)
    assert sizes == {(1920, 1080), (2560, 1440)}


def test_labels_can_be_forced_and_cover_all_combinations() -> None:
    scene = generate_scene(1, 0, sizes=SMALL, door_open=True, car_present=False)
    assert scene.labels == {"door_open": 1, "car_present": 0}
    combos = {(s.door_open, s.car_present) for s in iter_scenes(2, 40, SMALL)}
    assert combos == {(False, False), (False, True), (True, False), (True, True)}
    assert {s.night for s in iter_scenes(2, 40, SMALL)} == {False, True}


def test_night_frames_are_grey() -> None:
    night = next(s for s in iter_scenes(4, 40, SMALL) if s.night)
    image = Image.open(io.BytesIO(night.jpeg)).convert("RGB")
    red, green, blue = (band.getextrema() for band in image.split())
    assert abs(red[1] - green[1]) <= 8 and abs(green[1] - blue[1]) <= 8


def test_write_dataset_is_a_valid_training_layout(tmp_path: Path) -> None:
    write_dataset(tmp_path, seed=5, count=12, sizes=SMALL)
    with (tmp_path / "labels.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 12
    assert set(rows[0]) == {"path", "door_open", "car_present"}
    dataset = load_dataset(tmp_path)
    assert dataset.label_names == ("door_open", "car_present")
    assert [label.device_class for label in dataset.labels] == ["garage_door", "occupancy"]


def test_cli_writes_count_images(tmp_path: Path) -> None:
    out = tmp_path / "scenes"
    code = main(["scenes", "--out", str(out), "--count", "3", "--seed", "9",
                 "--size", "320x180", "--no-progress"])  # fmt: skip
    assert code == 0
    assert len(list((out / "images").glob("*.jpg"))) == 3
    assert (out / "labels.yaml").is_file()


@pytest.mark.parametrize("text", ["1920", "1920x", "axb", "10x10", ""])
def test_bad_sizes_are_config_errors(text: str) -> None:
    with pytest.raises(ConfigError, match="size"):
        parse_sizes(text)


def test_cli_reports_bad_size(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["scenes", "--out", str(tmp_path), "--count", "1", "--size", "big"])
    assert code == 1
    assert "WIDTHxHEIGHT" in capsys.readouterr().err
