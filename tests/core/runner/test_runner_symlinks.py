"""Symlinks in the folders GarageCam owns (issue 21, item 8): the studio never serves or
scans through a link, and the runner never writes through a planted one."""

from __future__ import annotations

import errno
import time
from pathlib import Path

import pytest

from garagecam_core.capture import FrameCapture
from garagecam_core.dataset import MANIFEST
from garagecam_core.metadata import LabelSpec
from garagecam_core.runner.sinks import DebugSnapshotSink
from garagecam_core.studio.store import LabelStore
from tests.core.runner.support import jpeg
from tests.core.runner.test_runner_debug_snapshots import write_snapshots

SECRET = b"root:x:0:0:precious\n"


def _read(path: Path) -> bytes:
    return path.read_bytes()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    target = tmp_path / "outside" / "passwd"
    target.parent.mkdir()
    target.write_bytes(SECRET)
    return target


def test_scan_skips_links_out_of_the_dataset_and_dangling_ones(
    tmp_path: Path, outside: Path
) -> None:
    root = tmp_path / "dataset"
    root.mkdir()
    (root / "real.jpg").write_bytes(jpeg())
    (root / "leak.jpg").symlink_to(outside)
    (root / "dangling.jpg").symlink_to(tmp_path / "nothing-here.jpg")
    store = LabelStore(root)
    assert sorted(store.scan()) == ["real.jpg"]  # and no FileNotFoundError from the dangling one


def test_a_file_replaced_by_a_link_after_the_scan_is_not_read(
    tmp_path: Path, outside: Path
) -> None:
    root = tmp_path / "dataset"
    root.mkdir()
    (root / "frame.jpg").write_bytes(jpeg())
    store = LabelStore(root)
    frame = store.scan()["frame.jpg"]
    assert store.read(frame) == jpeg()
    (root / "frame.jpg").unlink()
    (root / "frame.jpg").symlink_to(outside)
    with pytest.raises(OSError):  # ELOOP from O_NOFOLLOW
        store.read(frame)


async def test_debug_manifest_temp_link_is_not_written_through(
    tiny_model_path: Path, tmp_path: Path, outside: Path
) -> None:
    folder = tmp_path / "debug"
    folder.mkdir()
    (folder / f"{DebugSnapshotSink.MANIFEST}.tmp").symlink_to(outside)
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "0001.jpg").write_bytes(jpeg())
    await write_snapshots(DebugSnapshotSink(folder, max_files=2), tiny_model_path, frames, 2)
    assert _read(outside) == SECRET
    assert (folder / DebugSnapshotSink.MANIFEST).is_file()


async def test_debug_snapshot_name_taken_by_a_dangling_link_is_not_written_through(
    tiny_model_path: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "debug"
    folder.mkdir()
    victim = tmp_path / "created-through-the-link.jpg"
    name = "garagecam-debug_garage_{}_000.jpg"
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(1_700_000_000.0))
    (folder / name.format(stamp)).symlink_to(victim)
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "0001.jpg").write_bytes(jpeg())
    await write_snapshots(DebugSnapshotSink(folder, max_files=2), tiny_model_path, frames, 1)
    assert not victim.exists()


def test_capture_manifest_link_is_not_read_nor_written_through(
    tmp_path: Path, outside: Path
) -> None:
    folder = tmp_path / "capture"
    folder.mkdir()
    (folder / MANIFEST).symlink_to(outside)
    with pytest.raises(OSError) as raised:  # the capture does not open on a planted link
        FrameCapture(folder, [LabelSpec("door_open")])
    assert raised.value.errno == errno.ELOOP
    assert outside.read_bytes() == SECRET
    assert list((folder / "images").iterdir()) == []


async def test_the_teacher_never_sends_a_frame_swapped_for_a_link(
    tmp_path: Path, tiny_model_path: Path
) -> None:
    """The studio's teacher reads frames through the dataset (O_NOFOLLOW): a file replaced
    by a link after the scan is skipped, its target never leaves the machine."""
    from garagecam_core.studio.state import Studio
    from garagecam_core.studio.teacher import TeacherConfig
    from tests.core.studio.vlm_server import FakeVlm, serve

    root = tmp_path / "dataset"
    root.mkdir()
    for name in ("a.jpg", "b.jpg"):
        (root / name).write_bytes(jpeg())
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(jpeg((200, 10, 10)))
    async with serve(FakeVlm(lambda q, _: "yes")) as vlm:
        studio = Studio(root, tiny_model_path, teacher=TeacherConfig(vlm.url, "m", None))
        await studio.start()
        try:
            (root / "a.jpg").unlink()
            (root / "a.jpg").symlink_to(secret)
            studio.start_teacher(["a.jpg", "b.jpg"])
            for task in list(studio._tasks):
                await task
            assert studio.teacher_progress.error is None
            assert len(vlm.requests) == len(studio.names)  # b.jpg's questions only
            frame = studio.store.frame("a.jpg")
            assert frame is not None and not studio.teacher_of(frame)
        finally:
            await studio.close()


async def test_predictions_never_read_a_frame_swapped_for_a_link(
    tmp_path: Path, tiny_model_path: Path
) -> None:
    from garagecam_core.engine.base import ExecutorEngine
    from garagecam_core.engine.local import LocalEngine
    from garagecam_core.studio.predictor import Predictor

    root = tmp_path / "dataset"
    root.mkdir()
    (root / "a.jpg").write_bytes(jpeg())
    store = LabelStore(root)
    frame = store.scan()["a.jpg"]
    (root / "a.jpg").unlink()
    (root / "a.jpg").symlink_to(tmp_path / "secret.jpg")
    (tmp_path / "secret.jpg").write_bytes(jpeg((200, 10, 10)))
    predictor = Predictor(tiny_model_path, tmp_path / "cache", ExecutorEngine(
        LocalEngine(tiny_model_path)))  # fmt: skip
    (tmp_path / "cache").mkdir()
    try:
        assert await predictor.probabilities_of(root, frame) is None
        entry = predictor.get(frame)
        assert entry is not None and "symbolic links" in entry["error"]
    finally:
        await predictor.close()
