"""HTTP: odd Authorization headers and encodings, bad query strings, bad bodies, concurrent
bad requests, against the runner's real aiohttp app on a local port (demo model, raw sockets
so any byte can be sent).

Every bad request must get a 4xx (aiohttp's own 400 for unparsable HTTP, or our JSON error),
never a 200 and never a 500 or an ERROR traceback in the log.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest

from garagecam_core import demo_model_path
from garagecam_core.engine.base import ExecutorEngine
from garagecam_core.runner.http import ApiContext, create_app, start_site
from garagecam_core.runner.metrics import RunnerMetrics
from tests.core.fuzz.tally import record, verify
from tests.images import encode, scene

TOKEN = "fuzz-token-0123456789"
GOOD_IMAGE = encode(scene(320, 180), "JPEG", quality=85)


class _Tracebacks(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def engine() -> Any:
    from garagecam_core.engine.local import LocalEngine

    return LocalEngine(demo_model_path())


@pytest.fixture
async def server(engine: Any) -> AsyncIterator[tuple[int, _Tracebacks]]:
    context = ApiContext(
        engines={"demo": ExecutorEngine(engine)},
        cameras={},
        metrics=RunnerMetrics(),
        health=list,
        token=TOKEN,
        max_body_bytes=2_000_000,
    )
    handler = _Tracebacks()
    logging.getLogger().addHandler(handler)
    runner, port = await start_site(create_app(context), "127.0.0.1", 0)
    try:
        yield port, handler
    finally:
        await runner.cleanup()
        logging.getLogger().removeHandler(handler)


async def raw_request(port: int, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head + b"\r\n" + body)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()
    status_line = answer.split(b"\r\n", 1)[0]
    parts = status_line.split()
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    return status, answer.partition(b"\r\n\r\n")[2]


def judge(category: str, status: int, body: bytes, tracebacks: _Tracebacks, what: str) -> None:
    if tracebacks.records:
        record(category, "crashed", f"{what}: {tracebacks.records[0].getMessage()}")
        tracebacks.records.clear()
    elif status == 200:
        record(category, "accepted", f"{what}: 200 {body[:80]!r}")
    elif not 400 <= status < 500:
        record(category, "crashed", f"{what}: HTTP {status} {body[:120]!r}")
    else:
        if body.startswith(b"{"):
            json.loads(body)  # our errors are valid JSON
        record(category, "refused")


def _head(path: str, headers: list[bytes], length: int | None = None) -> bytes:
    lines = [f"POST {path} HTTP/1.1".encode(), b"Host: x", b"Connection: close", *headers]
    if length is not None:
        lines.append(f"Content-Length: {length}".encode())
    return b"\r\n".join(lines) + b"\r\n"


AUTH = f"Authorization: Bearer {TOKEN}".encode()


async def test_authorization_headers(server: tuple[int, _Tracebacks]) -> None:
    port, tracebacks = server
    rng = random.Random(1)
    values: list[bytes] = [
        b"",
        b"Bearer",
        b"Bearer ",
        b"bearer wrong",
        b"Basic YWRtaW46czNjcjN0",
        b"Bearer \xff\xfe\xe9t\xe9",
        b"Bearer " + TOKEN.encode("utf-16"),
        b"Bearer " + TOKEN.encode()[:-1] + b"\xe9",
        b"Bearer " + b"A" * 8000,
        b"Bearer " + TOKEN.encode() + b"\x00",
        b"Bearer\t" + TOKEN.encode(),
        "Bearer jeton-é".encode(),
        "Bearer 令牌".encode(),
    ]
    values += [
        b"Bearer " + rng.randbytes(rng.randint(1, 40)).replace(b"\r", b"").replace(b"\n", b"")
        for _ in range(27)
    ]
    for value in values:
        head = _head("/v1/classify?model=demo", [b"Authorization: " + value], len(GOOD_IMAGE))
        status, body = await raw_request(port, head, GOOD_IMAGE)
        judge("http authorization headers", status, body, tracebacks, repr(value[:40]))
    verify(minimum=len(values))


async def test_query_strings(server: tuple[int, _Tracebacks]) -> None:
    port, tracebacks = server
    queries = [
        b"model=nope",
        b"model=%ff%fe",
        b"model=",
        b"roi=abc",
        b"roi=nan,nan,nan,nan",
        b"roi=0,0,1e309,1",
        b"roi=0.5,0.5,0.6,0.6",
        b"roi=-0,-0,0,0",
        b"roi=%00",
        b"model=demo&roi=1,1,1,1",
        b"roi=" + b"9" * 5000,
        b"roi=0.1,0.1,0.5",
    ]
    for query in queries:
        path = "/v1/classify?" + query.decode("latin-1")
        head = _head(path, [AUTH], len(GOOD_IMAGE))
        status, body = await raw_request(port, head, GOOD_IMAGE)
        judge("http query strings", status, body, tracebacks, repr(query[:40]))
    verify(minimum=len(queries))


def _bad_bodies() -> list[tuple[str, bytes]]:
    bodies = [
        (f"cut {tenth}0 %", GOOD_IMAGE[: len(GOOD_IMAGE) * tenth // 10]) for tenth in range(1, 10)
    ]
    bodies += [
        (f"cut {tenth}0 % + EOI", GOOD_IMAGE[: len(GOOD_IMAGE) * tenth // 10] + b"\xff\xd9")
        for tenth in range(1, 10)
    ]
    bodies += [
        ("html", b"<html>login</html>"),
        ("json", b'{"a": NaN}'),
        ("wav", b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 28),
        ("gif", encode(scene(32, 32), "GIF")),
        ("utf-16 text", "héllo".encode("utf-16")),
    ]
    return bodies


async def test_bad_bodies_and_encodings(server: tuple[int, _Tracebacks]) -> None:
    port, tracebacks = server
    for what, body in _bad_bodies():
        status, answer = await raw_request(port, _head("/v1/classify", [AUTH], len(body)), body)
        judge("http bodies", status, answer, tracebacks, what)
    odd = [
        ("gzip header, plain body", [AUTH, b"Content-Encoding: gzip"], GOOD_IMAGE[:500]),
        ("deflate header, junk", [AUTH, b"Content-Encoding: deflate"], b"\x00junk" * 10),
        ("bad chunk size", [AUTH, b"Transfer-Encoding: chunked"], b"zz\r\nabc\r\n0\r\n\r\n"),
        ("length too long", [AUTH, b"Content-Length: 999999999"], b"abc"),
        ("length negative", [AUTH, b"Content-Length: -5"], b"abc"),
        (
            "charset latin-1 text",
            [AUTH, b"Content-Type: text/plain; charset=latin-1"],
            b"\xe9t\xe9",
        ),
    ]
    for what, headers, body in odd:
        explicit = any(
            h.lower().startswith((b"content-length", b"transfer-encoding")) for h in headers
        )
        head = _head("/v1/classify", headers, None if explicit else len(body))
        try:
            status, answer = await raw_request(port, head, body)
        except TimeoutError:
            status, answer = 408, b""  # the server waits for the promised bytes: no answer
        judge("http bodies", status, answer, tracebacks, what)
    verify(minimum=len(odd))


async def test_concurrent_bad_requests(server: tuple[int, _Tracebacks]) -> None:
    port, tracebacks = server
    bodies = [body for _what, body in _bad_bodies()] * 2
    results = await asyncio.gather(
        *(raw_request(port, _head("/v1/classify", [AUTH], len(body)), body) for body in bodies)
    )
    for (status, answer), body in zip(results, bodies, strict=True):
        judge("http concurrent bad requests", status, answer, tracebacks, f"{len(body)} bytes")
    # and the good image still classifies afterwards
    status, answer = await raw_request(
        port, _head("/v1/classify", [AUTH], len(GOOD_IMAGE)), GOOD_IMAGE
    )
    assert status == 200, answer
    assert set(json.loads(answer)["probabilities"])
    verify(minimum=len(bodies))


def _gzip_bomb(megabytes: int) -> bytes:
    return gzip.compress(b"\0" * megabytes * 1_000_000, compresslevel=9)


async def test_compressed_bodies_are_never_inflated(
    server: tuple[int, _Tracebacks], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 21: 1 MB of gzip became 1 GiB in memory before the token was checked."""
    from aiohttp import http_parser

    inflated: list[int] = []
    original: Any = http_parser.DeflateBuffer.feed_data

    def spy(self: Any, chunk: bytes, *args: Any) -> Any:
        inflated.append(len(chunk))
        return original(self, chunk, *args)

    monkeypatch.setattr(http_parser.DeflateBuffer, "feed_data", spy)
    port, tracebacks = server
    bomb = _gzip_bomb(20)
    cases = [
        ("/healthz", [b"Content-Encoding: gzip"]),
        ("/v1/classify", [b"Content-Encoding: gzip"]),
        ("/v1/classify", [AUTH, b"Content-Encoding: gzip"]),
        ("/v1/classify", [AUTH, b"Content-Encoding: deflate"]),
        ("/v1/classify", [AUTH, b"Content-Encoding: br"]),
        ("/v1/classify", [AUTH, b"Content-Encoding: gzip, identity"]),
        ("/metrics", [b"Content-Encoding: gzip"]),
    ]
    for path, headers in cases:
        status, answer = await raw_request(port, _head(path, headers, len(bomb)), bomb)
        judge("http compressed bodies", status, answer, tracebacks, f"{path} {headers[-1]!r}")
        if inflated:
            record("http compressed bodies", "crashed", f"{path}: {sum(inflated)} bytes inflated")
            inflated.clear()
    verify(minimum=len(cases))
