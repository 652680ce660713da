"""The runner's HTTP API under attack (issue 21): compressed bodies, bodies before the token,
slow clients. A real aiohttp server on 127.0.0.1 with a stand-in engine that records calls."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import http_parser

from garagecam_core.engine.base import Classification, Timings
from garagecam_core.roi import Roi
from garagecam_core.runner.http import ApiContext, create_app, start_site
from garagecam_core.runner.metrics import RunnerMetrics
from tests.core.runner.support import jpeg

TOKEN = "attack-token-0123456789"
IMAGE = jpeg()


class _Engine:
    """Answers every image with a fixed result and keeps what it was given."""

    def __init__(self) -> None:
        self.images: list[bytes] = []

    @property
    def metadata(self) -> Any:
        raise NotImplementedError

    async def classify(self, image: bytes, roi: Roi | None = None) -> Classification:
        self.images.append(image)
        return Classification({"door_open": 0.5}, Timings(0.0, 0.0, 0.0, 0.0), (1, 1))

    async def close(self) -> None:
        return None


@pytest.fixture
def inflated(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Compressed bytes aiohttp's body decompressor was fed (the C parser uses it too)."""
    produced: list[int] = []
    original: Any = http_parser.DeflateBuffer.feed_data

    def spy(self: Any, chunk: bytes, *args: Any) -> Any:
        produced.append(len(chunk))
        return original(self, chunk, *args)

    monkeypatch.setattr(http_parser.DeflateBuffer, "feed_data", spy)
    return produced


@pytest.fixture
async def server() -> AsyncIterator[tuple[int, _Engine]]:
    engine = _Engine()
    context = ApiContext(
        engines={"demo": engine},
        cameras={},
        metrics=RunnerMetrics(),
        health=list,
        token=TOKEN,
        max_body_bytes=2_000_000,
    )
    runner, port = await start_site(create_app(context), "127.0.0.1", 0)
    try:
        yield port, engine
    finally:
        await runner.cleanup()


async def raw(port: int, head: list[str], body: bytes = b"") -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 20)
    finally:
        writer.close()
    status = answer.split(b"\r\n", 1)[0].split()
    return int(status[1]) if len(status) > 1 else 0, answer.partition(b"\r\n\r\n")[2]


def _post(path: str, length: int, *extra: str) -> list[str]:
    return [f"POST {path} HTTP/1.1", "Host: x", f"Content-Length: {length}", *extra]


#: 20 MB of zeros in 20 KB: what aiohttp < 3.13.3 would inflate before any check
BOMB = gzip.compress(b"\0" * 20_000_000, compresslevel=9)


async def test_compressed_body_without_token_is_never_inflated(
    server: tuple[int, _Engine], inflated: list[int]
) -> None:
    port, _engine = server
    for path in ("/healthz", "/v1/classify"):
        status, _ = await raw(port, _post(path, len(BOMB), "Content-Encoding: gzip"), BOMB)
        assert status in (401, 405, 415), status
    assert sum(inflated) == 0


async def test_compressed_classify_with_token_is_refused_415(
    server: tuple[int, _Engine], inflated: list[int]
) -> None:
    port, engine = server
    for encoding in ("gzip", "deflate", "br", "GZIP"):
        body = gzip.compress(IMAGE) if encoding.lower() == "gzip" else IMAGE
        head = _post(
            "/v1/classify",
            len(body),
            f"Content-Encoding: {encoding}",
            f"Authorization: Bearer {TOKEN}",
        )
        status, answer = await raw(port, head, body)
        assert status == 415, (encoding, status, answer)
        assert json.loads(answer)["error"] == "unsupported_encoding"
        assert b"larger than" not in answer  # not the 413 text: the size was never the problem
    assert engine.images == []
    assert sum(inflated) == 0


async def test_plain_and_identity_bodies_still_classify(server: tuple[int, _Engine]) -> None:
    port, engine = server
    auth = f"Authorization: Bearer {TOKEN}"
    for extra in ((auth,), (auth, "Content-Encoding: identity")):
        head = [*_post("/v1/classify", len(IMAGE), *extra), "Connection: close"]
        status, answer = await raw(port, head, IMAGE)
        assert status == 200, answer
    assert engine.images == [IMAGE, IMAGE]


async def test_unauthorised_body_is_not_drained(server: tuple[int, _Engine]) -> None:
    # The client announces 1 MB and sends only the start: the 401 comes at once and the server
    # closes instead of reading (lingering over) the rest of a body nobody may send.
    port, _engine = server
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = _post("/v1/classify", 1_000_000)
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + b"x" * 1000)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 401")
