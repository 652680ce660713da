"""The one engine pool (Home Assistant's integration and the Scrypted plugin keep their local
engines in it): sharing, counting, closing, and what is left after a failed or abandoned load."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from garagecam_core.engine import Classification, ExecutorEngine, Timings
from garagecam_core.engine.factory import ModelConfig
from garagecam_core.engine.pool import EnginePool, model_key
from garagecam_core.errors import (
    EngineClosedError,
    EngineError,
    GarageCamError,
    ModelNotFoundError,
    NotAPteError,
)
from garagecam_core.metadata import ModelMetadata
from garagecam_core.roi import Roi
from tests.conftest import tiny_metadata

_T = TypeVar("_T")
IMAGE = b"frame"


class FakeEngine:
    """An AsyncEngine that remembers how often it was closed."""

    def __init__(self, model: ModelConfig, close_error: Exception | None = None) -> None:
        self.model = model
        self.closes = 0
        self._close_error = close_error

    @property
    def metadata(self) -> ModelMetadata:
        return tiny_metadata()

    async def classify(self, image: bytes, roi: Roi | None = None) -> Classification:
        if self.closes:
            raise EngineClosedError("closed")
        return Classification({"door_open": 0.9}, Timings(0, 0, 0, 0), (8, 8))

    async def close(self) -> None:
        self.closes += 1
        if self._close_error is not None:
            raise self._close_error


class Factory:
    """Records every engine it opens; `fail` makes the next opens raise it."""

    def __init__(self) -> None:
        self.opened: list[FakeEngine] = []
        self.fail: Exception | None = None

    def __call__(self, model: ModelConfig) -> FakeEngine:
        if self.fail is not None:
            raise self.fail
        engine = FakeEngine(model)
        self.opened.append(engine)
        return engine


class Gated:
    """A `run_blocking` that runs calls inline, the factory's only once its model's gate
    opens: loads stay in flight for as long as a test needs, without threads or sleeps."""

    def __init__(self) -> None:
        self.gates: dict[Path, asyncio.Event] = {}

    def gate(self, path: Path) -> asyncio.Event:
        return self.gates.setdefault(path.resolve(), asyncio.Event())

    async def __call__(self, fn: Callable[..., _T], /, *args: Any) -> _T:
        if fn is not model_key:
            await self.gate(args[0].path).wait()
        return fn(*args)


def model_file(tmp_path: Path, name: str = "m.pte", content: bytes = b"model") -> ModelConfig:
    path = tmp_path / name
    path.write_bytes(content)
    return ModelConfig(path.stem, path)


async def settle() -> None:
    """Let every task that is ready run up to its next real wait."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_users_of_one_model_share_one_engine(tmp_path: Path) -> None:
    factory = Factory()
    pool = EnginePool(factory)
    model = model_file(tmp_path)
    first = await pool.acquire(model)
    second = await pool.acquire(ModelConfig("other name", model.path))
    assert len(factory.opened) == 1 and len(pool) == 1
    assert first.target is second.target is factory.opened[0]
    assert (await first.classify(IMAGE)).probabilities == {"door_open": 0.9}
    assert first.metadata == tiny_metadata()


async def test_the_engine_closes_with_its_last_user(tmp_path: Path) -> None:
    factory = Factory()
    pool = EnginePool(factory)
    model = model_file(tmp_path)
    first, second = await pool.acquire(model), await pool.acquire(model)
    engine = factory.opened[0]
    await first.close()
    assert engine.closes == 0 and len(pool) == 1
    await second.close()
    assert engine.closes == 1 and len(pool) == 0


async def test_a_handle_releases_once(tmp_path: Path) -> None:
    factory = Factory()
    pool = EnginePool(factory)
    model = model_file(tmp_path)
    first, second = await pool.acquire(model), await pool.acquire(model)
    await first.close()
    await first.close()  # a second close of the same handle is not another user leaving
    assert factory.opened[0].closes == 0
    with pytest.raises(EngineClosedError):
        await first.classify(IMAGE)
    assert await second.classify(IMAGE)


async def test_a_model_opened_again_after_its_last_user_left_is_a_new_engine(
    tmp_path: Path,
) -> None:
    factory = Factory()
    pool = EnginePool(factory)
    model = model_file(tmp_path)
    await (await pool.acquire(model)).close()
    again = await pool.acquire(model)
    assert len(factory.opened) == 2 and again.target is factory.opened[1]


