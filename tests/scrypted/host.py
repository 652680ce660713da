"""A fake Scrypted host for the plugin, built on the REAL `scrypted_sdk` Python package.

The plugin imports the SDK files every Python plugin bundles (`scrypted_sdk/__init__.py`,
`types.py`, from npm @scrypted/sdk): `ScryptedDeviceBase`, `DeviceState` with its property
setters, the interface and device type enums, the `Device`/`DeviceManifest`/`Setting`
TypedDicts. What a server provides is faked here, after Scrypted's own host
(`server/python/plugin_remote.py`, koush/scrypted): managers handed over with the SDK's
`sdk_init2()`, a `DeviceState` that stores properties in the system state (and refuses `id`,
`mixins` and `interfaces`, as the real one does), per-device storage, device proxies whose
properties come from the system state. Every manifest and setting the plugin sends is checked
against the SDK's TypedDicts.
"""

from __future__ import annotations

import asyncio
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import scrypted_sdk
from scrypted_sdk import types as sdk_types

# Fields the TypeScript declarations (sdk/types/src/types.input.ts) mark as required; the
# Python TypedDicts are generated as total and so cannot say which ones are optional.
REQUIRED = {
    "Device": {"name", "nativeId", "type", "interfaces"},
    "DeviceManifest": set(),
    "DeviceInformation": set(),
    "Setting": set(),
}


#: property -> the interface that declares it (the event a state change emits)
INTERFACE_OF = {
    prop: descriptor["name"]
    for descriptor in sdk_types.ScryptedInterfaceDescriptors.values()
    for prop in descriptor["properties"]
    if descriptor["name"] != "ScryptedDevice"
}


class ShapeError(AssertionError):
    pass


def _matches(value: Any, hint: Any, where: str) -> None:  # noqa: PLR0911 - one per kind
    origin = typing.get_origin(hint)
    if hint is Any:
        return
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in typing.get_args(hint):
            try:
                _matches(value, option, where)
                return
            except ShapeError as err:
                errors.append(str(err))
        raise ShapeError(f"{where}: {value!r} matches none of {hint}: {errors}")
    if typing.is_typeddict(hint):
        check_typed_dict(value, hint, where)
        return
    if origin is list:
        if not isinstance(value, list):
            raise ShapeError(f"{where}: expected a list, got {value!r}")
        (item,) = typing.get_args(hint)
        for index, element in enumerate(value):
            _matches(element, item, f"{where}[{index}]")
        return
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, list | tuple) or len(value) != len(args):
            raise ShapeError(f"{where}: expected {len(args)} items, got {value!r}")
        for index, (element, item) in enumerate(zip(value, args, strict=True)):
            _matches(element, item, f"{where}[{index}]")
        return
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ShapeError(f"{where}: expected a number, got {value!r}")
        return
    if isinstance(hint, type):
        if issubclass(hint, str) and isinstance(value, str):  # enums are str subclasses
            if hint is not str and value not in {m.value for m in hint}:  # type: ignore[attr-defined]
                raise ShapeError(f"{where}: {value!r} is not a {hint.__name__}")
            return
        if not isinstance(value, hint):
            raise ShapeError(f"{where}: expected {hint.__name__}, got {value!r}")
        return
    raise ShapeError(f"{where}: cannot check against {hint!r}")


def check_typed_dict(value: Any, typed_dict: Any, where: str = "") -> None:
    """Raise ShapeError unless `value` fits the SDK's TypedDict (no unknown keys, typed values)."""
    name = typed_dict.__name__
    where = where or name
    if not isinstance(value, dict):
        raise ShapeError(f"{where}: expected a {name} object, got {value!r}")
    hints = typing.get_type_hints(typed_dict, vars(sdk_types))
    unknown = sorted(set(value) - set(hints))
    if unknown:
        raise ShapeError(f"{where}: keys {unknown} are not in the SDK's {name}")
    missing = sorted(REQUIRED.get(name, set()) - set(value))
    if missing:
        raise ShapeError(f"{where}: required keys {missing} missing")
    for key, item in value.items():
        if name == "Setting" and key in ("type", "value"):
            continue  # generated as `Any | Any ...` and SettingValue: checked in settings tests
        _matches(item, hints[key], f"{where}.{key}")


def check_device(device: Any, where: str = "Device") -> None:
    """The SDK's `Device` TypedDict, plus what its `str` fields mean: `type` must be a
    ScryptedDeviceType and every interface a ScryptedInterface (a server stores any string,
    but nothing, e.g. the HomeKit plugin, would recognise an unknown one)."""
    check_typed_dict(device, sdk_types.Device, where)
    if device["type"] not in {t.value for t in sdk_types.ScryptedDeviceType}:
        raise ShapeError(f"{where}.type: {device['type']!r} is not a ScryptedDeviceType")
    unknown = set(device["interfaces"]) - {i.value for i in sdk_types.ScryptedInterface}
    if unknown:
        raise ShapeError(f"{where}.interfaces: {sorted(unknown)} are not ScryptedInterfaces")


# --- the server side ---------------------------------------------------------------------------


