"""What a loaded entry holds, and the entry's type: above the coordinator, the MQTT bridge and
the capture, which know nothing of each other's holder (no import circle between them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntry

if TYPE_CHECKING:
    from garagecam_core.engine import AsyncEngine

    from .capture import EntryCapture
    from .coordinator import GarageCamCoordinator
    from .mqtt_bridge import MqttBridge


@dataclass
class GarageCamRuntimeData:
    coordinator: GarageCamCoordinator
    engine: AsyncEngine
    bridge: MqttBridge | None = None
    capture: EntryCapture | None = None


type GarageCamConfigEntry = ConfigEntry[GarageCamRuntimeData]
