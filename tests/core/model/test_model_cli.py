"""`garagecam export`, `model info` and `infer` through `garagecam_core.cli.main`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import executorch  # noqa: F401
import pytest

from garagecam_core.cli import main
from tests.conftest import TINY_LABELS
from tests.images import scene_jpeg, truncated


@pytest.fixture(autouse=True)
def _keep_pytest_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    # main() reconfigures the root logger (force=True), which would drop pytest's handlers.
    monkeypatch.setattr("garagecam_core.cli.setup_logging", lambda verbose=0: None)


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "closed": tmp_path / "closed.jpg",
        "open": tmp_path / "open.jpg",
        "cut": tmp_path / "cut.jpg",
    }
    paths["closed"].write_bytes(scene_jpeg(320, 180, door_open=False))
    paths["open"].write_bytes(scene_jpeg(320, 180, door_open=True))
    paths["cut"].write_bytes(truncated(scene_jpeg(320, 180), 0.5))
    return paths


@pytest.mark.slow  # exports int8
def test_export_int8_with_every_option_then_model_info(
    tmp_path: Path,
    calibration_dir: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    calibration = tmp_path / "calibration"
    shutil.copytree(calibration_dir, calibration)
    (calibration / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut")
    out = tmp_path / "models" / "cli.pte"
    argv = [
        "export", "--module", "tests.tiny_model:build", "--labels", TINY_LABELS,
        "--input-size", "48x64", "--out", str(out), "--int8", "--calibration", str(calibration),
        "--name", "cli_model", "--model-version", "2.1", "--resize-mode", "letterbox",
        "--channel-order", "BGR", "--mean", "0.5,0.5,0.5", "--std", "0.25,0.25,0.25",
        "--nchw", "--no-progress",
    ]  # fmt: skip
    assert main(argv) == 0
    summary = capsys.readouterr().out
    assert f"wrote {out}" in summary
    assert "int8" in summary
    assert "calibrated on 8 image(s)" in summary  # the broken one is skipped with a warning
    assert "XNNPACK delegated" in summary
    assert "skipping calibration image" in caplog.text
    assert "broken.jpg" in caplog.text

    assert main(["model", "info", str(out)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["file"] == str(out)
    assert info["size_bytes"] == out.stat().st_size
    assert info["input_shape"] == [1, 3, 48, 64]
    assert info["output_shape"] == [1, 2]
    meta = info["metadata"]
    assert (meta["name"], meta["version"]) == ("cli_model", "2.1")
    assert (meta["input_height"], meta["input_width"]) == (48, 64)
    assert (meta["resize_mode"], meta["channel_order"]) == ("letterbox", "BGR")
    assert meta["input_layout"] == "NCHW"  # --nchw
    assert meta["mean"] == [0.5, 0.5, 0.5]
    assert meta["std"] == [0.25, 0.25, 0.25]
    assert [(lb["name"], lb["device_class"]) for lb in meta["labels"]] == [
        ("door_open", "garage_door"),
        ("car_present", "occupancy"),
    ]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--input-size", "64x"], "--input-size must be N or HxW"),
        (["--input-size", "64", "--int8"], "--int8 needs --calibration DIR"),
        (["--input-size", "64", "--labels", "Door Open"], "is not a valid name"),
        (["--input-size", "64", "--mean", "0.5,0.5"], "--mean must be three"),
        (["--input-size", "64", "--module", "tests.tiny_model"], "must look like"),
    ],
)
def test_export_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    argv = ["export", "--module", "tests.tiny_model:build", "--labels", TINY_LABELS]
    argv += ["--out", str(tmp_path / "m.pte"), *extra]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("garagecam export: error: ")
    assert message in err
    assert not (tmp_path / "m.pte").exists()


def test_model_info_on_a_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.pte"
    junk.write_text("hello")
    assert main(["model", "info", str(junk)]) == 1
    assert "is not an ExecuTorch program" in capsys.readouterr().err


def _lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


def test_infer_prints_one_json_line_per_image_and_fails_on_bad_ones(
    tiny_model_path: Path, images: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    missing = images["closed"].with_name("missing.jpg")
    argv = ["infer", "--model", str(tiny_model_path), "--threads", "1"]
    argv += [str(images["closed"]), str(images["cut"]), str(missing), str(images["open"])]
    assert main(argv) == 1
    closed, cut, gone, opened = _lines(capsys.readouterr().out)
    assert closed["file"] == str(images["closed"])
    assert set(closed["probabilities"]) == {"door_open", "car_present"}  # type: ignore[arg-type]
    assert set(closed["timings"]) == {  # type: ignore[arg-type]
        "decode_ms", "preprocess_ms", "inference_ms", "total_ms",
    }  # fmt: skip
    assert closed["image_size"] == [320, 180]
    assert cut["error"] == "TruncatedImageError"
    assert "truncated" in str(cut["message"])
    assert gone["error"] == "FileError"
    assert "missing.jpg" in str(gone["message"])
    assert opened["probabilities"] != closed["probabilities"]


def test_infer_roi_and_worker_match_in_process(
    tiny_model_path: Path, images: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["infer", "--model", str(tiny_model_path), "--roi", "0.25,0.3,0.5,0.5"]
    argv += [str(images["closed"]), str(images["open"])]
    assert main(argv) == 0
    local = _lines(capsys.readouterr().out)
    assert main([*argv[:1], "--worker", *argv[1:]]) == 0
    worker = _lines(capsys.readouterr().out)
    assert [line["probabilities"] for line in worker] == [line["probabilities"] for line in local]
    assert main(["infer", "--model", str(tiny_model_path), str(images["closed"])]) == 0
    whole = _lines(capsys.readouterr().out)
    assert whole[0]["probabilities"] != local[0]["probabilities"]


def test_infer_with_a_missing_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["infer", "--model", str(tmp_path / "x.pte"), str(tmp_path / "a.jpg")]) == 1
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--labels", TINY_LABELS], "export needs --module, --input-size (or --from-training"),
        (["--module", "tests.tiny_model:build", "--input-size", "64"], "export needs --labels"),
    ],
)
def test_export_without_a_model_says_what_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["export", *argv, "--out", str(tmp_path / "m.pte")]) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "m.pte").exists()
