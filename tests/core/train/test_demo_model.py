"""The models shipped in the package: the default head model (demo.gcam) and the student
network (demo.pte), both trained on generated scenes. Each loads, has the expected labels and
classifies freshly generated scenes (seeds never used for training) well above chance; the
head model also says "unknown" on frames unlike its training frames.

The floor is 85 % per label, below the 90.0 % (door_open) and 92.7 % (car_present) measured
on these 150 frames for demo version 2. Version 1 passed 97 % on the narrower generator of
its time; the widened generator (camera poses, lenses, door types, dusk, lamp and IR light,
rain, people) is harder for the same small network: the figures in and out of its family and
the fine-tuning curve are in docs/demo-model.md. This test guards against a broken, swapped
or mis-exported model; it is not the quality claim."""

from __future__ import annotations

import json

import executorch  # noqa: F401
import pytest
import torch

from garagecam_core import demo_model_path, student_demo_path
from garagecam_core.engine.local import LocalEngine
from garagecam_core.scenes import iter_scenes

TRAINING_SEED = 1000  # scripts/make_demo_model.sh
FRESH_SEEDS = (20_251_121, 77)
SCENES_PER_SEED = 75
MIN_ACCURACY = 0.85


def test_demo_model_ships_with_expected_labels() -> None:
    path = student_demo_path()
    assert path.stat().st_size < 5_000_000
    with LocalEngine(path) as engine:
        metadata = engine.metadata
    assert metadata.name == "garagecam-demo"
    assert metadata.activation == "sigmoid"
    assert [(label.name, label.device_class) for label in metadata.labels] == [
        ("door_open", "garage_door"),
        ("car_present", "occupancy"),
    ]
    for label in metadata.labels:
        assert 0.0 < label.off_threshold < label.on_threshold < 1.0
    report = json.loads(path.with_name("demo.json").read_text())
    assert report["metadata"] == metadata.to_dict()
    assert report["export"]["portable_ops"] == []


def test_demo_model_ships_its_pytorch_weights() -> None:
    """`garagecam bench` rebuilds the demo network from demo.pt: it must be the .pte's."""
    import numpy as np

    from garagecam_core.bundle import load_program
    from garagecam_core.train.student import StudentNet

    path = student_demo_path()
    report = json.loads(path.with_name("demo.json").read_text())
    weights = path.with_name(report["state_dict"])
    assert weights.stat().st_size < 1_000_000
    net = StudentNet(2, **report["student_kwargs"])
    net.load_state_dict(torch.load(weights, weights_only=True))
    x = np.random.default_rng(0).standard_normal((1, 3, 160, 160)).astype(np.float32)
    with torch.no_grad():
        eager = torch.sigmoid(net.eval()(torch.from_numpy(x))).numpy()[0]
    assert np.max(np.abs(load_program(path).run(x) - eager)) < 1e-4


def test_default_model_is_a_head_with_the_demo_labels() -> None:
    path = demo_model_path()
    assert path.suffix == ".gcam" and path.stat().st_size < 5_000_000
    with LocalEngine(path) as engine:
        metadata = engine.metadata
    assert metadata.name == "garagecam-demo" and metadata.autocontrast
    assert [(label.name, label.device_class) for label in metadata.labels] == [
        ("door_open", "garage_door"),
        ("car_present", "occupancy"),
    ]


def test_default_model_does_not_know_frames_unlike_its_training() -> None:
    import numpy as np
    from PIL import Image

    from tests.images import encode

    noise = Image.fromarray(np.random.default_rng(1).integers(0, 256, (480, 640, 3), np.uint8))
    with LocalEngine(demo_model_path()) as engine:
        assert engine.classify(encode(noise)).unfamiliar


@pytest.mark.slow
@pytest.mark.parametrize("which", ["head", "student"])
def test_demo_model_accuracy_on_fresh_scenes(which: str) -> None:
    assert TRAINING_SEED not in FRESH_SEEDS
    correct = {"door_open": 0, "car_present": 0}
    total = unfamiliar = 0
    model = demo_model_path() if which == "head" else student_demo_path()
    with LocalEngine(model) as engine:
        thresholds = {label.name: label.on_threshold for label in engine.metadata.labels}
        for seed in FRESH_SEEDS:
            for scene in iter_scenes(seed, SCENES_PER_SEED):
                result = engine.classify(scene.jpeg)
                probabilities = result.probabilities
                unfamiliar += result.unfamiliar
                total += 1
                for name, truth in scene.labels.items():
                    correct[name] += (probabilities[name] >= thresholds[name]) == bool(truth)
    accuracy = {name: count / total for name, count in correct.items()}
    assert min(accuracy.values()) >= MIN_ACCURACY, accuracy
    # the generated scenes are the head's own family: almost none may be called unfamiliar
    assert unfamiliar <= 0.05 * total, unfamiliar
