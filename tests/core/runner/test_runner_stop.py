"""SIGTERM while a snapshot hangs (issue 21, item 6): the stop cancels the fetch instead of
waiting out the snapshot timeout, so `offline` follows at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from garagecam_core.runner.app import Runner
from garagecam_core.runner.config import parse_config
from tests.core.runner.support import ALWAYS, CameraServer, eventually, local_engine


async def test_stop_cancels_a_hung_snapshot(
    tiny_model_path: Path, camera_server: CameraServer
) -> None:
    camera_server.mode = "hang"
    config = parse_config(
        {
            "models": {"tiny": {"path": str(tiny_model_path)}},
            "cameras": [
                {
                    "id": "garage",
                    "model": "tiny",
                    "snapshot": {"url": camera_server.url, "timeout": 60},
                    "labels": ALWAYS,
                }
            ],
        }
    )
    runner = Runner(config, engine_factory=local_engine)
    await runner.start()
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        assert await eventually(lambda: camera_server.hanging == 1)
        stop.set()
        # far below the 60 s snapshot timeout: the old code waited it out
        await asyncio.wait_for(asyncio.shield(task), timeout=10)
    finally:
        camera_server.mode = "ok"  # let the hung request end either way
        stop.set()
        await task
        await runner.stop()
    assert await eventually(lambda: camera_server.hanging == 0)
