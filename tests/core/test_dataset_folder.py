"""The dataset folder (`garagecam_core.dataset`): atomic writes under a crash, bounds, lines
it cannot parse, symbolic links, writers taking turns."""

from __future__ import annotations

import errno
import json
import multiprocessing
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from garagecam_core.dataset import (
    MANIFEST,
    Bounds,
    DatasetFolder,
    LabelsFile,
    load_dataset,
    read_no_follow,
)
from garagecam_core.errors import DatasetError
from tests.images import encode, solid

ROOT = Path(__file__).resolve().parents[2]


def image(shade: int) -> bytes:
    return encode(solid(32, 24, (shade, shade, shade)))


def manifest_paths(folder: Path, name: str = MANIFEST) -> list[str]:
    return [json.loads(line)["path"] for line in (folder / name).read_text().splitlines()]


def crash_at(replaced: str, body: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `body` in a child process that dies (os._exit, no clean-up) when `replaced`
    (`module.function`) is called: a power cut at that instant, as far as files go."""
    module, function = replaced.rsplit(".", 1)
    code = (
        "import os, importlib\n"
        f"target = importlib.import_module({module!r})\n"
        f"setattr(target, {function!r}, lambda *a, **k: os._exit(9))\n" + body
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={"TMPDIR": str(cwd)}, text=True,
        capture_output=True, check=False, timeout=120,
    )  # fmt: skip


# -- atomic writes -----------------------------------------------------------------------


def test_a_crash_before_the_rename_leaves_the_old_labels_and_a_temp_file(tmp_path: Path) -> None:
    labels = tmp_path / "labels.jsonl"
    old = b'{"path": "a.jpg", "labels": {"door_open": 1}}\n'
    labels.write_bytes(old)
    body = (
        "from pathlib import Path\n"
        "from garagecam_core.dataset import LabelsFile\n"
        f"LabelsFile(Path({str(labels)!r})).set("
        "{'b.jpg': {'path': 'b.jpg', 'labels': {'door_open': 0}}})\n"
    )
    # the rename (Path.replace calls os.replace): the temp file is complete and on disk by then
    result = crash_at("os.replace", body, tmp_path)
    assert result.returncode == 9, result.stderr
    assert labels.read_bytes() == old  # the old file, whole
    (temp,) = tmp_path.glob(".labels.jsonl.*.tmp")  # left behind, with the full new content
    assert temp.read_bytes() == old + b'{"path": "b.jpg", "labels": {"door_open": 0}}\n'
    # the next start reads the old labels, ignores the temp file, and writes again
    assert LabelsFile(labels).read().paths() == {"a.jpg"}
    assert [f.path for f in DatasetFolder(tmp_path).frames()] == []
    LabelsFile(labels).set({"c.jpg": {"path": "c.jpg", "labels": {"door_open": 1}}})
    assert LabelsFile(labels).read().paths() == {"a.jpg", "c.jpg"}


def test_a_crash_before_the_manifest_rename_keeps_the_old_manifest(tmp_path: Path) -> None:
    folder = DatasetFolder(tmp_path)
    first = folder.add_frame(image(10), "first", {}, Bounds())
    assert first.path is not None
    old = (tmp_path / MANIFEST).read_bytes()
    body = (
        "from pathlib import Path\n"
        "from garagecam_core.dataset import Bounds, DatasetFolder\n"
        "from tests.images import encode, solid\n"
        f"DatasetFolder(Path({str(tmp_path)!r})).add_frame("
        "encode(solid(32, 24, (90, 90, 90))), 'second', {}, Bounds())\n"
    )
    result = crash_at("os.replace", body, tmp_path)
    assert result.returncode == 9, result.stderr
    assert (tmp_path / MANIFEST).read_bytes() == old
    assert len(list(tmp_path.glob(f".{MANIFEST}.*.tmp"))) == 1
    # the image was written whole before the manifest: unlisted, never evicted, never torn
    assert read_no_follow(tmp_path, "images/second.jpg") == image(90)
    assert manifest_paths(tmp_path) == ["images/first.jpg"]


def test_a_crash_before_the_image_link_leaves_no_image_under_its_name(tmp_path: Path) -> None:
    body = (
        "from pathlib import Path\n"
        "from garagecam_core.dataset import Bounds, DatasetFolder\n"
        f"DatasetFolder(Path({str(tmp_path)!r})).add_frame(b'x' * 5000, 'frame', {{}}, Bounds())\n"
    )
    result = crash_at("os.link", body, tmp_path)
    assert result.returncode == 9, result.stderr
    assert list((tmp_path / "images").iterdir()) == [
        p for p in (tmp_path / "images").iterdir() if p.name.startswith(".frame.jpg.")
    ]  # only the hidden temp file: no frame, no manifest line
    assert not (tmp_path / MANIFEST).exists()
    assert DatasetFolder(tmp_path).frames() == []


def test_a_manifest_that_cannot_be_written_takes_the_image_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from garagecam_core.dataset import folder as folder_module

    def full_disk(path: Path, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(folder_module, "write_atomic", full_disk)
    with pytest.raises(OSError, match="No space"):
        DatasetFolder(tmp_path).add_frame(image(10), "frame", {}, Bounds())
    assert list((tmp_path / "images").iterdir()) == []


# -- bounds --------------------------------------------------------------------------------


def test_bounds_evict_the_oldest_unlabelled_frames_first(tmp_path: Path) -> None:
    folder = DatasetFolder(tmp_path)
    for shade in (10, 20, 30):
        folder.add_frame(image(shade), f"f{shade}", {"shade": shade}, Bounds(max_frames=3))
    folder.labels.set({"images/f10.jpg": {"path": "images/f10.jpg", "labels": {"a": 1}}})
    added = folder.add_frame(image(40), "f40", {}, Bounds(max_frames=3))
    assert added.path == tmp_path / "images" / "f40.jpg" and added.evicted == 1
    assert manifest_paths(tmp_path) == ["images/f10.jpg", "images/f30.jpg", "images/f40.jpg"]
    assert not (tmp_path / "images" / "f20.jpg").exists()
    assert (added.frames, added.bytes) == (3, sum(len(image(s)) for s in (10, 30, 40)))


def test_byte_bound_counts_only_manifest_frames(tmp_path: Path) -> None:
    folder = DatasetFolder(tmp_path)
    (tmp_path / "saved.jpg").write_bytes(image(99) * 10)  # save_snapshot's: not counted
    size = len(image(10))
    bounds = Bounds(max_bytes=2 * size + 10)
    folder.add_frame(image(10), "a", {}, bounds)
    folder.add_frame(image(20), "b", {}, bounds)
    folder.add_frame(image(30), "c", {}, bounds)
    assert manifest_paths(tmp_path) == ["images/b.jpg", "images/c.jpg"]
    assert (tmp_path / "saved.jpg").exists()
    refused = folder.add_frame(b"x" * (3 * size), "huge", {}, bounds)
    assert refused.path is None and refused.refused is not None and "max_bytes" in refused.refused


def test_when_every_frame_is_labelled_new_frames_are_refused(tmp_path: Path) -> None:
    folder = DatasetFolder(tmp_path)
    folder.add_frame(image(10), "a", {}, Bounds(max_frames=1))
    folder.labels.set({"images/a.jpg": {"path": "images/a.jpg", "labels": {"x": 0}}})
    added = folder.add_frame(image(20), "b", {}, Bounds(max_frames=1))
    assert added.path is None and added.refused is not None and "labelled" in added.refused
    assert not (tmp_path / "images" / "b.jpg").exists()
    assert manifest_paths(tmp_path) == ["images/a.jpg"]


def test_unreadable_labels_delete_nothing(tmp_path: Path) -> None:
    folder = DatasetFolder(tmp_path)
    folder.add_frame(image(10), "a", {}, Bounds(max_frames=1))
    outside = tmp_path.parent / f"{tmp_path.name}-labels.jsonl"
    outside.write_text("")
    (tmp_path / "labels.jsonl").symlink_to(outside)  # unknown labels: maybe a is labelled
    added = folder.add_frame(image(20), "b", {}, Bounds(max_frames=1))
    assert added.path is None and added.refused is not None and "unreadable" in added.refused
    assert (tmp_path / "images" / "a.jpg").exists()


def test_eviction_never_deletes_what_it_did_not_write(tmp_path: Path) -> None:
    """A frame changed since (other size), a file swapped for a link, a listed path out of
    the folder: dropped from the manifest, never deleted."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.jpg").write_bytes(b"keep")
    root = tmp_path / "data"
    folder = DatasetFolder(root)
    changed = folder.add_frame(image(10), "changed", {}, Bounds()).path
    linked = folder.add_frame(image(20), "linked", {}, Bounds()).path
    assert changed is not None and linked is not None
    changed.write_bytes(b"the user's own file now")
    linked.unlink()
    linked.symlink_to(outside / "victim.jpg")
    lines = [json.dumps({"path": p, "bytes": 4}) for p in ("../outside/victim.jpg", "/x.jpg")]
    (root / MANIFEST).write_text("".join(f"{line}\n" for line in lines)
                                 + (root / MANIFEST).read_text())  # fmt: skip
    added = folder.add_frame(image(30), "new", {}, Bounds(max_frames=1))
    assert added.path is not None and added.evicted == 4
    assert changed.read_bytes() == b"the user's own file now"
    assert linked.is_symlink() and (outside / "victim.jpg").read_bytes() == b"keep"
    assert manifest_paths(root) == ["images/new.jpg"]


