"""The entry's keys as the core's `CameraOptions`, and its errors as the forms' error keys.

Every rule lives in `garagecam_core.options` (the runner and the Scrypted plugin check the
same); this module only renames the fields and picks the translation key of each problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from garagecam_core.options import CameraOptions, OptionError, OptionsError

from .const import (
    CONF_CONFIRM_FRAMES,
    CONF_LABELS,
    CONF_MAX_AGE,
    CONF_MQTT_PREFIX,
    CONF_OFF_THRESHOLD,
    CONF_ON_THRESHOLD,
    CONF_ROI,
    CONF_SCAN_INTERVAL,
    CONF_TOKEN,
    CONF_URL,
    HA_DISCOVERY_PREFIX,
    MQTT_BASE_TOPIC,
    RESERVED_MQTT_ROOTS,
)

#: entry keys -> `CameraOptions` fields
_FIELDS: Final = {
    CONF_SCAN_INTERVAL: "interval",
    CONF_ROI: "roi",
    CONF_MAX_AGE: "max_age",
    CONF_LABELS: "labels",
    CONF_URL: "runner_url",
    CONF_TOKEN: "runner_token",
    CONF_MQTT_PREFIX: "discovery_prefix",
}
_KEYS: Final = {field: key for key, field in _FIELDS.items()}
#: per label: the option's last part -> the label step's field
_LABEL_KEYS: Final = {
    "on_threshold": CONF_ON_THRESHOLD,
    "off_threshold": CONF_OFF_THRESHOLD,
    "confirm_frames": CONF_CONFIRM_FRAMES,
}


def camera_options(values: Mapping[str, Any], *, remote: bool = False) -> CameraOptions:
    """`values` (entry options, data or a form's input) validated by the core; only the keys
    present count. The bridge publishes its states under `MQTT_BASE_TOPIC`, and its discovery
    prefix must keep out of Home Assistant's own and the runner's topics. Raises
    OptionsError."""
    given = {field: values[key] for key, field in _FIELDS.items() if key in values}
    if CONF_MQTT_PREFIX in values:
        given["base_topic"] = MQTT_BASE_TOPIC
    reserved = (HA_DISCOVERY_PREFIX, *sorted(RESERVED_MQTT_ROOTS - {MQTT_BASE_TOPIC}))
    return CameraOptions.parse(given, runner_required=remote, reserved_topics=reserved)


def form_errors(err: OptionsError) -> dict[str, str]:
    """The form's `errors`: each problem under its field, as a translation key."""
    errors: dict[str, str] = {}
    for problem in err.problems:
        key = _form_key(problem.field)
        errors.setdefault(key, _error_key(problem))
    return errors


def _form_key(field: str) -> str:
    if field.startswith("labels."):
        return _LABEL_KEYS.get(field.rpartition(".")[2], "base")
    return _KEYS.get(field, "base")


def _error_key(problem: OptionError) -> str:
    field, code = problem.field, problem.code
    if field.startswith("labels."):
        confirm = field.endswith("confirm_frames")
        return "invalid_confirm_frames" if confirm else "invalid_thresholds"
    if field == "discovery_prefix":
        if code == "invalid_topic":
            return "invalid_prefix"
        return "duplicate_prefix" if problem.about == HA_DISCOVERY_PREFIX else "reserved_prefix"
    if field == "runner_url":
        return "url_credentials" if code == "url_credentials" else "invalid_url"
    if field == "max_age" and code == "below_interval":
        return "max_age_below_interval"
    return {
        "interval": "invalid_interval",
        "roi": "invalid_roi",
        "max_age": "invalid_max_age",
        "runner_token": "invalid_token",
    }.get(field, "unknown")
