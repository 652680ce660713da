"""`labels.jsonl`: one JSON line per frame, `{"path": ..., "labels": {name: 0 or 1}, "by": ...}`.

`path` is relative to the file's folder (or absolute in a training set written elsewhere),
`by` says who gave the labels: `user` (the studio), `action` (Home Assistant's
`save_snapshot` with labels); a line without `by` holds the sensors' states at that moment
(suggestions). The last line of a path wins.

Every writer (`save_snapshot`, the studio, the training sets) goes through `LabelsFile`:

- edits are atomic rewrites (`write_atomic`), never appends: a crash or a full disk leaves the
  old file whole, never half a line that would merge with the next one;
- a line that is not a label record (broken JSON, not UTF-8, another program's) is kept byte
  for byte and counted as skipped by readers; only `garagecam train` refuses such a file;
- writers take the folder's lock, and the file is read again just before the replace: an
  edit made meanwhile by a writer that does not lock (an older release appending) is not
  lost, the edit is redone on the new content;
- the file is never read or written through a symbolic link: a link in its place is
  refused (DatasetError, nothing written) until someone removes it.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import DatasetError
from .files import folder_lock, read_no_follow, write_atomic

LABELS_FILE = "labels.jsonl"
_RETRIES = 5


def norm(path: str) -> str:
    """A frame path as labels.jsonl lines are compared: POSIX separators, no `./`."""
    return PurePosixPath(Path(path).as_posix()).as_posix()


@dataclass(frozen=True)
class LabelLine:
    path: str  # normalised (`norm`)
    labels: dict[str, Any] | None  # None: the line names a path but holds no labels
    by: str | None
    record: dict[str, Any]


def parse_line(raw: bytes | str) -> LabelLine | None:
    """The line's record, or None when it is not one (blank, broken, not UTF-8, no path)."""
    try:
        record = json.loads(raw)
    except ValueError:  # UnicodeDecodeError is a ValueError too
        return None
    if not isinstance(record, dict) or not isinstance(record.get("path"), str):
        return None
    labels = record.get("labels")
    by = record.get("by")
    return LabelLine(
        norm(record["path"]),
        labels if isinstance(labels, dict) else None,
        by if isinstance(by, str) else None,
        record,
    )


@dataclass
class LabelLines:
    lines: list[LabelLine] = field(default_factory=list)
    #: non-blank lines that are no label record (kept as they are by every edit)
    skipped: int = 0

    def latest(self) -> dict[str, LabelLine]:
        """Path -> its last line with labels (the last written wins)."""
        out: dict[str, LabelLine] = {}
        for line in self.lines:
            if line.labels is not None:
                out[line.path] = line
        return out

    def paths(self) -> set[str]:
        """Every path a line names, with labels or not."""
        return {line.path for line in self.lines}


def parse_lines(data: bytes) -> LabelLines:
    result = LabelLines()
    for raw in data.splitlines():
        line = parse_line(raw)
        if line is not None:
            result.lines.append(line)
        elif raw.strip():
            result.skipped += 1
    return result


def apply_updates(before: bytes, updates: Mapping[str, Mapping[str, Any]]) -> bytes:
    """Each updated path's first line becomes its new record and its later lines go; paths
    without a line are appended; every other line stays byte for byte."""
    records = {norm(path): dict(record) for path, record in updates.items()}
    out: list[bytes] = []
    done: set[str] = set()
    for raw in before.splitlines():
        line = parse_line(raw)
        if line is None or line.path not in records:
            out.append(raw)
        elif line.path not in done:
            out.append(_dump(records[line.path]))
            done.add(line.path)
    out += [_dump(record) for path, record in records.items() if path not in done]
    return b"".join(raw + b"\n" for raw in out)


def _dump(record: Mapping[str, Any]) -> bytes:
    return json.dumps(dict(record)).encode("utf-8")


class LabelsFile:
    """One labels.jsonl file (thread- and process-safe edits; see the module's notes)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def read_bytes(self) -> bytes:
        """The file's bytes (empty if there is none); DatasetError if it is a link."""
        try:
            return read_no_follow(self.path.parent, self.path.name)
        except FileNotFoundError:
            return b""
        except OSError as err:
            if err.errno in (errno.ELOOP, errno.EINVAL):
                raise DatasetError(
                    f"{self.path} is not a regular file (a symbolic link?): it is not read"
                ) from err
            raise

    def read(self) -> LabelLines:
        return parse_lines(self.read_bytes())

    def set(self, updates: Mapping[str, Mapping[str, Any]], backup: Path | None = None) -> None:
        """Write these records (path -> the whole line), one line per path; `backup` gets
        the file as it was before, if it had anything. DatasetError if the file is a link
        or keeps changing (nothing written then)."""
        if not updates:
            return
        with folder_lock(self.path.parent):
            for _ in range(_RETRIES):
                before = self.read_bytes()
                data = apply_updates(before, updates)
                if self.read_bytes() != before:
                    continue  # written meanwhile by a writer that does not lock: redo
                if before and backup is not None:
                    write_atomic(backup, before)
                write_atomic(self.path, data)
                return
        raise DatasetError(f"{self.path} keeps changing; labels not saved, try again")

    def write_all(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Replace the file with exactly these records (a training set written afresh)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with folder_lock(self.path.parent):
            write_atomic(self.path, b"".join(_dump(r) + b"\n" for r in records))
