"""Local engines: one per model file shared by every entry, closed with the last one or at stop."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from unittest.mock import patch

import pytest
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component

from custom_components.garagecam.const import DOMAIN
from garagecam_core import demo_model_path
from garagecam_core.engine import Classification, ExecutorEngine, Timings
from garagecam_core.engine.factory import ModelConfig
from garagecam_core.metadata import ModelMetadata
from garagecam_core.roi import Roi

from .conftest import METADATA, ScriptedEngine, set_up_entry

pytestmark = pytest.mark.usefixtures("fake_camera", "camera_device")


@pytest.fixture
def started() -> Iterator[list[tuple[Path, ScriptedEngine]]]:
    """Every worker the pool starts (scripted: no ExecuTorch runtime needed here)."""
    workers: list[tuple[Path, ScriptedEngine]] = []

    def start(model: ModelConfig) -> ScriptedEngine:
        engine = ScriptedEngine()
        workers.append((model.path, engine))
        return engine

    with patch("custom_components.garagecam.inference.default_engine_factory", side_effect=start):
        yield workers


async def test_entries_of_one_model_share_one_worker(
    hass: HomeAssistant, started: list[tuple[Path, ScriptedEngine]], config_dir: Path
) -> None:
    first = await set_up_entry(hass)
    second = await set_up_entry(hass, {"camera": "camera.shed"})
    assert len(started) == 1 and started[0][0] == demo_model_path()
    worker = started[0][1]
    assert first.runtime_data.engine.target is second.runtime_data.engine.target is worker

    models = config_dir / "garagecam" / "models"
    models.mkdir(parents=True)
    shutil.copy(demo_model_path(), models / "mine.pte")
    third = await set_up_entry(hass, {"model": "mine.pte"})
    assert len(started) == 2  # another file, another worker
    assert third.state is ConfigEntryState.LOADED

    assert await hass.config_entries.async_unload(first.entry_id)
    assert not worker.closed  # still used by the second entry
    assert await hass.config_entries.async_unload(second.entry_id)
    assert worker.closed  # the last user is gone: the worker process ends

    # the file replaced: the reload starts a worker for the new file, the old one ends
    mine = started[1][1]
    (models / "mine.pte").write_bytes((models / "mine.pte").read_bytes() + b"\0")
    assert await hass.config_entries.async_reload(third.entry_id)
    assert len(started) == 3 and mine.closed and not started[2][1].closed


async def test_stop_closes_every_worker(
    hass: HomeAssistant, started: list[tuple[Path, ScriptedEngine]]
) -> None:
    """Home Assistant does not unload entries when it stops: the pool closes the workers."""
    await set_up_entry(hass)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert [engine.closed for _, engine in started] == [True]


async def test_a_missing_model_file_is_model_not_found(
    hass: HomeAssistant, started: list[tuple[Path, ScriptedEngine]]
) -> None:
    entry = await _set_up_failing(hass, {"model": "gone.pte"})
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.reason is not None and "no file 'gone.pte' in " in entry.reason
    assert started == []


async def test_a_worker_that_cannot_start_is_retried_with_a_clear_reason(
    hass: HomeAssistant,
) -> None:
    """Not an unexpected error with a traceback: the core names the file and the cause."""
    failure = PermissionError(13, "Permission denied", "/usr/bin/python3")
    with patch("custom_components.garagecam.inference.default_engine_factory", side_effect=failure):
        entry = await _set_up_failing(hass, {})
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.reason is not None and "cannot load demo.gcam: PermissionError" in entry.reason


async def test_an_entry_unloaded_after_stop_leaves_a_newer_worker_alone(
    hass: HomeAssistant, started: list[tuple[Path, ScriptedEngine]]
) -> None:
    """Its handle lets go of its own worker (closed at stop), not of the one started since
    for the same file."""
    first = await set_up_entry(hass)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    second = await set_up_entry(hass, {"camera": "camera.shed"})
    assert len(started) == 2 and started[0][1].closed and not started[1][1].closed
    assert await hass.config_entries.async_unload(first.entry_id)
    assert not started[1][1].closed
    assert second.state is ConfigEntryState.LOADED


async def _set_up_failing(hass: HomeAssistant, data: dict[str, str]) -> ConfigEntry:
    from .conftest import make_entry

    entry = make_entry(data)
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    return entry


async def test_entries_set_up_at_once_still_start_one_worker(
    hass: HomeAssistant, started: list[tuple[Path, ScriptedEngine]]
) -> None:
    """Home Assistant sets entries up concurrently at start."""
    from .conftest import make_entry

    entries = [make_entry({"camera": f"camera.c{index}"}) for index in range(3)]
    for entry in entries:
        entry.add_to_hass(hass)
    # setting the integration up sets its entries up concurrently, as at start
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()
    assert [entry.state for entry in entries] == [ConfigEntryState.LOADED] * 3
    assert len(started) == 1


class SlowToCloseEngine:
    """A sync engine whose close() blocks until released (a worker child taking its time)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.closed = threading.Event()

    @property
    def metadata(self) -> ModelMetadata:
        return METADATA

    def classify(self, image: bytes, roi: Roi | None = None) -> Classification:
        return Classification({"door_open": 0.9, "car_present": 0.1}, Timings(0, 0, 0, 0), (8, 8))

    def close(self) -> None:
        self.release.wait(10)
        self.closed.set()


async def test_stop_does_not_wait_for_the_workers_to_exit(hass: HomeAssistant) -> None:
    slow = SlowToCloseEngine()
    with patch(
        "custom_components.garagecam.inference.default_engine_factory",
        return_value=ExecutorEngine(slow),
    ):
        entry = await set_up_entry(hass)
    engine = entry.runtime_data.engine.target
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()  # returns although close() is still blocked
    assert engine.closed and not slow.closed.is_set()
    slow.release.set()
    assert await hass.async_add_executor_job(slow.closed.wait, 5)
