"""Polls the camera, classifies each snapshot and feeds the debouncer."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from homeassistant.components import camera
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed, HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from garagecam_core.debounce import Debouncer, State
from garagecam_core.discovery import sanitize
from garagecam_core.engine import AsyncEngine, Classification
from garagecam_core.errors import GarageCamError, RemoteAuthError
from garagecam_core.roi import Roi

from .camera_options import camera_options
from .const import (
    CAMERA_TIMEOUT,
    CONF_CAMERA,
    CONF_MAX_AGE,
    CONF_SCAN_INTERVAL,
    DATASET_DIR,
    DEFAULT_SCAN_INTERVAL,
    DOMAIN,
    LOGGER,
    RECENT_TIMINGS,
    UNFAMILIAR_DOCS_URL,
)
from .model_change import LabelsChanged, apply_model, entry_policies


@dataclass(frozen=True)
class GarageCamData:
    """What the entities show after one poll."""

    #: the last successfully analysed frame and its result (kept while the camera fails)
    image: bytes | None
    classification: Classification | None
    states: dict[str, State]
    available: bool
    last_success: datetime | None
    error: str | None = None


def unfamiliar_issue_id(entry: ConfigEntry) -> str:
    return f"unfamiliar_{entry.entry_id}"


def build_debouncer(engine: AsyncEngine, options: dict[str, object], name: str) -> Debouncer:
    """The entry's debouncer: model thresholds overridden by the per-label options."""
    return Debouncer(entry_policies(engine.metadata, options), name=name)


def _max_age(options: Mapping[str, Any]) -> float:
    keys = (CONF_SCAN_INTERVAL, CONF_MAX_AGE)
    return camera_options({key: options[key] for key in keys if key in options}).effective_max_age


