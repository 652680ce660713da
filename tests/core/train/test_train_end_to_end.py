"""`garagecam train` end to end on a few dozen tiny generated scenes.

Asserts that the pipeline works and that the exported `.pte`, fed the validation images
through the real inference path (LocalEngine: bytes -> decode -> to_tensor -> ExecuTorch),
reproduces the trained model's validation probabilities and metrics. It does not assert
accuracy: two epochs on 32 images learn little. Smoke-test-sized runs (fewer than 10 steps,
as in the single-label test) use a constant learning rate instead of one-cycle.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import executorch  # noqa: F401
import numpy as np
import pytest
import torch

from garagecam_core.bundle import read_metadata
from garagecam_core.cli import main
from garagecam_core.engine.local import LocalEngine
from garagecam_core.errors import ConfigError, DatasetError
from garagecam_core.scenes import write_dataset
from garagecam_core.train.metrics import binary_metrics
from garagecam_core.train.trainer import TrainOptions, train

pytestmark = pytest.mark.slow
TINY = {"epochs": 2, "input_size": 40, "batch_size": 8, "threads": 1, "progress": False}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("train")
    data = root / "scenes"
    write_dataset(data, seed=21, count=40, sizes=((192, 108),))
    # 32 training images in batches of 4 for 2 epochs: 16 steps, enough for one-cycle LR
    out = root / "model.pte"
    code = main(["train", "--data", str(data), "--out", str(out), "--epochs", "2",
                 "--input-size", "40", "--batch-size", "4", "--threads", "1",
                 "--name", "tiny-student", "--no-progress"])  # fmt: skip
    assert code == 0
    return data, json.loads(out.with_suffix(".json").read_text())


def test_outputs_next_to_the_model(trained: tuple[Path, dict[str, Any]]) -> None:
    data, report = trained
    out = data.parent / "model.pte"
    assert out.stat().st_size == report["export"]["size_bytes"]
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report["epochs_run"] == len(report["history"]) == 2
    assert report["dataset"]["train"] + report["dataset"]["validation"] == 40
    assert 100_000 <= report["parameters"] <= 2_000_000


def test_student_lowers_entirely_to_xnnpack(trained: tuple[Path, dict[str, Any]]) -> None:
    export = trained[1]["export"]
    assert export["portable_ops"] == []
    assert export["delegated_ops"] == export["total_ops"] > 0


def test_metadata_carries_labels_and_suggested_thresholds(
    trained: tuple[Path, dict[str, Any]],
) -> None:
    data, report = trained
    metadata = read_metadata(data.parent / "model.pte")
    assert metadata.name == "tiny-student"
    assert (metadata.input_height, metadata.input_width) == (40, 40)
    assert metadata.activation == "sigmoid"
    assert [(label.name, label.device_class) for label in metadata.labels] == [
        ("door_open", "garage_door"),
        ("car_present", "occupancy"),
    ]
    for label in metadata.labels:
        suggested = report["suggested_thresholds"][label.name]
        assert (label.on_threshold, label.off_threshold) == (suggested["on"], suggested["off"])
        assert label.off_threshold == pytest.approx(max(0.01, label.on_threshold - 0.2))


def test_pte_reproduces_validation_metrics(trained: tuple[Path, dict[str, Any]]) -> None:
    data, report = trained
    samples = report["validation_samples"]
    assert len(samples) == report["dataset"]["validation"]
    with LocalEngine(data.parent / "model.pte") as engine:
        pte = np.array(
            [
                [engine.classify((data / s["path"]).read_bytes()).probabilities[name]
                 for name in ("door_open", "car_present")]
                for s in samples
            ]
        )  # fmt: skip
    eager = np.array([s["probabilities"] for s in samples])
    targets = np.array([s["targets"] for s in samples])
    assert np.max(np.abs(pte - eager)) < 1e-4
    assert report["pte_max_abs_diff"] < 1e-4
    for i, label in enumerate(report["metadata"]["labels"]):
        expected = report["validation_metrics"]["at_on_threshold"][label["name"]]
        got = binary_metrics(pte[:, i], targets[:, i], label["on_threshold"])
        assert got.accuracy == pytest.approx(expected["accuracy"], abs=1e-3)
        assert got.f1 == pytest.approx(expected["f1"], abs=1e-3)
        assert report["pte_validation_metrics"]["at_on_threshold"][label["name"]] == expected


def test_saved_weights_rebuild_the_exported_network(
    trained: tuple[Path, dict[str, Any]],
) -> None:

    from garagecam_core.bundle import load_program
    from garagecam_core.train.student import StudentNet

    data, report = trained
    out = data.parent / "model.pte"
    assert report["state_dict"] == "model.pt"
    assert report["student_kwargs"] == {"widths": [16, 32, 64, 128, 256]}
    net = StudentNet(2, **report["student_kwargs"])
    net.load_state_dict(torch.load(out.with_name(report["state_dict"]), weights_only=True))
    x = np.random.default_rng(0).standard_normal((1, 3, 40, 40)).astype(np.float32)
    with torch.no_grad():
        eager = torch.sigmoid(net.eval()(torch.from_numpy(x))).numpy()[0]
    assert np.max(np.abs(load_program(out).run(x) - eager)) < 1e-4


def test_export_from_training_rebuilds_the_same_program(
    trained: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    from garagecam_core.bundle import load_program

    data, _ = trained
    out = tmp_path / "again.pte"
    argv = ["export", "--from-training", str(data.parent / "model.json"), "--out", str(out)]
    assert main([*argv, "--model-version", "2", "--no-progress"]) == 0
    first, again = load_program(data.parent / "model.pte"), load_program(out)
    assert again.metadata == replace(first.metadata, version="2")
    for seed in (0, 1):
        x = np.random.default_rng(seed).standard_normal((1, 3, 40, 40)).astype(np.float32)
        np.testing.assert_array_equal(again.run(x), first.run(x))


def test_export_from_training_refuses_model_flags(
    trained: tuple[Path, dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, _ = trained
    argv = ["export", "--from-training", str(data.parent / "model.json")]
    argv += ["--out", str(tmp_path / "m.pte"), "--input-size", "64", "--mean", "0.5,0.5,0.5"]
    assert main(argv) == 1
    assert "takes the model and its metadata from the report; drop --input-size, --mean" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("report", "message"),
    [
        ("not json", "is not a training report (not JSON"),
        ('{"model": "x.pte"}', "is not a `garagecam train` report (no 'state_dict' entry)"),
        (None, "names the weights model.pt, which are not next to it"),
    ],
)
def test_export_from_training_errors(
    trained: tuple[Path, dict[str, Any]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    report: str | None,
    message: str,
) -> None:
    data, _ = trained
    path = tmp_path / "model.json"  # a real report (None) whose .pt was not copied along
    path.write_text(report or (data.parent / "model.json").read_text())
    assert main(["export", "--from-training", str(path), "--out", str(tmp_path / "m.pte")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("garagecam export: error: ")
    assert message in err
    assert not (tmp_path / "m.pte").exists()


def test_single_label_folders_train_a_softmax_model(tmp_path: Path) -> None:
    from garagecam_core.scenes import generate_scene

    for index in range(12):  # two classes by folder: closed and open doors
        door_open = index % 2 == 1
        scene = generate_scene(31, index, sizes=((160, 90),), door_open=door_open)
        folder = tmp_path / "data" / ("open" if door_open else "closed")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{index}.jpg").write_bytes(scene.jpeg)
    out = tmp_path / "doors.pte"
    options = TrainOptions(**{**TINY, "epochs": 1, "input_size": 32}, val_fraction=0.35)
    result = train(tmp_path / "data", out, options)
    metadata = read_metadata(out)
    assert metadata.activation == "softmax"
    assert metadata.label_names == ("closed", "open")
    assert "top1_accuracy" in result.report["pte_validation_metrics"]
    with LocalEngine(out) as engine:
        probabilities = engine.classify((tmp_path / "data/open/1.jpg").read_bytes()).probabilities
    assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-5)


def test_bad_dataset_fails_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "labels.csv").write_text("path,door_open\nmissing.jpg,1\n")
    code = main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "m.pte")])
    assert code == 1
    err = capsys.readouterr().err
    assert "missing.jpg: file not found" in err
    assert "training needs at least 6" in err  # a head's minimum (heads.train.MIN_FRAMES)
    assert not (tmp_path / "m.pte").exists()
    with pytest.raises(DatasetError):
        train(tmp_path, tmp_path / "m.pte", TrainOptions(**TINY))


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"epochs": 0}, "epochs"), ({"input_size": 8}, "input size"), ({"batch_size": 1}, "batch")],
)
def test_bad_options(tmp_path: Path, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        train(tmp_path, tmp_path / "m.pte", TrainOptions(**{**TINY, **changes}))


def test_output_must_be_a_pte(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\.pte"):
        train(tmp_path, tmp_path / "model.onnx", TrainOptions(**TINY))