# -- lines it cannot parse ------------------------------------------------------------------


def test_lines_that_are_no_record_are_kept_byte_for_byte(tmp_path: Path) -> None:
    broken = b"{broken line somebody wrote\n\xff\xfe not utf-8\n"
    old_append = b'{"path": "a.jpg", "labels": {"door_open": 1}}'  # no final newline
    (tmp_path / "labels.jsonl").write_bytes(broken + old_append)
    labels = LabelsFile(tmp_path / "labels.jsonl")
    assert labels.read().skipped == 2
    labels.set({"b.jpg": {"path": "b.jpg", "labels": {"door_open": 0}}})
    lines = (tmp_path / "labels.jsonl").read_bytes().splitlines()
    assert lines[:3] == [*broken.splitlines(), old_append]  # the old line not merged
    assert json.loads(lines[3])["path"] == "b.jpg"
    assert labels.read().paths() == {"a.jpg", "b.jpg"}


def test_manifest_lines_it_cannot_parse_stay_where_they_were(tmp_path: Path) -> None:
    folder = DatasetFolder(tmp_path)
    folder.add_frame(image(10), "a", {}, Bounds())
    with (tmp_path / MANIFEST).open("ab") as handle:
        handle.write(b"somebody's note\n\xff\xfe\n")
    folder.add_frame(image(20), "b", {}, Bounds())
    folder.add_frame(image(30), "c", {}, Bounds(max_frames=2))  # evicts a: a rewrite
    lines = (tmp_path / MANIFEST).read_bytes().splitlines()
    assert lines[:2] == [b"somebody's note", b"\xff\xfe"]
    assert [json.loads(line)["path"] for line in lines[2:]] == ["images/b.jpg", "images/c.jpg"]


