"""Fixtures for the runner tests (the parts themselves live in support.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.core.runner.support import MOSQUITTO, Broker, CameraServer, Spy, fresh_spy


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    if not Path(MOSQUITTO).exists():
        pytest.fail(f"{MOSQUITTO} is missing: run ./scripts/setup.sh (installs mosquitto)")
    server = Broker(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def spy_factory(broker: Broker) -> Iterator[Any]:
    spies: list[Spy] = []

    def make(topics: tuple[str, ...] = ("#",)) -> Spy:
        spy = fresh_spy(broker.port, topics)
        spies.append(spy)
        return spy

    yield make
    for spy in spies:
        spy.stop()


@pytest.fixture
async def camera_server() -> AsyncIterator[CameraServer]:
    server = await CameraServer().start()
    yield server
    await server.stop()
