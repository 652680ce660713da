"""MQTT bridge: discovery under its own prefix, states, re-publish, removal, no duplicates."""

from __future__ import annotations

import json

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import async_fire_mqtt_message
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator, MqttMockHAClient

from .conftest import ScriptedEngine, set_up_entry

pytestmark = [
    pytest.mark.usefixtures("fake_camera", "camera_device"),
    # MQTT's own housekeeping timer outlives every test; Home Assistant's core suite lets it
    # linger for the mqtt tests the same way (expected_lingering_timers).
    pytest.mark.parametrize("expected_lingering_timers", [True]),
]

PREFIX = "garagecam"
NODE = "garagecam-ha_camera_garage_demo"


def _published(mqtt_mock: MqttMockHAClient) -> dict[str, tuple[str, int, bool]]:
    return {
        c.args[0]: (c.args[1], c.args[2], c.args[3]) for c in mqtt_mock.async_publish.call_args_list
    }


async def test_publishes_discovery_and_states_without_duplicates(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, scripted_engine: ScriptedEngine
) -> None:
    entry = await set_up_entry(hass, mqtt_enabled=True, mqtt_prefix=PREFIX)
    published = _published(mqtt_mock)
    config_topic = f"{PREFIX}/binary_sensor/{NODE}/door_open/config"
    payload, qos, retain = published[config_topic]
    assert qos == 1 and retain
    config = json.loads(payload)
    assert config["device_class"] == "door"  # garage_door, as every HomeKit bridge maps it
    assert config["state_topic"] == "garagecam-ha/camera_garage_demo/door_open/json"
    assert f"{PREFIX}/sensor/{NODE}/inference_ms/config" in published
    assert published["garagecam-ha/camera_garage_demo/availability"][0] == "online"
    assert published["garagecam-ha/camera_garage_demo/door_open/probability"][0] == "90.0"

    # Home Assistant's MQTT integration reads `homeassistant/...` only: feeding it every
    # message we published creates no entity, so nothing shows twice.
    for topic, (body, _, _) in published.items():
        async_fire_mqtt_message(hass, topic, body, retain=True)
    await hass.async_block_till_done(wait_background_tasks=True)
    mqtt_entities = [e for e in er.async_get(hass).entities.values() if e.platform == "mqtt"]
    assert mqtt_entities == []

    # re-published when `<prefix>/status` says online (a bridge restarted)
    mqtt_mock.async_publish.reset_mock()
    async_fire_mqtt_message(hass, f"{PREFIX}/status", "online")
    await hass.async_block_till_done(wait_background_tasks=True)
    assert config_topic in _published(mqtt_mock)

    # states follow each poll
    mqtt_mock.async_publish.reset_mock()
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done(wait_background_tasks=True)
    published = _published(mqtt_mock)
    assert published["garagecam-ha/camera_garage_demo/door_open"] == ("ON", 1, True)
    assert published["garagecam-ha/camera_garage_demo/door_open/json"][0] == '{"state":"ON"}'

    # unload: camera offline; removal: empty retained configs
    mqtt_mock.async_publish.reset_mock()
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert _published(mqtt_mock)["garagecam-ha/camera_garage_demo/availability"][0] == "offline"
    mqtt_mock.async_publish.reset_mock()
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    removed = _published(mqtt_mock)
    assert removed[config_topic] == ("", 1, True)
    assert len(removed) == 6  # 2 binary sensors, status, 2 probabilities, 1 inference time


async def test_republish_on_reconnect(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, scripted_engine: ScriptedEngine
) -> None:
    from homeassistant.components.mqtt.const import MQTT_CONNECTION_STATE
    from homeassistant.helpers.dispatcher import async_dispatcher_send

    await set_up_entry(hass, mqtt_enabled=True, mqtt_prefix=PREFIX)
    mqtt_mock.async_publish.reset_mock()
    async_dispatcher_send(hass, MQTT_CONNECTION_STATE, True)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert f"{PREFIX}/binary_sensor/{NODE}/door_open/config" in _published(mqtt_mock)


async def test_mqtt_disabled_publishes_nothing(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, scripted_engine: ScriptedEngine
) -> None:
    await set_up_entry(hass)
    assert mqtt_mock.async_publish.call_args_list == []


async def test_new_prefix_or_publishing_off_removes_the_old_configs(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, scripted_engine: ScriptedEngine
) -> None:
    entry = await set_up_entry(hass, mqtt_enabled=True, mqtt_prefix=PREFIX)

    mqtt_mock.async_publish.reset_mock()
    options = {**entry.options, "mqtt_prefix": "bridges"}
    hass.config_entries.async_update_entry(entry, options=options)  # applied by a reload
    await hass.async_block_till_done(wait_background_tasks=True)
    published = _published(mqtt_mock)
    assert published[f"{PREFIX}/binary_sensor/{NODE}/door_open/config"] == ("", 1, True)
    new_topic = f"bridges/binary_sensor/{NODE}/door_open/config"
    assert json.loads(published[new_topic][0])["device_class"] == "door"
    assert sum(body == "" for body, _, _ in published.values()) == 6  # all old configs

    mqtt_mock.async_publish.reset_mock()
    hass.config_entries.async_update_entry(entry, options={**options, "mqtt_enabled": False})
    await hass.async_block_till_done(wait_background_tasks=True)
    published = _published(mqtt_mock)
    assert published[new_topic] == ("", 1, True)
    assert sum(body == "" for body, _, _ in published.values()) == 6


@pytest.mark.parametrize(
    "mqtt_config_entry_data",
    [{"broker": "broker.lan", "port": 1883, "username": "ha", "password": "pw-9f2"}],
)
async def test_diagnostics_carry_mqttthing_config_without_secrets(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    scripted_engine: ScriptedEngine,
    hass_client: ClientSessionGenerator,
) -> None:
    entry = await set_up_entry(hass, mqtt_enabled=True, mqtt_prefix=PREFIX)

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert "pw-9f2" not in json.dumps(diagnostics)
    door, car = diagnostics["homebridge_mqttthing"]["accessories"]
    assert door["type"] == "contactSensor" and car["type"] == "occupancySensor"
    assert door["url"] == "mqtt://broker.lan:1883"
    assert (door["username"], door["password"]) == ("<MQTT_USERNAME>", "<MQTT_PASSWORD>")
    assert door["topics"] == {
        "getContactSensorState": "garagecam-ha/camera_garage_demo/door_open",
        "getOnline": "garagecam-ha/camera_garage_demo/availability",
    }
    # The topics are the ones the bridge publishes (same builder).
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done(wait_background_tasks=True)
    published = _published(mqtt_mock)
    assert published[door["topics"]["getContactSensorState"]][0] == door["onValue"]
    assert published[door["topics"]["getOnline"]][0] == door["onlineValue"]


async def test_diagnostics_without_mqtt_publishing_have_no_mqttthing_config(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    scripted_engine: ScriptedEngine,
    hass_client: ClientSessionGenerator,
) -> None:
    entry = await set_up_entry(hass)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert "homebridge_mqttthing" not in diagnostics
