"""End to end with a real exported `.pte`: local mode (worker process) and remote mode (runner)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir

from custom_components.garagecam.const import DOMAIN
from garagecam_core.engine import ExecutorEngine
from garagecam_core.engine.pool import PooledEngine
from garagecam_core.engine.worker import WorkerEngine
from garagecam_core.runner.http import ApiContext, HttpServer
from garagecam_core.runner.metrics import RunnerMetrics

from .conftest import CAMERA, make_entry

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("fake_camera", "camera_device")]

DOOR = "binary_sensor.garage_camera_door_open"
TOKEN = "runner-token-123"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _worker_pid(entry: config_entries.ConfigEntry) -> int:
    handle = entry.runtime_data.engine
    assert isinstance(handle, PooledEngine)  # the entry's handle on the pooled engine
    engine = handle.target
    assert isinstance(engine, ExecutorEngine)
    worker = engine.engine
    assert isinstance(worker, WorkerEngine)
    assert worker.pid is not None
    return worker.pid


async def _flow(hass: HomeAssistant, mode: str, extra: dict[str, str] | None, model: str) -> str:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"camera": CAMERA})
    assert result["step_id"] == "mode"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"mode": mode})
    if extra is not None:
        assert result["step_id"] == "remote"
        result = await hass.config_entries.flow.async_configure(result["flow_id"], extra)
    assert result["step_id"] == "model", result
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"model": model, "scan_interval": 10}
    )
    assert result["step_id"] == "confirm", result.get("errors")
    assert "door_open (garage_door)" in result["description_placeholders"]["labels"]
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    return str(result["result"].entry_id)


async def test_local_mode_with_worker_process(
    hass: HomeAssistant, tiny_model_path: Path, config_dir: Path
) -> None:
    models = config_dir / "garagecam" / "models"
    models.mkdir(parents=True)
    shutil.copy(tiny_model_path, models / "tiny.pte")
    entry_id = await _flow(hass, "local", None, "tiny.pte")
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None and entry.state is ConfigEntryState.LOADED
    pids = [_worker_pid(entry)]
    assert pids[0] != os.getpid()

    # No freezer here: frozen time.monotonic would break the worker's pipe deadlines.
    await entry.runtime_data.coordinator.async_refresh()
    assert hass.states.get(DOOR).state in ("on", "off")
    response = await hass.services.async_call(
        DOMAIN, "classify", {"config_entry_id": entry_id}, blocking=True, return_response=True
    )
    assert set(response["probabilities"]) == {"door_open", "car_present"}
    assert all(0.0 <= p <= 1.0 for p in response["probabilities"].values())
    assert response["timings"]["inference_ms"] > 0

    for _ in range(2):
        assert await hass.config_entries.async_reload(entry_id)
        await hass.async_block_till_done()
        pids.append(_worker_pid(entry))
    assert await hass.config_entries.async_unload(entry_id)
    await hass.async_block_till_done()
    assert len(set(pids)) == 3
    assert not any(_alive(pid) for pid in pids)


@pytest.fixture
async def runner(tiny_model_path: Path, socket_enabled: None) -> AsyncIterator[str]:
    """The real runner HTTP API on 127.0.0.1 with the tiny model in a worker."""
    worker = ExecutorEngine(WorkerEngine(tiny_model_path))
    context = ApiContext(
        engines={"tiny": worker},
        cameras={},
        metrics=RunnerMetrics(),
        health=list,
        token=TOKEN,
    )
    server = HttpServer(context, "127.0.0.1", 0)
    await server.start()
    yield f"http://127.0.0.1:{server.port}"
    await server.stop()
    await worker.close()


async def test_remote_mode_with_runner(hass: HomeAssistant, runner: str) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"camera": CAMERA})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"mode": "remote"})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"url": runner, "token": "wrong"}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    hass.config_entries.flow.async_abort(result["flow_id"])

    entry_id = await _flow(hass, "remote", {"url": runner, "token": TOKEN}, "tiny")
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None and entry.state is ConfigEntryState.LOADED
    # No freezer here: frozen time.monotonic would break the worker's pipe deadlines.
    await entry.runtime_data.coordinator.async_refresh()
    assert hass.states.get(DOOR).state in ("on", "off")
    response = await hass.services.async_call(
        DOMAIN, "classify", {"config_entry_id": entry_id}, blocking=True, return_response=True
    )
    assert set(response["states"]) == {"door_open", "car_present"}
    assert await hass.config_entries.async_unload(entry_id)
    await hass.async_block_till_done()


async def test_remote_cannot_connect(hass: HomeAssistant, socket_enabled: None) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"camera": CAMERA})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"mode": "remote"})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"url": "http://127.0.0.1:9"}
    )
    assert result["errors"] == {"base": "cannot_connect"}


async def test_remote_url_with_credentials_and_a_token_is_refused_without_a_request(
    hass: HomeAssistant,
) -> None:
    # no socket_enabled: the refusal must come before any connection attempt
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"camera": CAMERA})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"mode": "remote"})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"url": "http://admin:hunter2@127.0.0.1:9", "token": "s3cret-token"}
    )
    assert result["errors"] == {"url": "url_credentials"}  # under the field it concerns


async def test_missing_model_file_is_a_repair_issue_until_it_is_back(
    hass: HomeAssistant, tiny_model_path: Path, config_dir: Path
) -> None:
    entry = make_entry({"model": "mine.pte"})
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY  # the file may come back by itself
    issues = ir.async_get(hass)
    issue = issues.async_get_issue(DOMAIN, f"model_missing_{entry.entry_id}")
    assert issue is not None and issue.translation_key == "model_missing"
    models = config_dir / "garagecam" / "models"
    assert issue.translation_placeholders == {
        "title": "Garage camera (mine.pte)",
        "model": "mine.pte",
        "directory": str(models),
    }

    models.mkdir(parents=True)
    shutil.copy(tiny_model_path, models / "mine.pte")
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert issues.async_get_issue(DOMAIN, f"model_missing_{entry.entry_id}") is None
    assert await hass.config_entries.async_unload(entry.entry_id)
