"""The synthetic scene generator: deterministic, labelled, in the training layout."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from PIL import Image

from garagecam_core.cli import main
from garagecam_core.dataset import load_dataset
from garagecam_core.errors import ConfigError
from garagecam_core.scenes import generate_scene, iter_scenes, parse_sizes, write_dataset

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
    for scene in iter_scenes(3, 16):
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


def test_garage_mode_fixes_the_garage_and_varies_the_moment() -> None:
    from garagecam_core.scenes import garage_of

    frames = list(iter_scenes(12, 40, SMALL, garage=3))
    assert {s.garage for s in frames} == {3}
    assert {s.door_type for s in frames} == {garage_of(3, SMALL).door_type}
    assert {(s.door_open, s.car_present) for s in frames} == {
        (False, False), (False, True), (True, False), (True, True)
    }  # fmt: skip
    assert len({s.light for s in frames}) >= 3
    # the same garage from another frame stream; another garage differs
    assert garage_of(3, SMALL) == garage_of(3, SMALL) != garage_of(4, SMALL)
    assert generate_scene(13, 0, sizes=SMALL, garage=3).jpeg != frames[0].jpeg
    assert generate_scene(12, 0, sizes=SMALL, garage=3) == frames[0]


def test_one_garage_keeps_wall_and_camera_between_frames() -> None:
    """Pixels of the wall above the door stay put in one garage and not across garages."""
    import numpy as np

    def wall_patch(scene_jpeg: bytes) -> np.ndarray:
        image = Image.open(io.BytesIO(scene_jpeg)).convert("L").resize((64, 36))
        return np.asarray(image, dtype=np.float32)[2:8, 20:44]

    def spread(scenes: list[bytes]) -> float:
        patches = np.stack([wall_patch(s) for s in scenes])
        # brightness varies with the light: compare the patterns, each scaled to its mean
        scaled = patches / np.maximum(1, patches.mean(axis=(1, 2), keepdims=True))
        return float(np.mean(np.std(scaled, axis=0)))

    day = [s for s in iter_scenes(5, 60, SMALL, garage=8) if s.light == "day"][:8]
    mixed = [s for s in iter_scenes(5, 60, SMALL) if s.light == "day"][:8]
    assert len(day) == len(mixed) == 8
    assert spread([s.jpeg for s in day]) < spread([s.jpeg for s in mixed])


def test_generator_draws_every_kind_of_moment() -> None:
    from garagecam_core.scenes import DOOR_TYPES, LIGHTS

    frames = list(iter_scenes(2, 120, SMALL))
    assert {s.light for s in frames} == set(LIGHTS)
    assert {s.door_type for s in frames} == set(DOOR_TYPES)
    assert any(s.rain for s in frames) and any(s.people for s in frames)
    assert {s.garage for s in frames} == {None}


@pytest.mark.slow  # renders two sets of scenes
def test_family_b_is_deterministic_labelled_and_separate(tmp_path: Path) -> None:
    from garagecam_core.scenes_family_b import generate_scene_b, iter_scenes_b

    first = generate_scene_b(7, 3, sizes=SMALL)
    assert first == generate_scene_b(7, 3, sizes=SMALL)
    assert first.jpeg != generate_scene(7, 3, sizes=SMALL).jpeg
    frames = list(iter_scenes_b(2, 24, SMALL))
    assert {(s.door_open, s.car_present) for s in frames} == {
        (False, False), (False, True), (True, False), (True, True)
    }  # fmt: skip
    assert {s.night for s in frames} == {False, True}
    assert {s.garage for s in iter_scenes_b(2, 3, SMALL, garage=4)} == {4}
    forced = generate_scene_b(1, 0, sizes=SMALL, door_open=True, car_present=False)
    assert forced.labels == {"door_open": 1, "car_present": 0}
    code = main(["scenes", "--out", str(tmp_path / "b"), "--count", "2", "--family", "b",
                 "--size", "320x180", "--no-progress"])  # fmt: skip
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "b/images").iterdir()) == [
        "family_b_0_00000.jpg", "family_b_0_00001.jpg"
    ]  # fmt: skip


def test_family_b_shares_no_drawing_code_with_the_training_generator() -> None:
    """Out-of-family means another renderer: family B imports only the frame record and the
    dataset writer from `scenes`, and the demo is made from family A only."""
    import ast

    import garagecam_core.scenes_family_b as family_b

    tree = ast.parse(Path(family_b.__file__).read_text())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "scenes"
        for alias in node.names
    }
    assert imported == {"DEFAULT_SIZES", "Scene", "write_scenes"}
    script = (Path(__file__).parents[3] / "scripts/make_demo_model.sh").read_text()
    assert "scenes --out" in script and "--family" not in script


def test_cli_one_garage(tmp_path: Path) -> None:
    out = tmp_path / "garage"
    code = main(["scenes", "--out", str(out), "--count", "2", "--garage", "6", "--seed", "1",
                 "--size", "320x180", "--no-progress"])  # fmt: skip
    assert code == 0
    names = sorted(p.name for p in (out / "images").iterdir())
    assert names == ["scene_g6_1_00000.jpg", "scene_g6_1_00001.jpg"]
    assert (out / "images" / names[0]).read_bytes() == generate_scene(
        1, 0, sizes=SMALL, garage=6
    ).jpeg
