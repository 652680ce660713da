"""`garagecam train --init-from`: fine-tuning starts from a trained model's weights.

Real runs on a few small generated frames, exported to `.pte` and run through the real
inference path: 0 epochs export the starting weights unchanged (the demo's outputs, to
float precision), a short run changes them and still exports a complete model; labels or
weights that do not fit are refused with a one-line error before any training.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import executorch  # noqa: F401
import numpy as np
import pytest

from garagecam_core import student_demo_path
from garagecam_core.bundle import load_program
from garagecam_core.cli import main
from garagecam_core.cli.train import FINE_TUNE_DEFAULTS
from garagecam_core.scenes import write_dataset
from garagecam_core.scenes_family_b import generate_scene_b
from garagecam_core.train.trainer import MIN_THRESHOLD_FRAMES

pytestmark = pytest.mark.slow
SMALL = ((320, 180),)


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("finetune") / "garage"
    write_dataset(data, seed=41, count=20, sizes=SMALL, garage=5)
    return data


def _inputs(count: int) -> np.ndarray:
    """Model inputs of real frames (family B: never seen by the demo) in the demo's layout."""
    from garagecam_core.preprocess import prepare

    metadata = load_program(student_demo_path()).metadata
    return np.concatenate(
        [prepare(generate_scene_b(3, i, sizes=SMALL).jpeg, metadata).tensor for i in range(count)]
    )


def _train(frames: Path, out: Path, *extra: str) -> int:
    return main(["train", "--data", str(frames), "--out", str(out), "--threads", "1",
                 "--batch-size", "8", "--no-progress", *extra])  # fmt: skip


def test_zero_epochs_from_the_demo_reproduce_its_outputs(frames: Path, tmp_path: Path) -> None:
    out = tmp_path / "same.pte"
    assert _train(frames, out, "--init-from", "demo", "--epochs", "0") == 0
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["epochs_run"] == 0
    assert report["options"]["init_from"] == str(student_demo_path().with_suffix(".json"))
    demo, tuned = load_program(student_demo_path()), load_program(out)
    # the input size and preprocessing come from the demo when --input-size is not given
    assert tuned.metadata.input_width == demo.metadata.input_width
    assert tuned.metadata.extra["fine_tuned_from"] == "garagecam-demo"
    # a handful of validation frames are too few to choose thresholds: the demo's are kept
    assert report["dataset"]["validation"] < MIN_THRESHOLD_FRAMES
    assert tuned.metadata.labels == demo.metadata.labels
    validation = report["dataset"]["validation"]
    assert (
        report["thresholds_from"] == f"garagecam-demo ({validation} validation frames are too few)"
    )
    x = _inputs(6)
    for i in range(len(x)):
        np.testing.assert_allclose(tuned.run(x[i : i + 1]), demo.run(x[i : i + 1]), atol=1e-5)


def test_a_short_fine_tune_changes_the_weights_and_exports(frames: Path, tmp_path: Path) -> None:
    out = tmp_path / "tuned.pte"
    assert _train(frames, out, "--init-from", "demo", "--epochs", "2", "--lr", "0.01") == 0
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["epochs_run"] == 2
    assert report["options"]["lr"] == 0.01  # given flags win over the fine-tuning defaults
    assert report["options"]["patience"] == FINE_TUNE_DEFAULTS["patience"]
    assert report["export"]["portable_ops"] == []
    assert report["pte_max_abs_diff"] < 1e-4
    demo, tuned = load_program(student_demo_path()), load_program(out)
    assert tuned.metadata.label_names == demo.metadata.label_names
    x = _inputs(4)
    differences = [np.max(np.abs(tuned.run(x[i : i + 1]) - demo.run(x[i : i + 1])))
                   for i in range(len(x))]  # fmt: skip
    assert max(differences) > 1e-3
    # a fine-tuned model is itself a starting point
    again = tmp_path / "again.pte"
    assert _train(frames, again, "--init-from", str(out.with_suffix(".pt")), "--epochs", "0") == 0
    for i in range(len(x)):
        np.testing.assert_allclose(
            load_program(again).run(x[i : i + 1]), tuned.run(x[i : i + 1]), atol=1e-5
        )


