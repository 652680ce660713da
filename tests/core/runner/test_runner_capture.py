"""Capture through a running runner: the demo model on generated garage scenes replayed by a
file camera, frames kept on disk by the real `FrameCapture` (state change, unsure,
background, near-duplicates skipped, bounds), and a capture folder that cannot be written
never stopping the camera. Plus the `capture` and `studio` config keys and `--check`."""

from __future__ import annotations

import functools
import io
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from garagecam_core import demo_model_path
from garagecam_core.engine.local import LocalEngine
from garagecam_core.errors import ConfigError
from garagecam_core.runner.check import check_config
from garagecam_core.runner.config import parse_config
from garagecam_core.scenes import generate_scene
from tests.core.runner.support import eventually, local_engine, running_runner

#: no hysteresis band: a frame is never "unsure", states follow the probabilities at once
SHARP = {
    "door_open": {"on_threshold": 0.5, "off_threshold": 0.5},
    "car_present": {"on_threshold": 0.5, "off_threshold": 0.5},
}


@functools.cache
def sure_scenes() -> dict[str, list[int]]:
    """Generated scenes of seed 5 (320x180) that the demo model gets right with a wide margin,
    by what they show: `empty` (door closed, no car) and `busy` (door open, car). Chosen by the
    scenes' own labels and the demo's answers, so the tests do not hang on which pictures a
    given generator or demo version draws or gets wrong."""
    found: dict[str, list[int]] = {"empty": [], "busy": []}
    with LocalEngine(demo_model_path()) as engine:
        for index in range(200):
            drawn = generate_scene(5, index, sizes=((320, 180),))
            kind = {(False, False): "empty", (True, True): "busy"}.get(
                (drawn.door_open, drawn.car_present)
            )
            if kind is None or len(found[kind]) >= 6:
                continue
            probs = engine.classify(drawn.jpeg).probabilities.values()
            if all(p < 0.2 for p in probs) if kind == "empty" else all(p > 0.8 for p in probs):
                found[kind].append(index)
    assert all(len(v) == 6 for v in found.values()), found
    return found


def scene(index: int, quality: int | None = None) -> bytes:
    """Generated scene `index` of seed 5 (see `sure_scenes`)."""
    jpeg = generate_scene(5, index, sizes=((320, 180),)).jpeg
    if quality is None:
        return jpeg
    out = io.BytesIO()  # the same picture at another JPEG quality: a near-duplicate
    Image.open(io.BytesIO(jpeg)).save(out, format="JPEG", quality=quality)
    return out.getvalue()


def camera(camera_id: str, frames: Path, labels: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": camera_id, "file": str(frames), "interval": 0.05, "confirm_frames": 1,
            "labels": labels, **extra}  # fmt: skip


