"""Child sensor devices: one Scrypted `Sensor` per model label.

The label's Home Assistant device class (from the model's metadata) picks the interface, and
so what Scrypted's HomeKit plugin shows in Apple Home (`plugins/homekit/src/types/sensor.ts`):

| device class                          | interface         | property         | Apple Home     |
|---------------------------------------|-------------------|------------------|----------------|
| door, garage_door, window, opening    | EntrySensor       | entryOpen        | contact sensor |
| occupancy, presence                   | OccupancySensor   | occupied         | occupancy      |
| motion                                | MotionSensor      | motionDetected   | motion sensor  |
| anything else (or none)               | BinarySensor      | binaryState      | contact sensor |

Every sensor also has `Online` and `TamperSensor`. A sensor is known while its camera's frames
are fresh and its label has a decided state; otherwise (starting, no frame yet, frames older
than the maximum age, a frame the model cannot judge) it is offline and `tampered`. Scrypted's
HomeKit plugin does not map `Online` for these accessories but maps `tampered` to the
service's `StatusTampered` (`plugins/homekit/src/types/sensor.ts`): Apple Home flags the
sensor while its state is not current. The state itself keeps its last value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from scrypted_sdk import ScryptedDeviceBase, ScryptedDeviceType, ScryptedInterface

from garagecam_core import __version__
from garagecam_core.debounce import State
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
    camera_native_id: str, names: dict[str, str], metadata: ModelMetadata
) -> dict[str, Any]:
    """The `DeviceManifest` of a camera's sensors (onDevicesChanged syncs the full list);
    `names`: label -> the sensor's name."""
    devices = []
    for spec in metadata.labels:
        native_id = sensor_native_id(camera_native_id, spec.name)
        devices.append(
            {
                "nativeId": native_id,
                "name": names[spec.name],
                "type": ScryptedDeviceType.Sensor.value,
                "interfaces": [
                    kind_of(spec).interface,
                    ScryptedInterface.Online.value,
                    ScryptedInterface.TamperSensor.value,
                ],
                "providerNativeId": camera_native_id,
                # HomeKit's accessory information: Model, SerialNumber, FirmwareRevision
                "info": {
                    "manufacturer": "GarageCam",
                    "model": f"{metadata.name} v{metadata.version}",
                    "serialNumber": native_id,
                    "firmware": __version__,
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

    def gc_show(self, state: State, available: bool) -> None:
        """Show the debounced state when it is current; else offline and tampered, the last
        state kept (HomeKit has no "unknown" for these characteristics)."""
        known = available and state is not State.UNKNOWN
        if known and getattr(self, self._gc_kind.property) is not (state is State.ON):
            setattr(self, self._gc_kind.property, state is State.ON)
        if self.online is not known:
            self.online = known
        # TamperState is `'intrusion' | ... | true | false` in TypeScript; the Python SDK
        # generates it as an empty TypedDict.
        tampered: Any = self.tampered
        if tampered is not (not known):
            self.tampered = cast(Any, not known)
