"""Bad, cut, tampered or mismatched .gcam files are refused with one line naming the file."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from garagecam_core.bundle import load_program, read_metadata
from garagecam_core.engine.worker import WorkerEngine
from garagecam_core.errors import HeadFileError, MetadataError, ModelError
from garagecam_core.heads import HeadTrainResult
from garagecam_core.heads.trunk import SHIPPED_TRUNK


def _edit(
    trained: HeadTrainResult, tmp_path: Path, change: Callable[[dict[str, Any]], None]
) -> Path:
    data = json.loads(trained.path.read_text())
    change(data)
    out = tmp_path / "edited.gcam"
    out.write_text(json.dumps(data))
    return out


def _nan_weights(data: dict[str, Any]) -> None:
    weights = data["head"]["weights"]
    values = np.frombuffer(base64.b64decode(weights["f32"]), dtype="<f4").copy()
    values[3] = np.nan
    weights["f32"] = base64.b64encode(values.tobytes()).decode()


CASES: dict[str, Callable[[dict[str, Any]], None]] = {
    "other trunk": lambda d: d["trunk"].update(sha256="0" * 64),
    "NaN weight": _nan_weights,
    "wrong shape": lambda d: d["head"]["weights"].update(shape=[3, 1280]),
    "format from the future": lambda d: d.update(format_version=99),
    "bad threshold": lambda d: d["metadata"]["labels"][0].update(off_threshold=0.9),
    "negative familiarity": lambda d: d["familiarity"].update(threshold=-1),
    "softmax": lambda d: d["metadata"].update(activation="softmax"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_tampered_model_is_refused_in_one_line(
    trained: HeadTrainResult, tmp_path: Path, case: str
) -> None:
    path = _edit(trained, tmp_path, CASES[case])
    with pytest.raises(HeadFileError) as caught:
        load_program(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message


def test_cut_off_file_is_refused(trained: HeadTrainResult, tmp_path: Path) -> None:
    cut = tmp_path / "cut.gcam"
    cut.write_bytes(trained.path.read_bytes()[:500])
    with pytest.raises(HeadFileError, match="not valid JSON"):
        read_metadata(cut)


def test_worker_refuses_a_bad_model_before_serving(
    trained: HeadTrainResult, tmp_path: Path
) -> None:
    path = _edit(trained, tmp_path, CASES["other trunk"])
    with pytest.raises(ModelError, match="does not ship"):
        WorkerEngine(path)


def test_the_trunk_itself_is_not_a_model() -> None:
    with pytest.raises(MetadataError, match="train a head on it"):
        load_program(SHIPPED_TRUNK)


def test_a_pte_named_gcam_still_loads_as_what_it_is(tmp_path: Path, tiny_model_path: Path) -> None:
    renamed = tmp_path / "tiny.gcam"
    renamed.write_bytes(tiny_model_path.read_bytes())
    assert read_metadata(renamed).name == read_metadata(tiny_model_path).name


def test_deeply_nested_json_is_one_line(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.gcam"
    bomb.write_bytes(
        b'{"garagecam": "garagecam-head", "x": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    )
    with pytest.raises(HeadFileError, match="nested too deeply"):
        read_metadata(bomb)


def test_a_pretty_printed_model_is_still_a_model(trained: HeadTrainResult, tmp_path: Path) -> None:
    pretty = tmp_path / "pretty.gcam"
    pretty.write_text(json.dumps(json.loads(trained.path.read_text()), indent=2))
    assert read_metadata(pretty) == read_metadata(trained.path)


def test_an_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    big = tmp_path / "big.gcam"
    with big.open("wb") as handle:
        handle.write(b'{"garagecam": "garagecam-head", "pad": "')
        handle.truncate(40 * 1024 * 1024)
    with pytest.raises(HeadFileError, match="larger than any"):
        read_metadata(big)
