"""Actions: `garagecam.classify` and `garagecam.save_snapshot`."""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path
from typing import Any

import voluptuous as vol
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util

from .capture import dataset_dir
from .const import (
    ATTR_CONFIG_ENTRY_ID,
    DOMAIN,
    SERVICE_CLASSIFY,
    SERVICE_SAVE_SNAPSHOT,
)
from .coordinator import GarageCamConfigEntry

SERVICE_SCHEMA = vol.Schema({vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string})


def _loaded_entry(hass: HomeAssistant, call: ServiceCall) -> GarageCamConfigEntry:
    entry_id = call.data[ATTR_CONFIG_ENTRY_ID]
    entry: GarageCamConfigEntry | None = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_found",
            translation_placeholders={"entry_id": entry_id},
        )
    if entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_loaded",
            translation_placeholders={"title": entry.title},
        )
    return entry


async def _async_classify(call: ServiceCall) -> ServiceResponse:
    """Classify a fresh snapshot now (it counts as a frame for the debouncer)."""
    entry = _loaded_entry(call.hass, call)
    coordinator = entry.runtime_data.coordinator
    data = await coordinator.async_classify_now()
    coordinator.async_set_updated_data(data)
    assert data.classification is not None
    return {
        "probabilities": data.classification.to_dict()["probabilities"],
        "states": {label: str(state) for label, state in data.states.items()},
        "timings": data.classification.timings.to_dict(),
        "image_size": list(data.classification.image_size),
    }


def snapshot_name(states: dict[str, str], when: str) -> str:
    """`20260218T060142_door_open-on_car_present-off` (without the `.jpg`)."""
    parts = "_".join(f"{label}-{state}" for label, state in states.items())
    return f"{when}_{parts}"


# Two calls may write at once (executor threads): the exists-and-equal check must not see the
# other call's half-written file.
_WRITE_LOCK = threading.Lock()


def _write_snapshot(directory: Path, stem: str, image: bytes, labels: dict[str, int]) -> Path:
    """Save `image` once: the same frame saved again is left alone (no second labels line);
    another frame with the same name (same second, same states) gets `_2`, `_3`..."""
    with _WRITE_LOCK:
        directory.mkdir(parents=True, exist_ok=True)
        for index in itertools.count(1):
            path = directory / (f"{stem}.jpg" if index == 1 else f"{stem}_{index}.jpg")
            try:
                with path.open("xb") as handle:
                    handle.write(image)
            except FileExistsError:
                if path.read_bytes() == image:
                    return path
                continue
            except OSError:
                path.unlink(missing_ok=True)  # no truncated image left behind (disk full)
                raise
            break
        # `labels.jsonl` makes the folder a dataset `garagecam train` reads as it is.
        if labels:
            try:
                with (directory / "labels.jsonl").open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps({"path": path.name, "labels": labels}) + "\n")
            except OSError:  # disk full: no unlabelled image that a retry would call saved
                path.unlink(missing_ok=True)
                raise
        return path


async def _async_save_snapshot(call: ServiceCall) -> ServiceResponse:
    """Save the last analysed frame, named with the current states, as training data."""
    hass = call.hass
    entry = _loaded_entry(hass, call)
    data = entry.runtime_data.coordinator.data
    if data is None or data.image is None:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="no_frame",
            translation_placeholders={"title": entry.title},
        )
    states = {label: str(state) for label, state in data.states.items()}
    labels = {label: int(state == "on") for label, state in states.items() if state != "unknown"}
    when = dt_util.as_local(data.last_success or dt_util.now()).strftime("%Y%m%dT%H%M%S")
    # the camera's folder, where capture keeps frames too: one copied folder is one dataset
    directory = dataset_dir(hass, entry)
    try:
        path = await hass.async_add_executor_job(
            _write_snapshot, directory, snapshot_name(states, when), data.image, labels
        )
    except OSError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="snapshot_not_saved",
            translation_placeholders={"directory": str(directory), "error": str(err)},
        ) from err
    result: dict[str, Any] = {"path": str(path), "states": states}
    return result


def async_setup_services(hass: HomeAssistant) -> None:
    hass.services.async_register(
        DOMAIN,
        SERVICE_CLASSIFY,
        _async_classify,
        schema=SERVICE_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_SAVE_SNAPSHOT,
        _async_save_snapshot,
        schema=SERVICE_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
