"""Which classified frames to keep for labelling, and keeping them within bounds.

`FrameCapture.offer()` is called with each classified frame (its JPEG bytes, the model's
probabilities and the debounced states) and keeps it when it is worth a label:

- `state_change`: a label went ON -> OFF or OFF -> ON (UNKNOWN at start-up is not a change);
- `unsure`: a probability lies strictly between the label's OFF and ON thresholds (the
  hysteresis band, where the model is least sure), at most one every `unsure_interval`;
- `background`: one frame every `background_interval`, for coverage of the usual scenes.

Near-identical frames are skipped (a 64-bit difference hash of a 9x8 grey thumbnail within
`dedupe_distance` bits of one of the last `dedupe_window` kept frames), whatever the reason.

The files are the dataset folder's (`garagecam_core.dataset.DatasetFolder`): images in
`<dir>/images/` (`.jpg`, or `.png` for a PNG snapshot), listed in `<dir>/capture.jsonl`
(one line per kept frame: path, bytes, time, reason, hash, probabilities, states), within
`max_frames` and `max_bytes` (the oldest frames nobody labelled are deleted first; when every
kept frame is labelled, new frames are refused). Labels are written by whoever labels the
frames (`garagecam studio`, Home Assistant's `save_snapshot`) to `labels.jsonl` next to them,
so a labelled capture folder is a dataset `garagecam train --data` reads.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PIL import Image

from .dataset import IMAGES_DIR, Added, Bounds, DatasetFolder
from .debounce import LabelPolicy
from .errors import ConfigError
from .metadata import LabelSpec

_LOGGER = logging.getLogger(__name__)


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
        self.folder = DatasetFolder(self.directory)
        self._clock = clock
        self._lock = threading.Lock()
        self._states: dict[str, str] = {}
        self._last_background: float | None = None
        self._last_unsure: float | None = None
        self._recent: deque[int] = deque(maxlen=self.rules.dedupe_window)
        self._full_logged = False
        #: what became of the offered frames: a kept frame's reason, or `duplicate`,
        #: `undecodable`, `full` (refused by the bounds); for the runner's metrics
        self.outcomes: Counter[str] = Counter()
        (self.directory / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
        manifest = self.folder.read_manifest()
        self.frame_count, self.total_bytes = len(manifest.entries), manifest.total_bytes
        for entry in manifest.entries:  # de-duplicate against the frames kept before
            with contextlib.suppress(KeyError, TypeError, ValueError):
                self._recent.append(int(entry.record["hash"], 16))

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
            added = self._keep(image, now, reason, digest, (probabilities, states))
            self.frame_count, self.total_bytes = added.frames, added.bytes
            if added.path is None:
                self.outcomes["full"] += 1
                self._refused(added.refused or "full")
                return None
            self._full_logged = False
            self._recent.append(digest)
            self.outcomes[reason] += 1
            if reason == "unsure":
                self._last_unsure = now
            # Any kept frame covers the scene as well as a background one would.
            self._last_background = now
            return added.path

    # -- files ----------------------------------------------------------------------------

    def _keep(
        self,
        image: bytes,
        now: float,
        reason: str,
        digest: int,
        outputs: tuple[Mapping[str, float], Mapping[str, str]],
    ) -> Added:
        probabilities, states = outputs
        stamp = dt.datetime.fromtimestamp(now, dt.UTC)
        stem = stamp.strftime("%Y%m%dT%H%M%S") + f"{stamp.microsecond // 1000:03d}Z_{reason}"
        fields: dict[str, Any] = {
            "time": stamp.isoformat(timespec="milliseconds"),
            "reason": reason,
            "hash": f"{digest:016x}",
            "probabilities": {k: round(float(v), 6) for k, v in probabilities.items()},
            "states": dict(states),
        }
        bounds = Bounds(self.rules.max_frames, self.rules.max_bytes)
        return self.folder.add_frame(image, stem, fields, bounds)

    def _refused(self, why: str) -> None:
        if not self._full_logged:
            _LOGGER.warning("capture: not keeping new frames: %s", why)
            self._full_logged = True
