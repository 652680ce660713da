"""ExecutorEngine: daemonic threads, one request at a time, a close that never hangs."""

from __future__ import annotations

import asyncio
import threading

import pytest

from garagecam_core.engine import Classification, ExecutorEngine, Timings
from garagecam_core.errors import EngineClosedError, WorkerError
from garagecam_core.metadata import LabelSpec, ModelMetadata
from garagecam_core.roi import Roi

METADATA = ModelMetadata(
    name="sync", input_height=8, input_width=8, labels=(LabelSpec("door_open", "door"),)
)


class BlockingEngine:
    """A sync engine whose classify waits until the test releases it (a hung worker)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.threads: set[threading.Thread] = set()
        self.lock = threading.Lock()
        self.closed = False
        self.closed_event = threading.Event()

    @property
    def metadata(self) -> ModelMetadata:
        return METADATA

    def classify(self, image: bytes, roi: Roi | None = None) -> Classification:
        self.threads.add(threading.current_thread())
        if image == b"fail":
            raise WorkerError("the inference worker died")
        with self.lock:  # like WorkerEngine: one request at a time, close waits for it
            self.entered.set()
            self.release.wait(10)
            return Classification({"door_open": 0.5}, Timings(0, 0, 0, 0), (8, 8))

    def close(self) -> None:
        with self.lock:
            self.closed = True
            self.closed_event.set()


async def test_runs_in_daemonic_threads_and_passes_errors_through() -> None:
    engine = BlockingEngine()
    engine.release.set()
    executor = ExecutorEngine(engine)
    result = await executor.classify(b"jpeg")
    assert result.probabilities == {"door_open": 0.5}
    with pytest.raises(WorkerError, match="died"):
        await executor.classify(b"fail")
    [thread] = engine.threads
    assert thread is not threading.current_thread() and thread.daemon
    assert not any(
        t.name.startswith("garagecam-engine") and not t.daemon for t in threading.enumerate()
    )
    await executor.close()
    assert engine.closed
    with pytest.raises(EngineClosedError):
        await executor.classify(b"jpeg")
    await executor.close()  # twice is fine


async def test_close_returns_while_a_request_hangs(caplog: pytest.LogCaptureFixture) -> None:
    engine = BlockingEngine()
    executor = ExecutorEngine(engine, close_timeout=0.2)
    request = asyncio.ensure_future(executor.classify(b"jpeg"))
    await asyncio.get_running_loop().run_in_executor(None, engine.entered.wait, 5)
    await executor.close()  # does not wait for the hung request
    assert not engine.closed
    assert "still busy" in caplog.text
    engine.release.set()  # the request ends: its answer still arrives, then the engine closes
    assert (await request).probabilities == {"door_open": 0.5}
    assert await asyncio.get_running_loop().run_in_executor(None, engine.closed_event.wait, 5)


async def test_close_without_waiting(caplog: pytest.LogCaptureFixture) -> None:
    """For a process about to exit: returns at once, the engine closes in the background."""
    engine = BlockingEngine()
    executor = ExecutorEngine(engine)
    request = asyncio.ensure_future(executor.classify(b"jpeg"))
    await asyncio.get_running_loop().run_in_executor(None, engine.entered.wait, 5)
    await executor.close(wait=False)
    assert not engine.closed and "still busy" not in caplog.text
    with pytest.raises(EngineClosedError):
        await executor.classify(b"jpeg")
    engine.release.set()
    await request
    assert await asyncio.get_running_loop().run_in_executor(None, engine.closed_event.wait, 5)
