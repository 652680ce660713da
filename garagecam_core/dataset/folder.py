"""A dataset folder: frames, a manifest of the frames GarageCam kept, bounds, labels.

The one implementation of the folder that capture (the runner's and Home Assistant's),
Home Assistant's `save_snapshot`, the runner's debug snapshots, the studio and training share:

- frames: image files in the folder (capture's in `images/`, `save_snapshot`'s at the top);
  written under new names only (`create_new`: never over a file or through a link), read
  without following links (`read_no_follow`);
- the manifest (`capture.jsonl`, or the debug snapshots' own): one JSON line per kept frame,
  `{"path", "bytes", ...the writer's fields}`, rewritten atomically; lines it cannot parse
  are kept verbatim;
- bounds (`Bounds`: frames and bytes of the manifest's frames): over a bound, the oldest
  manifest frames nobody labelled are deleted first, and only if the file is still the one
  written (a regular file of the written size); when every listed frame is labelled, new
  frames are refused. Frames the manifest does not list (`save_snapshot`'s, the user's) are
  never deleted and not counted;
- `labels.jsonl` (`LabelsFile`).

Writers take the folder's lock (`folder_lock`), so Home Assistant and the runner can share
a folder. Blocking I/O: call it from a thread when the caller owns an event loop.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISREG
from typing import Any

from ..errors import DatasetError
from .files import (
    create_new,
    folder_lock,
    read_no_follow,
    regular_size,
    relative_parts,
    write_atomic,
)
from .labels import LABELS_FILE, LabelsFile, norm
from .reader import IMAGE_SUFFIXES

_LOGGER = logging.getLogger(__name__)

MANIFEST = "capture.jsonl"
IMAGES_DIR = "images"


@dataclass(frozen=True)
class Bounds:
    """At most this many frames / bytes in the manifest (None: no bound)."""

    max_frames: int | None = None
    max_bytes: int | None = None


@dataclass(frozen=True)
class ManifestEntry:
    path: str  # relative to the folder, POSIX
    size: int
    record: dict[str, Any]
    line: bytes  # as written


@dataclass
class Manifest:
    """The manifest's lines in order: entries, and lines it cannot parse (kept verbatim,
    where they were)."""

    lines: list[ManifestEntry | bytes] = field(default_factory=list)

    @property
    def entries(self) -> list[ManifestEntry]:
        """The frames, oldest first."""
        return [line for line in self.lines if isinstance(line, ManifestEntry)]

    @property
    def total_bytes(self) -> int:
        return sum(entry.size for entry in self.entries)

    def encode(self) -> bytes:
        raws = [line.line if isinstance(line, ManifestEntry) else line for line in self.lines]
        return b"".join(raw + b"\n" for raw in raws)


@dataclass(frozen=True)
class Added:
    """What `add_frame` did: the frame's path, or why it was refused; the manifest after."""

    path: Path | None
    refused: str | None
    frames: int
    bytes: int
    evicted: int = 0


@dataclass(frozen=True)
class FrameFile:
    path: str  # POSIX, relative to the folder
    size: int
    mtime_ns: int


def _parse_entry(raw: bytes) -> ManifestEntry | None:
    try:
        record = json.loads(raw)
        entry = ManifestEntry(norm(str(record["path"])), int(record["bytes"]), record, raw)
    except (ValueError, KeyError, TypeError):
        return None
    return entry


