"""Labelled frames from automations, and learning from them (the errors before any training)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.garagecam.const import DOMAIN
from garagecam_core.heads.train import MIN_FRAMES
from tests.images import BLUE, RED, make_jpeg

from .conftest import FakeCamera, ScriptedEngine, set_up_entry

pytestmark = pytest.mark.usefixtures("fake_camera", "camera_device")

BUTTON = "button.garage_camera_learn_from_labelled_frames"


async def _poll(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    freezer.tick(timedelta(seconds=10))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


async def _save(hass: HomeAssistant, entry: MockConfigEntry, **data: Any) -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN,
        "save_snapshot",
        {"config_entry_id": entry.entry_id, **data},
        blocking=True,
        return_response=True,
    )
    assert isinstance(response, dict)
    return response


def _lines(directory: Path) -> list[dict[str, Any]]:
    text = (directory / "labels.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


async def test_save_snapshot_takes_labels_from_an_automation(
    hass: HomeAssistant,
    scripted_engine: ScriptedEngine,
    freezer: FrozenDateTimeFactory,
    config_dir: Path,
) -> None:
    entry = await set_up_entry(hass)
    await _poll(hass, freezer)  # the sensors say: door open, no car
    # the door opener says closed (a template renders `false`); the car is left to the sensor
    response = await _save(hass, entry, labels={"door_open": "false"})
    assert response["labels"] == {"door_open": 0, "car_present": 0}
    path = Path(response["path"])
    lines = await hass.async_add_executor_job(_lines, path.parent)
    assert lines == [
        {"path": path.name, "labels": {"door_open": 0, "car_present": 0}, "by": "action"}
    ]

    # the same frame labelled again: its one line is replaced, nothing appended
    await _save(hass, entry, labels={"door_open": True, "car_present": True})
    lines = await hass.async_add_executor_job(_lines, path.parent)
    assert lines == [
        {"path": path.name, "labels": {"door_open": 1, "car_present": 1}, "by": "action"}
    ]


async def test_save_snapshot_without_labels_keeps_the_states_as_suggestions(
    hass: HomeAssistant, scripted_engine: ScriptedEngine, freezer: FrozenDateTimeFactory
) -> None:
    entry = await set_up_entry(hass)
    await _poll(hass, freezer)
    response = await _save(hass, entry)
    assert response["labels"] == {"door_open": 1, "car_present": 0}
    lines = await hass.async_add_executor_job(_lines, Path(response["path"]).parent)
    assert "by" not in lines[0]  # the sensors' states, not labels


async def test_save_snapshot_refuses_a_label_the_model_does_not_have(
    hass: HomeAssistant,
    scripted_engine: ScriptedEngine,
    freezer: FrozenDateTimeFactory,
    config_dir: Path,
) -> None:
    entry = await set_up_entry(hass)
    await _poll(hass, freezer)
    with pytest.raises(ServiceValidationError) as raised:
        await _save(hass, entry, labels={"gate_open": True, "door_open": True})
    assert raised.value.translation_key == "unknown_labels"
    assert raised.value.translation_placeholders == {
        "title": entry.title,
        "labels": "gate_open",
        "known": "door_open, car_present",
    }
    assert not (config_dir / "garagecam").exists()  # nothing written


async def test_save_snapshot_refuses_a_label_value_that_is_not_true_or_false(
    hass: HomeAssistant, scripted_engine: ScriptedEngine, freezer: FrozenDateTimeFactory
) -> None:
    import voluptuous as vol

    entry = await set_up_entry(hass)
    await _poll(hass, freezer)
    with pytest.raises(vol.Invalid, match="boolean"):
        await _save(hass, entry, labels={"door_open": "half"})


async def _label_frames(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    fake_camera: FakeCamera,
    freezer: FrozenDateTimeFactory,
    doors: list[bool],
) -> None:
    """One new frame per value, saved with that door_open label."""
    for index, door in enumerate(doors):
        fake_camera.content = make_jpeg(320, 240, RED if door else BLUE, quality=60 + index)
        await _poll(hass, freezer)
        await _save(hass, entry, labels={"door_open": door, "car_present": index % 2 == 0})


async def _train(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN,
        "train_model",
        {"config_entry_id": entry.entry_id},
        blocking=True,
        return_response=True,
    )
    assert isinstance(response, dict)
    return response


async def test_learning_needs_enough_labelled_frames(
    hass: HomeAssistant,
    scripted_engine: ScriptedEngine,
    fake_camera: FakeCamera,
    freezer: FrozenDateTimeFactory,
) -> None:
    entry = await set_up_entry(hass)
    await _label_frames(hass, entry, fake_camera, freezer, [True, False, True])
    for quality in range(30, 40):  # frames saved with the sensors' states do not count
        fake_camera.content = make_jpeg(320, 240, quality=quality)
        await _poll(hass, freezer)
        await _save(hass, entry)
    with pytest.raises(ServiceValidationError) as raised:
        await _train(hass, entry)
    assert raised.value.translation_key == "not_enough_frames"
    assert raised.value.translation_placeholders is not None
    assert raised.value.translation_placeholders["frames"] == "3"
    assert raised.value.translation_placeholders["needed"] == str(MIN_FRAMES)
    assert entry.data["model"] == "demo"  # unchanged


async def test_learning_leaves_out_a_labelled_frame_replaced_by_a_link(
    hass: HomeAssistant,
    scripted_engine: ScriptedEngine,
    fake_camera: FakeCamera,
    freezer: FrozenDateTimeFactory,
    tmp_path: Path,
) -> None:
    """The labelled frames are the dataset folder's regular files: a link in a frame's place
    (to anything outside the folder) is not trained on."""
    entry = await set_up_entry(hass)
    await _label_frames(hass, entry, fake_camera, freezer, [True, False, True])
    outside = tmp_path / "not-a-frame.jpg"

    def swap() -> None:
        outside.write_bytes(make_jpeg(320, 240, RED))
        first = sorted((Path(hass.config.path("garagecam/dataset/garage"))).glob("*.jpg"))[0]
        first.unlink()
        first.symlink_to(outside)

    await hass.async_add_executor_job(swap)
    with pytest.raises(ServiceValidationError) as raised:
        await _train(hass, entry)
    assert raised.value.translation_key == "not_enough_frames"
    assert raised.value.translation_placeholders is not None
    assert raised.value.translation_placeholders["frames"] == "2"


async def test_learning_needs_both_states_of_every_label(
    hass: HomeAssistant,
    scripted_engine: ScriptedEngine,
    fake_camera: FakeCamera,
    freezer: FrozenDateTimeFactory,
) -> None:
    entry = await set_up_entry(hass)
    await _label_frames(hass, entry, fake_camera, freezer, [True] * (MIN_FRAMES + 1))
    with pytest.raises(ServiceValidationError) as raised:
        await _train(hass, entry)
    assert raised.value.translation_key == "label_one_state"
    assert raised.value.translation_placeholders == {
        "title": entry.title,
        "label": "door_open",
        "state": "on",
        "other": "off",
    }


async def test_remote_entries_learn_on_the_runner(
    hass: HomeAssistant, scripted_engine: ScriptedEngine
) -> None:
    entry = await set_up_entry(
        hass, {"mode": "remote", "url": "http://runner.local:8087", "model": "tiny"}
    )
    with pytest.raises(ServiceValidationError) as raised:
        await _train(hass, entry)
    assert raised.value.translation_key == "training_remote"
    registry = er.async_get(hass)
    buttons = [
        e
        for e in er.async_entries_for_config_entry(registry, entry.entry_id)
        if e.domain == "button"
    ]
    assert buttons == []  # no button that could only fail


async def test_the_button_is_on_the_camera_device_and_reports_errors(
    hass: HomeAssistant, scripted_engine: ScriptedEngine, camera_device: Any
) -> None:
    from homeassistant.exceptions import HomeAssistantError

    await set_up_entry(hass)
    entity = er.async_get(hass).async_get(BUTTON)
    assert entity is not None and entity.device_id == camera_device.id
    with pytest.raises(HomeAssistantError) as raised:
        await hass.services.async_call("button", "press", {"entity_id": BUTTON}, blocking=True)
    assert raised.value.translation_key == "not_enough_frames"


async def test_learning_refuses_to_load_pytorch_into_home_assistant(
    hass: HomeAssistant,
    scripted_engine: ScriptedEngine,
    fake_camera: FakeCamera,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Without the binding the core would run the trunk with executorch's official runtime,
    which imports torch into Home Assistant's process: a clear error instead."""
    from unittest.mock import patch

    from homeassistant.exceptions import HomeAssistantError

    entry = await set_up_entry(hass)
    await _label_frames(hass, entry, fake_camera, freezer, [True, False] * MIN_FRAMES)
    with (
        patch("custom_components.garagecam.training.binding_installed", return_value=False),
        pytest.raises(HomeAssistantError) as raised,
    ):
        await _train(hass, entry)
    assert raised.value.translation_key == "training_needs_binding"
    assert entry.data["model"] == "demo"


