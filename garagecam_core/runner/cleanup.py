"""Remove the MQTT entities of cameras that are no longer in the config (on request only)."""

from __future__ import annotations

import threading
from typing import Any

from ..discovery import Topics, is_our_config, removal_messages, sanitize
from ..errors import ConfigError
from .config import MqttConfig, RunnerConfig
from .mqtt import make_client


def find_stale_configs(
    mqtt: MqttConfig, topics: Topics, keep: set[str], wait: float
) -> tuple[Any, dict[str, str]]:
    """Connect, collect retained discovery configs of our base topic whose node is not in
    `keep`; returns the connected client (caller disconnects) and {topic: node id}."""
    found: dict[str, str] = {}
    lock = threading.Lock()
    connected = threading.Event()
    refused: list[str] = []

    def on_connect(client: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            refused.append(str(reason))
        else:
            client.subscribe(topics.config_wildcard)
        connected.set()

    def on_message(_client: Any, _userdata: Any, message: Any) -> None:
        if message.retain and message.payload:
            node = is_our_config(topics, message.topic, message.payload)
            if node is not None and node not in keep:
                with lock:
                    found[message.topic] = node

    client = make_client(mqtt)
    client.on_connect, client.on_message = on_connect, on_message
    where = f"{mqtt.host}:{mqtt.port}"
    try:
        client.connect(mqtt.host, mqtt.port, mqtt.keepalive)
    except OSError as err:
        raise ConfigError(f"cannot connect to the MQTT broker {where}: {err}") from err
    client.loop_start()
    if not connected.wait(15) or refused:
        client.loop_stop()
        raise ConfigError(f"MQTT broker {where} did not accept the connection: {refused}")
    threading.Event().wait(wait)  # the broker sends retained messages right after SUBSCRIBE
    with lock:
        return client, dict(found)


def cleanup_removed_cameras(config: RunnerConfig, wait: float = 2.0, dry_run: bool = False) -> int:
    if config.mqtt is None:
        raise ConfigError("the config has no 'mqtt' section: nothing to clean up")
    topics = Topics(config.mqtt.discovery_prefix, config.mqtt.base_topic)
    keep = {topics.node_id(camera.id) for camera in config.cameras}
    client, stale = find_stale_configs(config.mqtt, topics, keep, wait)
    try:
        nodes = sorted(set(stale.values()))
        prefix = f"{sanitize(topics.base)}_"
        cameras = ", ".join(node.removeprefix(prefix) for node in nodes) or "-"
        if dry_run:
            for topic in sorted(stale):
                print(f"would remove {topic}")
            print(f"{len(stale)} discovery configs of {len(nodes)} camera(s): {cameras}")
            return 0
        for message in removal_messages(sorted(stale)):
            client.publish(message.topic, message.payload, qos=1, retain=True).wait_for_publish(10)
        print(
            f"removed {len(stale)} discovery configs of {len(nodes)} camera(s) no longer "
            f"configured: {cameras}"
        )
    finally:
        client.disconnect()
        client.loop_stop()
    return 0
