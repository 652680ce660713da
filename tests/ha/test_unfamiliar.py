"""Frames unlike anything the model learnt from: unknown states and a Repairs issue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.garagecam.const import DOMAIN, UNFAMILIAR_DOCS_URL

from .conftest import ScriptedEngine, set_up_entry

pytestmark = pytest.mark.usefixtures("fake_camera", "camera_device")

DOOR = "binary_sensor.garage_camera_door_open"


async def _poll(hass: HomeAssistant, freezer: FrozenDateTimeFactory, times: int = 1) -> None:
    for _ in range(times):
        freezer.tick(timedelta(seconds=10))
        async_fire_time_changed(hass)
        await hass.async_block_till_done()


def _issue(hass: HomeAssistant, entry: MockConfigEntry) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, f"unfamiliar_{entry.entry_id}")


async def test_unfamiliar_frames_make_the_states_unknown_and_ask_for_labels(
    hass: HomeAssistant, scripted_engine: ScriptedEngine, freezer: FrozenDateTimeFactory
) -> None:
    scripted_engine.novelty = 0.4
    entry = await set_up_entry(hass)
    await _poll(hass, freezer)
    assert hass.states.get(DOOR).state == "on"
    assert _issue(hass, entry) is None

    scripted_engine.novelty = 3.0  # the camera was moved: a scene the head never saw
    await _poll(hass, freezer, 2)  # confirm frames: 2
    assert hass.states.get(DOOR).state == "unknown"
    issue = _issue(hass, entry)
    assert issue is not None
    assert issue.translation_key == "unfamiliar" and not issue.is_fixable
    assert issue.severity is ir.IssueSeverity.WARNING
    assert issue.learn_more_url == UNFAMILIAR_DOCS_URL
    assert issue.translation_placeholders == {
        "title": entry.title,
        "camera": "Garage camera",
        "directory": "garagecam/dataset/garage",
    }

    scripted_engine.novelty = 0.4  # familiar again
    await _poll(hass, freezer, 2)
    assert hass.states.get(DOOR).state == "on"
    assert _issue(hass, entry) is None


async def test_removing_the_entry_removes_the_issue(
    hass: HomeAssistant, scripted_engine: ScriptedEngine, freezer: FrozenDateTimeFactory
) -> None:
    scripted_engine.novelty = 3.0
    entry = await set_up_entry(hass)
    await _poll(hass, freezer, 2)
    assert _issue(hass, entry) is not None
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert _issue(hass, entry) is None


async def test_a_model_that_cannot_tell_never_raises_the_issue(
    hass: HomeAssistant, scripted_engine: ScriptedEngine, freezer: FrozenDateTimeFactory
) -> None:
    entry = await set_up_entry(hass)  # novelty None: a plain .pte bundle
    await _poll(hass, freezer, 3)
    assert hass.states.get(DOOR).state == "on"
    assert _issue(hass, entry) is None


async def test_diagnostics_show_the_novelty(
    hass: HomeAssistant,
    scripted_engine: ScriptedEngine,
    freezer: FrozenDateTimeFactory,
    hass_client: ClientSessionGenerator,
) -> None:
    scripted_engine.novelty = 3.0
    entry = await set_up_entry(hass)
    await _poll(hass, freezer, 2)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diagnostics["novelty"] == 3.0
    assert diagnostics["unfamiliar"] is True
