"""Coordinator failures/recovery, restored states, actions, diagnostics."""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant, State
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    mock_restore_cache,
)
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.garagecam.const import DOMAIN
from garagecam_core.errors import WorkerError
from tests.images import make_jpeg

from .conftest import FakeCamera, ScriptedEngine, set_up_entry

DOOR = "binary_sensor.garage_camera_door_open"
CAR = "binary_sensor.garage_camera_car_present"


async def _tick(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float = 10) -> None:
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


async def test_debounced_states(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    scripted_engine: ScriptedEngine,
    freezer: FrozenDateTimeFactory,
) -> None:
    assert hass.states.get(DOOR).state == "unknown"
    await _tick(hass, freezer)
    assert hass.states.get(DOOR).state == "on"
    assert hass.states.get(CAR).state == "off"
    scripted_engine.probabilities = {"door_open": 0.5, "car_present": 0.95}  # door: in between
    await _tick(hass, freezer)
    await _tick(hass, freezer)
    assert hass.states.get(DOOR).state == "on"
    assert hass.states.get(CAR).state == "on"


async def test_camera_fails_and_recovers(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    fake_camera: FakeCamera,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await _tick(hass, freezer)
    assert hass.states.get(DOOR).state == "on"
    fake_camera.fail = True
    caplog.clear()
    calls = fake_camera.calls
    for _ in range(5):  # 50 s: within max_age (60 s) the last state stays
        await _tick(hass, freezer)
    assert hass.states.get(DOOR).state == "on"
    await _tick(hass, freezer, 15)
    assert hass.states.get(DOOR).state == "unavailable"
    assert hass.states.get("image.garage_camera_analysed_frame").state == "unavailable"
    await _tick(hass, freezer)
    assert fake_camera.calls == calls + 7  # it keeps polling
    lost = [r for r in caplog.records if "cannot classify" in r.getMessage()]
    assert len(lost) == 1 and lost[0].levelno == logging.WARNING
    assert "camera.garage" in lost[0].getMessage()

    fake_camera.fail = False
    await _tick(hass, freezer)
    await _tick(hass, freezer)
    assert hass.states.get(DOOR).state == "on"
    back = [r for r in caplog.records if "classifying again" in r.getMessage()]
    assert len(back) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_engine_failure_is_like_camera_failure(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    scripted_engine: ScriptedEngine,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await _tick(hass, freezer)
    scripted_engine.error = WorkerError("the inference worker died")
    await _tick(hass, freezer, 61)
    assert hass.states.get(DOOR).state == "unavailable"
    # the log names the cause, whether or not the exception translations are loaded
    cause = "Could not classify a snapshot of camera.garage: the inference worker died"
    assert f"cannot classify ({cause})" in caplog.text
    scripted_engine.error = None
    await _tick(hass, freezer)
    assert hass.states.get(DOOR).state == "on"


@pytest.mark.usefixtures("fake_camera", "camera_device")
async def test_restored_state_until_confirmed_frame(
    hass: HomeAssistant, scripted_engine: ScriptedEngine, freezer: FrozenDateTimeFactory
) -> None:
    mock_restore_cache(hass, [State(DOOR, "off"), State(CAR, "on")])
    scripted_engine.probabilities = {"door_open": 0.9, "car_present": 0.5}
    await set_up_entry(hass)
    assert hass.states.get(DOOR).state == "off"  # restored: one ON frame is not confirmed
    assert hass.states.get(CAR).state == "on"
    # Restoring happens when the entity is added, after the set-up frame, and restarts the
    # streak: two more ON frames confirm.
    await _tick(hass, freezer)
    assert hass.states.get(DOOR).state == "off"
    await _tick(hass, freezer)
    assert hass.states.get(DOOR).state == "on"
    assert hass.states.get(CAR).state == "on"  # in between the thresholds: kept


@pytest.mark.usefixtures("camera_device", "scripted_engine")
async def test_restored_states_shown_for_max_age_after_start_without_a_frame(
    hass: HomeAssistant, fake_camera: FakeCamera, freezer: FrozenDateTimeFactory
) -> None:
    """No good frame since the start: the restored states stay shown for max_age (60 s)
    from the start, then the entities turn unavailable. (The core's Debouncer.available
    alone says unavailable before a first frame; the start counts like a frame here.)"""
    mock_restore_cache(hass, [State(DOOR, "off"), State(CAR, "on")])
    fake_camera.fail = True
    await set_up_entry(hass)
    assert hass.states.get(DOOR).state == "off"
    await _tick(hass, freezer, 50)
    assert (hass.states.get(DOOR).state, hass.states.get(CAR).state) == ("off", "on")
    await _tick(hass, freezer, 11)
    assert hass.states.get(DOOR).state == "unavailable"
    assert hass.states.get(CAR).state == "unavailable"


async def test_classify_action(
    hass: HomeAssistant, setup_entry: MockConfigEntry, scripted_engine: ScriptedEngine
) -> None:
    response = await hass.services.async_call(
        DOMAIN,
        "classify",
        {"config_entry_id": setup_entry.entry_id},
        blocking=True,
        return_response=True,
    )
    assert response == {
        "probabilities": {"door_open": 0.9, "car_present": 0.1},
        "states": {"door_open": "on", "car_present": "off"},
        "timings": {"decode_ms": 1.0, "preprocess_ms": 2.0, "inference_ms": 3.0, "total_ms": 6.5},
        "image_size": [320, 240],
    }
    await hass.async_block_till_done()
    assert hass.states.get(DOOR).state == "on"
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(
            DOMAIN, "classify", {"config_entry_id": "nope"}, blocking=True, return_response=True
        )


async def test_classify_action_camera_error(
    hass: HomeAssistant, setup_entry: MockConfigEntry, fake_camera: FakeCamera
) -> None:
    from homeassistant.exceptions import HomeAssistantError

    fake_camera.fail = True
    with pytest.raises(HomeAssistantError, match="Unable to get image"):
        await hass.services.async_call(
            DOMAIN,
            "classify",
            {"config_entry_id": setup_entry.entry_id},
            blocking=True,
            return_response=True,
        )


async def test_classify_action_engine_error_is_translated(
    hass: HomeAssistant, setup_entry: MockConfigEntry, scripted_engine: ScriptedEngine
) -> None:
    from homeassistant.exceptions import HomeAssistantError

    scripted_engine.error = WorkerError("the inference worker died")
    with pytest.raises(HomeAssistantError) as raised:
        await hass.services.async_call(
            DOMAIN,
            "classify",
            {"config_entry_id": setup_entry.entry_id},
            blocking=True,
            return_response=True,
        )
    assert raised.value.translation_key == "classify_failed"
    assert str(raised.value) == (
        "Could not classify a snapshot of camera.garage: the inference worker died"
    )


async def test_save_snapshot_action(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    fake_camera: FakeCamera,
    freezer: FrozenDateTimeFactory,
    config_dir: Path,
) -> None:
    await _tick(hass, freezer)
    response = await hass.services.async_call(
        DOMAIN,
        "save_snapshot",
        {"config_entry_id": setup_entry.entry_id},
        blocking=True,
        return_response=True,
    )
    path = Path(response["path"])
    # the camera's folder (capture writes there too): one copied folder is one dataset
    assert path.parent == config_dir / "garagecam" / "dataset" / "garage"
    assert path.name.endswith("_door_open-on_car_present-off.jpg")
    assert await hass.async_add_executor_job(path.read_bytes) == fake_camera.content
    jsonl = path.parent / "labels.jsonl"
    lines = (await hass.async_add_executor_job(jsonl.read_text)).splitlines()
    assert json.loads(lines[-1]) == {
        "path": path.name,
        "labels": {"door_open": 1, "car_present": 0},
    }

    # the same frame again: same file, untouched, and no second labels line
    again = await hass.services.async_call(
        DOMAIN,
        "save_snapshot",
        {"config_entry_id": setup_entry.entry_id},
        blocking=True,
        return_response=True,
    )
    assert again["path"] == str(path)
    assert sorted(p.name for p in path.parent.iterdir()) == sorted([path.name, "labels.jsonl"])
    assert (await hass.async_add_executor_job(jsonl.read_text)).splitlines() == lines

    # another frame that would get the same name (same second, same states) keeps both
    coordinator = setup_entry.runtime_data.coordinator
    other = dataclasses.replace(coordinator.data, image=make_jpeg(64, 48))
    coordinator.async_set_updated_data(other)
    third = await hass.services.async_call(
        DOMAIN,
        "save_snapshot",
        {"config_entry_id": setup_entry.entry_id},
        blocking=True,
        return_response=True,
    )
    third_path = Path(third["path"])
    assert third_path.name == path.name.replace(".jpg", "_2.jpg")
    assert await hass.async_add_executor_job(path.read_bytes) == fake_camera.content
    assert await hass.async_add_executor_job(third_path.read_bytes) == other.image
    lines = (await hass.async_add_executor_job(jsonl.read_text)).splitlines()
    assert [json.loads(line)["path"] for line in lines] == [path.name, third_path.name]


async def test_save_snapshot_unwritable_dataset_is_a_clear_error(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    config_dir: Path,
) -> None:
    from homeassistant.exceptions import HomeAssistantError

    await _tick(hass, freezer)
    (config_dir / "garagecam").mkdir()
    (config_dir / "garagecam" / "dataset").write_text("a file, not a folder")
    with pytest.raises(HomeAssistantError, match=r"Could not save the snapshot in .*dataset"):
        await hass.services.async_call(
            DOMAIN,
            "save_snapshot",
            {"config_entry_id": setup_entry.entry_id},
            blocking=True,
            return_response=True,
        )


async def test_save_snapshot_without_frame(
    hass: HomeAssistant,
    fake_camera: FakeCamera,
    camera_device: object,
    scripted_engine: ScriptedEngine,
) -> None:
    fake_camera.fail = True
    entry = await set_up_entry(hass)
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(
            DOMAIN, "save_snapshot", {"config_entry_id": entry.entry_id}, blocking=True
        )


async def test_image_entity_serves_debug_frame(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    client = await hass_client()
    response = await client.get("/api/image_proxy/image.garage_camera_analysed_frame")
    assert response.status == 200
    body = await response.read()
    assert body[:2] == b"\xff\xd8"


@pytest.mark.usefixtures("fake_camera", "camera_device")
async def test_diagnostics_redacts_secrets(
    hass: HomeAssistant,
    scripted_engine: ScriptedEngine,
    hass_client: ClientSessionGenerator,
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Garage camera (tiny)",
        unique_id="camera.garage_tiny",
        data={
            "camera": "camera.garage",
            "mode": "remote",
            "url": "http://admin:hunter2@runner.local:8087",
            "token": "s3cret-token",
            "model": "tiny",
        },
        options={"scan_interval": 10, "roi": ""},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    scripted_engine.error = WorkerError(
        "runner http://admin:hunter2@runner.local:8087 said no to s3cret-token"
    )
    await entry.runtime_data.coordinator.async_refresh()
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    text = json.dumps(diagnostics)
    assert "hunter2" not in text and "s3cret-token" not in text
    assert diagnostics["entry"]["data"]["token"] == "**REDACTED**"
    assert diagnostics["entry"]["data"]["url"].startswith("http://admin:**REDACTED**@runner.local")
    assert diagnostics["model"]["labels"][0]["name"] == "door_open"
    assert diagnostics["recent_timings"][0]["total_ms"] == 6.5
    assert "said no" in diagnostics["last_error"]


async def test_diagnostic_sensors_once_enabled(
    hass: HomeAssistant,
    setup_entry: MockConfigEntry,
    fake_camera: FakeCamera,
    freezer: FrozenDateTimeFactory,
) -> None:
    registry = er.async_get(hass)
    sensors = {
        e.unique_id.removeprefix("camera.garage_demo_"): e.entity_id
        for e in er.async_entries_for_config_entry(registry, setup_entry.entry_id)
        if e.domain == "sensor"
    }
    assert set(sensors) == {"door_open_probability", "car_present_probability", "inference_latency"}
    for entity_id in sensors.values():
        registry.async_update_entity(entity_id, disabled_by=None)
    fake_camera.fail = True  # the first frame after the reload fails: no values yet
    assert await hass.config_entries.async_reload(setup_entry.entry_id)
    await hass.async_block_till_done()
    assert {hass.states.get(e).state for e in sensors.values()} == {"unknown"}

    fake_camera.fail = False
    await _tick(hass, freezer)
    assert hass.states.get(sensors["door_open_probability"]).state == "90.0"
    assert hass.states.get(sensors["car_present_probability"]).state == "10.0"
    latency = hass.states.get(sensors["inference_latency"])
    assert latency.state == "6.5" and latency.attributes["unit_of_measurement"] == "ms"
