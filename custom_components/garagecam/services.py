"""Actions: `garagecam.classify`, `garagecam.save_snapshot` and `garagecam.train_model`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import voluptuous as vol
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util

from garagecam_core.dataset import DatasetFolder
from garagecam_core.errors import DatasetError

from .capture import dataset_dir
from .const import (
    ATTR_CONFIG_ENTRY_ID,
    ATTR_LABELS,
    DOMAIN,
    SERVICE_CLASSIFY,
    SERVICE_SAVE_SNAPSHOT,
    SERVICE_TRAIN_MODEL,
)
from .runtime_data import GarageCamConfigEntry
from .training import async_learn

SERVICE_SCHEMA = vol.Schema({vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string})
SAVE_SNAPSHOT_SCHEMA = SERVICE_SCHEMA.extend(
    {vol.Optional(ATTR_LABELS): vol.Schema({cv.string: cv.boolean})}
)
#: `by` of a labels.jsonl line whose labels the caller gave (a line without `by` holds the
#: sensors' states then: suggestions, not labels)
BY_ACTION = "action"


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


def _write_snapshot(
    directory: Path, stem: str, image: bytes, labels: dict[str, int], given: bool
) -> Path:
    """Save `image` once in the camera's dataset folder (see `DatasetFolder.save_frame`):
    the same frame saved again keeps its labels line unless labels are `given`. The line
    (`labels.jsonl`, which makes the folder a dataset `garagecam train` reads) is written
    only when there are labels: a frame saved while every sensor was unknown has none."""
    record: dict[str, Any] | None = None
    if labels:
        record = {"labels": labels, "by": BY_ACTION} if given else {"labels": labels}
    return DatasetFolder(directory).save_frame(image, stem, record, replace=given)


def _given_labels(
    entry: GarageCamConfigEntry, given: dict[str, bool], known: list[str]
) -> dict[str, int]:
    """The caller's labels as 0/1; a name the entry's model does not have is refused."""
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="unknown_labels",
            translation_placeholders={
                "title": entry.title,
                "labels": ", ".join(unknown),
                "known": ", ".join(known),
            },
        )
    return {name: int(value) for name, value in given.items()}


async def _async_save_snapshot(call: ServiceCall) -> ServiceResponse:
    """Save the last analysed frame, named with the current states, as training data."""
    hass = call.hass
    entry = _loaded_entry(hass, call)
    given = call.data.get(ATTR_LABELS)
    known = list(entry.runtime_data.engine.metadata.label_names)
    explicit = None if given is None else _given_labels(entry, given, known)
    data = entry.runtime_data.coordinator.data
    if data is None or data.image is None:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="no_frame",
            translation_placeholders={"title": entry.title},
        )
    states = {label: str(state) for label, state in data.states.items()}
    # the sensors' states (known ones) for the labels the caller did not give
    sensed = {label: int(state == "on") for label, state in states.items() if state != "unknown"}
    merged = sensed | (explicit or {})
    labels = {label: merged[label] for label in known if label in merged}
    when = dt_util.as_local(data.last_success or dt_util.now()).strftime("%Y%m%dT%H%M%S")
    # the camera's folder, where capture keeps frames too: one copied folder is one dataset
    directory = dataset_dir(hass, entry)
    try:
        path = await hass.async_add_executor_job(
            _write_snapshot,
            directory,
            snapshot_name(states, when),
            data.image,
            labels,
            explicit is not None,
        )
    except (OSError, DatasetError) as err:  # DatasetError: labels.jsonl is a link
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="snapshot_not_saved",
            translation_placeholders={"directory": str(directory), "error": str(err)},
        ) from err
    result: dict[str, Any] = {"path": str(path), "states": states, "labels": labels}
    return result


async def _async_train_model(call: ServiceCall) -> ServiceResponse:
    """Learn from the camera's labelled frames; the entry uses the new model when it returns."""
    entry = _loaded_entry(call.hass, call)
    summary, target = await async_learn(call.hass, entry)
    if not await call.hass.config_entries.async_reload(target.entry_id):
        # the model is written and chosen; the entry's own error says why it does not start
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="learnt_model_not_loaded",
            translation_placeholders={"title": target.title, "model": summary["model"]},
        )
    return summary


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
        schema=SAVE_SNAPSHOT_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_TRAIN_MODEL,
        _async_train_model,
        schema=SERVICE_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
