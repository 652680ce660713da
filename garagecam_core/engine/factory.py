"""Open a model file as an engine: in this process (`local`) or in a worker process (`worker`).

The runner, Home Assistant and the Scrypted plugin open local models through here (the
runner's YAML `models:` entries are `ModelConfig`s). Runner-backed engines are opened with
`RemoteEngine.connect` (engine.remote): they need the caller's HTTP session.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .base import AsyncEngine, ExecutorEngine

EngineKind = Literal["worker", "local"]


@dataclass(frozen=True)
class ModelConfig:
    """A model file and how to run it."""

    name: str
    path: Path
    engine: EngineKind = "worker"
    threads: int = 1
    #: seconds a worker may spend on one request before it is killed (`worker` only)
    timeout: float = 30.0


EngineFactory = Callable[[ModelConfig], AsyncEngine]


def default_engine_factory(model: ModelConfig) -> AsyncEngine:
    """A worker process (default) or the in-process engine, run from a thread. Blocking: the
    model loads (and a worker starts) here, so its errors raise here."""
    if model.engine == "local":
        from .local import LocalEngine

        return ExecutorEngine(LocalEngine(model.path, threads=model.threads))
    from .worker import WorkerEngine

    return ExecutorEngine(WorkerEngine(model.path, threads=model.threads, timeout=model.timeout))
