"""The plugin device: creates GarageCam cameras (DeviceCreator) and provides them."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import scrypted_sdk
from scrypted_sdk import DeviceCreator, DeviceProvider, ScryptedDeviceBase
from scrypted_sdk.types import DeviceCreatorSettings, Setting

from garagecam_core.engine.factory import EngineFactory, EngineKind, default_engine_factory
from garagecam_core.errors import ConfigError

from . import settings as cfg
from .camera import GarageCamCamera, PluginContext, camera_manifest, prepare
from .console import install_console_logging
from .engines import Engines

_LOGGER = logging.getLogger("garagecam_scrypted.plugin")

CAMERAS_KEY = "cameras"
NAME = "name"
CREATE_KEYS = (
    cfg.CAMERA,
    cfg.MODE,
    cfg.MODEL,
    cfg.REMOTE_URL,
    cfg.REMOTE_TOKEN,
    cfg.REMOTE_MODEL,
    cfg.HOMEKIT,
)
#: the create form's fields that belong to one Inference choice, grouped under its name
MODE_KEYS = {
    "local": (cfg.MODEL,),
    "remote": (cfg.REMOTE_URL, cfg.REMOTE_TOKEN, cfg.REMOTE_MODEL),
}


class GarageCamPlugin(ScryptedDeviceBase, DeviceProvider, DeviceCreator):
    """Own attributes carry the `_gc_` prefix (Scrypted intercepts its property names)."""

    def __init__(
        self,
        *,
        engine_factory: EngineFactory = default_engine_factory,
        engine_kind: EngineKind = "worker",
        clock: Callable[[], float] = time.time,
        write: Callable[[str], None] = print,
    ) -> None:
        super().__init__()
        install_console_logging(write)
        self._gc_engines = Engines(engine_factory, engine_kind)
        self._gc_files: Path | None = None
        self._gc_context = PluginContext(self._gc_engines, self.gc_model_dirs, clock)
        self._gc_cameras: dict[str, GarageCamCamera] = {}
        self._gc_started = asyncio.ensure_future(self._gc_start_all())

    # --- where models are looked for ------------------------------------------------------------

    def gc_model_dirs(self) -> list[Path]:
        """The plugin's persistent files folder (`<volume>/plugins/<id>/files`), then its
        working directory (`fs/` in the zip, replaced on every update)."""
        dirs = [self._gc_files] if self._gc_files is not None else []
        return [*dirs, Path.cwd()]

    async def _gc_find_files(self) -> None:
        if self._gc_files is None:
            try:
                self._gc_files = Path(await scrypted_sdk.mediaManager.getFilesPath())
            except Exception as err:  # an older server: the working directory still works
                _LOGGER.warning("no plugin files folder (%s); models only from %s", err, Path.cwd())

    # --- cameras --------------------------------------------------------------------------------

    def _gc_camera_ids(self) -> list[str]:
        raw = self.storage.getItem(CAMERAS_KEY)
        try:
            ids = json.loads(raw) if raw else []
        except ValueError:
            ids = []
        return [i for i in ids if isinstance(i, str)] if isinstance(ids, list) else []

    def _gc_save_camera_ids(self, ids: list[str]) -> None:
        self.storage.setItem(CAMERAS_KEY, json.dumps(ids))

    def _gc_camera(self, native_id: str) -> GarageCamCamera:
        camera = self._gc_cameras.get(native_id)
        if camera is None:
            camera = self._gc_cameras[native_id] = GarageCamCamera(native_id, self._gc_context)
        return camera

    async def _gc_start_all(self) -> None:
        await self._gc_find_files()
        for native_id in self._gc_camera_ids():
            try:
                await self._gc_camera(native_id).gc_start()
            except Exception:  # one broken camera must not keep the others from starting
                _LOGGER.exception("camera %s did not start", native_id)

    async def gc_ready(self) -> None:
        """Wait until the stored cameras were started (tests, shutdown)."""
        await asyncio.shield(self._gc_started)

    async def gc_close(self) -> None:
        await self.gc_ready()
        for camera in list(self._gc_cameras.values()):
            await camera.gc_stop()
        await self._gc_engines.close()

    # --- DeviceProvider -------------------------------------------------------------------------

    async def getDevice(self, nativeId: str) -> Any:
        if nativeId in self._gc_cameras or nativeId in self._gc_camera_ids():
            return self._gc_camera(nativeId)
        return None

    async def releaseDevice(self, id: str, nativeId: str) -> None:
        """The user deleted a camera device: stop it and forget it."""
        camera = self._gc_cameras.pop(nativeId, None)
        if camera is not None:
            await camera.gc_stop()
        self._gc_save_camera_ids([i for i in self._gc_camera_ids() if i != nativeId])

    # --- DeviceCreator --------------------------------------------------------------------------

    async def getCreateDeviceSettings(self) -> list[Setting]:
        await self._gc_find_files()
        models = cfg.find_models(self.gc_model_dirs())
        page = cfg.describe({cfg.MODE: "local"}, None, models, "")
        by_key = {item["key"]: item for item in page}
        remote = cfg.describe({cfg.MODE: "remote"}, None, models, "")
        by_key |= {item["key"]: item for item in remote if item["key"] not in by_key}
        for mode, keys in MODE_KEYS.items():  # one form for both: say which fields go with what
            for key in keys:
                by_key[key] = by_key[key] | {"group": cfg.GROUPS[mode]}
        by_key[cfg.MODE] = by_key[cfg.MODE] | {
            "description": f"'{cfg.MODE_CHOICES['local']}': fill in '{cfg.GROUPS['local']}'; "
            f"'{cfg.MODE_CHOICES['remote']}': fill in '{cfg.GROUPS['remote']}'."
        }
        name = {"key": NAME, "title": "Name", "placeholder": "Garage", "value": ""}
        return cast(list[Setting], [name] + [by_key[key] for key in CREATE_KEYS])

    async def createDevice(self, settings: DeviceCreatorSettings) -> str:
        """Validate everything (the model loads, the runner answers) before the device exists."""
        await self._gc_find_files()
        unknown = sorted(set(settings) - {NAME, *CREATE_KEYS})
        if unknown:
            raise ConfigError(f"unknown settings {unknown}")
        values = {key: cfg.to_storage(settings.get(key)) for key in CREATE_KEYS}
        name = str(settings.get(NAME) or "").strip() or "GarageCam"
        prepared = await prepare(values, self._gc_context)
        # keep only the chosen Inference's fields (a runner device stores no local model)
        other = "remote" if prepared.settings.mode == "local" else "local"
        values = {k: None if k in MODE_KEYS[other] else v for k, v in values.items()}
        native_id = f"garagecam-{secrets.token_hex(4)}"
        try:
            device_id = await scrypted_sdk.deviceManager.onDeviceDiscovered(
                camera_manifest(native_id, name)
            )
            storage = scrypted_sdk.deviceManager.getDeviceStorage(native_id)
            for key, value in values.items():
                if value is not None:
                    storage.setItem(key, value)
            self._gc_save_camera_ids([*self._gc_camera_ids(), native_id])
        except BaseException:
            await prepared.handle.release()
            raise
        await self._gc_camera(native_id).gc_switch(prepared)
        return str(device_id)
