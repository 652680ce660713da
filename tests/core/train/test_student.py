"""The student network: size, export factory, XNNPACK-only once lowered at 224 px."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import executorch  # noqa: F401
import pytest
import torch

from garagecam_core.cli.train import _DEFAULTS
from garagecam_core.export import export_model, load_factory
from garagecam_core.metadata import ModelMetadata, parse_label_specs
from garagecam_core.train.student import StudentNet, count_parameters
from garagecam_core.train.trainer import TrainOptions


def test_factory_builds_an_eval_mode_logits_network() -> None:
    module = load_factory("garagecam_core.train.student:build")
    assert isinstance(module, StudentNet)
    assert not module.training
    out = module(torch.zeros(1, 3, 224, 224))
    assert out.shape == (1, 2)
    assert 100_000 <= count_parameters(module) <= 2_000_000


@pytest.mark.slow
def test_softmax_student_at_224_has_no_portable_ops(tmp_path: Path) -> None:
    metadata = ModelMetadata(
        name="student-224",
        input_height=224,
        input_width=224,
        labels=parse_label_specs("closed,open,half_open"),
        activation="softmax",
    )
    report = export_model(StudentNet(3).eval(), metadata, tmp_path / "s.pte", progress=False)
    assert report.portable_ops == []
    assert report.delegated_ops == report.total_ops > 0


def test_cli_defaults_match_train_options() -> None:
    options = dataclasses.asdict(TrainOptions())
    assert {key: options[key] for key in _DEFAULTS} == _DEFAULTS
