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
#: a problem's translation key: by field and code first, else by field (labels: the last part)
_CODE_ERRORS: Final = {
    ("discovery_prefix", "invalid_topic"): "invalid_prefix",
    ("runner_url", "url_credentials"): "url_credentials",
    ("max_age", "below_interval"): "max_age_below_interval",
}
_FIELD_ERRORS: Final = {
    "interval": "invalid_interval",
    "roi": "invalid_roi",
    "max_age": "invalid_max_age",
    "runner_url": "invalid_url",
    "runner_token": "invalid_token",
    "discovery_prefix": "reserved_prefix",  # inside the bridge's or the runner's topics
    "on_threshold": "invalid_thresholds",
    "off_threshold": "invalid_thresholds",
    "confirm_frames": "invalid_confirm_frames",
}
_DUPLICATE_PREFIX: Final = "duplicate_prefix"  # inside Home Assistant's own discovery topics
_UNKNOWN: Final = "unknown"
#: every key `form_errors` can give (all translated)
ERROR_KEYS: Final = frozenset(
    {*_CODE_ERRORS.values(), *_FIELD_ERRORS.values(), _DUPLICATE_PREFIX, _UNKNOWN}
)


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
        errors.setdefault(_form_key(problem.field), _error_key(problem))
    return errors


def _form_key(field: str) -> str:
    if field.startswith("labels."):
        return _LABEL_KEYS.get(field.rpartition(".")[2]) or "base"
    return _KEYS.get(field) or "base"


def _error_key(problem: OptionError) -> str:
    field = problem.field
    if field.startswith("labels."):
        field = field.rpartition(".")[2]
    if problem.about == HA_DISCOVERY_PREFIX:
        return _DUPLICATE_PREFIX
    return _CODE_ERRORS.get((field, problem.code)) or _FIELD_ERRORS.get(field) or _UNKNOWN
