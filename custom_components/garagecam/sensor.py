"""Diagnostic sensors: per-label probability (%) and inference latency, disabled by default."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, EntityCategory, UnitOfTime
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .binary_sensor import label_name
from .coordinator import GarageCamData
from .entity import GarageCamEntity
from .runtime_data import GarageCamConfigEntry

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class GarageCamSensorDescription(SensorEntityDescription):
    value_fn: Callable[[GarageCamData], float | None]


def _probability(label: str) -> Callable[[GarageCamData], float | None]:
    def value(data: GarageCamData) -> float | None:
        if data.classification is None:
            return None
        return round(data.classification.probabilities[label] * 100, 1)

    return value


def _latency(data: GarageCamData) -> float | None:
    if data.classification is None:
        return None
    return round(data.classification.timings.total_ms, 1)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: GarageCamConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    metadata = entry.runtime_data.engine.metadata
    descriptions = [
        GarageCamSensorDescription(
            key=f"{spec.name}_probability",
            translation_key="probability",
            translation_placeholders={"label": label_name(spec.name)},
            native_unit_of_measurement=PERCENTAGE,
            state_class=SensorStateClass.MEASUREMENT,
            entity_category=EntityCategory.DIAGNOSTIC,
            entity_registry_enabled_default=False,
            value_fn=_probability(spec.name),
        )
        for spec in metadata.labels
    ]
    descriptions.append(
        GarageCamSensorDescription(
            key="inference_latency",
            translation_key="inference_latency",
            device_class=SensorDeviceClass.DURATION,
            native_unit_of_measurement=UnitOfTime.MILLISECONDS,
            suggested_display_precision=1,
            state_class=SensorStateClass.MEASUREMENT,
            entity_category=EntityCategory.DIAGNOSTIC,
            entity_registry_enabled_default=False,
            value_fn=_latency,
        )
    )
    async_add_entities(GarageCamSensor(entry, description) for description in descriptions)


class GarageCamSensor(GarageCamEntity, SensorEntity):
    entity_description: GarageCamSensorDescription

    def __init__(
        self, entry: GarageCamConfigEntry, description: GarageCamSensorDescription
    ) -> None:
        super().__init__(entry, description.key)
        self.entity_description = description

    @property
    def native_value(self) -> float | None:
        data = self.coordinator.data
        return None if data is None else self.entity_description.value_fn(data)