async def test_a_replaced_file_and_other_engine_settings_get_their_own_engine(
    tmp_path: Path,
) -> None:
    factory = Factory()
    pool = EnginePool(factory)
    model = model_file(tmp_path)
    old = await pool.acquire(model)
    model.path.write_bytes(b"a longer model")  # same name, another file
    new = await pool.acquire(model)
    in_process = await pool.acquire(ModelConfig(model.name, model.path, engine="local"))
    threaded = await pool.acquire(ModelConfig(model.name, model.path, threads=2))
    engines = {id(handle.target) for handle in (old, new, in_process, threaded)}
    assert len(engines) == 4 and len(pool) == 4


async def test_the_factory_gets_the_file_that_was_keyed(tmp_path: Path) -> None:
    factory = Factory()
    real = model_file(tmp_path, "real.pte")
    link = tmp_path / "link.pte"
    link.symlink_to(real.path)
    via_link = await EnginePool(factory).acquire(ModelConfig("x", link, threads=3))
    assert factory.opened[0].model == ModelConfig("x", real.path.resolve(), threads=3)
    assert via_link.target is factory.opened[0]


async def test_a_missing_file_is_model_not_found(tmp_path: Path) -> None:
    factory = Factory()
    pool = EnginePool(factory)
    with pytest.raises(ModelNotFoundError, match=r"model file .*gone\.pte does not exist"):
        await pool.acquire(ModelConfig("gone", tmp_path / "gone.pte"))
    assert factory.opened == [] and len(pool) == 0


async def test_an_unreadable_path_is_model_not_found(tmp_path: Path) -> None:
    loop = tmp_path / "loop.pte"
    loop.symlink_to(loop)  # stat fails with ELOOP, not "does not exist"
    with pytest.raises(ModelNotFoundError, match=r"cannot read model file .*loop\.pte: "):
        await EnginePool(Factory()).acquire(ModelConfig("loop", loop))


async def test_a_failed_load_leaves_no_slot_and_the_next_acquire_tries_again(
    tmp_path: Path,
) -> None:
    factory = Factory()
    pool = EnginePool(factory)
    model = model_file(tmp_path)
    factory.fail = NotAPteError("not an ExecuTorch program")
    with pytest.raises(NotAPteError, match="not an ExecuTorch program"):  # as raised
        await pool.acquire(model)
    assert len(pool) == 0
    factory.fail = None
    handle = await pool.acquire(model)
    assert handle.target is factory.opened[0] and len(pool) == 1


async def test_a_factory_crash_is_an_engine_error_naming_the_file(tmp_path: Path) -> None:
    """Not a raw PermissionError: Home Assistant and Scrypted show GarageCamErrors."""
    factory = Factory()
    factory.fail = PermissionError(13, "Permission denied", "/usr/bin/python3")
    pool = EnginePool(factory)
    with pytest.raises(EngineError, match=r"cannot load m\.pte: PermissionError") as caught:
        await pool.acquire(model_file(tmp_path))
    assert isinstance(caught.value.__cause__, PermissionError)
    assert len(pool) == 0


async def test_concurrent_acquires_of_one_model_load_it_once(tmp_path: Path) -> None:
    factory, run = Factory(), Gated()
    pool = EnginePool(factory, run)
    model = model_file(tmp_path)
    waiting = [asyncio.create_task(pool.acquire(model)) for _ in range(3)]
    await settle()
    assert not any(task.done() for task in waiting)  # all three wait for the one load
    run.gate(model.path).set()
    handles = await asyncio.gather(*waiting)
    assert len(factory.opened) == 1
    assert all(handle.target is factory.opened[0] for handle in handles)
    for handle in handles[:2]:
        await handle.close()
    assert factory.opened[0].closes == 0  # counted three times
    await handles[2].close()
    assert factory.opened[0].closes == 1


async def test_concurrent_acquires_all_get_a_failed_load_s_error(tmp_path: Path) -> None:
    factory, run = Factory(), Gated()
    factory.fail = NotAPteError("broken")
    pool = EnginePool(factory, run)
    model = model_file(tmp_path)
    waiting = [asyncio.create_task(pool.acquire(model)) for _ in range(2)]
    await settle()
    run.gate(model.path).set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert [type(result) for result in results] == [NotAPteError, NotAPteError]
    assert len(pool) == 0


async def test_other_models_load_while_one_is_loading(tmp_path: Path) -> None:
    """A slow worker start of one model does not hold up another model's cameras."""
    factory, run = Factory(), Gated()
    pool = EnginePool(factory, run)
    slow, quick = model_file(tmp_path, "slow.pte"), model_file(tmp_path, "quick.pte")
    loading = asyncio.create_task(pool.acquire(slow))
    await settle()
    run.gate(quick.path).set()
    handle = await pool.acquire(quick)
    await handle.close()  # releasing does not wait for the other load either
    assert not loading.done() and factory.opened[0].closes == 1
    run.gate(slow.path).set()
    assert (await loading).target is factory.opened[1]


