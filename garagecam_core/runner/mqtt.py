"""MQTT publisher on paho-mqtt 2.x: LWT, reconnect with backoff, nothing lost on restarts.

The publisher keeps the latest payload of every retained topic it owns. Whenever a
connection is (re)established it publishes `online` and then replays that whole set, so
after a broker restart (even one that lost its retained store) every topic is correct again.
Publishing happens at QoS 0 while connected and not at all while disconnected: the replay on
connect is the delivery guarantee, and stale queued messages can never overwrite newer ones.
A retained message whose payload did not change is not sent again (states go out on change;
`republish()` repeats them on purpose for the bridges that drop silent devices).

Each connection has one last will (MQTT allows one per connection). The bridge connection's
will is `<base>/status`; the runner opens one more small connection per camera whose will is
that camera's availability topic, so a crash (SIGKILL, power loss) turns every camera
`offline` too, which consumers that read a single availability topic (homebridge-mqttthing's
`getOnline`) need. A clean stop publishes `offline` on every will topic itself, since a
clean disconnect discards the will.

paho runs its network loop in its own thread; every method here is thread-safe.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..discovery import OFFLINE, ONLINE, Message, Topics
from ..errors import ConfigError
from ..retained import ON_HOMEASSISTANT_ONLINE, Kind, RetainedMessages, is_online
from .config import MqttConfig

#: a connection that lasted this long was not a broker dropping us at once (seconds)
STABLE_SECONDS = 30.0

# Kind is re-exported: sinks and app import it from here
__all__ = ["Kind", "MessageHandler", "MqttPublisher", "make_client"]

_LOGGER = logging.getLogger("garagecam.runner.mqtt")

MessageHandler = Callable[[str, bytes, bool], None]  # topic, payload, retained


def _import_paho() -> Any:
    try:
        import paho.mqtt.client as mqtt
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ConfigError("MQTT needs paho-mqtt 2.x: pip install 'garagecam-core[mqtt]'") from err
    return mqtt


def make_client(config: MqttConfig, client_id: str = "") -> Any:
    """A paho 2.x client with the config's credentials and TLS settings (not connected)."""
    mqtt = _import_paho()
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311
    )
    if config.username is not None:
        client.username_pw_set(config.username, config.password)
    if config.tls is not None:
        tls = config.tls
        try:
            client.tls_set(
                ca_certs=str(tls.ca_certs) if tls.ca_certs else None,
                certfile=str(tls.certfile) if tls.certfile else None,
                keyfile=str(tls.keyfile) if tls.keyfile else None,
                cert_reqs=ssl.CERT_NONE if tls.insecure else ssl.CERT_REQUIRED,
            )
        except OSError as err:  # a file gone or unreadable since the config was loaded
            raise ConfigError(
                f"mqtt.tls: cannot load the TLS files: {err.strerror or err}"
            ) from None
        client.tls_insecure_set(tls.insecure)
    return client


