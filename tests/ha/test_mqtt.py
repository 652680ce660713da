"""MQTT bridge: discovery under its own prefix, states, re-publish, removal, no duplicates."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_mqtt_message,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator, MqttMockHAClient

from .conftest import ScriptedEngine, make_entry, set_up_entry

pytestmark = [
    pytest.mark.usefixtures("fake_camera", "camera_device"),
    # MQTT's own housekeeping timer outlives every test; Home Assistant's core suite lets it
    # linger for the mqtt tests the same way (expected_lingering_timers).
    pytest.mark.parametrize("expected_lingering_timers", [True]),
]

PREFIX = "garagecam-homekit"  # the default
NODE = "garagecam-ha_camera_garage_demo"


def _published(mqtt_mock: MqttMockHAClient) -> dict[str, tuple[str, int, bool]]:
    return {
        c.args[0]: (c.args[1], c.args[2], c.args[3]) for c in mqtt_mock.async_publish.call_args_list
    }


async def _set_options(hass: HomeAssistant, entry: MockConfigEntry, **changes: Any) -> None:
    """Through the options flow (it reloads the entry), keeping the label thresholds."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    current = {"scan_interval": 10, "max_age": 60, "mqtt_enabled": False, "mqtt_prefix": PREFIX}
    current |= {k: v for k, v in entry.options.items() if k in current}
    result = await hass.config_entries.options.async_configure(result["flow_id"], current | changes)
    while result["type"] is FlowResultType.FORM:
        assert result["step_id"] == "label", result.get("errors")
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {"on_threshold": 0.7, "off_threshold": 0.3, "confirm_frames": 2}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_publishes_discovery_and_states_without_duplicates(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, scripted_engine: ScriptedEngine
) -> None:
    entry = await set_up_entry(hass, mqtt_enabled=True)  # default prefix
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

    # states follow each poll (on change: the first frame's states were still unknown)
    mqtt_mock.async_publish.reset_mock()
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done(wait_background_tasks=True)
    published = _published(mqtt_mock)
    assert published["garagecam-ha/camera_garage_demo/door_open"] == ("ON", 1, True)
    assert published["garagecam-ha/camera_garage_demo/door_open/json"][0] == '{"state":"ON"}'

    # unload: camera offline (the bridge status is shared by the other entries); removal:
    # empty retained configs
    mqtt_mock.async_publish.reset_mock()
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert _published(mqtt_mock)["garagecam-ha/camera_garage_demo/availability"][0] == "offline"
    assert "garagecam-ha/status" not in _published(mqtt_mock)
    mqtt_mock.async_publish.reset_mock()
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    removed = _published(mqtt_mock)
    assert removed[config_topic] == ("", 1, True)
    # 6 configs (2 binary sensors, status, 2 probabilities, inference time), 8 states and
    # availability, the bridge status (the last entry)
    assert len(removed) == 15
    assert all(body == "" and retain for body, _, retain in removed.values())


def _broker(mqtt_mock: MqttMockHAClient) -> dict[str, str]:
    """What a broker retains after every publish so far (an empty payload clears a topic)."""
    retained: dict[str, str] = {}
    for call in mqtt_mock.async_publish.call_args_list:
        topic, payload, _qos, retain = call.args[:4]
        if retain and payload:
            retained[topic] = payload
        elif retain:
            retained.pop(topic, None)
    return retained


async def test_removal_empties_every_retained_topic(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, scripted_engine: ScriptedEngine
) -> None:
    entry = await set_up_entry(hass, mqtt_enabled=True)
    await entry.runtime_data.coordinator.async_refresh()  # the states become known
    await hass.async_block_till_done(wait_background_tasks=True)
    base = "garagecam-ha/camera_garage_demo"
    held = _broker(mqtt_mock)
    assert held[f"{base}/door_open"] == "ON" and held["garagecam-ha/status"] == "online"
    states = [t for t in held if t.startswith(f"{base}/")]
    assert len(states) == 8  # availability, inference time, 3 topics per label

    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert _broker(mqtt_mock) == {}


