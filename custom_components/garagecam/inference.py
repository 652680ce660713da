"""Create the inference engine of an entry: a worker process (local) or the runner (remote).

Inference never runs in Home Assistant's process: a native crash or a hung inference in a
model must not take Home Assistant down, and the worker can be killed on a timeout. `local`
mode therefore runs the core's `WorkerEngine` (a child process, ~48 MB with the torch-free
garagecam-runtime binding) behind an `ExecutorEngine` (the thread only waits on a pipe);
`remote` mode talks to a GarageCam runner over HTTP.

Local engines are shared: one worker process per model file, whatever the number of entries
(cameras) and config flows using it, kept in the core's `EnginePool` (its `PooledEngine`
handles are counted; the worker closes with the last one, or when Home Assistant stops).
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any

from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.util.hass_dict import HassKey

from garagecam_core.engine import AsyncEngine
from garagecam_core.engine.factory import ModelConfig, default_engine_factory
from garagecam_core.engine.pool import EnginePool
from garagecam_core.metadata import ModelMetadata
from garagecam_core.options import find_models, model_path

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


def _stop_listener(pool: EnginePool) -> Callable[[Event], Coroutine[Any, Any, None]]:
    async def stop(_: Event) -> None:
        """Stop every worker: entries are not unloaded when Home Assistant stops. Without
        waiting for the children to exit (a second or two with libtorch loaded): they end
        on their own once their stdin closes, and Home Assistant stops meanwhile."""
        await pool.close(wait=False)

    return stop


_POOL_KEY: HassKey[EnginePool] = HassKey(f"{DOMAIN}_engines")


@callback
def engine_pool(hass: HomeAssistant) -> EnginePool:
    """The core's pool, its blocking work on Home Assistant's executor; closed at stop."""
    if (pool := hass.data.get(_POOL_KEY)) is None:
        pool = hass.data[_POOL_KEY] = EnginePool(
            default_engine_factory, hass.async_add_executor_job
        )
        hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, _stop_listener(pool))
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
    path = local_model_path(hass, data[CONF_MODEL])
    # One worker process per model file: inference never runs in Home Assistant's process.
    model = ModelConfig(path.stem, path, engine="worker", threads=1, timeout=WORKER_TIMEOUT)
    return await engine_pool(hass).acquire(model)


async def async_list_remote_models(
    hass: HomeAssistant, url: str, token: str | None
) -> dict[str, ModelMetadata]:
    """The runner's models by name: a real request that validates URL and token.

    Raises RemoteEngineError (cannot connect) or RemoteAuthError (token rejected).
    """
    from garagecam_core.engine.remote import RemoteEngine

    return await RemoteEngine(async_get_clientsession(hass), url, token).list_models()
