"""One GarageCam device per watched camera: its settings, its sensors and its poll loop.

The loop is the runner's (`garagecam_core.camera.Camera`): snapshot -> engine (off
the event loop) -> debouncer -> listeners, failures logged once each way, backoff, and
`max_age` after which the states are unavailable. Here the listener pushes the debounced
states to the sensor devices and reports availability through Scrypted's `Online`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import scrypted_sdk
from scrypted_sdk import DeviceProvider, Online, ScryptedDeviceBase, ScryptedInterface, Settings
from scrypted_sdk.types import Device, DeviceManifest, Setting

from garagecam_core.camera import Camera, CameraListener, Frame
from garagecam_core.debounce import Debouncer, LabelPolicy, State, Transition, merge_policies
from garagecam_core.errors import GarageCamError

from . import settings as cfg
from .engines import EngineHandle, Engines
from .homekit import add_homekit_mixin, device_id
from .sensors import (
    BINARY,
    KIND_OF_INTERFACE,
    GarageCamSensor,
    kind_of,
    label_title,
    sensor_manifest,
    sensor_native_id,
)
from .source import ScryptedSnapshotSource

_LOGGER = logging.getLogger("garagecam_scrypted.camera")

#: storage key of the last synced sensors (label -> interface), so that a camera whose model
#: cannot load at start can still take its sensors offline
SENSORS_KEY = "sensors"
#: label -> sensor name, fixed at the sensor's creation
NAMES_KEY = "sensor_names"
#: sensors already offered to HomeKit (native ids)
HOMEKIT_KEY = "homekit_offered"
RETRY_FIRST = 30.0
RETRY_MAX = 300.0
STOP_GRACE = 5.0

CAMERA_INTERFACES = [
    ScryptedInterface.Settings.value,
    ScryptedInterface.DeviceProvider.value,
    ScryptedInterface.Online.value,
]


@dataclass(frozen=True)
class Prepared:
    """Validated settings with the engine they run on, ready to switch to."""

    settings: cfg.CameraSettings
    handle: EngineHandle
    policies: dict[str, LabelPolicy]
    new_handle: bool


@dataclass(frozen=True)
class PluginContext:
    """What the plugin shares with its cameras."""

    engines: Engines
    model_dirs: Callable[[], Sequence[Path]]
    clock: Callable[[], float] = time.time


async def prepare(
    values: Mapping[str, str | None],
    context: PluginContext,
    current: EngineHandle | None = None,
    current_settings: cfg.CameraSettings | None = None,
) -> Prepared:
    """Parse the values, open (or reuse) the engine and merge thresholds; raises the core's
    errors with one-line messages. Nothing is stored or started here."""
    settings = cfg.parse(values)
    reuse = (
        current is not None
        and current_settings is not None
        and current_settings.engine_key() == settings.engine_key()
    )
    handle = current if reuse and current is not None else None
    if handle is None:
        handle = await context.engines.open(settings, context.model_dirs())
    try:
        cfg.check_thresholds(handle.metadata, settings)
        policies = merge_policies(
            handle.metadata, settings.overrides_for(handle.metadata), settings.confirm_frames
        )
    except GarageCamError:
        if not reuse:
            await handle.release()
        raise
    return Prepared(settings, handle, policies, new_handle=not reuse)


def camera_manifest(native_id: str, name: str) -> Device:
    """The `Device` a GarageCam camera is reported as (to `onDeviceDiscovered`)."""
    # The SDK's TypedDicts are total; the server reads only the keys given (tests check them).
    return {  # type: ignore[typeddict-item]
        "nativeId": native_id,
        "name": name,
        "type": scrypted_sdk.ScryptedDeviceType.DeviceProvider.value,
        "interfaces": list(CAMERA_INTERFACES),
        "info": {"manufacturer": "GarageCam", "model": "GarageCam classifier"},
    }


class _Publisher(CameraListener):
    """Core camera events -> Scrypted device states."""

    def __init__(self, device: GarageCamCamera) -> None:
        self._device = device

    def on_frame(self, camera: Camera, frame: Frame, transitions: Sequence[Transition]) -> None:
        for transition in transitions:
            sensor = self._device.gc_sensor(transition.label)
            if sensor is not None:
                sensor.gc_show(transition.new, camera.available)

    def on_availability(self, camera: Camera, available: bool) -> None:
        self._device.gc_publish(available)

    def on_failure(self, camera: Camera, error: GarageCamError, reason: str) -> None:
        """The core camera logs the loss and the recovery once each."""


class GarageCamCamera(ScryptedDeviceBase, Settings, DeviceProvider, Online):
    """A watched camera. Attributes of our own start with `_gc_`: Scrypted intercepts the
    names of its properties (`name`, `online`, `mixins`, ...) on device objects."""

    def __init__(self, native_id: str, context: PluginContext) -> None:
        super().__init__(native_id)
        self._gc_context = context
        self._gc_lock = asyncio.Lock()
        self._gc_settings: cfg.CameraSettings | None = None
        self._gc_handle: EngineHandle | None = None
        self._gc_core: Camera | None = None
        self._gc_stop: asyncio.Event | None = None
        self._gc_task: asyncio.Task[None] | None = None
        self._gc_retry: asyncio.Task[None] | None = None
        self._gc_sensors: dict[str, GarageCamSensor] = {}
        self._gc_problem: str | None = None

    # --- helpers the listener and the plugin use ------------------------------------------------

    @property
    def gc_label(self) -> str:
        return str(self.name or self.nativeId)

    @property
    def gc_core(self) -> Camera | None:
        return self._gc_core

    def gc_values(self) -> dict[str, str | None]:
        storage = self.storage
        return {key: storage.getItem(key) for key in list(storage.getKeys())}

    def gc_sensor(self, label: str) -> GarageCamSensor | None:
        return self._gc_sensors.get(label)

    def gc_publish(self, available: bool) -> None:
        """Availability changed: every sensor shows the debouncer's current state, or goes
        offline (and tampered) while there is none (see sensors.py); so does this device."""
        core = self._gc_core
        for label, sensor in self._gc_sensors.items():
            state = core.debouncer.state(label) if core is not None else State.UNKNOWN
            sensor.gc_show(state, available)
        if self.online != available:
            self.online = available

    # --- start, switch, stop --------------------------------------------------------------------

    async def gc_start(self) -> None:
        """Start from the stored settings; on failure keep retrying in the background."""
        async with self._gc_lock:
            self._gc_sensors = self._gc_stored_sensors()
            # Nothing is known until the first frame is classified: the states the server
            # kept from before the restart must not show as current meanwhile.
            self.gc_publish(False)
            prepared = await self._gc_try_prepare()
            if prepared is None:
                self._gc_retry = asyncio.ensure_future(self._gc_retry_loop())
                return
            await self._gc_switch(prepared)

    def _gc_stored_sensors(self) -> dict[str, GarageCamSensor]:
        try:
            stored = json.loads(self.storage.getItem(SENSORS_KEY) or "{}")
        except ValueError:
            return {}
        if not isinstance(stored, dict):
            return {}
        return {
            label: GarageCamSensor(sensor_native_id(str(self.nativeId), label), kind)
            for label, interface in stored.items()
            if (kind := KIND_OF_INTERFACE.get(interface)) is not None
        }

    async def _gc_try_prepare(self) -> Prepared | None:
        """`prepare()` from the stored settings; a failure is logged once per distinct problem
        and takes the sensors offline."""
        try:
            return await prepare(self.gc_values(), self._gc_context)
        except GarageCamError as err:
            problem = str(err)
        except Exception as err:  # a bug must not end the retries silently
            problem = f"{type(err).__name__}: {err}"
            _LOGGER.debug("%s: unexpected error", self.gc_label, exc_info=True)
        if self._gc_problem != problem:
            _LOGGER.warning(
                "%s: not running: %s (retrying in the background)", self.gc_label, problem
            )
        self._gc_problem = problem
        self.gc_publish(False)
        return None

    async def _gc_retry_loop(self) -> None:
        delay = RETRY_FIRST
        while True:
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)
            async with self._gc_lock:
                if self._gc_task is not None:  # a settings change got it running meanwhile
                    return
                prepared = await self._gc_try_prepare()
                if prepared is None:
                    continue
                _LOGGER.info("%s: running again", self.gc_label)
                await self._gc_switch(prepared)
                return

    async def gc_switch(self, prepared: Prepared) -> None:
        async with self._gc_lock:
            await self._gc_switch(prepared)

    async def _gc_switch(self, prepared: Prepared) -> None:
        """Stop the running loop and start one with `prepared`; the states carry over when the
        camera and the labels stay the same."""
        self._gc_cancel_retry()
        old_core, old_handle, old_settings = self._gc_core, self._gc_handle, self._gc_settings
        await self._gc_stop_loop()
        if old_handle is not None and old_handle is not prepared.handle:
            await old_handle.release()
        settings, metadata = prepared.settings, prepared.handle.metadata
        self._gc_settings, self._gc_handle, self._gc_problem = settings, prepared.handle, None
        await self._gc_sync_sensors(prepared.handle)
        debouncer = Debouncer(
            prepared.policies, max_age=settings.effective_max_age, name=self.gc_label
        )
        core = Camera(
            self.gc_label,
            self.gc_label,
            ScryptedSnapshotSource(settings.camera_id),
            prepared.handle.engine,
            debouncer,
            model_name=metadata.name,
            interval=settings.interval,
            roi=settings.roi,
            listeners=[_Publisher(self)],
            clock=self._gc_context.clock,
        )
        same_labels = old_core is not None and old_core.debouncer.labels == debouncer.labels
        if (
            same_labels
            and old_settings is not None
            and old_settings.camera_id == settings.camera_id
        ):
            assert old_core is not None
            for label, state in old_core.debouncer.states.items():
                debouncer.restore(label, state)
            debouncer.last_frame_time = old_core.debouncer.last_frame_time
            core.last_frame = old_core.last_frame  # availability follows last_frame_time
        self._gc_core = core
        self.gc_publish(core.available)
        self._gc_stop = stop = asyncio.Event()
        self._gc_task = asyncio.ensure_future(core.run(stop))
        _LOGGER.info(
            "%s: watching %s every %g s with %s",
            self.gc_label,
            core.source.description,
            settings.interval,
            prepared.handle.description,
        )

    def _gc_sensor_names(self, labels: Sequence[str]) -> dict[str, str]:
        """label -> sensor name, fixed when the sensor is first created (renaming this device
        later renames no sensor; the user renames sensors themselves)."""
        try:
            stored = json.loads(self.storage.getItem(NAMES_KEY) or "{}")
        except ValueError:
            stored = {}
        names = stored if isinstance(stored, dict) else {}
        for label in labels:
            if not isinstance(names.get(label), str):
                names[label] = f"{self.gc_label} {label_title(label)}"
        self.storage.setItem(NAMES_KEY, json.dumps(names))
        return {label: names[label] for label in labels}

    async def _gc_sync_sensors(self, handle: EngineHandle) -> None:
        metadata = handle.metadata
        native_id = str(self.nativeId)
        names = self._gc_sensor_names(metadata.label_names)
        manifest = sensor_manifest(native_id, names, metadata)
        await scrypted_sdk.deviceManager.onDevicesChanged(cast(DeviceManifest, manifest))
        if self._gc_settings is not None and self._gc_settings.homekit:
            await self._gc_offer_homekit([d["nativeId"] for d in manifest["devices"]])
        self._gc_sensors = {
            spec.name: GarageCamSensor(
                sensor_native_id(str(self.nativeId), spec.name), kind_of(spec)
            )
            for spec in metadata.labels
        }
        kinds = {label: sensor.gc_kind.interface for label, sensor in self._gc_sensors.items()}
        self.storage.setItem(SENSORS_KEY, json.dumps(kinds))

    async def _gc_offer_homekit(self, native_ids: list[str]) -> None:
        """Sensors never offered to HomeKit yet get its mixin (HomeKit reloads once, by
        itself). Once only, as HomeKit's own auto-enable: a user who removes it keeps it off."""
        try:
            offered = set(json.loads(self.storage.getItem(HOMEKIT_KEY) or "[]"))
        except (ValueError, TypeError):
            offered = set()
        new = [n for n in native_ids if n not in offered]
        if not new:
            return
        try:
            added = await add_homekit_mixin([device_id(n) for n in new])
        except Exception as err:  # HomeKit is optional: the sensors work without it
            _LOGGER.warning("%s: could not add the sensors to HomeKit: %s", self.gc_label, err)
            return
        if added is None:  # no HomeKit plugin: offer them when it is installed
            return
        self.storage.setItem(HOMEKIT_KEY, json.dumps(sorted(offered | set(new))))
        if added:
            _LOGGER.info("%s: %d sensor(s) added to HomeKit", self.gc_label, len(added))

    async def _gc_stop_loop(self) -> None:
        task, stop = self._gc_task, self._gc_stop
        self._gc_task = self._gc_stop = None
        self._gc_core = None
        if task is None or stop is None:
            return
        stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), STOP_GRACE)
        except TimeoutError:  # a hung snapshot or inference: do not wait for it
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _gc_cancel_retry(self) -> None:
        if self._gc_retry is not None and self._gc_retry is not asyncio.current_task():
            self._gc_retry.cancel()
        self._gc_retry = None

    async def gc_stop(self) -> None:
        """Stop polling and let go of the engine (device removed, plugin stopping)."""
        async with self._gc_lock:
            self._gc_cancel_retry()
            await self._gc_stop_loop()
            if self._gc_handle is not None:
                await self._gc_handle.release()
            self._gc_handle = None

    # --- Settings -------------------------------------------------------------------------------

    async def getSettings(self) -> list[Setting]:
        metadata = self._gc_handle.metadata if self._gc_handle else None
        models = cfg.find_models(self._gc_context.model_dirs())
        page = cfg.describe(self.gc_values(), metadata, models, self.gc_status())
        return cast(list[Setting], page)

    async def putSetting(self, key: str, value: Any) -> None:
        """Validate the whole new configuration (engine included) before storing anything:
        a bad value raises a one-line error and the running loop is untouched."""
        cfg.check_key(key)
        stored = cfg.to_storage(value)
        async with self._gc_lock:
            values = self.gc_values() | {key: stored}
            reopen = key in cfg.ENGINE_KEYS
            prepared = await prepare(
                values,
                self._gc_context,
                None if reopen else self._gc_handle,
                self._gc_settings,
            )
            if stored is None:
                self.storage.removeItem(key)
            else:
                self.storage.setItem(key, stored)
            await self._gc_switch(prepared)
        await self.onDeviceEvent(ScryptedInterface.Settings, None)

    def gc_status(self) -> str:
        if self._gc_problem:
            return f"Not running: {self._gc_problem}"
        core, handle = self._gc_core, self._gc_handle
        if core is None or handle is None:
            return "Starting"
        states = ", ".join(f"{k} {v.value}" for k, v in core.debouncer.states.items())
        if core.last_error:
            return f"No frame ({core.last_error}); {states}"
        if core.last_frame is None:
            return f"Waiting for the first frame; {handle.description}"
        seen = time.strftime("%H:%M:%S", time.localtime(core.last_frame.timestamp))
        if core.debouncer.unfamiliar:
            # the model cannot back a state for this camera: say what to do, not just "unknown"
            return (
                f"Needs labels: the frames look unlike anything {handle.description} was "
                f"trained on, so the states are unknown (last frame {seen}); label a few "
                "frames and train a model for this camera (docs: Learn your camera)"
            )
        return f"{states} (last frame {seen}); {handle.description}"

    # --- DeviceProvider (the sensors) -----------------------------------------------------------

    async def getDevice(self, nativeId: str) -> Any:
        for sensor in self._gc_sensors.values():
            if sensor.nativeId == nativeId:
                return sensor
        # Asked before the model is loaded (Scrypted starting): sensors have no methods, so
        # any object with the native id serves; states are pushed by the loop's own objects.
        return GarageCamSensor(nativeId, BINARY)

    async def releaseDevice(self, id: str, nativeId: str) -> None:
        """A sensor was deleted in Scrypted; the next settings change re-creates it."""
