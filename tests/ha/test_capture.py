"""Keeping frames for labelling: the option, the rules through the integration, failures,
and one dataset folder shared with `save_snapshot` that the studio and training read.

Real parts: Home Assistant's harness, the core's FrameCapture writing real files, the
studio's LabelStore and the training dataset reader on a copy of the folder. The engine is
scripted (the probabilities decide the reasons) and the camera serves real JPEGs.
"""

from __future__ import annotations

import io
import json
import logging
import random
import shutil
import threading
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from PIL import Image
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.garagecam.const import DOMAIN
from garagecam_core.capture import FrameCapture
from garagecam_core.dataset import IMAGES_DIR, MANIFEST, load_dataset
from garagecam_core.studio.store import LabelStore

from .conftest import FakeCamera, ScriptedEngine, make_entry, set_up_entry

pytestmark = pytest.mark.usefixtures("camera_device")

DOOR = "binary_sensor.garage_camera_door_open"
#: confirm_frames 1: each frame decides; door_open's band is 0.2-0.8 instead of the model's
#: 0.4-0.6 (LabelSpec defaults), so 0.7 is "unsure" only with the entry's merged thresholds
LABELS = {
    "door_open": {"on_threshold": 0.8, "off_threshold": 0.2, "confirm_frames": 1},
    "car_present": {"on_threshold": 0.6, "off_threshold": 0.4, "confirm_frames": 1},
}


def noise_jpeg(seed: int, quality: int = 90) -> bytes:
    """A frame no other seed's frame looks like (random pixels: a distinct difference hash)."""
    pixels = random.Random(seed).randbytes(96 * 72)
    out = io.BytesIO()
    Image.frombytes("L", (96, 72), pixels).resize((320, 240)).save(out, "JPEG", quality=quality)
    return out.getvalue()


def dataset(hass: HomeAssistant) -> Path:
    return Path(hass.config.config_dir) / "garagecam" / "dataset" / "garage"


def manifest(hass: HomeAssistant) -> list[dict[str, Any]]:
    path = dataset(hass) / MANIFEST
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def images(hass: HomeAssistant) -> list[Path]:
    return sorted((dataset(hass) / IMAGES_DIR).glob("*.jpg"))


Poll = Callable[..., Awaitable[None]]


@pytest.fixture
def poll(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    fake_camera: FakeCamera,
    scripted_engine: ScriptedEngine,
) -> Poll:
    """The next poll: the camera serves `image`, the model says `door` for door_open."""

    async def next_poll(image: bytes, door: float, seconds: float = 10) -> None:
        fake_camera.content = image
        scripted_engine.probabilities = {"door_open": door, "car_present": 0.1}
        freezer.tick(timedelta(seconds=seconds))
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)

    return next_poll


async def test_off_by_default_and_turned_on_in_the_options(
    hass: HomeAssistant,
    fake_camera: FakeCamera,
    scripted_engine: ScriptedEngine,
) -> None:
    entry = await set_up_entry(hass)
    assert entry.runtime_data.capture is None
    assert not (
        Path(hass.config.config_dir) / "garagecam"
    ).exists()  # nothing of the home is stored

    result = await hass.config_entries.options.async_init(entry.entry_id)
    schema = result["data_schema"]({"scan_interval": 10, "max_age": 60, "mqtt_prefix": "x"})
    assert schema["capture_enabled"] is False  # opt-in
    assert schema["capture_max_frames"] == 2000  # the core's default bound
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            "scan_interval": 10,
            "max_age": 60,
            "mqtt_enabled": False,
            "mqtt_prefix": "garagecam-homekit",
            "capture_enabled": True,
            "capture_max_frames": 50,
        },
    )
    while result["type"] is FlowResultType.FORM:
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {"on_threshold": 0.6, "off_threshold": 0.4, "confirm_frames": 2}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.options["capture_enabled"] is True
    assert entry.options["capture_max_frames"] == 50
    capture = entry.runtime_data.capture
    assert capture is not None and capture.rules.max_frames == 50
    # the frame of the reload's first poll is kept (the first one covers the scene)
    assert [r["reason"] for r in manifest(hass)] == ["background"]
    assert images(hass)[0].read_bytes() == fake_camera.content


