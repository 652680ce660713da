"""The engines cameras classify with: the core's engines, opened the way the runner opens them.

Local models run through the core's `default_engine_factory` (a worker process by default,
so inference never holds this process's GIL or crashes it; the core picks the torch-free
runtime binding when it is installed), kept in the core's `EnginePool`: one engine per model
file is shared by every camera that uses it. Remote mode asks a GarageCam runner over HTTP
(`RemoteEngine`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from garagecam_core.engine.base import AsyncEngine
from garagecam_core.engine.factory import (
    EngineFactory,
    EngineKind,
    ModelConfig,
    default_engine_factory,
)
from garagecam_core.engine.pool import EnginePool
from garagecam_core.engine.remote import RemoteEngine
from garagecam_core.metadata import ModelMetadata
from garagecam_core.redact import SECRETS

from .settings import DEMO_MODEL, CameraSettings, model_path


async def _nothing() -> None:
    return None


@dataclass
class EngineHandle:
    """A camera's use of an engine; `release()` once the camera no longer needs it."""

    engine: AsyncEngine
    description: str
    _release: Callable[[], Awaitable[None]] = field(default=_nothing, repr=False)
    _released: bool = field(default=False, repr=False)

    @property
    def metadata(self) -> ModelMetadata:
        return self.engine.metadata

    async def release(self) -> None:
        if not self._released:
            self._released = True
            await self._release()


class Engines:
    """Opens engines for cameras and closes them when the last camera lets go."""

    def __init__(
        self, factory: EngineFactory = default_engine_factory, kind: EngineKind = "worker"
    ) -> None:
        self._pool = EnginePool(factory)
        self._kind: EngineKind = kind
        self._session: aiohttp.ClientSession | None = None

    async def open(self, settings: CameraSettings, directories: Sequence[Path]) -> EngineHandle:
        """Raises the core's errors (ModelError, EngineError, RemoteEngineError...)."""
        if settings.mode == "remote":
            return await self._open_remote(settings)
        path = model_path(settings.model, directories).resolve()
        pooled = await self._pool.acquire(ModelConfig(name=path.stem, path=path, engine=self._kind))
        # the demo by its name: its path is deep inside the plugin's pip folder
        shown = DEMO_MODEL if settings.model == DEMO_MODEL else str(path)
        return EngineHandle(pooled.target, f"model {shown}", pooled.close)

    async def _open_remote(self, settings: CameraSettings) -> EngineHandle:
        SECRETS.add(settings.remote_token)  # never in a log line, whatever the error says
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        engine = await RemoteEngine.connect(
            self._session,
            settings.remote_url,
            settings.remote_token or None,
            settings.remote_model or None,
        )
        return EngineHandle(engine, f"runner {engine.where}, model {engine.model}")

    @property
    def open_models(self) -> int:
        return len(self._pool)

    async def close(self) -> None:
        await self._pool.close()
        if self._session is not None:
            await self._session.close()
            self._session = None
