"""Framed messages between `WorkerEngine` and its child process, over raw pipe fds.

A frame is `>II` (header length, body length), a UTF-8 JSON header, then the raw body
(image bytes for a request, empty otherwise). Reads and writes take an optional monotonic
deadline; waiting happens in `poll()`, which releases the GIL.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from typing import Any

_PREFIX = struct.Struct(">II")
MAX_HEADER = 1 << 20
MAX_BODY = 256 << 20  # far above any image limit; protects against a garbled length


class FrameTimeout(Exception):
    """The deadline passed before the whole frame was transferred."""


class FrameEOF(Exception):
    """The other side closed the pipe (the process exited or was killed)."""


def _wait(fd: int, event: int, deadline: float | None) -> None:
    if deadline is None:
        return
    poller = select.poll()
    poller.register(fd, event)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FrameTimeout
        if poller.poll(remaining * 1000.0):
            return


def _read_exact(fd: int, size: int, deadline: float | None) -> bytes:
    chunks: list[bytes] = []
    missing = size
    while missing:
        _wait(fd, select.POLLIN, deadline)
        chunk = os.read(fd, min(missing, 1 << 20))
        if not chunk:
            raise FrameEOF
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, deadline: float | None = None) -> tuple[dict[str, Any], bytes]:
    header_len, body_len = _PREFIX.unpack(_read_exact(fd, _PREFIX.size, deadline))
    if header_len > MAX_HEADER or body_len > MAX_BODY:
        raise ValueError(f"frame too large: header {header_len}, body {body_len} bytes")
    header = json.loads(_read_exact(fd, header_len, deadline))
    if not isinstance(header, dict):
        raise ValueError("frame header is not a JSON object")
    return header, _read_exact(fd, body_len, deadline)


def write_frame(
    fd: int, header: dict[str, Any], body: bytes = b"", deadline: float | None = None
) -> None:
    """Write one frame. With a deadline the fd must be non-blocking."""
    encoded = json.dumps(header).encode()
    # The body is written from its own memory: joining it to the header would hold a second
    # copy of a (up to 20 MB) image for the whole write.
    for part in (_PREFIX.pack(len(encoded), len(body)) + encoded, body):
        view = memoryview(part)
        while view:
            _wait(fd, select.POLLOUT, deadline)
            try:
                written = os.write(fd, view)
            except BlockingIOError:
                continue
            except (BrokenPipeError, ConnectionResetError) as err:
                raise FrameEOF from err
            view = view[written:]