@dataclass
class Event:
    native_id: str | None
    interface: str
    property: str | None
    value: Any


class DeviceStorage:
    """Per-device storage as the host keeps it: strings, written through to the server."""

    def __init__(self, host: FakeHost, native_id: str | None, device_id: str) -> None:
        self.host = host
        self.nativeId = native_id
        self.id = device_id
        self.storage: dict[str, str] = {}

    def getItem(self, key: str) -> str | None:
        return self.storage.get(key, None)

    def setItem(self, key: str, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"storage values are strings, got {value!r}")
        self.storage[key] = value
        self.host.storage_writes += 1

    def removeItem(self, key: str) -> None:
        self.storage.pop(key, None)

    def getKeys(self) -> Any:
        return self.storage.keys()

    def clear(self) -> None:
        self.storage = {}


class DeviceState(sdk_types.DeviceState):  # type: ignore[misc]
    """plugin_remote.DeviceState: properties live in the system state; some are read only."""

    def __init__(self, host: FakeHost, device_id: str, native_id: str | None) -> None:
        super().__init__()
        self._id = device_id
        self.nativeId = native_id
        self._host = host

    def getScryptedProperty(self, property: str) -> Any:
        if property == "id":
            return self._id
        return self._host.system_state[self._id].get(property, {}).get("value")

    def setScryptedProperty(self, property: str, value: Any) -> None:
        if property == "id":
            raise Exception("id is read only")
        if property == "mixins":
            raise Exception("mixins is read only")
        if property == "interfaces":
            raise Exception(
                "interfaces is a read only post-mixin computed property, use providedInterfaces"
            )
        if property not in {p.value for p in sdk_types.ScryptedInterfaceProperty}:
            raise Exception(f"{property} is not a Scrypted property")
        self._host.set_state(self.nativeId, property, value)


class DeviceProxy:
    """What `systemManager.getDeviceById` returns: properties from the system state,
    methods forwarded to the device's implementation."""

    def __init__(self, host: FakeHost, device_id: str) -> None:
        self._host = host
        self._id = device_id

    def __getattr__(self, name: str) -> Any:
        if name == "id":
            return self._id
        if name in {p.value for p in sdk_types.ScryptedInterfaceProperty}:
            return self._host.system_state[self._id].get(name, {}).get("value")
        if name == "setMixins":  # ScryptedDevice.setMixins, as the server stores it
            return self._set_mixins
        impl = self._host.implementations.get(self._id)
        method = getattr(impl, name, None)
        if method is None:
            raise AttributeError(name)
        return method

    async def _set_mixins(self, mixins: list[str]) -> None:
        if not all(isinstance(m, str) and m in self._host.system_state for m in mixins):
            raise Exception(f"unknown mixin provider in {mixins!r}")
        self._host.system_state[self._id]["mixins"] = {"value": list(mixins)}
        self._host.mixin_changes.append((self._id, list(mixins)))


@dataclass
class MediaObject:
    data: Any
    mimeType: str


class FakeCamera:
    """A camera plugin's device: serves `frames()` results, or fails as told."""

    def __init__(self, frames: Callable[[], bytes]) -> None:
        self.frames = frames
        self.calls: list[Any] = []
        self.error: BaseException | None = None
        self.hang = False

    async def takePicture(self, options: Any = None) -> MediaObject:
        self.calls.append(options)
        if self.hang:
            await asyncio.Event().wait()
        if self.error is not None:
            raise self.error
        return MediaObject(self.frames(), "image/jpeg")


class MediaManager:
    def __init__(self, files: Path) -> None:
        self.files = files
        self.converted: list[str] = []

    async def convertMediaObjectToBuffer(self, media: Any, mime: str) -> bytes:
        self.converted.append(mime)
        if not isinstance(media, MediaObject):
            raise TypeError("not a media object")
        if mime != "image/jpeg":
            raise ValueError(f"no converter to {mime}")
        return bytes(media.data)

    async def getFilesPath(self) -> str:
        self.files.mkdir(parents=True, exist_ok=True)
        return str(self.files)


class SystemManager:
    def __init__(self, host: FakeHost) -> None:
        self._host = host

    def getDeviceById(self, device_id: str, native_id: str | None = None) -> Any:
        if device_id not in self._host.system_state:
            return None
        return DeviceProxy(self._host, device_id)

    def getSystemState(self) -> Any:
        return self._host.system_state


