"""Set-up, unload, reload, entities and their device binding."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.garagecam.const import DOMAIN

from .conftest import ScriptedEngine

ROOT = Path(__file__).parents[2]


def test_manifest_pins_core_version() -> None:
    manifest = json.loads((ROOT / "custom_components/garagecam/manifest.json").read_text())
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert manifest["requirements"] == [f"garagecam-core=={version}"]
    assert manifest["version"] == version
    assert not any("torch" in r or "executorch" in r for r in manifest["requirements"])
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"] and keys[2:] == sorted(keys[2:])
    assert manifest["iot_class"] == "local_polling"
    assert "mqtt" in manifest["after_dependencies"]
    hacs = json.loads((ROOT / "hacs.json").read_text())
    assert hacs["name"] == "GarageCam" and hacs["homeassistant"]


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
    }
    assert {e.device_id for e in entities} == {camera_device.id}
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
    from .conftest import make_entry

    hass.states.async_set("camera.garage", "idle", {"friendly_name": "Garage"})
    entry = make_entry()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, "camera.garage_demo")})
    assert device is not None
    assert device.manufacturer == "GarageCam" and device.model == "tiny"


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
