"""The analysed-frame image entity: few states in the recorder, the picture its state names."""

from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.image import TOKEN_CHANGE_INTERVAL
from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import Event, EventStateChangedData, HomeAssistant
from pytest_homeassistant_custom_component.common import async_fire_time_changed
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from tests.images import RED, make_jpeg

from .conftest import FakeCamera, ScriptedEngine, set_up_entry

pytestmark = pytest.mark.usefixtures("fake_camera", "camera_device")

IMAGE = "image.garage_camera_analysed_frame"
INTERVAL = 2  # seconds: the interval of the report (about 30 polls a minute)


async def _poll(hass: HomeAssistant, freezer: FrozenDateTimeFactory, times: int = 1) -> None:
    for _ in range(times):
        freezer.tick(timedelta(seconds=INTERVAL))
        async_fire_time_changed(hass)
        await hass.async_block_till_done()


def _record_changes(hass: HomeAssistant) -> list[str]:
    """The image entity's new states, as the recorder would write them (one row each)."""
    changes: list[str] = []

    def changed(event: Event[EventStateChangedData]) -> None:
        if event.data["entity_id"] == IMAGE and (new := event.data["new_state"]) is not None:
            changes.append(new.state)

    hass.bus.async_listen(EVENT_STATE_CHANGED, changed)
    return changes


async def test_polls_without_a_state_change_keep_the_image_state(
    hass: HomeAssistant, scripted_engine: ScriptedEngine, freezer: FrozenDateTimeFactory
) -> None:
    await set_up_entry(hass, scan_interval=INTERVAL)
    changes = _record_changes(hass)
    await _poll(hass, freezer)  # the second frame confirms door ON, car OFF: states change
    assert len(changes) == 1
    await _poll(hass, freezer, 30)  # a minute of an unchanged scene
    assert len(changes) == 1


async def test_a_state_change_updates_the_image_at_once(
    hass: HomeAssistant, scripted_engine: ScriptedEngine, freezer: FrozenDateTimeFactory
) -> None:
    entry = await set_up_entry(hass, scan_interval=INTERVAL)
    await _poll(hass, freezer)
    changes = _record_changes(hass)
    scripted_engine.probabilities = {"door_open": 0.05, "car_present": 0.1}
    await _poll(hass, freezer)  # the first closed frame: not confirmed yet
    assert changes == []
    await _poll(hass, freezer)  # confirmed: the door sensor turns off, the picture follows
    assert len(changes) == 1
    assert hass.states.get("binary_sensor.garage_camera_door_open").state == "off"
    frame_time = entry.runtime_data.coordinator.data.last_success
    assert changes == [frame_time.isoformat()]  # the time of the frame that changed them


async def test_an_unchanged_scene_moves_the_picture_with_the_token_rotation(
    hass: HomeAssistant,
    scripted_engine: ScriptedEngine,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Home Assistant writes an image entity's state every 5 minutes anyway (a new access
    token): the newest frame goes with those states, and there are no others."""
    entry = await set_up_entry(hass, scan_interval=INTERVAL)
    await _poll(hass, freezer)
    changes = _record_changes(hass)
    polls = int(TOKEN_CHANGE_INTERVAL.total_seconds()) // INTERVAL
    await _poll(hass, freezer, polls * 2)  # ten minutes of an unchanged scene
    assert len(changes) == 2  # Home Assistant's two token rotations
    assert changes[0] < changes[1]  # each with a newer frame
    coordinator = entry.runtime_data.coordinator
    assert changes[1] <= coordinator.data.last_success.isoformat()
    assert hass.states.get(IMAGE).state == changes[1]


async def test_the_picture_is_the_frame_the_state_names(
    hass: HomeAssistant,
    fake_camera: FakeCamera,
    scripted_engine: ScriptedEngine,
    freezer: FrozenDateTimeFactory,
    hass_client: ClientSessionGenerator,
) -> None:
    await set_up_entry(hass, scan_interval=INTERVAL)
    await _poll(hass, freezer)
    client = await hass_client()
    shown = await (await client.get(f"/api/image_proxy/{IMAGE}")).read()
    assert shown[:2] == b"\xff\xd8"
    before = hass.states.get(IMAGE).state

    fake_camera.content = make_jpeg(320, 240, RED)
    await _poll(hass, freezer)  # a new frame, same states: the state and the picture stay
    assert hass.states.get(IMAGE).state == before
    assert await (await client.get(f"/api/image_proxy/{IMAGE}")).read() == shown
