"""Keep frames for labelling (opt-in): each new classification goes to the core's FrameCapture.

Which frames are kept (state change, unsure band, background rate), de-duplication and the
bounds (which only ever delete frames capture wrote and nobody labelled) are the core's
(`garagecam_core.capture`). This module decides where (the camera's dataset folder, the one
`save_snapshot` writes, so one copied folder is one dataset), when (after each new
classification, in the executor, never on the event loop) and what a failure does.

A failure (full disk, unwritable folder, damaged manifest) never fails the update: it is
logged once, counted in diagnostics and shown in Repairs until a frame is written again.
A Repairs issue because only the user can fix it (free space, permissions) and a single log
line among thousands goes unnoticed while frames are silently lost.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.util.hass_dict import HassKey

from garagecam_core.capture import CaptureRules, FrameCapture, labels_with_policies
from garagecam_core.discovery import sanitize
from garagecam_core.errors import ConfigError
from garagecam_core.metadata import LabelSpec

from .const import CONF_CAMERA, CONF_CAPTURE_MAX_FRAMES, CONF_DATASET, DATASET_DIR, DOMAIN, LOGGER
from .coordinator import GarageCamCoordinator, GarageCamData

#: dataset folder -> entry id capturing into it (one FrameCapture per manifest)
_FOLDERS: HassKey[dict[Path, str]] = HassKey(f"{DOMAIN}_capture_folders")


def dataset_dir(hass: HomeAssistant, entry: ConfigEntry) -> Path:
    """`<config>/garagecam/dataset/<camera>`: one folder per camera, for `save_snapshot` and
    capture alike. Named after the camera (not the entry's model), so a new model trained
    on it keeps adding to the same dataset."""
    if folder := entry.data.get(CONF_DATASET):  # the add-on studio's folder (addon.py)
        return Path(folder)
    camera = str(entry.data[CONF_CAMERA]).split(".", 1)[-1]
    return Path(hass.config.path(DATASET_DIR)) / sanitize(camera)


def issue_id(entry: ConfigEntry) -> str:
    return f"capture_failed_{entry.entry_id}"


class EntryCapture:
    """Offers the entry's new frames to a FrameCapture in its camera's dataset folder."""

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry, coordinator: GarageCamCoordinator
    ) -> None:
        self.hass = hass
        self.entry = entry
        self.coordinator = coordinator
        self.directory = dataset_dir(hass, entry)
        self.rules = _rules(entry)
        self.labels = _band(coordinator)
        self.error: str | None = None
        self.frames = 0
        self.bytes = 0
        self.kept = 0  # written since the entry was set up
        self.skipped_busy = 0  # frames that came while the previous one was still written
        self._capture: FrameCapture | None = None
        self._last_offered: datetime | None = None
        self._busy = False
        self._task: asyncio.Task[None] | None = None
        self._remove_listener: CALLBACK_TYPE | None = None

    @callback
    def async_start(self) -> None:
        """Offer the current frame and every new one (refused if another entry on the same
        camera already captures into its folder: two writers of one manifest would lose
        track of each other's frames)."""
        folders = self.hass.data.setdefault(_FOLDERS, {})
        owner = folders.setdefault(self.directory, self.entry.entry_id)
        if owner != self.entry.entry_id:
            other = self.hass.config_entries.async_get_entry(owner)
            self.error = f"the folder is used by {other.title if other else owner}"
            LOGGER.warning("%s: not keeping frames for labelling: %s", self.entry.title, self.error)
            return
        # a fresh start: an issue of the previous run comes back at the first failure
        ir.async_delete_issue(self.hass, DOMAIN, issue_id(self.entry))
        self._remove_listener = self.coordinator.async_add_listener(self._updated)
        self._updated()

    async def async_stop(self) -> None:
        """Stop offering; the frame being written is finished first (the next FrameCapture
        of this folder must read a manifest that lists it)."""
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None
            if self._task is not None and not self._task.done():
                await asyncio.shield(self._task)
            folders = self.hass.data.get(_FOLDERS, {})
            folders.pop(self.directory, None)

    @callback
    def _updated(self) -> None:
        data = self.coordinator.data
        if data is None or data.error is not None or data.last_success == self._last_offered:
            return  # no new frame (a failed poll keeps showing the last one)
        self._last_offered = data.last_success
        self.labels = _band(self.coordinator)  # a model the runner replaced: its thresholds
        if self._busy:
            self.skipped_busy += 1  # a slow disk: drop this frame rather than queue them
            return
        self._busy = True  # before the task: an eager task may finish within the call
        self._task = self.entry.async_create_background_task(
            self.hass, self._async_offer(data), "garagecam capture"
        )

    async def _async_offer(self, data: GarageCamData) -> None:
        try:
            written = await self.hass.async_add_executor_job(self._offer, data)
        except (OSError, ValueError) as err:  # ValueError: a manifest that is not UTF-8
            self._failed(err)
        else:
            if written:
                self.kept += 1
                self._recovered()
        finally:
            self._busy = False

    def _offer(self, data: GarageCamData) -> bool:
        """In the executor: create the FrameCapture (reads its manifest) and offer."""
        assert data.image is not None and data.classification is not None
        assert data.last_success is not None
        if self._capture is None:
            self._capture = FrameCapture(self.directory, self.labels, self.rules)
        self._capture.labels = tuple(self.labels)
        path = self._capture.offer(
            data.image,
            data.classification.probabilities,
            {label: str(state) for label, state in data.states.items()},
            now=data.last_success.timestamp(),
        )
        self.frames, self.bytes = self._capture.frame_count, self._capture.total_bytes
        return path is not None

    def _failed(self, err: Exception) -> None:
        error = _describe(err)
        if self.error is None:
            LOGGER.warning(
                "%s: cannot keep frames for labelling in %s: %s (the sensors keep updating)",
                self.entry.title,
                self.directory,
                error,
            )
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                issue_id(self.entry),
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key="capture_failed",
                translation_placeholders={
                    "title": self.entry.title,
                    "directory": str(self.directory),
                    "error": error,
                },
            )
        self.error = error

    def _recovered(self) -> None:
        if self.error is not None:
            self.error = None
            LOGGER.info("%s: keeping frames for labelling again", self.entry.title)
            ir.async_delete_issue(self.hass, DOMAIN, issue_id(self.entry))

    def diagnostics(self) -> dict[str, Any]:
        """Counts and bounds; the folder relative to the config directory."""
        return {
            "enabled": True,
            "folder": _shown(self.directory, Path(self.hass.config.config_dir)),
            "frames": self.frames,
            "bytes": self.bytes,
            "max_frames": self.rules.max_frames,
            "max_bytes": self.rules.max_bytes,
            "kept_since_start": self.kept,
            "skipped_busy": self.skipped_busy,
            "error": self.error,
        }


def _band(coordinator: GarageCamCoordinator) -> list[LabelSpec]:
    """The unsure band is the entry's band: model thresholds merged with its options."""
    debouncer = coordinator.debouncer
    return labels_with_policies(
        coordinator.engine.metadata.labels,
        {name: debouncer.policy(name) for name in debouncer.labels},
    )


def _rules(entry: ConfigEntry) -> CaptureRules:
    """The core's rules with the entry's frame bound; a bound the options flow would refuse
    (a hand-edited entry) falls back to the core's default rather than failing the set-up."""
    value = entry.options.get(CONF_CAPTURE_MAX_FRAMES, CaptureRules.max_frames)
    try:
        if isinstance(value, bool) or int(value) != value:
            raise ValueError(value)
        return CaptureRules(max_frames=int(value))
    except (TypeError, ValueError, ConfigError):
        LOGGER.warning(
            "%s: %s %r is not a whole number of frames of at least 1; keeping at most %d",
            entry.title,
            CONF_CAPTURE_MAX_FRAMES,
            value,
            CaptureRules.max_frames,
        )
        return CaptureRules()


def _shown(folder: Path, config_dir: Path) -> str:
    """The folder relative to the config directory, or as it is (the add-on's, in /share)."""
    return (
        folder.relative_to(config_dir) if folder.is_relative_to(config_dir) else folder
    ).as_posix()


def _describe(err: Exception) -> str:
    """The reason without the path (the issue names the folder once)."""
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return str(err)