def manifest(folder: Path) -> list[dict[str, Any]]:
    lines = (folder / "capture.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def images(folder: Path) -> set[str]:
    return {p.name for p in (folder / "images").iterdir()}


async def test_state_changes_and_background_are_kept_once_and_duplicates_skipped(
    tmp_path: Path,
) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    empty, busy = sure_scenes()["empty"], sure_scenes()["busy"]
    (frames / "0.jpg").write_bytes(scene(empty[0]))  # door closed, no car
    (frames / "1.jpg").write_bytes(scene(empty[0], quality=60))  # the same scene again
    (frames / "2.jpg").write_bytes(scene(busy[0]))  # door open, car
    (frames / "3.jpg").write_bytes(scene(busy[1]))  # door open, car (another scene)
    config = parse_config(
        {
            "http": None,
            "capture": {"enabled": True, "directory": "captures"},
            "cameras": [
                camera("garage", frames, SHARP),
                camera("shed", frames, SHARP, capture=False),
            ],
        },
        base_dir=tmp_path,
    )
    async with running_runner(config, engine_factory=local_engine) as runner:
        # three rounds of the four frames: every later state change shows an earlier picture
        assert await eventually(lambda: runner.metrics.frames.value("garage") >= 12)
        assert runner.capture is not None
        await runner.capture.drain()
        folder = tmp_path / "captures" / "garage"
        records = manifest(folder)
        assert [r["reason"] for r in records] == ["background", "state_change"]
        first, change = records
        assert first["states"] == {"door_open": "off", "car_present": "off"}
        assert change["states"] == {"door_open": "on", "car_present": "on"}
        assert change["probabilities"]["door_open"] > 0.5
        assert {Path(r["path"]).name for r in records} == images(folder)
        assert (folder / records[0]["path"]).read_bytes() == scene(empty[0])
        assert runner.metrics.captured.value("garage", "background") == 1
        assert runner.metrics.captured.value("garage", "state_change") == 1
        assert runner.metrics.capture_bytes.value("garage") == sum(r["bytes"] for r in records)
        text = runner.metrics.render()
        assert 'garagecam_captured_frames_total{camera="garage",reason="state_change"} 1' in text
    assert not (tmp_path / "captures" / "shed").exists()  # capture: false for that camera


async def test_unsure_frames_within_bounds_never_delete_labels_or_foreign_files(
    tmp_path: Path,
) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    closed = sure_scenes()["empty"]
    for index in closed[:4]:  # door closed, each somewhere in the wide band below
        (frames / f"{index}.jpg").write_bytes(scene(index))
    folder = tmp_path / "captures" / "garage"
    (folder / "images").mkdir(parents=True)
    (folder / "images" / "mine.jpg").write_bytes(b"the user's own file")
    # a band that holds all four frames' door probabilities, however sure the model is
    with LocalEngine(demo_model_path()) as engine:
        lowest = min(engine.classify(scene(i)).probabilities["door_open"] for i in closed[:4])
    unsure = {
        "door_open": {"on_threshold": 0.9999, "off_threshold": lowest / 2},
        "car_present": {"on_threshold": 1.0, "off_threshold": 1.0},  # always off: no change
    }
    config = parse_config(
        {
            "http": None,
            "capture": {
                "enabled": True,
                "directory": str(tmp_path / "captures"),
                "max_frames": 2,
                "unsure_interval": 0,
            },
            "cameras": [camera("garage", frames, unsure)],
        }
    )
    async with running_runner(config, engine_factory=local_engine) as runner:
        metrics = runner.metrics
        assert await eventually(lambda: metrics.frames.value("garage") >= 12)
        assert runner.capture is not None
        await runner.capture.drain()
        # four different unsure frames kept, two at a time: the oldest two were deleted
        assert metrics.captured.value("garage", "unsure") == 4
        kept = manifest(folder)
        assert [r["reason"] for r in kept] == ["unsure", "unsure"]
        assert images(folder) == {"mine.jpg"} | {Path(r["path"]).name for r in kept}
        assert (folder / "images" / "mine.jpg").read_bytes() == b"the user's own file"

        # Both kept frames labelled: nothing may be deleted, new frames are refused.
        labels = [{"path": r["path"], "labels": {"door_open": 0, "car_present": 0}} for r in kept]
        (folder / "labels.jsonl").write_text("".join(json.dumps(x) + "\n" for x in labels))
        for index in closed[4:6]:
            (frames / f"{index}.jpg").write_bytes(scene(index))
        assert await eventually(lambda: metrics.capture_refused.value("garage", "full") >= 2)
        await runner.capture.drain()
        assert manifest(folder) == kept
        assert all((folder / r["path"]).is_file() for r in kept)
        assert runner.cameras["garage"].failures == 0


async def test_a_folder_that_cannot_be_written_never_stops_the_camera(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    for index in (sure_scenes()["empty"][0], sure_scenes()["busy"][0]):
        (frames / f"{index}.jpg").write_bytes(scene(index))
    blocker = tmp_path / "disk"
    blocker.write_text("a file where the capture folder should be")  # fails even for root
    config = parse_config(
        {
            "http": None,
            "capture": {"enabled": True, "directory": str(blocker / "captures")},
            "cameras": [camera("garage", frames, SHARP)],
        }
    )
    caplog.set_level(logging.INFO, logger="garagecam.runner.capture")
    async with running_runner(config, engine_factory=local_engine) as runner:
        metrics = runner.metrics
        assert await eventually(lambda: metrics.capture_refused.value("garage", "error") >= 5)
        assert runner.cameras["garage"].failures == 0
        assert metrics.frames.value("garage") >= 5
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1, [r.getMessage() for r in warnings]  # once, not per frame
        assert "cannot keep frames" in warnings[0].getMessage()
        assert warnings[0].exc_info is None  # one line

        blocker.unlink()  # the disk is back
        blocker.mkdir()
        assert await eventually(lambda: metrics.captured.value("garage", "state_change") >= 1)
        assert any("kept again" in r.getMessage() for r in caplog.records)
    assert (blocker / "captures" / "garage" / "capture.jsonl").is_file()


def test_capture_is_opt_in_and_strict(tmp_path: Path) -> None:
    frames = {"file": str(tmp_path)}
    config = parse_config({"cameras": [{"id": "garage", **frames}]}, base_dir=tmp_path)
    assert config.capture is None and not config.cameras[0].capture
    # one camera may ask for it alone; the folder defaults to `captures` beside the config
    config = parse_config(
        {"cameras": [{"id": "garage", **frames, "capture": True}, {"id": "shed", **frames}]},
        base_dir=tmp_path,
    )
    assert config.capture is not None and config.capture.directory == tmp_path / "captures"
    assert [c.capture for c in config.cameras] == [True, False]
    rules = config.capture.rules()
    assert (rules.max_frames, rules.max_bytes) == (2000, 500_000_000)
    for bad, message in (
        ({"capture": {"enabled": True, "max_frame": 3}}, "capture.max_frame: unknown key"),
        ({"capture": {"max_bytes": 0}}, "capture.max_bytes"),
        ({"capture": {"background_interval": "soon"}}, "capture.background_interval"),
        ({"cameras": [{"id": "g", **frames, "capture": "yes"}]}, "cameras[0].capture"),
        ({"studio": {"enabled": True, "dataset": "d", "camra": "g"}}, "studio.camra: unknown"),
    ):
        data = {"cameras": [{"id": "g", **frames}], **bad}
        with pytest.raises(ConfigError, match=re.escape(message)) as err:
            parse_config(data, base_dir=tmp_path)
        assert "\n" not in str(err.value)


def test_studio_config_names_its_camera_and_dataset(tmp_path: Path) -> None:
    two = [{"id": "garage", "file": str(tmp_path)}, {"id": "shed", "file": str(tmp_path)}]
    config = parse_config(
        {"cameras": two, "capture": {"enabled": True}, "studio": {"enabled": True,
         "camera": "shed"}}, base_dir=tmp_path,
    )  # fmt: skip
    assert config.studio is not None
    assert (config.studio.camera, config.studio.dataset) == ("shed", tmp_path / "captures/shed")
    assert parse_config({"cameras": two, "studio": {"camera": "shed"}}).studio is None
    for studio, extra, message in (
        ({"enabled": True}, {"capture": {"enabled": True}}, "studio.camera: name the camera"),
        ({"enabled": True, "camera": "gate"}, {}, "studio.camera: unknown camera 'gate'"),
        ({"enabled": True, "camera": "shed"}, {}, "studio.dataset: camera shed does not"),
        ({"enabled": True, "camera": "shed", "dataset": "d"}, {"http": None}, "enable 'http'"),
    ):
        with pytest.raises(ConfigError, match=re.escape(message)):
            parse_config({"cameras": two, "studio": studio, **extra}, base_dir=tmp_path)


def test_check_says_when_the_capture_folder_cannot_be_written(tmp_path: Path) -> None:
    blocker = tmp_path / "disk"
    blocker.write_text("not a folder")
    config = parse_config(
        {
            "http": None,
            "capture": {"enabled": True, "directory": str(blocker / "captures")},
            "cameras": [{"id": "garage", "file": str(tmp_path)}],
        }
    )
    report = check_config(config)
    assert any(p.startswith(f"capture.directory: {blocker} is not a directory") for p in
               report.problems), report.problems  # fmt: skip


def test_check_wants_an_existing_studio_dataset_unless_it_is_a_capture_folder(
    tmp_path: Path,
) -> None:
    cameras = [{"id": "garage", "file": str(tmp_path)}]
    studio = {"enabled": True, "dataset": str(tmp_path / "typo")}
    http = {"port": 0}  # no port to check
    report = check_config(parse_config({"cameras": cameras, "http": http, "studio": studio}))
    assert f"studio.dataset: {tmp_path / 'typo'} does not exist" in report.problems
    captured = {"cameras": cameras, "http": http,
                "capture": {"enabled": True, "directory": str(tmp_path)},
                "studio": {"enabled": True}}  # fmt: skip
    report = check_config(parse_config(captured))
    assert report.problems == []
    assert f"studio.dataset: {tmp_path / 'garage'} is writable" in report.passed