class GarageCamCoordinator(DataUpdateCoordinator[GarageCamData]):
    """One camera, one model.

    Failures never raise `UpdateFailed`: the last states stay shown until they are older
    than `max_age`, then the entities turn unavailable. The loss and the recovery are each
    logged once; polling goes on at the normal interval. A token the runner rejects is the
    exception: it starts the reauth flow.
    """

    config_entry: ConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        engine: AsyncEngine,
        debouncer: Debouncer,
        roi: Roi | None,
    ) -> None:
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"GarageCam {entry.title}",
            update_interval=timedelta(
                seconds=entry.options.get(CONF_SCAN_INTERVAL, DEFAULT_SCAN_INTERVAL)
            ),
        )
        self.engine = engine
        self.debouncer = debouncer
        self._metadata = engine.metadata  # what the policies were made from (see model_change)
        self.roi = roi
        self.camera_entity_id: str = entry.data[CONF_CAMERA]
        # The core's one rule: the entry's max age, else three scan intervals, at least 60 s.
        self.max_age = timedelta(seconds=_max_age(entry.options))
        # the core's rule decides whether the states are fresh enough to show
        debouncer.max_age = self.max_age.total_seconds()
        self.recent_timings: deque[dict[str, float]] = deque(maxlen=RECENT_TIMINGS)
        # Restored states are shown for up to max_age after start, like a fresh frame.
        self._started = dt_util.utcnow()
        self._lost = False
        self._unfamiliar = False  # whether the unfamiliar-frames issue is up

    async def async_classify_now(self) -> GarageCamData:
        """Take a snapshot, classify it, feed the debouncer; raises HomeAssistantError."""
        try:
            image = await camera.async_get_image(
                self.hass, self.camera_entity_id, timeout=CAMERA_TIMEOUT
            )
            result = await self.engine.classify(image.content, self.roi)
            self._follow_model()
        except GarageCamError as err:
            raise HomeAssistantError(
                # English text for the log (translations may not be loaded there); the UI
                # uses the translation key
                f"Could not classify a snapshot of {self.camera_entity_id}: {err}",
                translation_domain=DOMAIN,
                translation_key="classify_failed",
                translation_placeholders={"camera": self.camera_entity_id, "error": str(err)},
            ) from err
        now = dt_util.utcnow()
        self.debouncer.update(result.probabilities, now.timestamp(), unfamiliar=result.unfamiliar)
        self._update_unfamiliar_issue()
        self.recent_timings.append(result.timings.to_dict())
        if self._lost:
            self._lost = False
            LOGGER.info("%s: classifying again", self.camera_entity_id)
        return GarageCamData(
            image=image.content,
            classification=result,
            states=self.debouncer.states,
            available=True,
            last_success=now,
        )

    async def _async_update_data(self) -> GarageCamData:
        try:
            return await self.async_classify_now()
        except HomeAssistantError as err:
            if isinstance(err.__cause__, RemoteAuthError):
                # the runner's token changed: waiting cannot help, reauth can
                raise ConfigEntryAuthFailed(
                    translation_domain=DOMAIN,
                    translation_key="auth_failed",
                    translation_placeholders={
                        "title": self.config_entry.title,
                        "error": str(err.__cause__),
                    },
                ) from err
            return self._failed(str(err))

    def _follow_model(self) -> None:
        """The runner replaced the model (a remote engine read its new metadata with this
        frame): its thresholds from this frame on; other labels: the entry is set up again."""
        metadata = self.engine.metadata
        if metadata == self._metadata:  # (set_policy restarts streaks: only on a change)
            return
        old, self._metadata = self._metadata, metadata
        try:
            apply_model(self.debouncer, old, metadata, self.config_entry.options)
        except LabelsChanged:
            self.hass.config_entries.async_schedule_reload(self.config_entry.entry_id)
            raise
        LOGGER.info(
            "%s: the runner now serves %s v%s; its thresholds apply from this frame on",
            self.config_entry.title,
            metadata.name,
            metadata.version,
        )

    def _update_unfamiliar_issue(self) -> None:
        """Repairs says so while the states are unknown because the frames are unlike anything
        the model learnt from: only the user can fix it (label a few frames, learn)."""
        unfamiliar = self.unfamiliar
        if unfamiliar == self._unfamiliar:
            return
        self._unfamiliar = unfamiliar
        entry = self.config_entry
        if not unfamiliar:
            ir.async_delete_issue(self.hass, DOMAIN, unfamiliar_issue_id(entry))
            LOGGER.info("%s: the frames look familiar again", entry.title)
            return
        LOGGER.warning(
            "%s: the frames are unlike those the model learnt from; the sensors are unknown "
            "until they look familiar again (label a few frames and learn from them)",
            entry.title,
        )
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            unfamiliar_issue_id(entry),
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            learn_more_url=UNFAMILIAR_DOCS_URL,
            translation_key="unfamiliar",
            translation_placeholders={
                "title": entry.title,
                "camera": self.camera_name,
                "directory": f"{DATASET_DIR}/{sanitize(self.camera_entity_id.split('.', 1)[-1])}",
            },
        )

    @property
    def unfamiliar(self) -> bool:
        """Whether the states are unknown because the frames are unfamiliar to the model."""
        return self.debouncer.unfamiliar

    @property
    def camera_name(self) -> str:
        state = self.hass.states.get(self.camera_entity_id)
        return state.name if state is not None else self.camera_entity_id

    def _failed(self, error: str) -> GarageCamData:
        previous = self.data
        last_success = previous.last_success if previous else None
        available = self.debouncer.available(
            dt_util.utcnow().timestamp(), since=self._started.timestamp()
        )
        if not self._lost:
            self._lost = True
            LOGGER.warning(
                "%s: cannot classify (%s); keeping the last states for up to %s s",
                self.camera_entity_id,
                error,
                int(self.max_age.total_seconds()),
            )
        return GarageCamData(
            image=previous.image if previous else None,
            classification=previous.classification if previous else None,
            states=self.debouncer.states,
            available=available,
            last_success=last_success,
            error=error,
        )
