"""Debug snapshots: at most `max_files` kept, and only files the runner wrote are deleted."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from garagecam_core.camera import Camera, Frame
from garagecam_core.debounce import Debouncer, LabelPolicy, State, Transition
from garagecam_core.engine.base import ExecutorEngine
from garagecam_core.engine.local import LocalEngine
from garagecam_core.runner.sinks import DebugSnapshotSink
from garagecam_core.sources import FileSource
from tests.core.runner.support import jpeg


async def write_snapshots(sink: DebugSnapshotSink, model: Path, frames: Path, count: int) -> None:
    """`count` real annotated frames from the real engine, each with a state change."""
    engine = ExecutorEngine(LocalEngine(model))
    policies = {label: LabelPolicy(0.5, 0.5, 1) for label in engine.metadata.label_names}
    camera = Camera(
        "garage", "Garage", FileSource(frames), engine, Debouncer(policies), model_name="tiny",
        interval=1.0,
    )  # fmt: skip
    image = jpeg((40, 80, 120), size=(160, 90))
    classification = await engine.classify(image)
    for index in range(count):
        timestamp = 1_700_000_000.0 + index  # one per second: distinct names
        frame = Frame(image, classification, timestamp, 5.0)
        transition = Transition("door_open", State.OFF, State.ON, 0.9, timestamp)
        sink.on_frame(camera, frame, [transition])
        await sink.drain()
    await engine.close()


def listed(folder: Path) -> list[str]:
    """The names the manifest lists, oldest first."""
    text = (folder / DebugSnapshotSink.MANIFEST).read_text()
    return [json.loads(line)["path"] for line in text.splitlines()]


async def test_only_files_the_runner_wrote_are_deleted(
    tiny_model_path: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "pictures"
    folder.mkdir()
    theirs = {f"holiday_{i}.jpg": jpeg((i * 40, 10, 10)) for i in range(5)}
    # Looks like ours but was not written by this sink (another program, an old release).
    theirs["garagecam-debug_garage_20200101-000000_000.jpg"] = jpeg()
    theirs["garage_20200101-000000_000.jpg"] = jpeg()  # the old naming scheme
    for name, data in theirs.items():
        (folder / name).write_bytes(data)
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "0001.jpg").write_bytes(jpeg())

    sink = DebugSnapshotSink(folder, max_files=2)
    await write_snapshots(sink, tiny_model_path, frames, count=5)

    for name, data in theirs.items():
        assert (folder / name).read_bytes() == data, name
    ours = sorted(p.name for p in folder.glob("garagecam-debug_garage_2023*.jpg"))
    assert listed(folder) == ours and len(ours) == 2  # the newest two
    assert ours[-1].endswith("_000.jpg")

    # A new sink (runner restart) continues from the manifest.
    await write_snapshots(DebugSnapshotSink(folder, max_files=1), tiny_model_path, frames, 1)
    assert len(listed(folder)) == 1
    assert all((folder / name).exists() for name in theirs)


OUTSIDE_LINES = "".join(
    json.dumps({"path": path, "bytes": 4}) + "\n"
    for path in ("../outside.jpg", "sub/../../outside.jpg", "/etc/passwd")
)


@pytest.mark.parametrize(
    ("name", "manifest"),
    [
        (DebugSnapshotSink.LEGACY_MANIFEST, '["../outside.jpg", "holiday_1.jpg", "/etc/passwd"]'),
        (DebugSnapshotSink.LEGACY_MANIFEST, "{not json"),
        (DebugSnapshotSink.LEGACY_MANIFEST, '{"a": 1}'),
        (DebugSnapshotSink.LEGACY_MANIFEST, "\xff\xfe"),
        (DebugSnapshotSink.MANIFEST, OUTSIDE_LINES),
        (DebugSnapshotSink.MANIFEST, "{not json\n\xff\xfe\n"),
    ],
    ids=[
        "old-foreign-names",
        "old-corrupt",
        "old-not-a-list",
        "old-not-utf8",
        "paths-outside",
        "corrupt-lines",
    ],
)
async def test_a_bad_manifest_deletes_nothing_it_does_not_own(
    tiny_model_path: Path,
    tmp_path: Path,
    name: str,
    manifest: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    folder = tmp_path / "debug"
    folder.mkdir()
    (tmp_path / "outside.jpg").write_bytes(b"keep")
    (folder / "holiday_1.jpg").write_bytes(b"keep")
    (folder / name).write_text(manifest, encoding="latin-1")
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "0001.jpg").write_bytes(jpeg())
    caplog.set_level(logging.WARNING)
    await write_snapshots(DebugSnapshotSink(folder, max_files=1), tiny_model_path, frames, 3)
    assert (tmp_path / "outside.jpg").read_bytes() == b"keep"
    assert (folder / "holiday_1.jpg").read_bytes() == b"keep"
    assert len(list(folder.glob("garagecam-debug_*.jpg"))) == 1


async def test_the_list_of_an_older_release_is_taken_over(
    tiny_model_path: Path, tmp_path: Path
) -> None:
    """`.garagecam-debug-snapshots.json` (a JSON list of names) as the oldest entries: over
    the bound they go first; a name not of the sink's form is never taken over."""
    folder = tmp_path / "debug"
    folder.mkdir()
    old = ["garagecam-debug_garage_20200101-000000_000.jpg", "holiday.jpg"]
    for name in old:
        (folder / name).write_bytes(jpeg())
    (folder / DebugSnapshotSink.LEGACY_MANIFEST).write_text(json.dumps(old))
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "0001.jpg").write_bytes(jpeg())
    await write_snapshots(DebugSnapshotSink(folder, max_files=1), tiny_model_path, frames, 1)
    assert not (folder / old[0]).exists()  # the old release's snapshot, the oldest: deleted
    assert (folder / "holiday.jpg").exists()
    assert not (folder / DebugSnapshotSink.LEGACY_MANIFEST).exists()
    assert len(listed(folder)) == 1 and listed(folder)[0].startswith("garagecam-debug_garage_2023")
