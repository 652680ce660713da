"""Publish the entry's states to MQTT (discovery + states) for HomeKit bridges.

Goes through Home Assistant's own `mqtt` integration and the core's payload builder (same
topics and payloads as the standalone runner). The discovery prefix defaults to
`garagecam-homekit`, which Home Assistant's MQTT integration does not read, so Home Assistant
never shows each sensor twice, and states go under `garagecam-ha`: neither touches the
runner's default topics (`garagecam/...`, `homeassistant/...`), so both run on one broker.
Scrypted (its MQTT URL path is the prefix) and homebridge-mqttthing (configured from
diagnostics) read it; homebridge-tasmota only ever reads `homeassistant/#` (see the docs).
`offline` is published when the entry unloads and when Home Assistant stops cleanly.
Removing the entry (or turning publishing off) empties every retained topic it published
(discovery configs, states, availability), and the bridge status `garagecam-ha/status` too
once no other entry publishes: a broker keeps a retained message until it is emptied.

When to publish is the runner's rule, from the core's `retained` module: a retained message
goes out only when its payload changed (states on change, not on every poll); everything is
replayed when MQTT (re)connects and when `<prefix>/status` says `online`; states and
availability are replayed every hour (homebridge-tasmota drops accessories silent for 24 h).
While MQTT is disconnected nothing is sent; the replay on reconnect catches up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from homeassistant.components import mqtt
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HassJob, HomeAssistant, callback
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.storage import Store
from homeassistant.util.hass_dict import HassKey

from garagecam_core import discovery
from garagecam_core.retained import (
    ON_HOMEASSISTANT_ONLINE,
    PERIODIC,
    REPUBLISH_INTERVAL,
    Kind,
    RetainedMessages,
    is_online,
)

from .const import CONF_MQTT_PREFIX, DEFAULT_MQTT_PREFIX, DOMAIN, LOGGER, MQTT_BASE_TOPIC
from .coordinator import GarageCamCoordinator

QOS = 1
_STORE_VERSION = 1
#: entries whose bridge is publishing now (they share the bridge status topic)
_RUNNING: HassKey[set[str]] = HassKey(f"{DOMAIN}_mqtt_bridges")


def _store(hass: HomeAssistant, entry_id: str) -> Store[list[str]]:
    """Remembers the retained topics we published (configs, states, availability), to empty
    them with the entry. (Version 1 stores held the config topics only: same format.)"""
    return Store(hass, _STORE_VERSION, f"{DOMAIN}.mqtt_topics.{entry_id}")


def _running(hass: HomeAssistant) -> set[str]:
    return hass.data.setdefault(_RUNNING, set())


def camera_id(entry: ConfigEntry) -> str:
    return discovery.sanitize(entry.unique_id or entry.entry_id)


async def _publish(hass: HomeAssistant, messages: Iterable[discovery.Message]) -> None:
    for message in messages:
        await mqtt.async_publish(
            hass, message.topic, message.payload, qos=QOS, retain=message.retain
        )


async def async_clear_published(
    hass: HomeAssistant, entry_id: str, keep: Iterable[str] = ()
) -> None:
    """Empty the retained topics published for an entry (except `keep`). With nothing to
    keep (the entry stops publishing) the bridge status goes too, unless another entry
    still publishes: nothing would ever turn that `online` off again."""
    store = _store(hass, entry_id)
    topics = await store.async_load() or []
    stale = sorted(set(topics) - set(keep))
    if not stale:
        return
    if not keep and not _running(hass) - {entry_id}:
        stale.append(discovery.Topics(base=MQTT_BASE_TOPIC).bridge_availability)
    if not await mqtt.async_wait_for_mqtt_client(hass):
        LOGGER.warning("MQTT is not set up: cannot remove %d retained GarageCam topics", len(stale))
        return
    await _publish(hass, discovery.removal_messages(stale))
    remaining = sorted(set(topics) & set(keep))
    if remaining:
        await store.async_save(remaining)
    else:
        await store.async_remove()


class MqttBridge:
    """Publishes one entry: everything on start, reconnect and `<prefix>/status` online;
    states when they change and every hour."""

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry, coordinator: GarageCamCoordinator
    ) -> None:
        self.hass = hass
        self.entry = entry
        self.coordinator = coordinator
        self.topics = discovery.Topics(
            discovery_prefix=entry.options.get(CONF_MQTT_PREFIX, DEFAULT_MQTT_PREFIX),
            base=MQTT_BASE_TOPIC,
        )
        self.camera_id = camera_id(entry)
        self.info = discovery.CameraInfo(
            camera_id=self.camera_id, name=entry.title, model=coordinator.engine.metadata
        )
        self.retained = RetainedMessages()
        self._unsubscribe: list[Callable[[], None]] = []
        self._remove_shutdown_job: Callable[[], None] | None = None

    async def async_start(self) -> bool:
        """False when Home Assistant's MQTT integration is not set up (nothing published)."""
        if not await mqtt.async_wait_for_mqtt_client(self.hass):
            LOGGER.warning(
                "%s: MQTT publishing is on but the MQTT integration is not set up",
                self.entry.title,
            )
            return False
        self._unsubscribe.append(
            mqtt.async_subscribe_connection_status(self.hass, self._connection_changed)
        )
        self._unsubscribe.append(
            await mqtt.async_subscribe(
                self.hass, self.topics.homeassistant_status, self._status_received, qos=QOS
            )
        )
        self._unsubscribe.append(self.coordinator.async_add_listener(self._coordinator_updated))
        self._unsubscribe.append(
            async_track_time_interval(
                self.hass, self._periodic, timedelta(seconds=REPUBLISH_INTERVAL)
            )
        )
        # A shutdown job runs before EVENT_HOMEASSISTANT_STOP, while MQTT is still connected
        # (entries are not unloaded when Home Assistant stops).
        self._remove_shutdown_job = self.hass.async_add_shutdown_job(HassJob(self._async_shutdown))
        _running(self.hass).add(self.entry.entry_id)
        await self.async_publish_all()
        return True

    async def async_stop(self) -> None:
        """Entry unloaded: this camera is offline (other entries share the bridge status)."""
        if self._remove_shutdown_job is not None:
            self._remove_shutdown_job()
            self._remove_shutdown_job = None
        await self._async_offline(bridge=False)

    async def _async_shutdown(self) -> None:
        """Home Assistant stops: the camera and the bridge are offline."""
        # (not removing the job here: Home Assistant is iterating over its shutdown jobs)
        self._remove_shutdown_job = None
        await self._async_offline(bridge=True)

    async def _async_offline(self, bridge: bool) -> None:
        _running(self.hass).discard(self.entry.entry_id)
        while self._unsubscribe:
            self._unsubscribe.pop()()
        if not mqtt.is_connected(self.hass):
            return
        messages = [discovery.camera_availability_message(self.topics, self.camera_id, False)]
        if bridge:
            messages.append(discovery.bridge_availability_message(self.topics, False))
        await _publish(self.hass, messages)

    async def async_publish_all(self) -> None:
        """Every config, availability and state: at start, on reconnect, on HA online."""
        configs = discovery.discovery_messages(self.info, self.topics)
        owned = [m.topic for m in configs] + self.state_topics()
        await async_clear_published(self.hass, self.entry.entry_id, keep=owned)
        await _store(self.hass, self.entry.entry_id).async_save(owned)
        self.retained.changed(
            [discovery.bridge_availability_message(self.topics, True)], Kind.AVAILABILITY
        )
        self.retained.changed(configs, Kind.CONFIG)
        self._record_states()
        await self._async_send(self.retained.replay())

    def state_topics(self) -> list[str]:
        """Every retained state and availability topic this camera may publish."""
        camera, topics = self.camera_id, self.topics
        return [
            topics.camera_availability(camera),
            topics.inference_ms(camera),
            *(
                topic
                for label in self.info.model.label_names
                for topic in (
                    topics.state(camera, label),
                    topics.state_json(camera, label),
                    topics.probability(camera, label),
                )
            ),
        ]

    def _record_states(self) -> list[discovery.Message]:
        """Remember the current availability and states; returns the changed ones."""
        data = self.coordinator.data
        debouncer = self.coordinator.debouncer
        availability = discovery.camera_availability_message(
            self.topics, self.camera_id, data is not None and data.available
        )
        states = discovery.state_messages(
            self.topics,
            self.camera_id,
            {label: str(state) for label, state in debouncer.states.items()},
            debouncer.probabilities,
            data.classification.timings.inference_ms
            if data is not None and data.classification is not None
            else None,
            # states the model cannot back any more go out as unknown (as the runner does)
            unfamiliar=debouncer.unfamiliar,
        )
        return self.retained.changed([availability], Kind.AVAILABILITY) + self.retained.changed(
            states, Kind.STATE
        )

    async def _async_send(self, messages: list[discovery.Message]) -> None:
        """Publish now if connected (else the replay on reconnect sends them)."""
        if messages and mqtt.is_connected(self.hass):
            await _publish(self.hass, messages)

    @callback
    def _coordinator_updated(self) -> None:
        if changed := self._record_states():
            self.entry.async_create_background_task(
                self.hass, self._async_send(changed), "garagecam mqtt states"
            )

    @callback
    def _periodic(self, _now: datetime) -> None:
        self.entry.async_create_background_task(
            self.hass, self._async_send(self.retained.replay(*PERIODIC)), "garagecam mqtt replay"
        )

    @callback
    def _connection_changed(self, connected: bool) -> None:
        if connected:
            self.entry.async_create_background_task(
                self.hass, self.async_publish_all(), "garagecam mqtt republish"
            )

    async def _status_received(self, message: mqtt.ReceiveMessage) -> None:
        if is_online(message.payload):
            # Home Assistant (or a bridge using its status topic) restarted: it forgot all
            await self._async_send(self.retained.replay(*ON_HOMEASSISTANT_ONLINE))
