"""export_model and load_factory: clear ExportErrors, delegation summary, atomic writes."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import executorch  # noqa: F401
import pytest
import torch
from torch import nn

from garagecam_core.bundle import load_program
from garagecam_core.errors import ExportError
from garagecam_core.export import calibration_files, export_model, load_factory
from garagecam_core.metadata import ModelMetadata, parse_label_specs
from tests.conftest import tiny_metadata
from tests.tiny_model import build


class _CumSum(nn.Module):  # type: ignore[misc]
    """8x8 input; cumsum has no XNNPACK kernel, so it stays on portable kernels."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3, padding=1)
        self.dropout = nn.Dropout(0.5)

    def forward(self, x: Any) -> Any:
        return self.dropout(torch.cumsum(self.conv(x).mean(dim=(2, 3)), dim=1))


class _DataDependent(nn.Module):  # type: ignore[misc]
    def forward(self, x: Any) -> Any:
        if x.sum() > 0:
            return x.mean(dim=(2, 3))[:, :2]
        return -x.mean(dim=(2, 3))[:, :2]


def _small_metadata() -> ModelMetadata:
    return ModelMetadata(
        name="small", input_height=8, input_width=8, labels=parse_label_specs("a,b")
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("tests.tiny_model", "must look like 'package.module:factory'"),
        ("no_such_package_xyz.mod:build", "cannot import 'no_such_package_xyz.mod'"),
        ("tests.tiny_model:nope", "has no attribute 'nope'"),
        ("tests.tiny_model:LABELS", "is not callable"),
        ("builtins:dict", "returned dict, not a torch.nn.Module"),
        ("builtins:divmod", r"divmod\(\) failed: TypeError"),
    ],
)
def test_load_factory_errors(spec: str, message: str) -> None:
    with pytest.raises(ExportError, match=message):
        load_factory(spec)


def test_load_factory_builds_the_module() -> None:
    module = load_factory("tests.tiny_model:build")
    assert isinstance(module, nn.Module)
    assert not module.training


def test_wrong_output_shape_is_refused_before_exporting(tmp_path: Path) -> None:
    three = ModelMetadata(
        name="t", input_height=64, input_width=64, labels=parse_label_specs("a,b,c")
    )
    with pytest.raises(ExportError, match=r"one tensor of shape \(1, 3\).*got \(1, 2\)"):
        export_model(build(), three, tmp_path / "m.pte")
    assert not list(tmp_path.iterdir())


def test_int8_needs_calibration_images(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="int8 export needs calibration images"):
        export_model(build(), tiny_metadata(), tmp_path / "m.pte", int8=True)


def test_calibration_files(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="does not exist"):
        calibration_files(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(ExportError, match="no calibration images"):
        calibration_files(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.JPG").write_bytes(b"x")
    (tmp_path / "a.png").write_bytes(b"x")
    assert calibration_files(tmp_path) == [tmp_path / "a.png", tmp_path / "sub" / "b.JPG"]


def test_failed_export_keeps_the_existing_file(tmp_path: Path) -> None:
    out = tmp_path / "model.pte"
    out.write_bytes(b"previous model")
    with pytest.raises(ExportError, match=r"torch\.export cannot trace the model"):
        export_model(_DataDependent(), _small_metadata(), out)
    assert out.read_bytes() == b"previous model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.pte"]  # no temporary left over


@pytest.mark.slow  # exports a model
def test_portable_ops_and_training_mode_are_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    module = _CumSum().train()
    out = tmp_path / "sub" / "model.pte"
    with caplog.at_level(logging.WARNING, logger="garagecam_core.export"):
        report = export_model(module, _small_metadata(), out, progress=False)
    assert not module.training
    assert "switched to eval mode" in caplog.text
    assert "runs on portable kernels: aten_cumsum_default" in caplog.text
    assert "aten_cumsum_default" in report.portable_ops
    assert report.delegated_ops >= 2  # conv and sigmoid at least
    assert report.total_ops == report.delegated_ops + len(report.portable_ops)
    assert report.size_bytes == out.stat().st_size
    assert "portable (slower) kernels: aten_cumsum_default" in report.summary()
    # not fully delegated: exported NCHW (portable kernels may not honour NHWC input memory)
    assert load_program(out).metadata == _small_metadata()
    assert load_program(out).metadata.input_layout == "NCHW"


@pytest.mark.slow  # exports a model
def test_module_that_outputs_probabilities_is_not_activated_twice(tmp_path: Path) -> None:
    wrapped = nn.Sequential(build(), nn.Sigmoid()).eval()
    out = tmp_path / "probs.pte"
    export_model(wrapped, tiny_metadata(), out, outputs="probabilities", progress=False)
    tensor = torch.rand(1, 3, 64, 64)
    expected = wrapped(tensor).detach().numpy()[0]
    assert load_program(out).run(tensor.numpy()) == pytest.approx(expected, abs=1e-5)


@pytest.mark.slow  # exports a model
def test_exported_file_follows_the_umask(tmp_path: Path) -> None:
    # A runner or Home Assistant running as another user must be able to read the model.
    import os

    old = os.umask(0o022)
    try:
        out = tmp_path / "m.pte"
        export_model(build(), tiny_metadata(), out, progress=False)
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o644


def test_the_program_reads_the_callers_input_buffer_in_place(tiny_model_path: Path) -> None:
    # Not planned into the runtime's arena: no 300 KB copy per inference. That the right
    # pixels are read from each new buffer is test_fp32_outputs_match_pytorch_eager's job.
    from executorch.runtime import Runtime

    program = Runtime.get().load_program(tiny_model_path)
    assert not program.metadata("forward").input_tensor_meta(0).is_memory_planned()
