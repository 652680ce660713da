"""File rules of a dataset folder: atomic writes, no symbolic links, one writer at a time.

- `write_atomic`: a temporary file beside the target (created exclusively, a fresh name),
  flushed to disk, renamed over the target, the folder flushed: a reader, or the next start
  after a crash or a power cut, sees the old file or the new one, never a part. A crash
  between the two leaves the temporary `.<name>.<random>.tmp` behind and the old file whole.
- `create_new`: a new file under a name nobody uses (an image): written to a temporary file,
  then hard-linked to its name, which fails rather than replace anything (a file, or a link
  planted in its place). Where hard links are not supported (FAT, some network shares) the
  name is created exclusively (`O_EXCL`, which does not follow a link either) and written.
- `read_no_follow`: a file of the folder, opened one path component at a time with
  `O_NOFOLLOW` from the folder itself: a file or a folder swapped for a link after a scan is
  refused (ELOOP / ENOTDIR), never read.
- `folder_lock`: the writers of one folder (threads, and processes on this machine: Home
  Assistant and the runner's studio may share a folder) take turns: `flock` on the folder.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows: the in-process lock only
    fcntl = None  # type: ignore[assignment]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK}


def _fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (not possible, nor needed, on every platform)."""
    with contextlib.suppress(OSError):
        handle = os.open(folder, os.O_RDONLY | _DIRECTORY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


def _write_temp(folder: Path, name: str, data: bytes) -> Path:
    """`data` in a fresh temporary file of `folder`, on disk; removed again on any error."""
    handle, temp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return Path(temp)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` all at once (see the module's notes). A link at `path` is
    replaced by the file, never written through."""
    temp = _write_temp(path.parent, path.name, data)
    try:
        temp.replace(path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def create_new(path: Path, data: bytes) -> None:
    """Write a new file at `path`; FileExistsError if the name is taken (by anything)."""
    temp = _write_temp(path.parent, path.name, data)
    try:
        os.link(temp, path)  # EEXIST if the name is taken, even by a dangling link
    except OSError as err:
        if err.errno not in _NO_HARD_LINKS:
            raise
        _create_exclusive(path, data)
    finally:
        temp.unlink(missing_ok=True)
    _fsync_folder(path.parent)


def _create_exclusive(path: Path, data: bytes) -> None:
    with path.open("xb") as out:  # O_EXCL: never through a planted link
        try:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        except BaseException:  # a full disk: no partial file left under the name
            path.unlink(missing_ok=True)
            raise


def relative_parts(rel: str) -> list[str]:
    """The components of a path relative to the folder; ValueError for one that leaves it."""
    parts = [p for p in PurePosixPath(rel).parts if p not in ("", ".")]
    if not parts or PurePosixPath(rel).is_absolute() or ".." in parts:
        raise ValueError(f"{rel!r} is not a path inside the dataset folder")
    return parts


def open_no_follow(root: Path, rel: str) -> int:
    """A read-only descriptor of the regular file `rel` under `root`, no link followed on
    the way: a link is refused (ELOOP, or ENOTDIR for a folder on the way), anything but a
    regular file too (EINVAL); FileNotFoundError when there is nothing at all."""
    *folders, name = relative_parts(rel)
    current = os.open(root, os.O_RDONLY | _DIRECTORY)
    try:
        for folder in folders:
            inner = os.open(folder, os.O_RDONLY | _DIRECTORY | _NOFOLLOW, dir_fd=current)
            os.close(current)
            current = inner
        handle = os.open(name, os.O_RDONLY | _NOFOLLOW, dir_fd=current)
    finally:
        os.close(current)
    if not stat.S_ISREG(os.fstat(handle).st_mode):
        os.close(handle)
        raise OSError(errno.EINVAL, f"{rel} is not a regular file")
    return handle


def read_no_follow(root: Path, rel: str) -> bytes:
    """The bytes of the regular file `rel` under `root` (see `open_no_follow`)."""
    with open(open_no_follow(root, rel), "rb") as file:
        return file.read()


def regular_size(path: Path) -> int | None:
    """The size of `path` if it is a regular file (not a link), else None."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


class _FolderLock:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.depth = 0
        self.handle = -1


_LOCKS: dict[str, _FolderLock] = {}
_LOCKS_GUARD = threading.Lock()


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold the folder's writer lock (re-entrant within a thread)."""
    with _LOCKS_GUARD:
        entry = _LOCKS.setdefault(os.path.realpath(folder), _FolderLock())
    with entry.lock:
        if entry.depth == 0:
            entry.handle = _flock(folder)
        entry.depth += 1
        try:
            yield
        finally:
            entry.depth -= 1
            if entry.depth == 0 and entry.handle >= 0:
                os.close(entry.handle)  # releases the flock
                entry.handle = -1


def _flock(folder: Path) -> int:
    """An exclusive `flock` on the folder (-1 where there is none: other processes are then
    not held back; the re-read before each replace still catches their edits)."""
    if fcntl is None:  # pragma: no cover
        return -1  # type: ignore[unreachable]
    handle = os.open(folder, os.O_RDONLY | _DIRECTORY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
    except OSError:  # e.g. ENOLCK on a network share
        os.close(handle)
        return -1
    return handle
