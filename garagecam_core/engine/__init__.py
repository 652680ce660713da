"""Inference engines: one small interface, several ways to run a model.

- `LocalEngine` (engine.local): ExecuTorch in this process.
- `WorkerEngine` (engine.worker): the same in a child process, so callers that own an
  event loop never hold the GIL during inference.
- `RemoteEngine` (engine.remote): a GarageCam runner over HTTP (`POST /v1/classify`).
- `default_engine_factory` (engine.factory): a model file as a local or worker engine.
- `EnginePool` (engine.pool): one engine per model file, shared by the cameras using it.

Nothing heavy is imported here; import the submodule you need.
"""

from .base import AsyncEngine, Classification, Engine, ExecutorEngine, Timings

__all__ = ["AsyncEngine", "Classification", "Engine", "ExecutorEngine", "Timings"]
