"""The standalone runner and the integration's bridge on ONE real Mosquitto: no crosstalk.

Real parts: Mosquitto, the runner (`garagecam_core.runner`, paho client) with its default
topics, Home Assistant's own MQTT integration connected to the broker, the integration's
bridge with its default topics, and a raw MQTT subscriber that sees everything. Only the
engines are scripted (the runner's and the entry's): which model answers does not change a
topic, and this file must also run where no ExecuTorch runtime is installed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from garagecam_core.runner.app import Runner
from garagecam_core.runner.config import parse_config
from tests.core.runner.support import Broker, Spy, eventually, jpeg, running_broker

from .conftest import ScriptedEngine, set_up_entry

pytestmark = [
    pytest.mark.mqtt,
    pytest.mark.usefixtures("socket_enabled", "fake_camera", "camera_device", "scripted_engine"),
    # the MQTT integration's housekeeping timer outlives the test (as in test_mqtt.py)
    pytest.mark.parametrize("expected_lingering_timers", [True]),
]

RUNNER_ROOTS = {"garagecam", "homeassistant"}  # the runner's defaults (base, prefix)
BRIDGE_ROOTS = {"garagecam-ha", "garagecam-homekit"}  # the integration's defaults
BRIDGE_CONFIG = "garagecam-homekit/binary_sensor/garagecam-ha_camera_garage_demo/door_open/config"
RUNNER_CONFIG = "homeassistant/binary_sensor/garagecam_shed/door_open/config"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    with running_broker(tmp_path) as server:
        yield server


@pytest.fixture
def spy(broker: Broker) -> Iterator[Spy]:
    spy = Spy(broker.port).start()
    yield spy
    spy.stop()


@pytest.fixture
async def runner(broker: Broker, tmp_path: Path, tiny_model_path: Path) -> AsyncIterator[Runner]:
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "0001.jpg").write_bytes(jpeg())
    config = parse_config(
        {
            "models": {"tiny": {"path": str(tiny_model_path)}},
            "mqtt": {"host": "127.0.0.1", "port": broker.port, "reconnect_min_delay": 0.2},
            "http": None,
            "cameras": [
                {"id": "shed", "model": "tiny", "file": str(frames), "interval": 0.2},
            ],
        }
    )
    runner = Runner(config, engine_factory=lambda _model: ScriptedEngine())
    stop = asyncio.Event()
    await runner.start()
    task = asyncio.create_task(runner.run(stop))
    yield runner
    stop.set()
    await task
    await runner.stop()


async def _connect_home_assistant(
    hass: HomeAssistant, broker: Broker, config_dir: Path
) -> MockConfigEntry:
    """Home Assistant's own MQTT integration, connected to the broker."""
    (config_dir / "configuration.yaml").write_text("", encoding="utf-8")  # MQTT reads it
    mqtt_entry = MockConfigEntry(
        domain=mqtt.DOMAIN, data={"broker": "127.0.0.1", "port": broker.port}
    )
    mqtt_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mqtt_entry.entry_id)
    assert await mqtt.async_wait_for_mqtt_client(hass)
    return mqtt_entry


def _roots(topics: Any) -> set[str]:
    return {topic.split("/", 1)[0] for topic in topics}


def _count(spy: Spy, topic: str) -> int:
    return spy.count(topic)


