"""Learning in Home Assistant for real: labelled frames from an automation, the shipped trunk,
a `.gcam` head, the entry switched to it and running it in its worker process (no PyTorch)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir

from custom_components.garagecam.const import DOMAIN
from garagecam_core.scenes import Scene, iter_scenes
from tests.images import RED, make_jpeg

from .conftest import FakeCamera, make_entry

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("camera_device")]

DOOR = "binary_sensor.garage_camera_door_open"
BUTTON = "button.garage_camera_learn_from_labelled_frames"


def _scenes(count: int) -> list[Scene]:
    """Frames of one generated garage, every label both on and off among them."""
    scenes = list(iter_scenes(seed=11, count=count, garage=5))
    for name in ("door_open", "car_present"):
        assert {scene.labels[name] for scene in scenes} == {0, 1}, name
    return scenes


@pytest.fixture
def no_torch() -> Iterator[None]:
    yield
    assert "torch" not in sys.modules  # learning needs numpy and the runtime binding only


async def _call(hass: HomeAssistant, action: str, **data: Any) -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN, action, data, blocking=True, return_response=True
    )
    assert isinstance(response, dict)
    return response


@pytest.mark.usefixtures("no_torch")
async def test_learn_from_frames_labelled_by_an_automation(
    hass: HomeAssistant,
    fake_camera: FakeCamera,
    config_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    models = config_dir / "garagecam" / "models"
    entry = make_entry()  # the shipped demo model, as after the first set-up
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    door_entity = er.async_get(hass).async_get(DOOR)
    assert door_entity is not None

    # What the door-opener automation does: a fresh frame, saved with the opener's state.
    scenes = _scenes(14)
    for scene in scenes:
        fake_camera.content = scene.jpeg
        await _call(hass, "classify", config_entry_id=entry.entry_id)
        await _call(
            hass,
            "save_snapshot",
            config_entry_id=entry.entry_id,
            labels={name: bool(value) for name, value in scene.labels.items()},
        )

    result = await _call(hass, "train_model", config_entry_id=entry.entry_id)
    assert result["frames"] == len(scenes) and result["cached_frames"] == 0
    assert result["labels"] == ["door_open", "car_present"]
    assert set(result["validation"]) == {"door_open", "car_present"}
    assert result["validation"]["door_open"]["total"] == len(scenes)
    assert f"{len(scenes)} frames" in result["summary"]
    assert (result["model"], result["previous_model"]) == ("garage.gcam", "demo")
    assert Path(result["path"]) == models / "garage.gcam" and (models / "garage.gcam").is_file()

    # The entry runs the new model; its entities kept their ids (and so their history).
    assert entry.state is ConfigEntryState.LOADED
    assert entry.data["model"] == "garage.gcam"
    assert entry.title == "Garage camera (garage.gcam)"
    assert er.async_get(hass).async_get(DOOR).id == door_entity.id
    assert entry.runtime_data.engine.metadata.label_names == ("door_open", "car_present")
    fake_camera.content = scenes[0].jpeg
    answer = await _call(hass, "classify", config_entry_id=entry.entry_id)
    assert set(answer["probabilities"]) == {"door_open", "car_present"}
    assert hass.states.get(DOOR).attributes["device_class"] == "garage_door"

    # A picture unlike anything it learnt from (the camera turned to a red wall): the sensors
    # turn unknown and Repairs asks for a few labelled frames, until frames look familiar.
    fake_camera.content = make_jpeg(640, 480, RED)
    for _ in range(3):
        answer = await _call(hass, "classify", config_entry_id=entry.entry_id)
    coordinator = entry.runtime_data.coordinator
    novelty = coordinator.data.classification.novelty
    assert novelty is not None and novelty > 1.0
    assert answer["states"] == {"door_open": "unknown", "car_present": "unknown"}
    issue_id = f"unfamiliar_{entry.entry_id}"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    fake_camera.content = scenes[0].jpeg
    await _call(hass, "classify", config_entry_id=entry.entry_id)
    assert coordinator.data.classification.novelty < 1.0
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None

    # Learning again (the button): the embeddings come from the cache, the entry reloads.
    caplog.set_level(logging.INFO, "custom_components.garagecam")
    await hass.services.async_call("button", "press", {"entity_id": BUTTON}, blocking=True)
    await hass.async_block_till_done()
    assert f"{len(scenes)} frames ({len(scenes)} cached)" in caplog.text
    assert entry.state is ConfigEntryState.LOADED
    assert entry.data["model"] == "garage.gcam"
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