class DatasetFolder:
    def __init__(
        self,
        root: Path,
        *,
        manifest: str = MANIFEST,
        images: str = IMAGES_DIR,
        labels: Path | None = None,
    ) -> None:
        self.root = Path(root)
        self.manifest_name = manifest
        self.images = images
        self.labels = LabelsFile(labels or self.root / LABELS_FILE)

    @property
    def manifest_path(self) -> Path:
        return self.root / self.manifest_name

    # -- reading ---------------------------------------------------------------------------

    def read_frame(self, rel: str) -> bytes:
        """A frame's bytes, never through a link (see `read_no_follow`)."""
        return read_no_follow(self.root, rel)

    def frames(self) -> list[FrameFile]:
        """Every image file of the folder (not in hidden folders, not hidden, no links)."""
        found: list[FrameFile] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if Path(name).suffix.lower() not in IMAGE_SUFFIXES or name.startswith("."):
                    continue
                full = Path(dirpath) / name
                try:
                    info = full.lstat()
                except FileNotFoundError:  # deleted since the listing
                    continue
                if S_ISREG(info.st_mode):  # a link may point out of the folder, or nowhere
                    rel = full.relative_to(self.root).as_posix()
                    found.append(FrameFile(rel, info.st_size, info.st_mtime_ns))
        return found

    def read_manifest(self) -> Manifest:
        """The manifest (empty if none); OSError (ELOOP) if a link stands in its place."""
        try:
            data = read_no_follow(self.root, self.manifest_name)
        except FileNotFoundError:
            return Manifest()
        manifest = Manifest()
        for raw in data.splitlines():
            if not raw.strip():
                continue
            manifest.lines.append(_parse_entry(raw) or raw)
        return manifest

    # -- writing ---------------------------------------------------------------------------

    def add_frame(
        self, image: bytes, stem: str, fields: Mapping[str, Any], bounds: Bounds
    ) -> Added:
        """Keep `image` as `<images>/<stem>.jpg` (`.png` for a PNG) listed in the manifest
        with `fields`, making room within `bounds` first; refused when it cannot fit."""
        with folder_lock(self._ensure_folder()):
            manifest = self.read_manifest()
            evicted, refused = self._make_room(manifest, len(image), bounds)
            if refused is not None:
                if evicted:
                    write_atomic(self.manifest_path, manifest.encode())
                return Added(None, refused, len(manifest.entries), manifest.total_bytes, evicted)
            rel = self._create(image, stem)
            record = {"path": rel, "bytes": len(image), **fields}
            line = json.dumps(record).encode("utf-8")
            manifest.lines.append(ManifestEntry(rel, len(image), record, line))
            try:
                write_atomic(self.manifest_path, manifest.encode())
            except BaseException:  # unlisted, the image would never be deleted by the bounds
                (self.root / rel).unlink(missing_ok=True)
                raise
            return Added(self.root / rel, None, len(manifest.entries), manifest.total_bytes,
                         evicted)  # fmt: skip

    def adopt(self, paths: Sequence[str]) -> int:
        """List frames written before this manifest existed (an older release's own list),
        as the oldest ones, with their size now; paths that are not a regular file of the
        folder, or already listed, are left out. Returns how many were listed."""
        with folder_lock(self._ensure_folder()):
            manifest = self.read_manifest()
            listed = {entry.path for entry in manifest.entries}
            adopted: list[ManifestEntry] = []
            for rel in paths:
                with contextlib.suppress(ValueError):
                    relative_parts(rel)
                    size = regular_size(self.root / rel)
                    if size is not None and norm(rel) not in listed:
                        record = {"path": norm(rel), "bytes": size}
                        line = json.dumps(record).encode("utf-8")
                        adopted.append(ManifestEntry(norm(rel), size, record, line))
            if adopted:
                manifest.lines[:0] = adopted
                write_atomic(self.manifest_path, manifest.encode())
            return len(adopted)

    def save_frame(
        self, image: bytes, stem: str, labels: Mapping[str, Any] | None, replace: bool
    ) -> Path:
        """Save `image` at the top of the folder once (`save_snapshot`), not in the manifest
        (never deleted by the bounds): the same bytes saved again under the same stem are
        left alone, and their labels line is replaced only when `replace`; another image
        with the same stem gets `_2`, `_3`... `labels`: the frame's labels.jsonl record
        (without its path), or None for no line. If the line cannot be written the image
        is taken back: a retry must not find it saved without its labels."""
        self.root.mkdir(parents=True, exist_ok=True)
        with folder_lock(self.root):
            for index in itertools.count(1):
                rel = f"{stem}.jpg" if index == 1 else f"{stem}_{index}.jpg"
                try:
                    create_new(self.root / rel, image)
                except FileExistsError:
                    if self._holds(rel, image):
                        if replace and labels is not None:
                            self.labels.set({rel: {"path": rel, **labels}})
                        return self.root / rel
                    continue
                break
            if labels is not None:
                try:
                    self.labels.set({rel: {"path": rel, **labels}})
                except BaseException:
                    (self.root / rel).unlink(missing_ok=True)
                    raise
            return self.root / rel

    def _holds(self, rel: str, image: bytes) -> bool:
        """`rel` is a regular file with exactly these bytes (a link never is)."""
        try:
            return self.read_frame(rel) == image
        except OSError:
            return False

    def _ensure_folder(self) -> Path:
        (self.root / self.images).mkdir(parents=True, exist_ok=True)
        return self.root

    def _create(self, image: bytes, stem: str) -> str:
        suffix = ".png" if image.startswith(b"\x89PNG") else ".jpg"  # cameras send either
        prefix = f"{self.images}/" if self.images else ""
        for attempt in range(1000):
            rel = f"{prefix}{stem}{f'_{attempt}' if attempt else ''}{suffix}"
            try:
                create_new(self.root / rel, image)
            except FileExistsError:
                continue
            return rel
        raise OSError(f"no free file name for {stem}")  # pragma: no cover

    def _make_room(
        self, manifest: Manifest, incoming: int, bounds: Bounds
    ) -> tuple[int, str | None]:
        """Delete the oldest unlabelled manifest frames until `incoming` fits; returns how
        many went and why the frame is refused (None: it fits)."""
        if bounds.max_bytes is not None and incoming > bounds.max_bytes:
            return 0, f"a {incoming}-byte frame exceeds max_bytes"

        def over() -> bool:
            return (
                bounds.max_frames is not None and len(manifest.entries) + 1 > bounds.max_frames
            ) or (
                bounds.max_bytes is not None and manifest.total_bytes + incoming > bounds.max_bytes
            )

        if not over():
            return 0, None
        try:
            labelled = self.labels.read().paths()
        except (OSError, DatasetError) as err:  # unknown labels: nothing may be deleted
            return 0, f"{self.labels.path.name} is unreadable ({err}); nothing is deleted"
        evicted = 0
        for entry in list(self._oldest_unlabelled(manifest, labelled)):
            if not over():
                break
            self._delete(entry)
            manifest.lines.remove(entry)
            evicted += 1
        if evicted:
            _LOGGER.info("%s: made room by deleting %d unlabelled frame(s)", self.root, evicted)
        if over():
            return evicted, "every kept frame is labelled and the bounds are reached"
        return evicted, None

    @staticmethod
    def _oldest_unlabelled(manifest: Manifest, labelled: set[str]) -> Iterator[ManifestEntry]:
        return (entry for entry in manifest.entries if entry.path not in labelled)

    def _delete(self, entry: ManifestEntry) -> None:
        """Delete a listed frame if it is still what was written: a regular file inside the
        folder (a line naming `../x` or a path through a link is not followed) of its size."""
        try:
            relative_parts(entry.path)
        except ValueError:
            _LOGGER.warning("%s: manifest path %r is outside the folder; not deleted",
                            self.root, entry.path)  # fmt: skip
            return
        path = self.root / entry.path
        if not path.parent.resolve().is_relative_to(self.root.resolve()):
            return  # a folder on the way was replaced by a link
        if regular_size(path) == entry.size:
            path.unlink(missing_ok=True)
        elif path.exists() or path.is_symlink():  # changed since written: not ours any more
            _LOGGER.warning("%s changed since it was kept; not deleted", path)
