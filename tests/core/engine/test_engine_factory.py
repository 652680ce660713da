"""The engine factory: a model file opened in this process (`local`) or in a worker process
(`worker`), with the model's thread count and timeout."""

from __future__ import annotations

import asyncio
from pathlib import Path
from unittest.mock import patch

from garagecam_core import demo_model_path
from garagecam_core.engine import ExecutorEngine
from garagecam_core.engine.factory import ModelConfig, default_engine_factory
from garagecam_core.engine.local import LocalEngine
from garagecam_core.engine.worker import WorkerEngine
from tests.images import scene_jpeg


async def test_local_runs_the_model_in_this_process() -> None:
    engine = default_engine_factory(ModelConfig("demo", demo_model_path(), engine="local"))
    try:
        assert isinstance(engine, ExecutorEngine) and isinstance(engine.engine, LocalEngine)
        result = await engine.classify(scene_jpeg(320, 180))
        assert set(result.probabilities) == set(engine.metadata.label_names)
    finally:
        await engine.close()


async def test_worker_runs_the_model_in_a_child_process_with_its_settings() -> None:
    model = ModelConfig("demo", demo_model_path(), threads=2, timeout=12.5)
    engine = default_engine_factory(model)  # the default kind
    try:
        assert isinstance(engine, ExecutorEngine)
        worker = engine.engine
        assert isinstance(worker, WorkerEngine) and worker.pid is not None
        cmdline = Path(f"/proc/{worker.pid}/cmdline")
        argv = (await asyncio.to_thread(cmdline.read_bytes)).split(b"\0")
        assert argv[argv.index(b"--threads") + 1] == b"2"
        result = await engine.classify(scene_jpeg(320, 180))
        assert set(result.probabilities) == set(engine.metadata.label_names)
    finally:
        await engine.close()


def test_worker_gets_the_model_s_timeout() -> None:
    model = ModelConfig("demo", Path("/models/m.pte"), threads=3, timeout=12.5)
    with patch("garagecam_core.engine.worker.WorkerEngine") as worker:
        default_engine_factory(model)
    worker.assert_called_once_with(Path("/models/m.pte"), threads=3, timeout=12.5)
