"""Which classified frames to keep for labelling, and keeping them within bounds.

`FrameCapture.offer()` is called with each classified frame (its JPEG bytes, the model's
probabilities and the debounced states) and keeps it when it is worth a label:

- `state_change`: a label went ON -> OFF or OFF -> ON (UNKNOWN at start-up is not a change);
- `unsure`: a probability lies strictly between the label's OFF and ON thresholds (the
  hysteresis band, where the model is least sure), at most one every `unsure_interval`;
- `background`: one frame every `background_interval`, for coverage of the usual scenes.

Near-identical frames are skipped (a 64-bit difference hash of a 9x8 grey thumbnail within
`dedupe_distance` bits of one of the last `dedupe_window` kept frames), whatever the reason.

Layout: images go to `<dir>/images/` (`.jpg`, or `.png` for a PNG snapshot), and
`<dir>/capture.jsonl` (this module's own manifest, one line per kept frame: path, time,
reason, bytes, hash, probabilities, states) lists them.
Labels are written by whoever labels the frames (`garagecam studio` writes `labels.jsonl`
next to them), so a labelled capture folder is a dataset `garagecam train --data` reads.

Bounds: at most `max_frames` frames and `max_bytes` bytes. Over a bound, the oldest frames
of the manifest that nobody labelled (not in `labels.jsonl`) are deleted; a file is deleted
only if the manifest lists it and its size is still the one written (so never a file this
module did not write). When every kept frame is labelled, capture stops keeping new frames.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import os
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PIL import Image

from .debounce import LabelPolicy
from .errors import ConfigError
from .metadata import LabelSpec

_LOGGER = logging.getLogger(__name__)

MANIFEST = "capture.jsonl"
LABELS_FILE = "labels.jsonl"
IMAGES_DIR = "images"


@dataclass(frozen=True)
class CaptureRules:
    """How often and how much to keep. Intervals in seconds."""

    background_interval: float = 3600.0
    unsure_interval: float = 60.0
    dedupe_distance: int = 4
    dedupe_window: int = 64
    max_frames: int = 2000
    max_bytes: int = 500_000_000

    def __post_init__(self) -> None:
        checks = (
            (self.background_interval > 0, "background_interval must be positive"),
            (self.unsure_interval >= 0, "unsure_interval must not be negative"),
            (0 <= self.dedupe_distance <= 64, "dedupe_distance must be 0-64 bits"),
            (self.dedupe_window >= 1, "dedupe_window must be at least 1"),
            (self.max_frames >= 1, "max_frames must be at least 1"),
            (self.max_bytes >= 1, "max_bytes must be at least 1"),
        )
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"capture: {message}")


def frame_hash(image: bytes) -> int | None:
    """64-bit difference hash (dHash) of a 9x8 grey thumbnail; None if it does not decode.

    JPEG draft mode decodes at 1/8 scale, so this costs far less than a full decode.
    """
    try:
        with Image.open(io.BytesIO(image)) as img:
            img.draft("L", (64, 64))
            grey = img.convert("L").resize((9, 8), Image.Resampling.BILINEAR)
            pixels = grey.tobytes()  # one byte per pixel (mode L), row by row
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
    bits = 0
    for row in range(8):
        for col in range(8):
            left, right = pixels[row * 9 + col], pixels[row * 9 + col + 1]
            bits = (bits << 1) | int(left > right)
    return bits


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def unsure_labels(probabilities: Mapping[str, float], labels: Sequence[LabelSpec]) -> list[str]:
    """Labels whose probability lies strictly inside their (OFF, ON) threshold band."""
    return [
        spec.name
        for spec in labels
        if spec.name in probabilities
        and spec.off_threshold < probabilities[spec.name] < spec.on_threshold
    ]


def changed_labels(previous: Mapping[str, str], states: Mapping[str, str]) -> list[str]:
    """Labels that went between "on" and "off" (UNKNOWN on either side is not a change)."""
    return [
        name
        for name, state in states.items()
        if state in ("on", "off") and previous.get(name) in ("on", "off")
        and previous[name] != state
    ]  # fmt: skip


def labels_with_policies(
    labels: Sequence[LabelSpec], policies: Mapping[str, LabelPolicy]
) -> list[LabelSpec]:
    """The labels with the thresholds the debouncer uses (the model's defaults merged with
    the user's overrides by `debounce.merge_policies`), so that the unsure band is the band
    the sensors use. Labels without a policy keep the model's thresholds."""
    return [
        replace(spec, on_threshold=policy.on_threshold, off_threshold=policy.off_threshold)
        if (policy := policies.get(spec.name)) is not None
        else spec
        for spec in labels
    ]


@dataclass
class _Kept:
    path: str  # relative to the capture folder
    size: int
    line: str  # the manifest line as written


def labelled_paths(directory: Path) -> set[str]:
    """Paths `labels.jsonl` lists (any line that names a path), normalised to POSIX form."""
    paths: set[str] = set()
    try:
        text = (directory / LABELS_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return paths
    except (OSError, UnicodeDecodeError) as err:
        # Unknown labels: treat every frame as labelled, so nothing is deleted.
        raise _LabelsUnreadableError(str(err)) from err
    for line in text.splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict) and isinstance(record.get("path"), str):
                paths.add(Path(record["path"]).as_posix())
    return paths


def _append_no_follow(path: Path) -> io.TextIOWrapper:
    """`path` opened for appending, refusing a symlink (ELOOP): the manifest is ours, a link
    planted in its place would make us write wherever it points."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    return open(os.open(path, flags, 0o644), "a", encoding="utf-8")  # noqa: PTH123 - an fd


class _LabelsUnreadableError(Exception):
    pass


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, flush it to disk, then rename it over
    `path`: readers see the old file or the new one, never a partial one."""
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        Path(temp).replace(path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


class FrameCapture:
    """Keeps frames worth labelling in `directory` (thread-safe; blocking file I/O: call it
    from a thread when the caller owns an event loop)."""

    def __init__(
        self,
        directory: Path,
        labels: Sequence[LabelSpec],
        rules: CaptureRules | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = Path(directory)
        self.labels = tuple(labels)
        self.rules = rules or CaptureRules()
        self._clock = clock
        self._lock = threading.Lock()
        self._states: dict[str, str] = {}
        self._last_background: float | None = None
        self._last_unsure: float | None = None
        self._recent: deque[int] = deque(maxlen=self.rules.dedupe_window)
        self._kept: list[_Kept] = []
        self._foreign_lines: list[str] = []  # manifest lines we cannot parse: kept verbatim
        self._full_logged = False
        #: what became of the offered frames: a kept frame's reason, or `duplicate`,
        #: `undecodable`, `full` (refused by the bounds); for the runner's metrics
        self.outcomes: Counter[str] = Counter()
        (self.directory / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
        self._load_manifest()

    # -- decisions (pure: no I/O) ------------------------------------------------------------

    def reason(self, probabilities: Mapping[str, float], states: Mapping[str, str],
               now: float) -> str | None:  # fmt: skip
        """Why this frame is worth keeping (before de-duplication), or None."""
        if changed_labels(self._states, states):
            return "state_change"
        if unsure_labels(probabilities, self.labels) and (
            self._last_unsure is None or now - self._last_unsure >= self.rules.unsure_interval
        ):
            return "unsure"
        if (
            self._last_background is None
            or now - self._last_background >= self.rules.background_interval
        ):
            return "background"
        return None

    # -- the call made per frame --------------------------------------------------------------

    def offer(
        self,
        image: bytes,
        probabilities: Mapping[str, float],
        states: Mapping[str, str],
        now: float | None = None,
    ) -> Path | None:
        """Keep the frame if the rules say so; returns the written image path or None."""
        now = self._clock() if now is None else now
        with self._lock:
            reason = self.reason(probabilities, states, now)
            self._states.update({k: v for k, v in states.items() if v in ("on", "off")})
            if reason is None:
                return None
            digest = frame_hash(image)
            if digest is None:
                _LOGGER.debug("capture: frame does not decode; not kept")
                self.outcomes["undecodable"] += 1
                return None
            if any(hamming(digest, seen) <= self.rules.dedupe_distance for seen in self._recent):
                self.outcomes["duplicate"] += 1
                return None
            if not self._make_room(len(image)):
                self.outcomes["full"] += 1
                return None
            path = self._write(
                image, now=now, reason=reason, digest=digest, probabilities=probabilities,
                states=states,
            )  # fmt: skip
            self._recent.append(digest)
            self.outcomes[reason] += 1
            if reason == "unsure":
                self._last_unsure = now
            # Any kept frame covers the scene as well as a background one would.
            self._last_background = now
            return path

    @property
    def frame_count(self) -> int:
        return len(self._kept)

    @property
    def total_bytes(self) -> int:
        return sum(k.size for k in self._kept)

    # -- files ----------------------------------------------------------------------------

    def _write(
        self,
        image: bytes,
        *,
        now: float,
        reason: str,
        digest: int,
        probabilities: Mapping[str, float],
        states: Mapping[str, str],
    ) -> Path:
        stamp = dt.datetime.fromtimestamp(now, dt.UTC)
        base = stamp.strftime("%Y%m%dT%H%M%S") + f"{stamp.microsecond // 1000:03d}Z_{reason}"
        suffix = ".png" if image.startswith(b"\x89PNG") else ".jpg"  # cameras send either
        for attempt in range(1000):
            rel = f"{IMAGES_DIR}/{base}{f'_{attempt}' if attempt else ''}{suffix}"
            try:  # "x": never overwrite a file, ours or anyone's
                out = (self.directory / rel).open("xb")
            except FileExistsError:
                continue
            try:
                with out:
                    out.write(image)
            except BaseException:  # a full disk: no partial file that no manifest lists
                (self.directory / rel).unlink(missing_ok=True)
                raise
            break
        else:  # pragma: no cover - a thousand frames in one millisecond
            raise OSError(f"capture: no free file name for {base}")
        record: dict[str, Any] = {
            "path": rel,
            "time": stamp.isoformat(timespec="milliseconds"),
            "reason": reason,
            "bytes": len(image),
            "hash": f"{digest:016x}",
            "probabilities": {k: round(float(v), 6) for k, v in probabilities.items()},
            "states": dict(states),
        }
        line = json.dumps(record)
        try:
            with _append_no_follow(self.directory / MANIFEST) as manifest:
                manifest.write(line + "\n")
        except BaseException:  # unlisted, the image would never be deleted by the bounds
            (self.directory / rel).unlink(missing_ok=True)
            raise
        self._kept.append(_Kept(rel, len(image), line))
        return self.directory / rel

    def _load_manifest(self) -> None:
        path = self.directory / MANIFEST
        if path.is_symlink():  # not ours: never read (nor later rewrite) what a link points at
            _LOGGER.warning("capture: %s is a symbolic link; it is not read or written", path)
            return
        if not path.is_file():
            return
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                kept = _Kept(str(record["path"]), int(record["bytes"]), line)
                digest = int(record["hash"], 16)
            except (ValueError, KeyError, TypeError):
                self._foreign_lines.append(line)
                continue
            self._kept.append(kept)
            self._recent.append(digest)

    def _make_room(self, incoming: int) -> bool:
        """Delete the oldest unlabelled frames we wrote until `incoming` fits the bounds."""
        rules = self.rules
        if incoming > rules.max_bytes:
            return self._refuse(f"a {incoming}-byte frame exceeds max_bytes")

        def over() -> bool:
            return (
                len(self._kept) + 1 > rules.max_frames
                or self.total_bytes + incoming > rules.max_bytes
            )

        if not over():
            return True
        try:
            labelled = labelled_paths(self.directory)
        except _LabelsUnreadableError as err:
            return self._refuse(f"{LABELS_FILE} is unreadable ({err}); nothing is deleted")
        evicted: list[_Kept] = []
        for kept in list(self._kept):
            if not over():
                break
            if Path(kept.path).as_posix() in labelled:
                continue
            self._delete(kept)
            self._kept.remove(kept)
            evicted.append(kept)
        if evicted:
            self._rewrite_manifest()
            _LOGGER.info("capture: made room by deleting %d unlabelled frame(s)", len(evicted))
        if over():
            return self._refuse("every kept frame is labelled and the bounds are reached")
        self._full_logged = False
        return True

    def _delete(self, kept: _Kept) -> None:
        path = self.directory / kept.path
        try:
            if path.stat().st_size == kept.size:
                path.unlink()
            else:  # changed since we wrote it: not ours any more
                _LOGGER.warning("capture: %s changed since it was captured; not deleted", kept.path)
        except FileNotFoundError:
            pass

    def _rewrite_manifest(self) -> None:
        lines = self._foreign_lines + [k.line for k in self._kept]
        data = "".join(line + "\n" for line in lines).encode()
        write_atomic(self.directory / MANIFEST, data)

    def _refuse(self, why: str) -> bool:
        if not self._full_logged:
            _LOGGER.warning("capture: not keeping new frames: %s", why)
            self._full_logged = True
        return False
