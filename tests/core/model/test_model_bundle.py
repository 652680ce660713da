"""Loading a .pte bundle: outputs match PyTorch, metadata round-trips, every bad file fails
with its own error type and a message naming the problem."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import executorch  # noqa: F401
import numpy as np
import pytest
import torch
from torch import nn

from garagecam_core import pte_runtimes
from garagecam_core.bundle import load_program, read_metadata
from garagecam_core.errors import (
    CorruptModelError,
    GarageCamError,
    MetadataError,
    ModelNotFoundError,
    ModelShapeError,
    NotAPteError,
    RuntimeMissingError,
)
from garagecam_core.export import lower_to_pte
from garagecam_core.metadata import METADATA_METHOD
from garagecam_core.preprocess import prepare
from garagecam_core.pte_runtimes import thread_count
from tests.conftest import tiny_metadata
from tests.pte_files import corrupt_copy, truncated_copy
from tests.tiny_model import build


def _inputs(count: int = 4) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [rng.standard_normal((1, 3, 64, 64), dtype=np.float32) for _ in range(count)]


@pytest.mark.parametrize("channels_last", [True, False])
def test_fp32_outputs_match_pytorch_eager(
    channels_last: bool, tiny_model_path: Path, tmp_path: Path
) -> None:
    from garagecam_core.export import export_model

    path = tiny_model_path
    if not channels_last:
        path = tmp_path / "nchw.pte"
        export_model(build(), tiny_metadata(), path, progress=False, channels_last=False)
    program = load_program(path)
    assert program.metadata.input_layout == ("NHWC" if channels_last else "NCHW")
    module = build()
    for tensor in _inputs():
        expected = torch.sigmoid(module(torch.from_numpy(tensor))).detach().numpy()[0]
        # Whatever memory layout the caller's array has, the program sees the right pixels.
        nhwc_view = np.ascontiguousarray(tensor.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
        for given in (tensor, nhwc_view):
            np.testing.assert_allclose(program.run(given), expected, atol=1e-5, rtol=0)


def test_metadata_and_labels_round_trip(tiny_model_path: Path) -> None:
    # export records that the program reads NHWC memory (channels_last, the default)
    assert read_metadata(tiny_model_path) == replace(tiny_metadata(), input_layout="NHWC")
    program = load_program(tiny_model_path)
    assert program.metadata.label_names == ("door_open", "car_present")
    assert program.metadata.label("door_open").device_class == "garage_door"
    assert program.input_shape == (1, 3, 64, 64)
    assert program.output_shape == (1, 2)
    probabilities = program.probabilities(_inputs(1)[0])
    assert list(probabilities) == ["door_open", "car_present"]
    assert all(0.0 <= p <= 1.0 for p in probabilities.values())


@pytest.mark.slow  # exports the int8 model
def test_int8_loads_runs_and_stays_close_to_fp32(
    tiny_model_path: Path, tiny_int8_model_path: Path, calibration_dir: Path
) -> None:
    fp32, int8 = load_program(tiny_model_path), load_program(tiny_int8_model_path)
    assert int8.metadata.label_names == fp32.metadata.label_names
    assert tiny_int8_model_path.stat().st_size < tiny_model_path.stat().st_size
    # On frames like those it was calibrated on, int8 stays within 0.05 of fp32 (probability).
    for path in sorted(calibration_dir.glob("*.jpg")):
        tensor = prepare(path.read_bytes(), fp32.metadata).tensor
        np.testing.assert_allclose(int8.run(tensor), fp32.run(tensor), atol=0.05, rtol=0)


def test_threads_are_set_before_loading(tiny_model_path: Path) -> None:
    load_program(tiny_model_path, threads=2)
    assert thread_count() == 2
    load_program(tiny_model_path, threads=1)
    assert thread_count() == 1


def test_run_rejects_a_tensor_of_the_wrong_shape(tiny_model_path: Path) -> None:
    program = load_program(tiny_model_path)
    with pytest.raises(GarageCamError, match=r"shape \(1, 3, 32, 32\) does not match"):
        program.run(np.zeros((1, 3, 32, 32), np.float32))


# --- bad files -----------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"nope\.pte does not exist"):
        load_program(tmp_path / "nope.pte")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="is not a file"):
        load_program(tmp_path)


@pytest.mark.parametrize(
    "content", [b"", b"\x00" * 16, np.random.default_rng(2).bytes(4096), b"PK\x03\x04zip"]
)
def test_not_a_pte(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "model.pte"
    path.write_bytes(content)
    with pytest.raises(NotAPteError, match="is not an ExecuTorch program"):
        load_program(path)
    with pytest.raises(NotAPteError):
        read_metadata(path)


def test_truncated_pte(tiny_model_path: Path, tmp_path: Path) -> None:
    path = truncated_copy(tiny_model_path, tmp_path / "cut.pte", keep=0.6)
    with pytest.raises(CorruptModelError, match="truncated or corrupt"):
        load_program(path)


@pytest.mark.parametrize("where", ["program", "delegate"])
def test_corrupt_pte(tiny_model_path: Path, tmp_path: Path, where: str) -> None:
    # the program's flatbuffer tables, or the XNNPACK graph (flatbuffer id "XN01")
    offset = 40 if where == "program" else tiny_model_path.read_bytes().find(b"XN01") - 4
    assert offset >= 40
    path = corrupt_copy(tiny_model_path, tmp_path / "rot.pte", offset)
    with pytest.raises(CorruptModelError, match="corrupt"):
        load_program(path)


def test_runtime_missing(tiny_model_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pte_runtimes, "_CACHE", {})
    monkeypatch.setitem(sys.modules, "garagecam_runtime", None)
    monkeypatch.setitem(sys.modules, "executorch.runtime", None)
    with pytest.raises(RuntimeMissingError, match=r"garagecam-core\[runtime\]"):
        load_program(tiny_model_path)


def test_unknown_runtime_name(tiny_model_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(pte_runtimes.RUNTIME_ENV, "onnx")
    with pytest.raises(RuntimeMissingError, match="unknown ExecuTorch runtime 'onnx'"):
        load_program(tiny_model_path)


# Programs that are valid ExecuTorch but not valid GarageCam bundles, lowered directly.


class _Head(nn.Module):  # type: ignore[misc]
    """conv + global mean + linear: `outputs` values from a 4-D image input."""

    def __init__(self, outputs: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, outputs)

    def forward(self, x: Any) -> Any:
        return torch.sigmoid(self.fc(self.conv(x).mean(dim=(2, 3))))


def _write(tmp_path: Path, name: str, module: Any, example: Any, methods: Any) -> Path:
    data, _ = lower_to_pte(module.eval(), example, methods)
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("broken")
    good_json = tiny_metadata().to_json()
    image = torch.zeros(1, 3, 64, 64)
    return {
        "no_metadata": _write(tmp, "no_meta.pte", _Head(2), image, None),
        "bad_json": _write(tmp, "bad_json.pte", _Head(2), image, {METADATA_METHOD: "{labels:"}),
        "bad_fields": _write(
            tmp, "bad_fields.pte", _Head(2), image, {METADATA_METHOD: '{"name": "x"}'}
        ),
        "not_a_string": _write(tmp, "int.pte", _Head(2), image, {METADATA_METHOD: 7}),
        "three_outputs": _write(tmp, "three.pte", _Head(3), image, {METADATA_METHOD: good_json}),
        "rank_2_input": _write(
            tmp, "rank2.pte", nn.Linear(64, 2), torch.zeros(1, 64), {METADATA_METHOD: good_json}
        ),
        "wrong_size": _write(
            tmp, "size.pte", _Head(2), torch.zeros(1, 3, 32, 32), {METADATA_METHOD: good_json}
        ),
    }


@pytest.mark.slow  # exports five broken programs
@pytest.mark.parametrize(
    ("case", "error", "message"),
    [
        ("no_metadata", MetadataError, f"has no GarageCam metadata \\(no '{METADATA_METHOD}'"),
        ("bad_json", MetadataError, "metadata is not valid JSON"),
        ("bad_fields", MetadataError, "missing required keys: \\['input_height'"),
        ("not_a_string", MetadataError, "must return one JSON string, got \\['int'\\]"),
        ("three_outputs", ModelShapeError, r"outputs shape \(1, 3\) but the metadata lists 2"),
        ("rank_2_input", ModelShapeError, r"input has rank 2 \(shape \(1, 64\)\), expected rank 4"),
        ("wrong_size", ModelShapeError, r"input shape \(1, 3, 32, 32\) does not match"),
    ],
)
def test_invalid_bundle(
    broken: dict[str, Path], case: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message) as info:
        load_program(broken[case])
    assert broken[case].name in str(info.value)  # the message names the file
