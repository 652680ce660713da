"""The shared request buffer between WorkerEngine and its child (engine/frames.py)."""

from __future__ import annotations

import os

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
