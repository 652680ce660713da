"""Create the inference engine of an entry: a worker process (local) or the runner (remote).

Inference never runs in Home Assistant's process: ExecuTorch holds the GIL for a whole
`execute()` call, which would freeze the event loop, and libtorch adds ~300 MB. `local`
mode therefore runs the core's `WorkerEngine` (a child process) behind an `ExecutorEngine`
(the thread only waits on a pipe); `remote` mode talks to a GarageCam runner over HTTP.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from garagecam_core import demo_model_path
from garagecam_core.engine import AsyncEngine, ExecutorEngine
from garagecam_core.errors import ModelNotFoundError
from garagecam_core.metadata import ModelMetadata

from .const import (
    CONF_MODE,
    CONF_MODEL,
    CONF_TOKEN,
    CONF_URL,
    DEMO_MODEL,
    DOMAIN,
    MODE_REMOTE,
    MODELS_DIR,
    WORKER_TIMEOUT,
)

_RUNTIME_CHECK_KEY = f"{DOMAIN}_runtime_available"
# Same imports the worker child needs; run in a child so libtorch never loads in here.
_RUNTIME_PROBE = "import executorch.runtime, torch"


async def async_runtime_available(hass: HomeAssistant) -> bool:
    """Whether the ExecuTorch runtime imports here (glibc installs); cached per run."""
    cached: bool | None = hass.data.get(_RUNTIME_CHECK_KEY)
    if cached is not None:
        return cached
    available = False
    if importlib.util.find_spec("executorch") is not None:
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
    """`demo` plus the `.pte` files directly under `<config>/garagecam/models/` (blocking)."""
    directory = models_dir(hass)
    found = (
        sorted(p.name for p in directory.glob("*.pte") if p.is_file()) if directory.is_dir() else []
    )
    return [DEMO_MODEL, *found]


def local_model_path(hass: HomeAssistant, model: str) -> Path:
    """Resolve a model choice; only names inside the models directory are accepted."""
    if model == DEMO_MODEL:
        return demo_model_path()
    directory = models_dir(hass)
    path = directory / model
    if Path(model).name != model or path.suffix != ".pte":
        raise ModelNotFoundError(f"model {model!r} is not a .pte file in {directory}")
    return path


def _start_worker(path: Path) -> ExecutorEngine:
    from garagecam_core.engine.worker import WorkerEngine

    # The child starts in the constructor: a model load error surfaces here, not at first poll.
    return ExecutorEngine(WorkerEngine(path, threads=1, timeout=WORKER_TIMEOUT))


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
    return await hass.async_add_executor_job(_start_worker, path)


async def async_list_remote_models(
    hass: HomeAssistant, url: str, token: str | None
) -> dict[str, ModelMetadata]:
    """The runner's models by name: a real request that validates URL and token.

    Raises RemoteEngineError (cannot connect) or RemoteAuthError (token rejected).
    """
    from garagecam_core.engine.remote import RemoteEngine

    return await RemoteEngine(async_get_clientsession(hass), url, token).list_models()
