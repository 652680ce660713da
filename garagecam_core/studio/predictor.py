"""The current model's probabilities for each frame, computed once and cached on disk.

Inference runs through the core's engine in a child process (`WorkerEngine` behind an
`ExecutorEngine`), so the web server's event loop never waits on ExecuTorch. The cache file
`.studio/predictions-<model digest>.json` is keyed by the model file's SHA-256 and each
frame's path, size and modification time: a new model or a changed image is computed again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..capture import frame_hash
from ..dataset import read_no_follow, write_atomic
from ..engine.base import AsyncEngine, ExecutorEngine
from ..errors import GarageCamError
from ..metadata import ModelMetadata
from .store import Frame

_LOGGER = logging.getLogger(__name__)
_SAVE_EVERY = 50


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _cache_key(frame: Frame) -> str:
    return f"{frame.path}|{frame.size}|{frame.mtime_ns}"


@dataclass
class Progress:
    done: int = 0
    total: int = 0
    running: bool = False


class Predictor:
    def __init__(self, model_path: Path, cache_dir: Path, engine: AsyncEngine) -> None:
        self.model_path = model_path
        self.engine = engine
        self.digest = file_digest(model_path)
        self._cache_path = cache_dir / f"predictions-{self.digest[:16]}.json"
        self._cache: dict[str, dict[str, Any]] = self._load()
        self.progress = Progress()
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, model_path: Path, cache_dir: Path) -> Predictor:
        """Start the engine (a child process loads the model; errors surface here)."""
        from ..engine.worker import WorkerEngine

        worker = await asyncio.to_thread(WorkerEngine, model_path)
        try:
            await asyncio.to_thread(cache_dir.mkdir, parents=True, exist_ok=True)
            # hashing the model and reading the cache are file I/O: off the event loop
            return await asyncio.to_thread(cls, model_path, cache_dir, ExecutorEngine(worker))
        except BaseException:
            worker.close()
            raise

    @property
    def metadata(self) -> ModelMetadata:
        return self.engine.metadata

    async def close(self) -> None:
        await self.engine.close()

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self._cache_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _save(self) -> None:
        try:
            write_atomic(self._cache_path, json.dumps(self._cache).encode())
        except OSError as err:  # a read-only copy of a dataset still works, uncached
            _LOGGER.warning("cannot write the predictions cache %s: %s", self._cache_path, err)

    def get(self, frame: Frame) -> dict[str, Any] | None:
        """`{"probabilities": {...}}`, `{"error": "..."}` or None (not computed yet)."""
        return self._cache.get(_cache_key(frame))

    async def fill(self, root: Path, frames: Iterable[Frame]) -> None:
        """Compute every missing prediction (one at a time; call again for new frames)."""
        async with self._lock:
            todo = [f for f in frames if _cache_key(f) not in self._cache]
            self.progress = Progress(0, len(todo), bool(todo))
            try:
                for index, frame in enumerate(todo, start=1):
                    self._cache[_cache_key(frame)] = await self._classify(root, frame)
                    self.progress.done = index
                    if index % _SAVE_EVERY == 0:
                        await asyncio.to_thread(self._save)
            finally:
                self.progress.running = False
                if todo:
                    await asyncio.to_thread(self._save)

    async def _classify(self, root: Path, frame: Frame) -> dict[str, Any]:
        try:  # never through a link: the file may have been swapped for one since the scan
            image = await asyncio.to_thread(read_no_follow, root, frame.path)
            result = await self.engine.classify(image)
        except (GarageCamError, OSError) as err:
            return {"error": str(err)}
        # the difference hash lets the labelling order put near-duplicates last
        return {
            "probabilities": {k: round(v, 6) for k, v in result.probabilities.items()},
            "hash": await asyncio.to_thread(frame_hash, image),
        }

    async def probabilities_of(self, root: Path, frame: Frame) -> dict[str, float] | None:
        """This frame's probabilities, computed now if needed (None if it cannot be read)."""
        if self.get(frame) is None:
            async with self._lock:
                self._cache[_cache_key(frame)] = await self._classify(root, frame)
        entry = self.get(frame) or {}
        probs = entry.get("probabilities")
        return dict(probs) if isinstance(probs, dict) else None
