"""The shared request buffer between WorkerEngine and its child (engine/frames.py)."""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import pytest

from garagecam_core.engine.frames import FrameReader, SharedFrames


def test_put_then_get_through_a_second_mapping() -> None:
    frames = SharedFrames.create(1000)
    assert frames is not None and frames.fd is not None
    reader = FrameReader(os.dup(frames.fd))  # what the child does with its copy of the fd
    frames.close_fd()
    assert frames.put(b"x" * 600) == 600
    assert frames.put(b"hello") == 5
    assert reader.get(5) == b"hello"
    assert frames.put(b"y" * 1001) is None  # too big: the caller sends it through the pipe
    with pytest.raises(ValueError, match=r"outside 0\.\.1000"):
        reader.get(1001)
    frames.close()
    frames.close()  # twice is harmless


def test_no_shared_memory_means_none() -> None:
    assert SharedFrames.create(0) is None


def test_worker_shares_camera_sized_frames_and_pipes_bigger_ones(tiny_model_path: Path) -> None:
    """The shared buffer is capped (a maximum-size API body must not stay resident twice);
    an image over the cap still reaches the child, through the pipe, with the same answer."""
    from garagecam_core.engine.frames import MAX_SHARED_BYTES
    from garagecam_core.engine.worker import WorkerEngine
    from tests.images import encode, scene

    small = encode(scene(320, 240, door_open=True), "JPEG", quality=90)
    # the same picture as a PNG padded past the cap with a private chunk decoders skip
    png = encode(scene(320, 240, door_open=True), "PNG")
    chunk = b"prVt" + b"\0" * (MAX_SHARED_BYTES + 1024)
    padding = (len(chunk) - 4).to_bytes(4, "big") + chunk + zlib.crc32(chunk).to_bytes(4, "big")
    big = png[:33] + padding + png[33:]  # after the 8-byte signature and the IHDR chunk
    with WorkerEngine(tiny_model_path) as engine:
        frames = engine._child.frames  # the buffer is what this test is about
        assert frames is not None and frames.capacity == MAX_SHARED_BYTES
        assert len(big) > MAX_SHARED_BYTES
        shared = engine.classify(small)
        piped = engine.classify(big)
    assert piped.image_size == shared.image_size == (320, 240)