async def test_a_load_whose_caller_gave_up_is_closed_once_done(tmp_path: Path) -> None:
    """The worker started for a cancelled setup is not left running."""
    factory, run = Factory(), Gated()
    pool = EnginePool(factory, run)
    model = model_file(tmp_path)
    loading = asyncio.create_task(pool.acquire(model))
    await settle()
    loading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loading
    assert len(pool) == 0
    run.gate(model.path).set()
    await pool.close()  # waits for the abandoned load to finish and close
    assert [engine.closes for engine in factory.opened] == [1]


async def test_a_load_one_of_two_callers_gave_up_on_serves_the_other(tmp_path: Path) -> None:
    factory, run = Factory(), Gated()
    pool = EnginePool(factory, run)
    model = model_file(tmp_path)
    gives_up = asyncio.create_task(pool.acquire(model))
    stays = asyncio.create_task(pool.acquire(model))
    await settle()
    gives_up.cancel()
    await settle()
    run.gate(model.path).set()
    handle = await stays
    assert handle.target is factory.opened[0] and factory.opened[0].closes == 0
    await handle.close()
    assert factory.opened[0].closes == 1


async def test_close_closes_every_engine_and_later_releases_touch_no_newer_one(
    tmp_path: Path,
) -> None:
    factory = Factory()
    pool = EnginePool(factory)
    model = model_file(tmp_path)
    before = await pool.acquire(model)
    await pool.close()
    assert factory.opened[0].closes == 1 and len(pool) == 0
    with pytest.raises(EngineClosedError):
        await before.classify(IMAGE)
    after = await pool.acquire(model)  # the same file opened anew
    await before.close()  # the old handle lets go of the old engine, not of this one
    assert factory.opened[1].closes == 0 and len(pool) == 1
    assert await after.classify(IMAGE)
    await after.close()
    assert [engine.closes for engine in factory.opened] == [1, 1]


async def test_close_while_a_model_loads_refuses_its_callers_and_closes_it(
    tmp_path: Path,
) -> None:
    factory, run = Factory(), Gated()
    pool = EnginePool(factory, run)
    model = model_file(tmp_path)
    loading = asyncio.create_task(pool.acquire(model))
    await settle()
    closing = asyncio.create_task(pool.close())
    await settle()
    run.gate(model.path).set()
    with pytest.raises(EngineClosedError, match="closed while the model was loading"):
        await loading
    await closing
    assert [engine.closes for engine in factory.opened] == [1]


async def test_a_failing_close_is_logged_and_the_others_still_close(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engines: list[FakeEngine] = []

    def factory(model: ModelConfig) -> FakeEngine:
        error = GarageCamError("stuck") if model.name == "bad" else None
        engines.append(FakeEngine(model, close_error=error))
        return engines[-1]

    pool = EnginePool(factory)
    bad, good = model_file(tmp_path, "bad.pte"), model_file(tmp_path, "good.pte")
    handles = [await pool.acquire(bad), await pool.acquire(good)]
    with caplog.at_level(logging.WARNING, "garagecam_core.engine.pool"):
        await pool.close()
    assert [engine.closes for engine in engines] == [1, 1]
    assert "closing an inference engine failed" in caplog.text
    bad_handle = handles[0]
    await bad_handle.close()  # after the pool closed: nothing left to do, no error


class SlowToClose:
    """A sync engine whose close() blocks until released (a worker child taking its time)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.closed = threading.Event()

    @property
    def metadata(self) -> ModelMetadata:
        return tiny_metadata()

    def classify(self, image: bytes, roi: Roi | None = None) -> Classification:
        raise AssertionError("not used")

    def close(self) -> None:
        self.release.wait(10)
        self.closed.set()


async def test_close_without_wait_does_not_wait_for_workers_to_exit(tmp_path: Path) -> None:
    """Home Assistant's stop: the children end on their own once their pipe closes."""
    slow = SlowToClose()
    pool = EnginePool(lambda _model: ExecutorEngine(slow))
    handle = await pool.acquire(model_file(tmp_path))
    await pool.close(wait=False)  # returns although close() is still blocked
    engine = handle.target
    assert isinstance(engine, ExecutorEngine) and engine.closed
    assert not slow.closed.is_set()
    slow.release.set()
    assert await asyncio.to_thread(slow.closed.wait, 5)