async def test_bridge_status_stays_while_another_entry_publishes(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, scripted_engine: ScriptedEngine
) -> None:
    first = await set_up_entry(hass, mqtt_enabled=True)
    second = await set_up_entry(hass, {"model": "mine.pte"}, mqtt_enabled=True)
    await hass.config_entries.async_remove(first.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    held = _broker(mqtt_mock)
    assert held["garagecam-ha/status"] == "online"
    assert not any(t.startswith("garagecam-ha/camera_garage_demo/") for t in held)
    assert held["garagecam-ha/camera_garage_mine_pte/availability"] == "online"

    await hass.config_entries.async_remove(second.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert _broker(mqtt_mock) == {}


async def test_publishing_turned_off_empties_the_entry_topics(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, scripted_engine: ScriptedEngine
) -> None:
    entry = await set_up_entry(hass, mqtt_enabled=True)
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done(wait_background_tasks=True)
    await _set_options(hass, entry, mqtt_enabled=False)
    assert _broker(mqtt_mock) == {}


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
    await _set_options(hass, entry, mqtt_prefix="bridges")
    published = _published(mqtt_mock)
    assert published[f"{PREFIX}/binary_sensor/{NODE}/door_open/config"] == ("", 1, True)
    new_topic = f"bridges/binary_sensor/{NODE}/door_open/config"
    assert json.loads(published[new_topic][0])["device_class"] == "door"
    assert sum(body == "" for body, _, _ in published.values()) == 6  # all old configs

    mqtt_mock.async_publish.reset_mock()
    await _set_options(hass, entry, mqtt_enabled=False)
    published = _published(mqtt_mock)
    assert published[new_topic] == ("", 1, True)
    assert sum(body == "" for body, _, _ in published.values()) == 15  # and states, status


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


async def test_runner_status_is_not_a_bridge_restart(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, scripted_engine: ScriptedEngine
) -> None:
    """The runner's own `garagecam/status` no longer makes the bridge re-publish everything."""
    await set_up_entry(hass, mqtt_enabled=True)
    mqtt_mock.async_publish.reset_mock()
    async_fire_mqtt_message(hass, "garagecam/status", "online")
    await hass.async_block_till_done(wait_background_tasks=True)
    assert _published(mqtt_mock) == {}
    assert not any(t.startswith("garagecam/") for t in _published(mqtt_mock))


async def test_old_default_prefix_is_migrated_and_its_configs_removed(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    scripted_engine: ScriptedEngine,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    entry = make_entry(mqtt_enabled=True, mqtt_prefix="garagecam")  # written by 1.1
    assert entry.minor_version == 1
    old = [f"garagecam/binary_sensor/{NODE}/door_open/config"]
    hass_storage[f"garagecam.mqtt_topics.{entry.entry_id}"] = {
        "version": 1,
        "minor_version": 1,
        "key": f"garagecam.mqtt_topics.{entry.entry_id}",
        "data": old,
    }
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.minor_version == 3
    assert entry.options["mqtt_prefix"] == PREFIX
    published = _published(mqtt_mock)
    assert published[old[0]] == ("", 1, True)  # the retained config under the old prefix
    assert f"{PREFIX}/binary_sensor/{NODE}/door_open/config" in published
    assert "point Homebridge or Scrypted at garagecam-homekit" in caplog.text


async def test_other_prefixes_survive_the_migration(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, scripted_engine: ScriptedEngine
) -> None:
    entry = await set_up_entry(hass, mqtt_enabled=True, mqtt_prefix="bridges")
    assert entry.minor_version == 3 and entry.options["mqtt_prefix"] == "bridges"


async def test_clean_stop_publishes_offline(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, scripted_engine: ScriptedEngine
) -> None:
    await set_up_entry(hass, mqtt_enabled=True)
    mqtt_mock.async_publish.reset_mock()
    await hass.async_stop()
    published = _published(mqtt_mock)
    assert published["garagecam-ha/camera_garage_demo/availability"] == ("offline", 1, True)
    assert published["garagecam-ha/status"] == ("offline", 1, True)


async def test_states_go_out_on_change_and_again_every_hour(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    scripted_engine: ScriptedEngine,
    freezer: FrozenDateTimeFactory,
) -> None:
    entry = await set_up_entry(hass, mqtt_enabled=True)
    coordinator = entry.runtime_data.coordinator
    base = "garagecam-ha/camera_garage_demo"

    async def poll() -> dict[str, tuple[str, int, bool]]:
        mqtt_mock.async_publish.reset_mock()
        await coordinator.async_refresh()
        await hass.async_block_till_done(wait_background_tasks=True)
        return _published(mqtt_mock)

    assert f"{base}/door_open" in await poll()  # UNKNOWN -> ON after two frames
    assert await poll() == {}  # the same frame again: nothing changed, nothing sent
    scripted_engine.probabilities = {"door_open": 0.9, "car_present": 0.15}
    assert await poll() == {f"{base}/car_present/probability": ("15.0", 1, True)}

    # every hour states and availability are sent again (homebridge-tasmota drops
    # accessories silent for 24 h); discovery configs are not
    mqtt_mock.async_publish.reset_mock()
    freezer.tick(timedelta(seconds=3600))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    published = _published(mqtt_mock)
    assert published[f"{base}/door_open"] == ("ON", 1, True)
    assert published[f"{base}/car_present/probability"] == ("15.0", 1, True)
    assert published[f"{base}/availability"] == ("online", 1, True)
    assert published["garagecam-ha/status"] == ("online", 1, True)
    assert not any(topic.endswith("/config") for topic in published)

    # Home Assistant (or a HomeKit bridge) announcing `online`: everything again
    mqtt_mock.async_publish.reset_mock()
    async_fire_mqtt_message(hass, f"{PREFIX}/status", "online")
    await hass.async_block_till_done(wait_background_tasks=True)
    published = _published(mqtt_mock)
    assert published[f"{base}/door_open"] == ("ON", 1, True)
    assert published[f"{PREFIX}/binary_sensor/{NODE}/door_open/config"][1:] == (1, True)
    # ... but not `offline` or anything else
    mqtt_mock.async_publish.reset_mock()
    async_fire_mqtt_message(hass, f"{PREFIX}/status", "offline")
    await hass.async_block_till_done(wait_background_tasks=True)
    assert _published(mqtt_mock) == {}


async def test_changes_while_disconnected_are_sent_on_reconnect(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, scripted_engine: ScriptedEngine
) -> None:
    from homeassistant.components.mqtt.const import MQTT_CONNECTION_STATE
    from homeassistant.helpers.dispatcher import async_dispatcher_send

    entry = await set_up_entry(hass, mqtt_enabled=True)
    base = "garagecam-ha/camera_garage_demo"
    mqtt_mock.connected = False
    mqtt_mock.async_publish.reset_mock()
    scripted_engine.probabilities = {"door_open": 0.05, "car_present": 0.1}
    for _ in range(2):  # confirm_frames 2: the door closes
        await entry.runtime_data.coordinator.async_refresh()
        await hass.async_block_till_done(wait_background_tasks=True)
    assert _published(mqtt_mock) == {}  # nothing sent into a dead connection

    mqtt_mock.connected = True
    async_dispatcher_send(hass, MQTT_CONNECTION_STATE, True)
    await hass.async_block_till_done(wait_background_tasks=True)
    published = _published(mqtt_mock)
    assert published[f"{base}/door_open"] == ("OFF", 1, True)
    assert published[f"{base}/door_open/probability"] == ("5.0", 1, True)
    assert f"{PREFIX}/binary_sensor/{NODE}/door_open/config" in published


async def test_states_the_model_cannot_back_go_out_as_unknown(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, scripted_engine: ScriptedEngine
) -> None:
    """Unfamiliar frames turn the sensors unknown: a HomeKit bridge must not keep `ON`."""
    entry = await set_up_entry(hass, mqtt_enabled=True)
    coordinator = entry.runtime_data.coordinator
    base = "garagecam-ha/camera_garage_demo"
    await coordinator.async_refresh()
    await hass.async_block_till_done(wait_background_tasks=True)
    assert _broker(mqtt_mock)[f"{base}/door_open"] == "ON"

    scripted_engine.novelty = 3.0
    for _ in range(2):  # confirm frames
        await coordinator.async_refresh()
        await hass.async_block_till_done(wait_background_tasks=True)
    held = _broker(mqtt_mock)
    assert held[f"{base}/door_open"] == "None"  # Home Assistant's MQTT: unknown
    assert json.loads(held[f"{base}/door_open/json"]) == {"state": "None"}

    scripted_engine.novelty = 0.3
    for _ in range(2):
        await coordinator.async_refresh()
        await hass.async_block_till_done(wait_background_tasks=True)
    assert _broker(mqtt_mock)[f"{base}/door_open"] == "ON"
