"""Load and isolation: cameras before API requests at the engine, bounded classify bodies
(503 `busy` + Retry-After, runner RSS under 48 concurrent maximum-size requests), and what
`/metrics` shows next to a token-protected API."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest

from garagecam_core.engine.base import Classification, ExecutorEngine
from garagecam_core.engine.factory import ModelConfig
from garagecam_core.engine.local import LocalEngine
from garagecam_core.metadata import ModelMetadata
from garagecam_core.roi import Roi
from garagecam_core.runner.app import Runner
from garagecam_core.runner.config import parse_config
from garagecam_core.runner.http import BodyBudget
from garagecam_core.runner.priority import Priority, PriorityGate
from tests.core.runner.support import (
    ALWAYS,
    eventually,
    free_port,
    jpeg,
    local_engine,
    running_runner,
    wait_until,
)

TOKEN = "load-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class HeldEngine:
    """A real engine (ExecuTorch in a thread) whose calls wait for `release` when held;
    it records the order in which calls reached the engine."""

    def __init__(self, path: Path) -> None:
        self._engine = ExecutorEngine(LocalEngine(path))
        self.held = False
        self.release = asyncio.Event()
        self.started = 0
        self.order: list[bytes] = []

    @property
    def metadata(self) -> ModelMetadata:
        return self._engine.metadata

    async def classify(self, image: bytes, roi: Roi | None = None) -> Classification:
        self.started += 1
        self.order.append(image)
        if self.held:
            await self.release.wait()
        return await self._engine.classify(image, roi)

    async def close(self) -> None:
        await self._engine.close()


async def test_priority_gate_serves_waiting_cameras_before_api_requests(
    tiny_model_path: Path,
) -> None:
    engine = HeldEngine(tiny_model_path)
    gate = PriorityGate(engine)
    camera, api = gate.view(Priority.CAMERA), gate.view(Priority.API)
    images = {name: jpeg(size=(64 + 8 * i, 48)) for i, name in enumerate("abcdef")}
    names = {id(image): name for name, image in images.items()}  # calls by their image
    engine.held = True
    first = asyncio.create_task(api.classify(images["a"]))  # holds the engine
    assert await eventually(lambda: engine.started == 1)
    queued = [
        asyncio.create_task(api.classify(images["b"])),
        asyncio.create_task(api.classify(images["c"])),
        asyncio.create_task(camera.classify(images["d"])),
        asyncio.create_task(api.classify(images["e"])),
        asyncio.create_task(camera.classify(images["f"])),
    ]
    await asyncio.sleep(0.05)
    assert engine.started == 1  # one call at a time
    assert (gate.waiting(Priority.CAMERA), gate.waiting(Priority.API)) == (2, 3)
    # A cancelled waiter ("c") leaves the queue and never reaches the engine.
    queued[1].cancel()
    engine.held = False
    engine.release.set()
    results = await asyncio.gather(first, *queued, return_exceptions=True)
    assert isinstance(results[2], asyncio.CancelledError)
    assert all(isinstance(r, Classification) for i, r in enumerate(results) if i != 2)
    assert [names[id(image)] for image in engine.order] == ["a", "d", "f", "b", "e"]
    assert (gate.waiting(Priority.CAMERA), gate.waiting(Priority.API)) == (0, 0)
    await engine.close()


async def test_body_budget_admits_in_order_and_refuses_when_the_queue_is_full() -> None:
    budget = BodyBudget(budget=100, queued=1)
    order: list[str] = []
    release = asyncio.Event()

    async def hold(name: str, size: int) -> None:
        async with budget.reserve(size):
            order.append(name)
            await release.wait()

    assert not budget.full(60)
    first = asyncio.create_task(hold("a", 60))
    await asyncio.sleep(0)
    assert order == ["a"]
    assert not budget.full(40)  # fits beside the first: no wait, whatever the queue
    second = asyncio.create_task(hold("b", 40))
    await asyncio.sleep(0)
    assert order == ["a", "b"]
    assert not budget.full(500)  # must wait; the queue has room for one
    big = asyncio.create_task(hold("big", 500))  # larger than the budget: runs alone
    await asyncio.sleep(0)
    assert budget.full(1)  # now even a small body would wait behind a full queue
    release.set()
    await asyncio.gather(first, second, big)
    assert order == ["a", "b", "big"]
    assert not budget.full(100)

    nothing_queued = BodyBudget(budget=10, queued=0)
    assert not nothing_queued.full(10)  # free: admitted at once even with no queue
    waiter_gone = BodyBudget(budget=10, queued=2)
    async with waiter_gone.reserve(10):
        task = asyncio.create_task(hold_briefly(waiter_gone))
        await asyncio.sleep(0)
        task.cancel()  # a client that disconnects while waiting leaves the queue
        with pytest.raises(asyncio.CancelledError):
            await task
    assert not waiter_gone.full(10)


async def hold_briefly(budget: BodyBudget) -> None:
    async with budget.reserve(5):
        pass


@pytest.fixture
async def held_runner(tiny_model_path: Path) -> AsyncIterator[tuple[Runner, HeldEngine]]:
    engines: list[HeldEngine] = []

    def factory(model: ModelConfig) -> Any:
        engines.append(HeldEngine(model.path))
        return engines[-1]

    config = parse_config(
        {
            "models": {"tiny": {"path": str(tiny_model_path)}},
            "http": {
                "port": 0,
                "token": TOKEN,
                "max_inflight_bytes": 1,  # one body at a time, whatever its size
                "max_queued_requests": 1,
            },
        }
    )
    runner = Runner(config, engine_factory=factory)
    await runner.start()
    yield runner, engines[0]
    engines[0].release.set()
    await runner.stop()


async def test_busy_runner_answers_503_with_retry_after(
    held_runner: tuple[Runner, HeldEngine],
) -> None:
    runner, engine = held_runner
    assert runner.http is not None
    url = f"http://127.0.0.1:{runner.http.port}/v1/classify"
    image = jpeg()
    engine.held = True
    async with aiohttp.ClientSession() as session:

        async def post() -> tuple[int, dict[str, Any], str | None]:
            async with session.post(url, data=image, headers=AUTH) as response:
                return response.status, await response.json(), response.headers.get("Retry-After")

        active = asyncio.create_task(post())  # reads its body, then waits in the engine
        assert await eventually(lambda: engine.started == 1)
        queued = asyncio.create_task(post())  # waits for a slot, body unread
        await asyncio.sleep(0.2)
        status, body, retry_after = await post()  # nothing free: refused at once
        assert (status, body["error"], retry_after) == (503, "busy", "1")
        assert "retry" in body["message"]
        engine.release.set()
        engine.held = False
        assert [(await task)[0] for task in (active, queued)] == [200, 200]
    assert runner.metrics.classify_requests.value("503") == 1
    assert runner.metrics.classify_requests.value("200") == 2


# --- memory under 48 concurrent maximum-size requests ----------------------------------------

MAX_BODY = 19_000_000
CONCURRENT = 48


def _rss(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


def test_runner_rss_stays_within_twice_idle_under_48_max_size_requests(
    tiny_model_path: Path, tmp_path: Path
) -> None:
    """A `garagecam run` subprocess (worker engine): RSS of the runner process itself,
    sampled every 10 ms while 48 clients POST 19 MB each at once, stays <= 2x its idle RSS;
    every answer is 200, 400 (not an image) or 503 busy, never a 5xx of another kind."""
    port = free_port()
    config = tmp_path / "garagecam.yaml"
    config.write_text(
        json.dumps(
            {
                "models": {"tiny": {"path": str(tiny_model_path)}},
                "http": {"port": port, "token": TOKEN, "max_body_bytes": 20_000_000},
            }
        )
    )
    log = (tmp_path / "runner.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "garagecam_core", "run", "--config", str(config)],
        stdout=log,
        stderr=log,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        url = f"http://127.0.0.1:{port}"
        assert wait_until(lambda: _healthy(url), timeout=120), (tmp_path / "runner.log").read_text()
        statuses, idle, peak = asyncio.run(_flood(url, proc.pid))
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    print(f"runner RSS idle {idle / 1e6:.1f} MB, peak {peak / 1e6:.1f} MB; answers {statuses}")
    assert sum(statuses.values()) == CONCURRENT
    assert set(statuses) <= {200, 400, 503}
    assert statuses.get(503, 0) > 0  # the bound was reached: the test measured something
    assert peak <= 2 * idle


def _healthy(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


async def _flood(url: str, pid: int) -> tuple[dict[int, int], int, int]:
    # A real frame followed by noise up to the maximum size: decoded as the small frame or
    # refused as a bad image, depending on how strict the decoder is; the body is 19 MB.
    frame = jpeg((90, 120, 150), size=(640, 360))
    body = frame + os.urandom(MAX_BODY - len(frame))
    async with aiohttp.ClientSession() as session:
        for _ in range(3):  # warm-up: lazy imports, the worker's first run, allocator pools
            async with session.post(f"{url}/v1/classify", data=frame, headers=AUTH) as response:
                assert response.status == 200, await response.text()
        await asyncio.sleep(0.5)
        idle = _rss(pid)
        peak = idle
        done = asyncio.Event()

        async def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _rss(pid))
                await asyncio.sleep(0.01)

        async def post() -> int:
            async with session.post(f"{url}/v1/classify", data=body, headers=AUTH) as response:
                await response.read()
                return response.status

        sampler = asyncio.create_task(sample())
        started = time.monotonic()
        statuses = await asyncio.gather(*(post() for _ in range(CONCURRENT)))
        done.set()
        await sampler
        assert time.monotonic() - started < 300
    counts: dict[int, int] = {}
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
    return counts, idle, peak


# --- /metrics next to a protected API -----------------------------------------------------------


@pytest.mark.parametrize("open_metrics", [False, True], ids=["protected", "open"])
async def test_metrics_never_show_protected_states_without_the_token(
    tiny_model_path: Path, tmp_path: Path, open_metrics: bool
) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "0001.jpg").write_bytes(jpeg())
    config = parse_config(
        {
            "models": {"tiny": {"path": str(tiny_model_path)}},
            "http": {"port": 0, "token": TOKEN, "open_metrics": open_metrics},
            "cameras": [
                {"id": "garage", "model": "tiny", "file": str(frames), "interval": 0.2}
                | {"confirm_frames": 1, "labels": ALWAYS}
            ],
        }
    )
    async with running_runner(config, engine_factory=local_engine) as runner:
        assert await eventually(lambda: runner.metrics.frames.value("garage") >= 1)
        assert runner.http is not None
        url = f"http://127.0.0.1:{runner.http.port}/metrics"
        async with aiohttp.ClientSession() as session:
            async with session.get(url) as response:
                anonymous = response.status, await response.text()
            async with session.get(url, headers=AUTH) as response:
                with_token = response.status, await response.text()
    assert with_token[0] == 200
    if open_metrics:
        assert anonymous[0] == 200
        # Open next to a token: operational series only, no door states or probabilities.
        assert 'garagecam_frames_total{camera="garage"}' in anonymous[1]
        assert 'garagecam_camera_available{camera="garage"} 1' in anonymous[1]
        assert "garagecam_state" not in anonymous[1]
        assert "garagecam_probability" not in anonymous[1]
        assert "garagecam_state" not in with_token[1]
    else:
        assert anonymous[0] == 401
        assert 'garagecam_state{camera="garage",label="door_open"} 1' in with_token[1]
    assert TOKEN not in anonymous[1] + with_token[1]