async def test_state_changes_and_unsure_frames_are_kept_once(
    hass: HomeAssistant,
    fake_camera: FakeCamera,
    poll: Poll,
) -> None:
    fake_camera.content = noise_jpeg(0)
    entry = await set_up_entry(hass, capture_enabled=True, labels=LABELS)
    assert hass.states.get(DOOR).state == "on"
    await poll(noise_jpeg(1), 0.9)  # nothing new: no change, sure, background done
    await poll(noise_jpeg(2), 0.05)  # door ON -> OFF
    assert hass.states.get(DOOR).state == "off"
    await poll(noise_jpeg(3), 0.7)  # inside the entry's 0.2-0.8 band (not the model's)
    await poll(noise_jpeg(4), 0.7)  # unsure again, but within a minute of the last one
    await poll(noise_jpeg(3, quality=60), 0.7, seconds=61)  # the same picture: a duplicate
    await poll(noise_jpeg(5), 0.7, seconds=61)  # a new unsure picture, a minute later

    records = manifest(hass)
    assert [r["reason"] for r in records] == ["background", "state_change", "unsure", "unsure"]
    assert [p.read_bytes() for p in images(hass)] == [noise_jpeg(s) for s in (0, 2, 3, 5)]
    assert records[1]["states"] == {"door_open": "off", "car_present": "off"}
    assert records[2]["probabilities"] == {"door_open": 0.7, "car_present": 0.1}
    capture = entry.runtime_data.capture
    assert capture is not None and (capture.kept, capture.frames) == (4, 4)


