"""The runner's HTTP API under attack (issue 21): compressed bodies, bodies before the token,
slow clients. A real aiohttp server on 127.0.0.1 with a stand-in engine that records calls."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import http_parser

from garagecam_core.engine.base import Classification, Timings
from garagecam_core.metadata import ModelMetadata
from garagecam_core.roi import Roi
from garagecam_core.runner import http
from garagecam_core.runner.http import ApiContext, create_app, start_site
from garagecam_core.runner.metrics import RunnerMetrics
from tests.conftest import tiny_metadata
from tests.core.runner.support import jpeg

TOKEN = "attack-token-0123456789"
IMAGE = jpeg()


class _Engine:
    """Answers every image with a fixed result and keeps what it was given."""

    def __init__(self) -> None:
        self.images: list[bytes] = []

    @property
    def metadata(self) -> ModelMetadata:
        # the classify answer names the model that made it (its metadata digest)
        return tiny_metadata()

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


# --- slow clients (item 4) ------------------------------------------------------------------


@pytest.fixture
def episodes(monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = getattr(http, "_Episodes", object)()  # (absent before issue 21: nothing to reset)
    monkeypatch.setattr(http, "EPISODES", fresh, raising=False)


async def _closed_by_server(reader: asyncio.StreamReader, seconds: float = 15) -> bytes:
    """What the server sent before closing (raises TimeoutError if it never closes)."""
    return await asyncio.wait_for(reader.read(), seconds)


async def test_connection_without_a_request_head_is_closed(
    server: tuple[int, _Engine], monkeypatch: pytest.MonkeyPatch, episodes: None
) -> None:
    monkeypatch.setattr(http, "HEADER_TIMEOUT", 0.5, raising=False)
    port, _engine = server
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHo")  # and never the rest
        await writer.drain()
        assert await _closed_by_server(reader) == b""
    finally:
        writer.close()


async def test_one_client_cannot_hold_unbounded_connections(
    server: tuple[int, _Engine], monkeypatch: pytest.MonkeyPatch, episodes: None
) -> None:
    monkeypatch.setattr(http, "MAX_CONNECTIONS_PER_CLIENT", 3, raising=False)
    port, _engine = server
    pairs = [await asyncio.open_connection("127.0.0.1", port) for _ in range(5)]
    try:
        for _reader, writer in pairs:
            writer.write(b"GET /healthz HTTP/1.1\r\nHo")
            await writer.drain()
        # the two newest are closed; the three oldest stay (the header timeout is 10 s)
        for reader, _writer in pairs[3:]:
            assert await _closed_by_server(reader) == b""
        assert all(not reader.at_eof() for reader, _writer in pairs[:3])
    finally:
        for _reader, writer in pairs:
            writer.close()


async def test_a_trickling_upload_is_cut_and_others_classify(
    monkeypatch: pytest.MonkeyPatch, episodes: None, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(http, "BODY_GRACE_SECONDS", 0.5, raising=False)
    engine = _Engine()
    context = ApiContext(
        engines={"demo": engine},
        cameras={},
        metrics=RunnerMetrics(),
        health=list,
        token=TOKEN,
        max_body_bytes=2_000_000,
        max_inflight_bytes=2_000_000,  # the slow body reserves the whole budget
    )
    runner, port = await start_site(create_app(context), "127.0.0.1", 0)
    auth = f"Authorization: Bearer {TOKEN}"
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = _post("/v1/classify", 2_000_000, auth)
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())

        async def trickle() -> None:  # 1 KB every 0.1 s, for at most 30 s
            for _ in range(300):
                writer.write(b"\xff" * 1024)
                await writer.drain()
                await asyncio.sleep(0.1)

        slow = asyncio.create_task(trickle())
        await asyncio.sleep(0.2)
        status, answer = await raw(port, [*_post("/v1/classify", len(IMAGE), auth)], IMAGE)
        assert status == 200, answer
        try:
            first = await _closed_by_server(reader)
        except ConnectionError:  # closed while our bytes were in flight: a reset
            first = b"(reset)"
        assert first.startswith((b"HTTP/1.1 408", b"(reset)")), first[:80]
        slow.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await slow
    finally:
        writer.close()
        await runner.cleanup()
    assert engine.images == [IMAGE]
    assert "the body came slower than" in caplog.text


async def test_aborted_uploads_log_one_line_not_a_traceback_each(
    server: tuple[int, _Engine], episodes: None, caplog: pytest.LogCaptureFixture
) -> None:
    port, _engine = server
    for _ in range(20):
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = _post("/v1/classify", 100_000, f"Authorization: Bearer {TOKEN}")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + b"x" * 100)
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.transport.abort()
    await asyncio.sleep(0.5)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
    warnings = [r for r in caplog.records if "dropped its upload" in r.getMessage()]
    assert len(warnings) == 1
