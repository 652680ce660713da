"""One binary sensor per model label, with the debounced state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from garagecam_core.debounce import Debouncer, State

from .entity import GarageCamEntity
from .runtime_data import GarageCamConfigEntry

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class GarageCamBinarySensorDescription(BinarySensorEntityDescription):
    is_on_fn: Callable[[Debouncer], bool | None]


def _is_on(label: str) -> Callable[[Debouncer], bool | None]:
    def is_on(debouncer: Debouncer) -> bool | None:
        state = debouncer.state(label)
        return None if state is State.UNKNOWN else state is State.ON

    return is_on


def label_name(label: str) -> str:
    return label.replace("_", " ").capitalize()


async def async_setup_entry(
    hass: HomeAssistant,
    entry: GarageCamConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    metadata = entry.runtime_data.engine.metadata
    async_add_entities(
        GarageCamBinarySensor(
            entry,
            GarageCamBinarySensorDescription(
                key=spec.name,
                translation_key="label",
                translation_placeholders={"label": label_name(spec.name)},
                device_class=BinarySensorDeviceClass(spec.device_class)
                if spec.device_class
                else None,
                is_on_fn=_is_on(spec.name),
            ),
        )
        for spec in metadata.labels
    )


class GarageCamBinarySensor(GarageCamEntity, BinarySensorEntity, RestoreEntity):
    """Debounced state of one label; the last state survives restarts until a new one."""

    entity_description: GarageCamBinarySensorDescription

    def __init__(
        self, entry: GarageCamConfigEntry, description: GarageCamBinarySensorDescription
    ) -> None:
        super().__init__(entry, description.key)
        self.entity_description = description

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        debouncer = self.coordinator.debouncer
        label = self.entity_description.key
        if debouncer.state(label) is not State.UNKNOWN:
            return  # a frame was already confirmed: it wins over the remembered state
        last = await self.async_get_last_state()
        if last is not None and last.state in (STATE_ON, STATE_OFF):
            debouncer.restore(label, State.ON if last.state == STATE_ON else State.OFF)

    @property
    def is_on(self) -> bool | None:
        return self.entity_description.is_on_fn(self.coordinator.debouncer)