def test_training_refuses_a_broken_line_with_its_number(tmp_path: Path) -> None:
    for i in range(8):
        (tmp_path / f"{i}.jpg").write_bytes(image(10 + i))
    lines = [json.dumps({"path": f"{i}.jpg", "labels": {"d": i % 2}}) for i in range(8)]
    (tmp_path / "labels.jsonl").write_text("\n".join([*lines[:3], "{broken", *lines[3:]]) + "\n")
    with pytest.raises(DatasetError, match=r"labels.jsonl line 4: not valid JSON"):
        load_dataset(tmp_path)


def test_one_line_per_path_the_first_replaced_in_place(tmp_path: Path) -> None:
    a = json.dumps({"path": "a.jpg", "labels": {"d": 1}})
    b = json.dumps({"path": "./b.jpg", "labels": {"d": 1}})
    (tmp_path / "labels.jsonl").write_text(f"{a}\n{b}\n{a}\n")
    LabelsFile(tmp_path / "labels.jsonl").set({"a.jpg": {"path": "a.jpg", "labels": {"d": 0}}})
    lines = (tmp_path / "labels.jsonl").read_text().splitlines()
    assert lines == [json.dumps({"path": "a.jpg", "labels": {"d": 0}}), b]


# -- symbolic links -------------------------------------------------------------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    target = tmp_path / "outside"
    target.mkdir()
    (target / "frame.jpg").write_bytes(b"secret")
    return target