class DeviceManager:
    def __init__(self, host: FakeHost) -> None:
        self._host = host

    def getDeviceState(self, nativeId: str | None = None) -> DeviceState:
        return DeviceState(self._host, self._host.native_ids[nativeId].id, nativeId)

    def getDeviceStorage(self, nativeId: str | None = None) -> DeviceStorage | None:
        return self._host.native_ids.get(nativeId)

    async def onDevicesChanged(self, devices: Any) -> None:
        check_typed_dict(devices, sdk_types.DeviceManifest)
        provider = devices.get("providerNativeId")
        if provider not in self._host.native_ids:
            raise Exception(f"provider {provider!r} is not a device of this plugin")
        listed = set()
        for index, device in enumerate(devices.get("devices", [])):
            check_device(device, f"DeviceManifest.devices[{index}]")
            if device.get("providerNativeId") != provider:
                raise Exception("a device in a manifest names another provider")
            self._host.register(device)
            listed.add(device["nativeId"])
        # devices of this provider that are no longer listed are removed, as on the server
        for native_id in list(self._host.native_ids):
            info = self._host.devices.get(native_id)
            gone = info is not None and native_id not in listed
            if gone and info.get("providerNativeId") == provider:
                self._host.remove(native_id)
        self._host.manifests.append(devices)

    async def onDeviceDiscovered(self, device: Any) -> str:
        check_device(device)
        provider = device.get("providerNativeId")
        if provider not in self._host.native_ids:
            raise Exception(f"provider {provider!r} is not a device of this plugin")
        return self._host.register(device)

    async def onDeviceEvent(
        self, nativeId: str | None, eventInterface: str, eventData: Any
    ) -> None:
        self._host.events.append(Event(nativeId, eventInterface, None, eventData))

    async def onDeviceRemoved(self, nativeId: str) -> None:
        self._host.remove(nativeId)


@dataclass
class FakeHost:
    files: Path
    system_state: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    native_ids: dict[str | None, DeviceStorage] = field(default_factory=dict)
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    implementations: dict[str, Any] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    manifests: list[Any] = field(default_factory=list)
    console: list[tuple[str | None, str]] = field(default_factory=list)
    storage_writes: int = 0
    mixin_changes: list[tuple[str, list[str]]] = field(default_factory=list)
    _next_id: int = 100

    def install(self) -> None:
        """Hand the managers to the real SDK, the way the host does at plugin start."""
        static = scrypted_sdk.ScryptedStatic()
        static.systemManager = SystemManager(self)
        static.deviceManager = DeviceManager(self)
        static.mediaManager = self.media = MediaManager(self.files)
        static.zip = None
        static.remote = self
        static.api = self
        static.fork = None
        scrypted_sdk.sdk_init2(static)
        self.plugin_id = self._new_id()
        self.system_state[self.plugin_id] = {}
        self.native_ids[None] = DeviceStorage(self, None, self.plugin_id)

    async def setScryptedInterfaceDescriptors(self, version: str, descriptors: Any) -> None:
        self.descriptors_version = version

    def print(self, native_id: str | None, *values: object, **_kwargs: Any) -> None:
        self.console.append((native_id, " ".join(str(v) for v in values)))

    def _new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def register(self, device: dict[str, Any]) -> str:
        native_id = device["nativeId"]
        storage = self.native_ids.get(native_id)
        if storage is None:
            storage = self.native_ids[native_id] = DeviceStorage(self, native_id, self._new_id())
        state = self.system_state.setdefault(storage.id, {})
        for key in ("name", "type", "interfaces", "info", "providerNativeId"):
            if key in device:
                state[key] = {"value": device[key]}
        state["nativeId"] = {"value": native_id}
        self.devices[native_id] = device
        return storage.id

    def remove(self, native_id: str) -> None:
        storage = self.native_ids.pop(native_id)
        self.system_state.pop(storage.id, None)
        self.devices.pop(native_id, None)

    def set_state(self, native_id: str | None, property: str, value: Any) -> None:
        device_id = self.native_ids[native_id].id
        self.system_state[device_id][property] = {"value": value}
        interface = INTERFACE_OF.get(property, "?")
        self.events.append(Event(native_id, interface, property, value))

    # --- helpers for tests ---------------------------------------------------------------------

    def add_camera(
        self, name: str, frames: Callable[[], bytes], *, is_camera: bool = True
    ) -> tuple[str, FakeCamera]:
        """A camera device of another plugin, as `getDeviceById` finds it."""
        device_id = self._new_id()
        interfaces = ["Camera", "VideoCamera", "MotionSensor"] if is_camera else ["OnOff"]
        self.system_state[device_id] = {
            "name": {"value": name},
            "type": {"value": "Camera" if is_camera else "Light"},
            "interfaces": {"value": interfaces},
        }
        camera = FakeCamera(frames)
        self.implementations[device_id] = camera
        return device_id, camera

    def add_homekit(self) -> str:
        """Scrypted's HomeKit plugin, as the system state lists it (its own device)."""
        device_id = self._new_id()
        self.system_state[device_id] = {
            "name": {"value": "HomeKit"},
            "pluginId": {"value": "@scrypted/homekit"},
            "interfaces": {"value": ["MixinProvider", "Settings", "DeviceProvider"]},
        }
        return device_id

    def mixins(self, native_id: str) -> list[str]:
        return self.state(native_id, "mixins") or []

    def state(self, native_id: str, property: str) -> Any:
        device_id = self.native_ids[native_id].id
        return self.system_state[device_id].get(property, {}).get("value")

    def children(self, provider: str) -> dict[str, dict[str, Any]]:
        return {n: d for n, d in self.devices.items() if d.get("providerNativeId") == provider}
