"""Fixtures for the runner tests (the parts themselves live in support.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.core.runner.support import Broker, CameraServer, Spy, fresh_spy, running_broker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    with running_broker(tmp_path) as server:
        yield server


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