async def test_bounds_keep_the_saved_snapshots_and_one_folder_is_one_dataset(
    hass: HomeAssistant,
    fake_camera: FakeCamera,
    poll: Poll,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    fake_camera.content = noise_jpeg(100)
    entry = await set_up_entry(hass, capture_enabled=True, capture_max_frames=3, labels=LABELS)
    saved = []
    for seed in (101, 102):  # the user saves two frames (the door open, then closed)
        await poll(noise_jpeg(seed), 0.9 - 0.8 * (seed - 101))
        response = await hass.services.async_call(
            DOMAIN, "save_snapshot", {"config_entry_id": entry.entry_id}, blocking=True,
            return_response=True,
        )  # fmt: skip
        saved.append(Path(response["path"]))
    assert [p.parent for p in saved] == [dataset(hass)] * 2
    labels_before = (dataset(hass) / "labels.jsonl").read_text()

    door = 0.1  # closed after the second snapshot
    for seed in range(110, 118):  # eight state changes, eight new pictures
        door = 0.95 - door  # 0.85 (ON), 0.1 (OFF), ...
        await poll(noise_jpeg(seed), door)

    kept = images(hass)
    assert len(kept) == 3  # the bound
    assert [p.read_bytes() for p in kept] == [noise_jpeg(s) for s in (115, 116, 117)]
    assert len(manifest(hass)) == 3
    # the action's files are the user's: never counted, never deleted
    assert [p.read_bytes() for p in saved] == [noise_jpeg(101), noise_jpeg(102)]
    assert (dataset(hass) / "labels.jsonl").read_text() == labels_before

    # The folder, copied, is one dataset: the studio sees both kinds of files, and once the
    # captured frames are labelled there, training reads all of them.
    copy = tmp_path_factory.mktemp("copy") / "garage"
    shutil.copytree(dataset(hass), copy)
    store = LabelStore(copy)
    frames = store.scan()
    assert set(frames) == {p.name for p in saved} | {f"images/{p.name}" for p in kept}
    assert frames[saved[0].name].labels == {"door_open": 1, "car_present": 0}
    assert frames[saved[0].name].by == "file"  # the sensors' states: a suggestion
    captured = frames[f"images/{kept[0].name}"]
    assert captured.capture is not None and captured.capture["reason"] == "state_change"
    names = ["door_open", "car_present"]
    store.set_labels({f"images/{p.name}": {"door_open": 1, "car_present": 1} for p in kept}, names)
    # four more labelled frames reach training's minimum of 8
    for index in range(4):
        (copy / f"extra_{index}.jpg").write_bytes(noise_jpeg(200 + index))
    store.scan()
    store.set_labels(
        {f"extra_{i}.jpg": {"door_open": i % 2, "car_present": 0} for i in range(4)}, names
    )
    data = await hass.async_add_executor_job(load_dataset, copy)
    paths = {sample.path.relative_to(copy).as_posix() for sample in data.samples}
    assert {p.name for p in saved} | {f"images/{p.name}" for p in kept} <= paths


async def test_unwritable_folder_warns_once_and_the_sensors_keep_updating(
    hass: HomeAssistant,
    fake_camera: FakeCamera,
    poll: Poll,
    caplog: pytest.LogCaptureFixture,
) -> None:
    dataset(hass).parent.mkdir(parents=True)
    dataset(hass).write_text("a file where the camera's folder should be")
    fake_camera.content = noise_jpeg(300)
    entry = await set_up_entry(hass, capture_enabled=True, labels=LABELS)

    for seed, door in ((301, 0.05), (302, 0.9), (303, 0.05)):
        await poll(noise_jpeg(seed), door)
        assert hass.states.get(DOOR).state == ("on" if door > 0.5 else "off")
    warnings = [r for r in caplog.records if "cannot keep frames" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"capture_failed_{entry.entry_id}")
    assert issue is not None and issue.translation_key == "capture_failed"
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["directory"] == str(dataset(hass))
    capture = entry.runtime_data.capture
    assert capture is not None and capture.error == issue.translation_placeholders["error"]
    assert issue.translation_placeholders["error"] in ("File exists", "Not a directory")

    # fixed by the user: the next frame worth keeping is written and the issue goes away
    dataset(hass).unlink()
    await poll(noise_jpeg(304), 0.9)
    assert [r["reason"] for r in manifest(hass)] == ["background"]
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"capture_failed_{entry.entry_id}") is None
    assert capture.error is None
    assert "keeping frames for labelling again" in caplog.text

    # fixed while Home Assistant was stopped: the issue of the previous run goes too
    dataset(hass).rename(dataset(hass).with_name("moved"))
    dataset(hass).parent.joinpath("garage").write_text("broken again")
    await poll(noise_jpeg(305), 0.05)
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"capture_failed_{entry.entry_id}")
    await hass.config_entries.async_unload(entry.entry_id)
    dataset(hass).unlink()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"capture_failed_{entry.entry_id}") is None
    assert len(manifest(hass)) == 1


async def test_damaged_manifest_line_is_kept_and_capture_goes_on(
    hass: HomeAssistant,
    fake_camera: FakeCamera,
    scripted_engine: ScriptedEngine,
) -> None:
    """A line the dataset cannot parse (not UTF-8) is kept byte for byte, not fatal."""
    dataset(hass).mkdir(parents=True)
    (dataset(hass) / MANIFEST).write_bytes(b"\xff\xfe not UTF-8\n")
    entry = await set_up_entry(hass, capture_enabled=True)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(DOOR).state != "unavailable"
    capture = entry.runtime_data.capture
    assert capture is not None and capture.error is None and capture.frames == 1
    lines = (dataset(hass) / MANIFEST).read_bytes().splitlines()
    assert lines[0] == b"\xff\xfe not UTF-8" and len(lines) == 2