class MqttPublisher:
    """One MQTT connection with `will_topic` as its last will (`offline`, retained).

    The bridge connection (`bridge=True`) announces `online` on its will topic when it
    connects and follows Home Assistant's status topic; a camera's availability connection
    (`bridge=False`) only replays what it was given, its availability.
    """

    def __init__(
        self,
        config: MqttConfig,
        topics: Topics,
        client_id: str | None = None,
        *,
        will_topic: str | None = None,
        bridge: bool = True,
    ) -> None:
        self._config = config
        self.topics = topics
        self.will_topic = will_topic or topics.bridge_availability
        self._bridge = bridge
        self._log_level = logging.INFO if bridge else logging.DEBUG
        self._mqtt = _import_paho()
        self._lock = threading.RLock()
        self._retained = RetainedMessages()  # what to send on change, what to replay
        self._subscriptions: dict[str, MessageHandler] = {}
        self._connected = threading.Event()
        self._ever_connected = False
        self._stopping = False
        self._on_connection_change: list[Callable[[bool], None]] = []
        self._connected_at = 0.0
        self._flaps = 0  # connections in a row that dropped before STABLE_SECONDS

        client = make_client(config, client_id if client_id is not None else config.client_id or "")
        client.will_set(self.will_topic, OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(
            min_delay=max(1, round(config.reconnect_min_delay)),
            max_delay=max(1, round(config.reconnect_max_delay)),
        )
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_message = self._handle_message
        self._client = client
        if bridge:
            self.subscribe(topics.homeassistant_status, self._handle_homeassistant_status)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def where(self) -> str:
        return f"{self._config.host}:{self._config.port}"

    def add_connection_listener(self, listener: Callable[[bool], None]) -> None:
        """Called (on paho's thread) with True on connect and False on disconnect."""
        self._on_connection_change.append(listener)

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background; paho keeps reconnecting with backoff until stop()."""
        _LOGGER.log(self._log_level, "Connecting to MQTT broker %s", self.where)
        self._client.connect_async(self._config.host, self._config.port, self._config.keepalive)
        self._client.loop_start()

    async def stop(self, seconds: float = 5.0) -> None:
        """Publish `offline` on the will topic (if connected, waiting up to `seconds` for the
        broker's acknowledgement), disconnect, stop paho."""
        await asyncio.to_thread(self._stop, seconds)

    def _stop(self, timeout: float) -> None:
        with self._lock:
            self._stopping = True
            connected = self.connected
            info = None
            if connected:
                info = self._client.publish(self.will_topic, OFFLINE, qos=1, retain=True)
        if info is not None:
            try:
                info.wait_for_publish(timeout)
            except (RuntimeError, ValueError) as err:  # connection dropped meanwhile
                _LOGGER.debug("offline message not confirmed: %s", err)
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()

    # --- publishing -------------------------------------------------------------------------

    def publish(self, messages: Iterable[Message], kind: Kind) -> int:
        """Publish now if connected; retained ones are also remembered for replays and sent
        only when their payload changed. Returns how many were sent."""
        with self._lock:
            send = self._retained.changed(messages, kind)
            if not self.connected:
                return 0
            for message in send:
                self._client.publish(message.topic, message.payload, qos=0, retain=message.retain)
            return len(send)

    def republish(self, *kinds: Kind) -> int:
        """Publish the remembered retained messages of these kinds again; returns how many."""
        with self._lock:
            if not self.connected:
                return 0
            selected = self._retained.replay(*kinds)
            for message in selected:
                self._client.publish(message.topic, message.payload, qos=0, retain=True)
            return len(selected)

    def retained(self) -> dict[str, str]:
        """The remembered retained topics and payloads (what the broker should hold)."""
        with self._lock:
            return self._retained.payloads()

    def subscribe(self, topic: str, handler: MessageHandler) -> None:
        """Subscribe now and after every reconnect; handler runs on paho's thread."""
        with self._lock:
            self._subscriptions[topic] = handler
            if self.connected:
                self._client.subscribe(topic, qos=0)

    # --- paho callbacks (network thread) -----------------------------------------------------

    def _handle_connect(
        self, client: Any, _userdata: Any, _flags: Any, reason_code: Any, _properties: Any
    ) -> None:
        if reason_code.is_failure:
            _LOGGER.error("MQTT broker %s refused the connection: %s", self.where, reason_code)
            return
        with self._lock:
            self._connected.set()
            if self._bridge:
                client.publish(self.will_topic, ONLINE, qos=1, retain=True)
            for topic in self._subscriptions:
                client.subscribe(topic, qos=0)
            count = self.republish()
        self._connected_at = time.monotonic()
        _LOGGER.log(
            self._log_level if self._flaps == 0 else logging.DEBUG,  # flapping: said once
            "MQTT %s %s (%d retained topics published)",
            "reconnected to" if self._ever_connected else "connected to",
            self.where,
            count,
        )
        self._ever_connected = True
        self._notify(True)

    def _handle_disconnect(
        self, _client: Any, _userdata: Any, _flags: Any, reason_code: Any, _properties: Any
    ) -> None:
        with self._lock:
            was_connected = self.connected
            self._connected.clear()
        if self._stopping:
            _LOGGER.log(self._log_level, "MQTT disconnected from %s", self.where)
        elif was_connected:
            self._connection_lost(reason_code)
        self._notify(False)

    def _connection_lost(self, reason_code: Any) -> None:
        """Back off (with jitter) from a broker that accepts and then drops us: paho resets its
        delay on every accepted connection, so it would reconnect every second or so, with
        two log lines each time. One warning per episode; the rest at debug level."""
        stable = time.monotonic() - self._connected_at >= STABLE_SECONDS
        self._flaps = 0 if stable else self._flaps + 1
        delay = self._next_delay()
        level = logging.WARNING if self._bridge else logging.DEBUG
        if self._flaps == 0:
            message = "MQTT connection to %s lost (%s); reconnecting with backoff"
        elif self._flaps == 1:
            message = (
                "MQTT broker %s drops the connection soon after accepting it (%s); "
                f"reconnecting in {delay:.0f} s and backing off (further drops not logged)"
            )
        else:
            level = logging.DEBUG
            message = f"MQTT connection to %s dropped again (%s); next try in {delay:.0f} s"
        _LOGGER.log(level, message, self.where, reason_code)

    def _next_delay(self) -> float:
        """The wait before the next connection attempt, doubling per flap, with jitter."""
        low, high = self._config.reconnect_min_delay, self._config.reconnect_max_delay
        base = min(high, low * 2.0 ** min(self._flaps, 30))
        delay = max(1.0, base * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, not secrecy
        self._client.reconnect_delay_set(min_delay=delay, max_delay=max(delay, high))
        return delay

    def _handle_message(self, _client: Any, _userdata: Any, message: Any) -> None:
        mqtt = self._mqtt
        for pattern, handler in list(self._subscriptions.items()):
            if mqtt.topic_matches_sub(pattern, message.topic):
                try:
                    handler(message.topic, message.payload, bool(message.retain))
                except Exception:
                    _LOGGER.exception("MQTT handler for %s failed", pattern)

    def _handle_homeassistant_status(self, _topic: str, payload: bytes, _retained: bool) -> None:
        if is_online(payload):
            count = self.republish(*ON_HOMEASSISTANT_ONLINE)
            _LOGGER.info("Home Assistant came online: re-published %d retained topics", count)

    def _notify(self, connected: bool) -> None:
        for listener in list(self._on_connection_change):
            listener(connected)
