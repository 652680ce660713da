"""Set-up, unload, reload, entities and their device binding."""

from __future__ import annotations

from pathlib import Path
from unittest.mock import patch

import pytest
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.garagecam.const import DOMAIN
from custom_components.garagecam.inference import local_model_path
from garagecam_core import demo_model_path
from garagecam_core.errors import (
    CorruptModelError,
    ModelNotFoundError,
    RemoteAuthError,
    WorkerError,
)

from .conftest import ScriptedEngine, make_entry, set_up_entry


async def test_entities_bound_to_camera_device(
    hass: HomeAssistant, setup_entry: MockConfigEntry, camera_device: dr.DeviceEntry
) -> None:
    assert setup_entry.state is ConfigEntryState.LOADED
    registry = er.async_get(hass)
    entities = er.async_entries_for_config_entry(registry, setup_entry.entry_id)
    by_unique = {e.unique_id: e for e in entities}
    assert set(by_unique) == {
        "camera.garage_demo_door_open",
        "camera.garage_demo_car_present",
        "camera.garage_demo_door_open_probability",
        "camera.garage_demo_car_present_probability",
        "camera.garage_demo_inference_latency",
        "camera.garage_demo_frame",
        "camera.garage_demo_learn",  # the Learn from labelled frames button (Local mode)
    }
    assert {e.device_id for e in entities} == {camera_device.id}
    # linked, not claimed: the camera's integration still owns the device alone
    assert dr.async_entries_for_config_entry(dr.async_get(hass), setup_entry.entry_id) == []
    assert by_unique["camera.garage_demo_door_open_probability"].disabled_by is not None
    assert by_unique["camera.garage_demo_inference_latency"].disabled_by is not None

    door = hass.states.get("binary_sensor.garage_camera_door_open")
    assert door is not None
    assert door.attributes["device_class"] == "garage_door"
    assert door.attributes["friendly_name"] == "Garage camera Door open"
    car = hass.states.get("binary_sensor.garage_camera_car_present")
    assert car is not None and car.attributes["device_class"] == "occupancy"
    # one frame seen, two needed to confirm: still unknown
    assert door.state == "unknown" and car.state == "unknown"
    assert hass.states.get("image.garage_camera_analysed_frame") is not None


async def test_own_device_without_camera_device(
    hass: HomeAssistant, fake_camera: object, scripted_engine: ScriptedEngine
) -> None:
    hass.states.async_set("camera.garage", "idle", {"friendly_name": "Garage"})
    entry = await set_up_entry(hass)
    entities = er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    [device_id] = {e.device_id for e in entities}
    assert device_id is not None
    [device] = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    assert device.id == device_id
    assert device.identifiers == {(DOMAIN, "camera.garage_demo")}
    assert device.manufacturer == "GarageCam" and device.model == "tiny"
    # without a device of its own the camera's sensors are named after the entry
    assert hass.states.get("binary_sensor.garage_camera_demo_door_open") is not None


async def test_unload_closes_engine_and_reload_works(
    hass: HomeAssistant, setup_entry: MockConfigEntry, scripted_engine: ScriptedEngine
) -> None:
    for _ in range(3):
        assert await hass.config_entries.async_reload(setup_entry.entry_id)
        await hass.async_block_till_done()
        assert setup_entry.state is ConfigEntryState.LOADED
        assert not scripted_engine.closed
    assert await hass.config_entries.async_unload(setup_entry.entry_id)
    await hass.async_block_till_done()
    assert setup_entry.state is ConfigEntryState.NOT_LOADED
    assert scripted_engine.closed
    assert hass.states.get("binary_sensor.garage_camera_door_open").state == "unavailable"


@pytest.mark.usefixtures("fake_camera", "camera_device")
@pytest.mark.parametrize(
    ("error", "state", "message"),
    [
        (  # retrying cannot help: reconfigure
            CorruptModelError("mine.pte is truncated"),
            ConfigEntryState.SETUP_ERROR,
            "Garage camera (demo) cannot start; reconfigure it: mine.pte is truncated",
        ),
        (
            WorkerError("the worker exited while starting"),
            ConfigEntryState.SETUP_RETRY,
            "Garage camera (demo) is not ready yet: the worker exited while starting",
        ),
        (
            ModelNotFoundError("model file /x/mine.pte does not exist"),
            ConfigEntryState.SETUP_RETRY,
            "The model file of Garage camera (demo) is missing: "
            "model file /x/mine.pte does not exist",
        ),
    ],
)
async def test_engine_errors_at_set_up_are_translated(
    hass: HomeAssistant, error: Exception, state: ConfigEntryState, message: str
) -> None:
    entry = make_entry()
    entry.add_to_hass(hass)
    with patch("custom_components.garagecam.async_create_engine", side_effect=error):
        assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is state
    assert entry.reason == message  # from translations/en.json "exceptions"


@pytest.mark.usefixtures("fake_camera", "camera_device")
async def test_token_rejected_at_first_poll_closes_the_engine_and_starts_reauth(
    hass: HomeAssistant, scripted_engine: ScriptedEngine
) -> None:
    scripted_engine.error = RemoteAuthError("the runner rejected the token")
    entry = make_entry({"mode": "remote", "url": "http://runner.local:8087", "model": "tiny"})
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert scripted_engine.closed
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["source"] for f in flows] == [SOURCE_REAUTH]


@pytest.mark.usefixtures("fake_camera", "camera_device", "scripted_engine")
async def test_mqtt_publishing_without_the_mqtt_integration(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    entry = await set_up_entry(hass, mqtt_enabled=True)
    assert entry.state is ConfigEntryState.LOADED  # the sensors work without MQTT
    assert entry.runtime_data.bridge is None
    assert "MQTT publishing is on but the MQTT integration is not set up" in caplog.text


def test_local_model_names(hass: HomeAssistant, config_dir: Path) -> None:
    assert local_model_path(hass, "demo") == demo_model_path()
    models = config_dir / "garagecam" / "models"
    models.mkdir(parents=True)
    (models / "mine.pte").write_bytes(b"x")
    assert local_model_path(hass, "mine.pte") == models / "mine.pte"
    for name, message in (
        ("../mine.pte", "must be a file name or an absolute path"),
        ("sub/mine.pte", "must be a file name or an absolute path"),
        ("mine.onnx", r"is not a \.pte or \.gcam file"),
    ):
        with pytest.raises(ModelNotFoundError, match=message):
            local_model_path(hass, name)