async def test_runner_and_bridge_share_a_broker_without_crosstalk(
    hass: HomeAssistant, broker: Broker, spy: Spy, runner: Runner, config_dir: Path
) -> None:
    # The runner alone: its own topic tree.
    assert await eventually(lambda: spy.get("garagecam/shed/door_open") == "ON")
    assert _roots(spy.snapshot()) <= RUNNER_ROOTS

    # Home Assistant's MQTT integration on the same broker, then a GarageCam entry publishing.
    mqtt_entry = await _connect_home_assistant(hass, broker, config_dir)
    runner_before = {t: v for t, v in spy.snapshot().items() if _roots([t]) <= RUNNER_ROOTS}
    entry = await set_up_entry(hass, mqtt_enabled=True)  # default topics
    assert entry.runtime_data.bridge is not None
    assert await eventually(lambda: spy.get(BRIDGE_CONFIG) is not None)
    assert await eventually(
        lambda: spy.get("garagecam-ha/camera_garage_demo/availability") == "online"
    )
    # (`homeassistant/status` is Home Assistant's own birth message, not the bridge's)
    bridge_topics = {t for t in spy.snapshot() if t not in runner_before} - {"homeassistant/status"}
    assert _roots(bridge_topics) <= BRIDGE_ROOTS, bridge_topics
    # nothing of the runner's was overwritten or removed by the bridge
    for topic, value in runner_before.items():
        if topic.endswith("/config"):
            assert spy.get(topic) == value, topic

    # The runner (re)announcing itself is not a "bridge restarted" for the integration...
    bridge_configs = _count(spy, BRIDGE_CONFIG)
    spy.publish("garagecam/status", "online", retain=True)
    await asyncio.sleep(0.5)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert _count(spy, BRIDGE_CONFIG) == bridge_configs
    # ...while its own prefix's `online` is (HomeKit bridges restarting)...
    spy.publish("garagecam-homekit/status", "online")
    assert await eventually(lambda: _count(spy, BRIDGE_CONFIG) > bridge_configs)
    # ...and that one does not reach the runner, which answers Home Assistant's status only.
    runner_configs = _count(spy, RUNNER_CONFIG)
    spy.publish("garagecam-homekit/status", "online")
    await asyncio.sleep(0.5)
    assert _count(spy, RUNNER_CONFIG) == runner_configs

    # Unloading the entry marks its camera offline; the runner's status stays online.
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert await eventually(
        lambda: spy.get("garagecam-ha/camera_garage_demo/availability") == "offline"
    )
    assert spy.get("garagecam/status") == "online"
    assert spy.get("garagecam/shed/availability") == "online"
    assert await hass.config_entries.async_unload(mqtt_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_bridge_sends_states_on_change_through_a_real_broker(
    hass: HomeAssistant, broker: Broker, spy: Spy, config_dir: Path, scripted_engine: ScriptedEngine
) -> None:
    """What a HomeKit bridge subscribed to the broker receives while the door stays open."""
    mqtt_entry = await _connect_home_assistant(hass, broker, config_dir)
    entry = await set_up_entry(hass, mqtt_enabled=True)
    coordinator = entry.runtime_data.coordinator
    door, probability = (
        f"garagecam-ha/camera_garage_demo/door_open{s}" for s in ("", "/probability")
    )

    async def poll() -> None:
        await coordinator.async_refresh()
        await hass.async_block_till_done(wait_background_tasks=True)

    await poll()  # the door's state becomes known (confirm frames 2)
    assert await eventually(lambda: spy.get(door) == "ON")
    for _ in range(5):  # five more polls of an unchanged scene
        await poll()
    scripted_engine.probabilities = {"door_open": 0.8, "car_present": 0.1}
    await poll()
    assert await eventually(lambda: spy.get(probability) == "80.0")
    # the marker went out after the five unchanged polls, so they are all delivered
    assert spy.count(door) == 1
    assert [p for t, p, _ in spy.messages if t == probability] == ["90.0", "80.0"]
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert await hass.config_entries.async_unload(mqtt_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)


async def _bridge_retained(port: int) -> dict[str, str]:
    """What the broker retains under the bridge's roots, as a consumer connecting now sees."""
    fresh = Spy(port).start()
    try:
        fresh.publish("garagecam-test/marker", "x")  # delivered after every retained message
        assert await eventually(lambda: fresh.get("garagecam-test/marker") == "x")
        return {t: v for t, v in fresh.snapshot().items() if _roots([t]) <= BRIDGE_ROOTS}
    finally:
        fresh.stop()


async def test_removed_entry_leaves_nothing_retained(
    hass: HomeAssistant, broker: Broker, spy: Spy, config_dir: Path
) -> None:
    mqtt_entry = await _connect_home_assistant(hass, broker, config_dir)
    entry = await set_up_entry(hass, mqtt_enabled=True)
    await entry.runtime_data.coordinator.async_refresh()  # the states become known
    await hass.async_block_till_done(wait_background_tasks=True)
    door = "garagecam-ha/camera_garage_demo/door_open"
    assert await eventually(lambda: spy.get(door) == "ON")
    held = await _bridge_retained(broker.port)
    assert held["garagecam-ha/status"] == "online" and BRIDGE_CONFIG in held

    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert await eventually(lambda: all(spy.get(t) is None for t in held))
    assert await _bridge_retained(broker.port) == {}
    assert await hass.config_entries.async_unload(mqtt_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_home_assistant_stopping_leaves_the_bridge_offline(
    hass: HomeAssistant, broker: Broker, spy: Spy, config_dir: Path
) -> None:
    await _connect_home_assistant(hass, broker, config_dir)
    await set_up_entry(hass, mqtt_enabled=True)
    status = "garagecam-ha/status"
    assert await eventually(lambda: spy.get(status) == "online")
    await hass.async_stop()
    held = await _bridge_retained(broker.port)
    assert held[status] == "offline"
    assert held["garagecam-ha/camera_garage_demo/availability"] == "offline"