def test_a_frame_or_a_folder_swapped_for_a_link_is_not_read(tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "data"
    (root / "images").mkdir(parents=True)
    (root / "images" / "frame.jpg").write_bytes(image(10))
    folder = DatasetFolder(root)
    assert folder.read_frame("images/frame.jpg") == image(10)
    (root / "images" / "frame.jpg").unlink()
    (root / "images" / "frame.jpg").symlink_to(outside / "frame.jpg")
    with pytest.raises(OSError) as raised:
        folder.read_frame("images/frame.jpg")
    assert raised.value.errno == errno.ELOOP
    (root / "images" / "frame.jpg").unlink()
    (root / "images").rmdir()
    (root / "images").symlink_to(outside)  # the folder on the way, not the file
    with pytest.raises(OSError) as raised:
        folder.read_frame("images/frame.jpg")
    assert raised.value.errno in (errno.ELOOP, errno.ENOTDIR)
    with pytest.raises(ValueError, match="not a path inside"):
        folder.read_frame("../outside/frame.jpg")


def test_a_labels_file_that_is_a_link_is_neither_read_nor_written(
    tmp_path: Path, outside: Path
) -> None:
    root = tmp_path / "data"
    root.mkdir()
    target = outside / "labels.jsonl"
    target.write_bytes(b"theirs\n")
    (root / "labels.jsonl").symlink_to(target)
    labels = LabelsFile(root / "labels.jsonl")
    with pytest.raises(DatasetError, match="not a regular file"):
        labels.read()
    with pytest.raises(DatasetError, match="not a regular file"):
        labels.set({"a.jpg": {"path": "a.jpg", "labels": {"d": 1}}})
    assert target.read_bytes() == b"theirs\n"


def test_save_frame_never_writes_through_a_link_at_its_name(tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    victim = outside / "created-through-the-link.jpg"
    (root / "snap.jpg").symlink_to(victim)  # dangling: opening it for writing would create it
    path = DatasetFolder(root).save_frame(image(10), "snap", {"labels": {"d": 1}}, replace=False)
    assert path == root / "snap_2.jpg" and not victim.exists()
    assert LabelsFile(root / "labels.jsonl").read().paths() == {"snap_2.jpg"}


def test_save_frame_saves_once_and_takes_the_image_back_when_labels_fail(
    tmp_path: Path,
) -> None:
    folder = DatasetFolder(tmp_path)
    first = folder.save_frame(image(10), "snap", {"labels": {"d": 1}}, replace=False)
    again = folder.save_frame(image(10), "snap", {"labels": {"d": 0}}, replace=False)
    assert first == again == tmp_path / "snap.jpg"
    assert folder.labels.read().latest()["snap.jpg"].labels == {"d": 1}  # left alone
    folder.save_frame(image(10), "snap", {"labels": {"d": 0}, "by": "action"}, replace=True)
    assert folder.labels.read().latest()["snap.jpg"].labels == {"d": 0}
    (tmp_path / "labels.jsonl").unlink()
    (tmp_path / "labels.jsonl").mkdir()  # the line cannot be written
    with pytest.raises(DatasetError, match="not a regular file"):
        folder.save_frame(image(20), "other", {"labels": {"d": 1}}, replace=False)
    assert not (tmp_path / "other.jpg").exists()


# -- writers taking turns ---------------------------------------------------------------


def test_threads_editing_labels_lose_no_line(tmp_path: Path) -> None:
    labels = LabelsFile(tmp_path / "labels.jsonl")

    def edit(prefix: str) -> None:
        for i in range(25):
            labels.set({f"{prefix}{i}.jpg": {"path": f"{prefix}{i}.jpg", "labels": {"d": 1}}})

    threads = [threading.Thread(target=edit, args=(p,)) for p in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(labels.read().paths()) == 50


def _edit_in_a_process(path: str, prefix: str) -> None:
    labels = LabelsFile(Path(path))
    for i in range(20):
        labels.set({f"{prefix}{i}.jpg": {"path": f"{prefix}{i}.jpg", "labels": {"d": 0}}})


def test_processes_editing_labels_lose_no_line(tmp_path: Path) -> None:
    """Home Assistant and the runner's studio on one folder: the folder's flock."""
    path = str(tmp_path / "labels.jsonl")
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_edit_in_a_process, args=(path, p)) for p in "xy"]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0, 0]
    assert len(LabelsFile(Path(path)).read().paths()) == 40