async def test_a_second_learn_while_one_runs_is_refused(
    hass: HomeAssistant, scripted_engine: ScriptedEngine
) -> None:
    import asyncio
    from unittest.mock import patch

    entry = await set_up_entry(hass)
    started, release = asyncio.Event(), asyncio.Event()

    async def slow_training(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, Any]:
        started.set()
        await release.wait()
        raise HomeAssistantError("stopped by the test")

    with patch("custom_components.garagecam.training._async_train", side_effect=slow_training):
        first = hass.async_create_task(_train(hass, entry))
        await started.wait()
        with pytest.raises(ServiceValidationError) as raised:
            await _train(hass, entry)
        assert raised.value.translation_key == "training_running"
        release.set()
        with pytest.raises(HomeAssistantError, match="stopped by the test"):
            await first
        # the first one is over: learning can start again
        started.clear()
        release.set()
        with pytest.raises(HomeAssistantError, match="stopped by the test"):
            await _train(hass, entry)
    assert entry.data["model"] == "demo"


async def test_a_failed_training_is_one_line_and_changes_nothing(
    hass: HomeAssistant,
    scripted_engine: ScriptedEngine,
    fake_camera: FakeCamera,
    freezer: FrozenDateTimeFactory,
) -> None:
    from unittest.mock import patch

    from garagecam_core.errors import DatasetError

    entry = await set_up_entry(hass)
    await _label_frames(hass, entry, fake_camera, freezer, [True, False] * MIN_FRAMES)
    problem = DatasetError("dataset x has 2 problem(s):\n  - a.jpg: cannot read image\n  - b")
    with (
        patch("custom_components.garagecam.training.binding_installed", return_value=True),
        patch("custom_components.garagecam.training._train", side_effect=problem),
        pytest.raises(HomeAssistantError) as raised,
    ):
        await _train(hass, entry)
    assert raised.value.translation_key == "training_failed"
    assert raised.value.translation_placeholders == {
        "title": entry.title,
        "error": "dataset x has 2 problem(s): a.jpg: cannot read image; b",
    }
    assert entry.data["model"] == "demo" and entry.title == "Garage camera (demo)"


async def test_a_learnt_model_that_does_not_start_is_an_error(
    hass: HomeAssistant,
    scripted_engine: ScriptedEngine,
    fake_camera: FakeCamera,
    freezer: FrozenDateTimeFactory,
) -> None:
    from unittest.mock import patch

    from homeassistant.config_entries import ConfigEntryState

    from garagecam_core.errors import ModelError

    entry = await set_up_entry(hass)
    await _label_frames(hass, entry, fake_camera, freezer, [True, False] * MIN_FRAMES)
    summary = {"summary": "wrote garage.gcam", "frames": 12}
    with (
        patch("custom_components.garagecam.training.binding_installed", return_value=True),
        patch("custom_components.garagecam.training._train", return_value=summary),
        patch(
            "custom_components.garagecam.async_create_engine",
            side_effect=ModelError("garage.gcam: the trunk changed"),
        ),
        pytest.raises(HomeAssistantError) as raised,
    ):
        await _train(hass, entry)
    assert raised.value.translation_key == "learnt_model_not_loaded"
    assert raised.value.translation_placeholders == {
        "title": "Garage camera (garage.gcam)",
        "model": "garage.gcam",
    }
    assert entry.state is ConfigEntryState.SETUP_ERROR