def test_fine_tune_defaults_differ_from_training_from_scratch() -> None:
    from garagecam_core.cli.train import _DEFAULTS

    assert FINE_TUNE_DEFAULTS["lr"] < _DEFAULTS["lr"]
    assert FINE_TUNE_DEFAULTS["batch_size"] < _DEFAULTS["batch_size"]
    assert FINE_TUNE_DEFAULTS["patience"] >= FINE_TUNE_DEFAULTS["epochs"]  # no early stop


def test_other_labels_are_refused(
    frames: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "other"
    shutil.copytree(frames, data)
    csv = data / "labels.csv"
    csv.write_text(csv.read_text().replace("car_present", "car_inside", 1))
    (data / "labels.yaml").unlink()
    out = tmp_path / "m.pte"
    assert _train(data, out, "--init-from", "demo") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "cannot fine-tune garagecam-demo (demo.json): it predicts door_open, car_present" in err
    assert "the dataset has door_open, car_inside" in err
    assert not out.exists()


def test_weights_of_another_architecture_are_refused(
    frames: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = student_demo_path()
    report = json.loads(source.with_suffix(".json").read_text())
    report["student_kwargs"] = {"widths": [8, 16, 32, 64, 128]}  # not the .pt's network
    (tmp_path / "demo.json").write_text(json.dumps(report))
    shutil.copy(source.with_suffix(".pt"), tmp_path / "demo.pt")
    assert _train(frames, tmp_path / "m.pte", "--init-from", str(tmp_path / "demo.pt")) == 1
    assert "does not hold this report's student weights" in capsys.readouterr().err
    assert not (tmp_path / "m.pte").exists()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("model.onnx", "give 'demo' or a model trained by `garagecam train`"),
        ("missing.pt", "no training report missing.json next to it"),
    ],
)
def test_bad_init_from_is_a_one_line_error(
    frames: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: str, message: str
) -> None:
    assert _train(frames, tmp_path / "m.pte", "--init-from", str(tmp_path / spec)) == 1
    err = capsys.readouterr().err
    assert err.startswith("garagecam train: error: ") and err.count("\n") == 1
    assert message in err


def test_zero_epochs_need_a_starting_model(
    frames: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _train(frames, tmp_path / "m.pte", "--epochs", "0") == 1
    assert "epochs must be at least 1, got 0" in capsys.readouterr().err


def test_studio_fine_tunes_the_demo_only_for_its_labels(tmp_path: Path) -> None:
    from garagecam_core.studio.training import TrainingJob, TrainSettings, write_training_data

    demo_labels = {"door_open": 1, "car_present": 0}
    job = TrainingJob("a", tmp_path / "a", TrainSettings(), 1)
    assert job.init_from is None  # nothing written yet: undecided, no flag
    write_training_data(job.data_dir, tmp_path, [("x.jpg", demo_labels)], [])
    assert job.init_from == "demo"
    assert job.command()[job.command().index("--init-from") + 1] == "demo"
    assert "fine-tuning the demo" in job.to_dict()["mode"]

    other = TrainingJob("b", tmp_path / "b", TrainSettings(), 1)
    write_training_data(other.data_dir, tmp_path, [("x.jpg", {"gate_open": 1})], [])
    assert other.init_from is None
    assert "--init-from" not in other.command()
    assert "from scratch" in other.to_dict()["mode"]

    off = TrainingJob("c", tmp_path / "c", TrainSettings.from_dict({"fine_tune": "false"}), 1)
    write_training_data(off.data_dir, tmp_path, [("x.jpg", demo_labels)], [])
    assert "--init-from" not in off.command()
