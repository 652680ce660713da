"""The engines cameras classify with: the core's engines, opened the way the runner opens them.

Local models run through the runner's `default_engine_factory` (a worker process by default,
so inference never holds this process's GIL or crashes it; the core picks the torch-free
runtime binding when it is installed). One engine per model file is shared by every camera
that uses it. Remote mode asks a GarageCam runner over HTTP (`RemoteEngine`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from garagecam_core.engine.base import AsyncEngine
from garagecam_core.engine.remote import RemoteEngine
from garagecam_core.errors import EngineError, GarageCamError, ModelNotFoundError
from garagecam_core.metadata import ModelMetadata
from garagecam_core.redact import SECRETS
from garagecam_core.runner.app import default_engine_factory
from garagecam_core.runner.config import EngineKind, ModelConfig

from .settings import DEMO_MODEL, CameraSettings, model_path

EngineFactory = Callable[[ModelConfig], AsyncEngine]


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


@dataclass
class _Shared:
    engine: AsyncEngine
    users: int = 0


class Engines:
    """Opens engines for cameras and closes them when the last camera lets go."""

    def __init__(
        self, factory: EngineFactory = default_engine_factory, kind: EngineKind = "worker"
    ) -> None:
        self._factory = factory
        self._kind: EngineKind = kind
        self._local: dict[tuple[Path, int, int], _Shared] = {}
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    async def open(self, settings: CameraSettings, directories: Sequence[Path]) -> EngineHandle:
        """Raises the core's errors (ModelError, EngineError, RemoteEngineError...)."""
        if settings.mode == "remote":
            return await self._open_remote(settings)
        path = model_path(settings.model, directories).resolve()
        try:
            stat = path.stat()
        except OSError as err:
            raise ModelNotFoundError(f"Model: cannot read {path}: {err.strerror}") from err
        # A file replaced under the same name is a new model: key on size and mtime too.
        key = (path, stat.st_mtime_ns, stat.st_size)
        async with self._lock:
            shared = self._local.get(key)
            if shared is None:
                config = ModelConfig(name=path.stem, path=path, engine=self._kind)
                try:
                    engine = await asyncio.to_thread(self._factory, config)
                except GarageCamError:
                    raise
                except Exception as err:  # e.g. the worker process cannot be started
                    raise EngineError(
                        f"cannot load {path.name}: {type(err).__name__}: {err}"
                    ) from err
                shared = self._local[key] = _Shared(engine)
            shared.users += 1

        async def release() -> None:
            async with self._lock:
                shared.users -= 1
                if shared.users > 0 or self._local.get(key) is not shared:
                    return
                del self._local[key]
            await shared.engine.close()

        # the demo by its name: its path is deep inside the plugin's pip folder
        shown = DEMO_MODEL if settings.model == DEMO_MODEL else str(path)
        return EngineHandle(shared.engine, f"model {shown}", release)

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
        return len(self._local)

    async def close(self) -> None:
        async with self._lock:
            shared, self._local = list(self._local.values()), {}
        for item in shared:
            with contextlib.suppress(Exception):
                await item.engine.close()
        if self._session is not None:
            await self._session.close()
            self._session = None
