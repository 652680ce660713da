"""Scrypted's HomeKit plugin, seen from here: find it, and add its mixin to our sensors.

The HomeKit plugin (`plugins/homekit/src/main.ts`) adds its mixin to supported devices only
when it starts ("Auto enable"); a device created later waits until someone enables HomeKit on
it. When a device gains the mixin, HomeKit sees it in its `systemManager.listen` handler and
reloads itself to publish it ("... was added. HomeKit plugin will reload momentarily.").
Adding the mixin here is what the user would do by hand, once per new sensor.
"""

from __future__ import annotations

from typing import Any

import scrypted_sdk

HOMEKIT_PLUGIN = "@scrypted/homekit"


def _value(state: dict[str, Any], key: str) -> Any:
    item = state.get(key)
    return item.get("value") if isinstance(item, dict) else None


def homekit_plugin_id() -> str | None:
    """The HomeKit plugin's own device (its mixin provider), if it is installed."""
    for device_id, state in scrypted_sdk.systemManager.getSystemState().items():
        if (
            _value(state, "pluginId") == HOMEKIT_PLUGIN
            and _value(state, "nativeId") is None
            and "MixinProvider" in (_value(state, "interfaces") or [])
        ):
            return str(device_id)
    return None


def device_id(native_id: str) -> str:
    """The server's id of one of this plugin's devices."""
    return str(scrypted_sdk.deviceManager.getDeviceState(native_id).id)


async def add_homekit_mixin(device_ids: list[str]) -> list[str] | None:
    """Add HomeKit's mixin to each device that lacks it; the ids it was added to, or None when
    HomeKit is not installed."""
    homekit = homekit_plugin_id()
    if homekit is None:
        return None
    added = []
    for device in device_ids:
        proxy = scrypted_sdk.systemManager.getDeviceById(device)
        mixins = list(proxy.mixins or [])
        if homekit not in mixins:
            await proxy.setMixins([*mixins, homekit])
            added.append(device)
    return added
