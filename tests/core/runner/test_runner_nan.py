"""A real exported program that answers NaN: never a good frame, never bare NaN on the wire.

The program is the tiny test model with one NaN weight (what bit rot or a bad training run
leaves behind), exported by the project's own exporter and run by the real runner: HTTP API,
Mosquitto broker, file camera.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from garagecam_core.engine.local import LocalEngine
from garagecam_core.errors import EngineError
from garagecam_core.runner.config import parse_config
from tests.conftest import tiny_metadata
from tests.core.runner.support import Broker, eventually, jpeg, local_engine, running_runner

TOKEN = "nan-test-token"


@pytest.fixture(scope="module")
def nan_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    from garagecam_core.export import export_model
    from tests.tiny_model import build

    module = build()
    with torch.no_grad():
        module.head.bias.fill_(float("nan"))  # type: ignore[union-attr, operator]
    out = tmp_path_factory.mktemp("broken") / "broken.pte"
    export_model(module, tiny_metadata("broken"), out, progress=False)
    return out


def test_the_engine_refuses_the_nan_answer(nan_model_path: Path) -> None:
    with LocalEngine(nan_model_path) as engine, pytest.raises(EngineError, match="nan"):
        engine.classify(jpeg())


async def test_runner_never_reports_a_nan_frame(
    nan_model_path: Path, broker: Broker, spy_factory: Any, tmp_path: Path
) -> None:
    frame = tmp_path / "frame.jpg"
    frame.write_bytes(jpeg())
    config = parse_config(
        {
            "models": {"broken": {"path": str(nan_model_path)}},
            "http": {"host": "127.0.0.1", "port": 0, "token": TOKEN},
            "mqtt": {"host": "127.0.0.1", "port": broker.port},
            "cameras": [{"id": "shed", "model": "broken", "file": str(frame), "interval": 0.1}],
        }
    )
    async with running_runner(config, engine_factory=local_engine) as runner:
        camera = runner.cameras["shed"]
        assert await eventually(lambda: camera.failures >= 3)
        assert runner.http is not None
        url = f"http://127.0.0.1:{runner.http.port}"
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{url}/v1/classify", data=jpeg(), headers=headers) as resp:
                raw = await resp.text()
                status = resp.status
            async with session.get(f"{url}/v1/cameras", headers=headers) as resp:
                cameras = json.loads(await resp.text(), parse_constant=_no_constants)
        # A clear server error in valid JSON (no bare NaN token), naming the broken model.
        assert status >= 500, raw
        body = json.loads(raw, parse_constant=_no_constants)
        assert body["error"] in {"invalid_model_output", "engine_error"}
        assert "model" in body["message"]
        # The camera never had a good frame: unavailable, no probabilities, the error shown.
        shed = cameras["shed"]
        assert shed["available"] is False
        assert shed["last_frame_time"] is None
        assert shed["probabilities"] == {} or all(
            p is None or math.isfinite(p) for p in shed["probabilities"].values()
        )
        assert "nan" in (shed["last_error"] or "").lower()
        # MQTT: offline, and no state or probability ever published.
        spy = spy_factory()
        assert await eventually(lambda: spy.get("garagecam/shed/availability") == "offline")
        published = spy.snapshot()
        assert not any(topic.startswith("garagecam/shed/door_open") for topic in published)
        assert all("nan" not in payload.lower() for payload in published.values())


def _no_constants(name: str) -> None:
    raise AssertionError(f"the answer holds the non-JSON constant {name}")
