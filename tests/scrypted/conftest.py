"""Fixtures for the Scrypted plugin: the real SDK files, a fake host, real frames and engines.

The SDK's Python files come from npm @scrypted/sdk (`npm ci --prefix scrypted`), exactly the
ones `scrypted-webpack` bundles into every Python plugin; the plugin's `src/` is put on
`sys.path` the way the host puts the unzipped plugin there.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_DIR = ROOT / "scrypted"
SDK_DIR = (
    PLUGIN_DIR / "node_modules" / "@scrypted" / "sdk" / "types" / "scrypted_python" / "scrypted_sdk"
)

if not (SDK_DIR / "__init__.py").is_file():
    raise RuntimeError(
        f"tests/scrypted need the Scrypted SDK's Python files in {SDK_DIR}: run "
        "`npm ci --prefix scrypted` (installs @scrypted/sdk from the npm registry)"
    )

_write_bytecode = sys.dont_write_bytecode
sys.dont_write_bytecode = True  # keep node_modules and src/ as scrypted-webpack would find them
sys.path[:0] = [str(PLUGIN_DIR / "src"), str(SDK_DIR.parent)]
import scrypted_sdk  # noqa: E402

sys.dont_write_bytecode = _write_bytecode
assert Path(scrypted_sdk.__file__).parent == SDK_DIR, "another scrypted_sdk is on sys.path"

from tests.scrypted.host import FakeHost  # noqa: E402

#: fast polling for tests (the options take any positive interval; the page suggests >= 1 s)
TEST_INTERVAL = 0.05


class Clock:
    """Wall clock with a manual offset: lets a test age the frames past max_age."""

    def __init__(self) -> None:
        import time

        self._time = time.time
        self.offset = 0.0

    def __call__(self) -> float:
        return self._time() + self.offset


@pytest.fixture(autouse=True)
def _restore_garagecam_loggers() -> Iterator[None]:
    """The plugin routes GarageCam's loggers to its console (propagate off): undo it, so
    tests that run later in the same session still see those records in caplog."""
    from garagecam_scrypted.console import LOGGERS

    saved = {}
    for name in LOGGERS:
        logger = logging.getLogger(name)
        saved[name] = (list(logger.handlers), logger.level, logger.propagate)
    yield
    for name, (handlers, level, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


@pytest.fixture
async def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeHost]:
    fake = FakeHost(files=tmp_path / "volume" / "files")
    fake.install()
    fs = tmp_path / "unzipped" / "fs"
    fs.mkdir(parents=True)
    monkeypatch.chdir(fs)  # the host runs plugins in the unzipped plugin's fs/ folder
    yield fake


@pytest.fixture(scope="session")
def demo_frames() -> dict[tuple[bool, bool], list[bytes]]:
    """Generated garage scenes per (door_open, car_present), three each, among those the demo
    model gets right (the tests check the plugin's plumbing, not the model's accuracy)."""
    from garagecam_core import demo_model_path
    from garagecam_core.engine.local import LocalEngine
    from garagecam_core.metadata import ModelMetadata
    from garagecam_core.scenes import generate_scene

    with LocalEngine(demo_model_path()) as engine:
        meta: ModelMetadata = engine.metadata
        door, car = meta.label("door_open"), meta.label("car_present")
        frames: dict[tuple[bool, bool], list[bytes]] = {}
        for truth in ((False, False), (True, True), (True, False), (False, True)):
            found: list[bytes] = []
            index = 0
            while len(found) < 3:
                index += 1
                assert index < 200, f"the demo model never recognises {truth}"
                scene = generate_scene(
                    11, index, sizes=((640, 360),), door_open=truth[0], car_present=truth[1]
                )
                p = engine.classify(scene.jpeg).probabilities
                door_ok = (
                    p["door_open"] >= door.on_threshold
                    if truth[0]
                    else p["door_open"] <= door.off_threshold
                )
                car_ok = (
                    p["car_present"] >= car.on_threshold
                    if truth[1]
                    else p["car_present"] <= car.off_threshold
                )
                if door_ok and car_ok:
                    found.append(scene.jpeg)
            frames[truth] = found
    return frames


class Script:
    """What the fake camera shows: scenes for the current truth, cycling."""

    def __init__(self, frames: dict[tuple[bool, bool], list[bytes]]) -> None:
        self.frames = frames
        self.truth = (False, False)
        self.override: bytes | None = None
        self._index = 0

    def __call__(self) -> bytes:
        if self.override is not None:
            return self.override
        self._index += 1
        options = self.frames[self.truth]
        return options[self._index % len(options)]


@pytest.fixture
def script(demo_frames: dict[tuple[bool, bool], list[bytes]]) -> Script:
    return Script(demo_frames)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def console() -> list[str]:
    return []


@pytest.fixture
async def make_plugin(
    host: FakeHost, clock: Clock, console: list[str]
) -> AsyncIterator[Callable[..., Any]]:
    """Start a GarageCamPlugin (in-process engine unless told otherwise); all are closed after."""
    from garagecam_scrypted.plugin import GarageCamPlugin

    started: list[GarageCamPlugin] = []

    async def make(**kwargs: Any) -> GarageCamPlugin:
        kwargs.setdefault("engine_kind", "local")
        plugin = GarageCamPlugin(clock=clock, write=console.append, **kwargs)
        started.append(plugin)
        await plugin.gc_ready()
        return plugin

    yield make
    for plugin in started:
        await plugin.gc_close()


async def wait_until(condition: Callable[[], bool], limit: float = 60.0) -> None:
    """Poll `condition` (a state of the fake host) until true; TimeoutError after `limit` s.
    The states change in the plugin's own tasks: polling is the only way to see them."""
    async with asyncio.timeout(limit):
        while not condition():  # noqa: ASYNC110 - no event to wait on: the host is passive
            await asyncio.sleep(0.01)
