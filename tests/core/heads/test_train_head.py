"""train_head: a labelled folder in, one .gcam model out, that every engine runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from garagecam_core.bundle import is_model_file, load_program, read_metadata
from garagecam_core.engine.local import LocalEngine
from garagecam_core.engine.worker import WorkerEngine
from garagecam_core.errors import DatasetError
from garagecam_core.heads import HeadTrainResult, train_head
from garagecam_core.heads.embeddings import CACHE_DIR


def _frames(root: Path) -> list[tuple[Path, tuple[int, int]]]:
    lines = (root / "labels.csv").read_text().splitlines()[1:]
    return [(root / p, (int(d), int(c))) for p, d, c in (line.split(",") for line in lines)]


def test_model_carries_labels_thresholds_and_preprocessing(trained: HeadTrainResult) -> None:
    metadata = read_metadata(trained.path)
    assert metadata.label_names == ("door_open", "car_present")
    # labels.yaml of the generated folder gives the device classes
    assert [label.device_class for label in metadata.labels] == ["garage_door", "occupancy"]
    for label in metadata.labels:
        assert 0 < label.off_threshold < label.on_threshold < 1
    assert (metadata.input_width, metadata.autocontrast) == (224, True)
    assert is_model_file(trained.path)
    assert trained.frames == 16
    assert set(trained.validation) == {"door_open", "car_present"}
    assert all(score.total == 16 for score in trained.validation.values())


def test_training_again_takes_every_embedding_from_the_cache(
    garage_dataset: Path, trained: HeadTrainResult, tmp_path: Path
) -> None:
    assert (garage_dataset / CACHE_DIR).is_dir()
    again = train_head(garage_dataset, tmp_path / "again.gcam")
    assert again.cached_frames == again.frames == 16
    # same frames, same embeddings: the same head
    first = json.loads(trained.path.read_text())["head"]
    second = json.loads((tmp_path / "again.gcam").read_text())["head"]
    assert first == second


def test_local_and_worker_engines_agree_and_report_novelty(
    garage_dataset: Path, trained: HeadTrainResult
) -> None:
    image = _frames(garage_dataset)[0][0].read_bytes()
    with LocalEngine(trained.path) as local:
        here = local.classify(image)
    with WorkerEngine(trained.path) as worker:
        there = worker.classify(image)
    assert here.novelty is not None and there.novelty is not None
    assert there.novelty == pytest.approx(here.novelty, abs=1e-4)
    for label, value in here.probabilities.items():
        assert there.probabilities[label] == pytest.approx(value, abs=1e-5)
    # a frame the head was trained on is familiar
    assert not here.unfamiliar


def test_head_fits_its_own_training_frames(garage_dataset: Path, trained: HeadTrainResult) -> None:
    program = load_program(trained.path)
    with LocalEngine(trained.path) as engine:
        for path, (door, car) in _frames(garage_dataset):
            result = engine.classify(path.read_bytes())
            assert (result.probabilities["door_open"] >= 0.5) == bool(door), path.name
            assert (result.probabilities["car_present"] >= 0.5) == bool(car), path.name
    assert program.metadata.name.startswith("garagecam-")


def test_frames_unlike_the_training_frames_are_unfamiliar(trained: HeadTrainResult) -> None:
    rng = np.random.default_rng(0)
    from PIL import Image

    from tests.images import encode, make_jpeg

    noise = Image.fromarray(rng.integers(0, 256, (360, 640, 3), dtype=np.uint8))
    with LocalEngine(trained.path) as engine:
        assert engine.classify(encode(noise)).unfamiliar
        assert engine.classify(make_jpeg(640, 360, (0, 0, 0))).unfamiliar


def test_too_few_frames_is_one_line(garage_dataset: Path, tmp_path: Path) -> None:
    small = tmp_path / "small"
    (small / "images").mkdir(parents=True)
    rows = (garage_dataset / "labels.csv").read_text().splitlines()
    for row in rows[1:5]:
        shutil.copy(garage_dataset / row.split(",")[0], small / row.split(",")[0])
    (small / "labels.csv").write_text("\n".join(rows[:5]) + "\n")
    with pytest.raises(DatasetError) as caught:
        train_head(small, tmp_path / "x.gcam")
    assert "\n" not in str(caught.value).strip() or "at least" in str(caught.value)
    assert not (tmp_path / "x.gcam").exists()


def test_label_seen_in_one_state_only_is_refused(garage_dataset: Path, tmp_path: Path) -> None:
    data = tmp_path / "one-state"
    shutil.copytree(garage_dataset, data, ignore=shutil.ignore_patterns(CACHE_DIR))
    lines = (data / "labels.csv").read_text().splitlines()
    rows = [line.split(",") for line in lines[1:]]
    (data / "labels.csv").write_text(lines[0] + "\n" + "".join(f"{p},1,{c}\n" for p, _, c in rows))
    with pytest.raises(DatasetError, match="door_open"):
        train_head(data, tmp_path / "x.gcam")


def test_output_folder_is_created(garage_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "new" / "deeper" / "m.gcam"
    train_head(garage_dataset, out)
    assert out.is_file()
