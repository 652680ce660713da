"""Create the inference engine of an entry: a worker process (local) or the runner (remote).

Inference never runs in Home Assistant's process: a native crash or a hung inference in a
model must not take Home Assistant down, and the worker can be killed on a timeout. `local`
mode therefore runs the core's `WorkerEngine` (a child process, ~48 MB with the torch-free
garagecam-runtime binding) behind an `ExecutorEngine` (the thread only waits on a pipe);
`remote` mode talks to a GarageCam runner over HTTP.

Local engines are shared: one worker process per model file, whatever the number of entries
(cameras) and config flows using it, counted by `SharedEngine` handles and closed with the last
one, or when Home Assistant stops.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.util.hass_dict import HassKey

from garagecam_core.engine import AsyncEngine, Classification, ExecutorEngine
from garagecam_core.errors import EngineClosedError, ModelNotFoundError
from garagecam_core.metadata import ModelMetadata
from garagecam_core.options import find_models, model_path
from garagecam_core.roi import Roi

from .const import (
    CONF_MODE,
    CONF_MODEL,
    CONF_TOKEN,
    CONF_URL,
    DOMAIN,
    MODE_REMOTE,
    MODELS_DIR,
    WORKER_TIMEOUT,
)

_RUNTIME_CHECK_KEY = f"{DOMAIN}_runtime_available"
# The worker child's own choice of runtime (the garagecam-runtime binding, else executorch's
# official one); run in a child so a runtime never loads in here.
_RUNTIME_PROBE = "from garagecam_core.pte_runtimes import get_runtime; get_runtime()"
_RUNTIME_PACKAGES = ("garagecam_runtime", "executorch")


async def async_runtime_available(hass: HomeAssistant) -> bool:
    """Whether an ExecuTorch runtime imports here (glibc installs); cached per run."""
    cached: bool | None = hass.data.get(_RUNTIME_CHECK_KEY)
    if cached is not None:
        return cached
    available = False
    if any(importlib.util.find_spec(name) is not None for name in _RUNTIME_PACKAGES):
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _RUNTIME_PROBE,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        available = await process.wait() == 0
    hass.data[_RUNTIME_CHECK_KEY] = available
    return available


def models_dir(hass: HomeAssistant) -> Path:
    return Path(hass.config.path(MODELS_DIR))


def list_local_models(hass: HomeAssistant) -> list[str]:
    """`demo` plus the model files (`.pte` bundles, `.gcam` heads) directly under
    `<config>/garagecam/models/` (blocking): the core's one lookup."""
    return find_models([models_dir(hass)])


def local_model_path(hass: HomeAssistant, model: str) -> Path:
    """Resolve a model choice with the core's one lookup (`demo`, a `.pte`/`.gcam` file in
    the models directory, or an absolute path); raises ModelNotFoundError (blocking: one
    look at the disk)."""
    return model_path(model, [models_dir(hass)])


def _start_worker(path: Path) -> ExecutorEngine:
    from garagecam_core.engine.worker import WorkerEngine

    # The child starts in the constructor: a model load error surfaces here, not at first poll.
    return ExecutorEngine(WorkerEngine(path, threads=1, timeout=WORKER_TIMEOUT))


#: the model file as it is now: a replaced file gets a new worker at the next (re)load
type _ModelKey = tuple[str, int, int]


def _model_key(path: Path) -> _ModelKey:
    stat = path.stat()
    return (str(path.resolve()), stat.st_mtime_ns, stat.st_size)


class _Shared:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.users = 0


class EnginePool:
    """One local engine per model file, reference-counted; all closed when Home Assistant stops."""

    def __init__(self, hass: HomeAssistant) -> None:
        self._hass = hass
        self._engines: dict[_ModelKey, _Shared] = {}
        self._lock = asyncio.Lock()  # two entries of one model must not start two workers
        hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, self._async_stop)

    async def async_acquire(self, path: Path) -> SharedEngine:
        async with self._lock:
            try:
                key = await self._hass.async_add_executor_job(_model_key, path)
            except OSError as err:  # same words as the core's check_pte_file
                raise ModelNotFoundError(f"model file {path} does not exist") from err
            shared = self._engines.get(key)
            if shared is None:
                engine = await self._hass.async_add_executor_job(_start_worker, path)
                shared = self._engines[key] = _Shared(engine)
            shared.users += 1
            return SharedEngine(self, key, shared.engine)

    async def async_release(self, key: _ModelKey) -> None:
        shared = self._engines.get(key)
        if shared is None:
            return  # closed at stop already
        shared.users -= 1
        if shared.users == 0:
            del self._engines[key]
            await shared.engine.close()

    @property
    def engines(self) -> list[AsyncEngine]:
        return [shared.engine for shared in self._engines.values()]

    async def _async_stop(self, _: Event) -> None:
        """Stop every worker: entries are not unloaded when Home Assistant stops. Without
        waiting for the children to exit (a second or two with libtorch loaded): they end
        on their own once their stdin closes, and Home Assistant stops meanwhile."""
        engines, self._engines = self._engines, {}
        await asyncio.gather(*(_close_now(shared.engine) for shared in engines.values()))


async def _close_now(engine: AsyncEngine) -> None:
    if isinstance(engine, ExecutorEngine):
        await engine.close(wait=False)
    else:
        await engine.close()


class SharedEngine:
    """An entry's (or a flow's) handle on a pooled engine; `close()` releases it once."""

    def __init__(self, pool: EnginePool, key: _ModelKey, engine: AsyncEngine) -> None:
        self._pool = pool
        self._key = key
        self.target = engine
        self._released = False

    @property
    def metadata(self) -> ModelMetadata:
        return self.target.metadata

    async def classify(self, image: bytes, roi: Roi | None = None) -> Classification:
        if self._released:
            raise EngineClosedError("the inference engine is closed")
        return await self.target.classify(image, roi)

    async def close(self) -> None:
        if not self._released:
            self._released = True
            await self._pool.async_release(self._key)


_POOL_KEY: HassKey[EnginePool] = HassKey(f"{DOMAIN}_engines")


@callback
def engine_pool(hass: HomeAssistant) -> EnginePool:
    if (pool := hass.data.get(_POOL_KEY)) is None:
        pool = hass.data[_POOL_KEY] = EnginePool(hass)
    return pool


async def async_create_engine(hass: HomeAssistant, data: Mapping[str, Any]) -> AsyncEngine:
    """The engine for an entry's data; raises GarageCamError subclasses."""
    if data[CONF_MODE] == MODE_REMOTE:
        from garagecam_core.engine.remote import RemoteEngine

        return await RemoteEngine.connect(
            async_get_clientsession(hass),
            data[CONF_URL],
            token=data.get(CONF_TOKEN) or None,
            model=data[CONF_MODEL],
        )
    return await engine_pool(hass).async_acquire(local_model_path(hass, data[CONF_MODEL]))


async def async_list_remote_models(
    hass: HomeAssistant, url: str, token: str | None
) -> dict[str, ModelMetadata]:
    """The runner's models by name: a real request that validates URL and token.

    Raises RemoteEngineError (cannot connect) or RemoteAuthError (token rejected).
    """
    from garagecam_core.engine.remote import RemoteEngine

    return await RemoteEngine(async_get_clientsession(hass), url, token).list_models()