async def test_manifest_replaced_by_a_link_is_reported_not_followed(
    hass: HomeAssistant,
    fake_camera: FakeCamera,
    scripted_engine: ScriptedEngine,
    tmp_path: Path,
) -> None:
    outside = tmp_path / "outside.jsonl"
    outside.write_bytes(b"precious\n")
    dataset(hass).mkdir(parents=True)
    (dataset(hass) / MANIFEST).symlink_to(outside)
    entry = await set_up_entry(hass, capture_enabled=True)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(DOOR).state != "unavailable"
    capture = entry.runtime_data.capture
    assert capture is not None and capture.error is not None
    assert "symbolic links" in capture.error  # ELOOP's own words
    assert outside.read_bytes() == b"precious\n"
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"capture_failed_{entry.entry_id}")


async def test_diagnostics_and_turning_off(
    hass: HomeAssistant,
    fake_camera: FakeCamera,
    scripted_engine: ScriptedEngine,
    hass_client: ClientSessionGenerator,
) -> None:
    fake_camera.content = noise_jpeg(400)
    threads: list[threading.Thread] = []
    real_offer = FrameCapture.offer

    def offer(self: FrameCapture, *args: Any, **kwargs: Any) -> Path | None:
        threads.append(threading.current_thread())  # where the blocking file I/O runs
        return real_offer(self, *args, **kwargs)

    with patch.object(FrameCapture, "offer", offer):
        entry = await set_up_entry(hass, capture_enabled=True, capture_max_frames=40)
    assert threads and threading.current_thread() not in threads  # not the event loop's
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diagnostics["capture"] == {
        "enabled": True,
        "folder": "garagecam/dataset/garage",  # relative: no home paths
        "frames": 1,
        "bytes": len(noise_jpeg(400)),
        "max_frames": 40,
        "max_bytes": 500_000_000,
        "kept_since_start": 1,
        "skipped_busy": 0,
        "error": None,
    }
    hass.config_entries.async_update_entry(
        entry, options={**entry.options, "capture_enabled": False}
    )
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diagnostics["capture"] == {"enabled": False}
    assert len(images(hass)) == 1  # turning it off deletes nothing


async def test_two_entries_of_one_camera_do_not_share_a_manifest(
    hass: HomeAssistant,
    fake_camera: FakeCamera,
    scripted_engine: ScriptedEngine,
) -> None:
    first = await set_up_entry(hass, capture_enabled=True)
    second = make_entry({"model": "other.pte"}, capture_enabled=True)
    second.add_to_hass(hass)
    assert await hass.config_entries.async_setup(second.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert first.runtime_data.capture is not None and first.runtime_data.capture.error is None
    other = second.runtime_data.capture
    assert other is not None and other.error == f"the folder is used by {first.title}"
    assert len(manifest(hass)) == 1

    # the first one unloads: the folder is free for the second after its reload
    assert await hass.config_entries.async_unload(first.entry_id)
    await hass.config_entries.async_reload(second.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    other = second.runtime_data.capture
    assert other is not None and other.error is None


async def test_removing_the_entry_removes_its_capture_issue(
    hass: HomeAssistant,
    fake_camera: FakeCamera,
    scripted_engine: ScriptedEngine,
) -> None:
    dataset(hass).parent.mkdir(parents=True)
    dataset(hass).write_text("not a folder")
    entry: MockConfigEntry = await set_up_entry(hass, capture_enabled=True)
    issue = f"capture_failed_{entry.entry_id}"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue) is not None
    # still failing after a reload (a restart): the issue stays
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue) is not None
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue) is None


@pytest.mark.parametrize("bound", ["300 frames", 0, -5, 2.5, None, True])
async def test_a_hand_edited_bound_falls_back_to_the_default(
    hass: HomeAssistant,
    fake_camera: FakeCamera,
    scripted_engine: ScriptedEngine,
    caplog: pytest.LogCaptureFixture,
    bound: object,
) -> None:
    entry = await set_up_entry(hass, capture_enabled=True, capture_max_frames=bound)
    capture = entry.runtime_data.capture
    assert capture is not None and capture.rules.max_frames == 2000
    assert f"capture_max_frames {bound!r} is not a whole number" in caplog.text
    assert len(manifest(hass)) == 1  # and it keeps frames
