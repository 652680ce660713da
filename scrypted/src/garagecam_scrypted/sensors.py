"""Child sensor devices: one Scrypted `Sensor` per model label.

The label's Home Assistant device class (from the model's metadata) picks the interface, and
so what Scrypted's HomeKit plugin shows in Apple Home (`plugins/homekit/src/types/sensor.ts`):

| device class                          | interface         | property         | Apple Home     |
|---------------------------------------|-------------------|------------------|----------------|
| door, garage_door, window, opening    | EntrySensor       | entryOpen        | contact sensor |
| occupancy, presence                   | OccupancySensor   | occupied         | occupancy      |
| motion                                | MotionSensor      | motionDetected   | motion sensor  |
| anything else (or none)               | BinarySensor      | binaryState      | contact sensor |

Every sensor also has `Online`: False once the camera's frames are older than the maximum age.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scrypted_sdk import ScryptedDeviceBase, ScryptedDeviceType, ScryptedInterface

from garagecam_core.metadata import LabelSpec, ModelMetadata


@dataclass(frozen=True)
class SensorKind:
    interface: str
    property: str


ENTRY = SensorKind(ScryptedInterface.EntrySensor.value, "entryOpen")
OCCUPANCY = SensorKind(ScryptedInterface.OccupancySensor.value, "occupied")
MOTION = SensorKind(ScryptedInterface.MotionSensor.value, "motionDetected")
BINARY = SensorKind(ScryptedInterface.BinarySensor.value, "binaryState")

KIND_OF_INTERFACE = {kind.interface: kind for kind in (ENTRY, OCCUPANCY, MOTION, BINARY)}

_KINDS = {
    "door": ENTRY,
    "garage_door": ENTRY,
    "window": ENTRY,
    "opening": ENTRY,
    "occupancy": OCCUPANCY,
    "presence": OCCUPANCY,
    "motion": MOTION,
}


def kind_of(spec: LabelSpec) -> SensorKind:
    return _KINDS.get(spec.device_class or "", BINARY)


def sensor_native_id(camera_native_id: str, label: str) -> str:
    return f"{camera_native_id}:{label}"


def label_title(label: str) -> str:
    return label.replace("_", " ").strip().title()


def sensor_manifest(
    camera_native_id: str, camera_name: str, metadata: ModelMetadata
) -> dict[str, Any]:
    """The `DeviceManifest` of a camera's sensors (onDevicesChanged syncs the full list)."""
    devices = []
    for spec in metadata.labels:
        devices.append(
            {
                "nativeId": sensor_native_id(camera_native_id, spec.name),
                "name": f"{camera_name} {label_title(spec.name)}",
                "type": ScryptedDeviceType.Sensor.value,
                "interfaces": [kind_of(spec).interface, ScryptedInterface.Online.value],
                "providerNativeId": camera_native_id,
                "info": {
                    "manufacturer": "GarageCam",
                    "model": metadata.name,
                    "version": metadata.version,
                },
            }
        )
    return {"providerNativeId": camera_native_id, "devices": devices}


class GarageCamSensor(ScryptedDeviceBase):
    """One label of one camera. Assigning a Scrypted property (entryOpen, online, ...) goes
    through `setScryptedProperty`, which stores it on the server and emits the event; our own
    attributes carry the `_gc_` prefix so none of them is mistaken for a Scrypted property."""

    def __init__(self, native_id: str, kind: SensorKind) -> None:
        super().__init__(native_id)
        self._gc_kind = kind

    @property
    def gc_kind(self) -> SensorKind:
        return self._gc_kind

    def gc_set_state(self, on: bool) -> None:
        if getattr(self, self._gc_kind.property) is not on:
            setattr(self, self._gc_kind.property, on)

    def gc_set_online(self, online: bool) -> None:
        if self.online != online:
            self.online = online
