"""Base entity: bound to the camera's own device when it has one."""

from __future__ import annotations

from homeassistant.helpers.device import async_entity_id_to_device
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import GarageCamCoordinator
from .runtime_data import GarageCamConfigEntry


class GarageCamEntity(CoordinatorEntity[GarageCamCoordinator]):
    """Defines a GarageCam entity."""

    _attr_has_entity_name = True

    def __init__(self, entry: GarageCamConfigEntry, key: str) -> None:
        coordinator = entry.runtime_data.coordinator
        super().__init__(coordinator)
        self._attr_unique_id = f"{entry.unique_id}_{key}"
        # Helper-integration pattern (Home Assistant 2025.8+): the sensors join the camera's
        # device without claiming it (no device_info, so the camera's integration keeps
        # owning the device). Only a camera without a device gets a GarageCam device.
        camera_device = async_entity_id_to_device(coordinator.hass, coordinator.camera_entity_id)
        if camera_device is not None:
            self.device_entry = camera_device
        else:
            self._attr_device_info = DeviceInfo(
                identifiers={(DOMAIN, entry.unique_id or entry.entry_id)},
                name=entry.title,
                manufacturer="GarageCam",
                model=coordinator.engine.metadata.name,
                sw_version=coordinator.engine.metadata.version,
            )

    @property
    def available(self) -> bool:
        data = self.coordinator.data
        return super().available and data is not None and data.available
