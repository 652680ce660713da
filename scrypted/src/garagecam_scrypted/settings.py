"""A GarageCam camera's settings: stored as strings in the device's Scrypted storage,
parsed and validated here, and described as Scrypted `Setting` dicts for the UI.

Pure Python (no `scrypted_sdk`): the plugin parses a full set of values before it stores a
change, so a bad value is refused with a one-line error and the running camera is untouched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from garagecam_core import options as core_options
from garagecam_core.debounce import DEFAULT_CONFIRM_FRAMES, LabelOverride, default_max_age
from garagecam_core.errors import ConfigError, ModelNotFoundError
from garagecam_core.metadata import ModelMetadata
from garagecam_core.options import (
    DEFAULT_INTERVAL,
    MAX_CONFIRM_FRAMES,
    MAX_INTERVAL,
    CameraOptions,
    OptionsError,
)
from garagecam_core.roi import Roi

Mode = Literal["local", "remote"]

DEMO_MODEL = core_options.DEMO_MODEL

#: the interval the page suggests at least (the options take any positive number)
SUGGESTED_MIN_INTERVAL = 1.0

# Storage keys. Per-label thresholds are `on_threshold:<label>` / `off_threshold:<label>`.
CAMERA = "camera"
MODE = "mode"
MODEL = "model"
REMOTE_URL = "remote_url"
REMOTE_TOKEN = "remote_token"  # noqa: S105 - a key name, not a secret
REMOTE_MODEL = "remote_model"
INTERVAL = "interval"
ROI = "roi"
CONFIRM_FRAMES = "confirm_frames"
MAX_AGE = "max_age"
ON_PREFIX = "on_threshold:"
OFF_PREFIX = "off_threshold:"
STATUS = "status"
HOMEKIT = "homekit"

#: keys whose change needs a new engine (the others reuse the running one)
ENGINE_KEYS = frozenset({MODE, MODEL, REMOTE_URL, REMOTE_TOKEN, REMOTE_MODEL})
#: keys a user may put; per-label threshold keys are checked separately
PLAIN_KEYS = frozenset({CAMERA, INTERVAL, ROI, CONFIRM_FRAMES, MAX_AGE, HOMEKIT}) | ENGINE_KEYS

TITLES = {
    CAMERA: "Camera",
    MODE: "Inference",
    MODEL: "Model",
    REMOTE_URL: "Runner URL",
    REMOTE_TOKEN: "Runner token",
    REMOTE_MODEL: "Runner model",
    INTERVAL: "Interval (seconds)",
    ROI: "Region of interest",
    CONFIRM_FRAMES: "Confirm frames",
    MAX_AGE: "Maximum age (seconds)",
    HOMEKIT: "Add new sensors to HomeKit",
}
#: the Inference choices as the page shows them; stored as shown, parsed back to the mode
MODE_CHOICES = {"local": "On this server", "remote": "GarageCam runner"}
_MODE_OF = {label: mode for mode, label in MODE_CHOICES.items()} | {m: m for m in MODE_CHOICES}
#: create form groups: the fields of one Inference choice together
GROUPS = {"local": "Model on this server", "remote": "GarageCam runner"}
CAMERA_FILTER = "(type === 'Camera' || type === 'Doorbell') && interfaces.includes('Camera')"


@dataclass(frozen=True)
class CameraSettings:
    """Everything a camera device needs, validated."""

    camera_id: str
    mode: Mode = "local"
    model: str = DEMO_MODEL
    remote_url: str = ""
    remote_token: str = field(default="", repr=False)
    remote_model: str = ""
    interval: float = DEFAULT_INTERVAL
    roi: Roi | None = None
    confirm_frames: int = DEFAULT_CONFIRM_FRAMES
    max_age: float | None = None
    overrides: Mapping[str, LabelOverride] = field(default_factory=dict)
    homekit: bool = True

    @property
    def effective_max_age(self) -> float:
        return self.max_age if self.max_age is not None else default_max_age(self.interval)

    def engine_key(self) -> tuple[str, ...]:
        """Equal keys can share the running engine."""
        if self.mode == "remote":
            return ("remote", self.remote_url, self.remote_token, self.remote_model)
        return ("local", self.model)

    def overrides_for(self, metadata: ModelMetadata) -> dict[str, LabelOverride]:
        """The overrides of the labels this model has (others stay stored for a switch back)."""
        return {k: v for k, v in self.overrides.items() if k in metadata.label_names}


def _text(values: Mapping[str, str | None], key: str) -> str:
    value = values.get(key)
    return value.strip() if isinstance(value, str) else ""


def threshold_title(key: str) -> str:
    prefix, _, label = key.partition(":")
    which = "ON" if prefix + ":" == ON_PREFIX else "OFF"
    return f"{label} {which} threshold"


def is_threshold_key(key: str) -> bool:
    return key.startswith((ON_PREFIX, OFF_PREFIX)) and len(key.partition(":")[2]) > 0


#: the options' field names as this page titles them (labels are titled per key)
_FIELD_KEYS = {
    "interval": INTERVAL,
    "roi": ROI,
    "confirm_frames": CONFIRM_FRAMES,
    "max_age": MAX_AGE,
    "model": MODEL,
    "runner_url": REMOTE_URL,
    "runner_token": REMOTE_TOKEN,
}


def _title(field_name: str) -> str:
    """The page's title of an options field (`labels.door_open.on_threshold` included)."""
    if field_name.startswith("labels."):
        label, _, which = field_name.removeprefix("labels.").rpartition(".")
        return threshold_title(f"{which}:{label}")
    key = _FIELD_KEYS.get(field_name, field_name)
    return TITLES.get(key, key)


def _options(values: Mapping[str, str | None], mode: Mode) -> CameraOptions:
    """The stored strings as the core's options; its errors as one line, by title."""
    labels: dict[str, dict[str, str | None]] = {}
    for key, value in values.items():
        if is_threshold_key(key):
            prefix, _, label = key.partition(":")
            labels.setdefault(label, {})[prefix] = value
    raw: dict[str, Any] = {
        "interval": values.get(INTERVAL),
        "roi": values.get(ROI),
        "confirm_frames": values.get(CONFIRM_FRAMES),
        "max_age": values.get(MAX_AGE),
        "labels": labels,
        "model": values.get(MODEL),
    }
    if mode == "remote":  # a URL kept from before a switch to local is not checked
        raw |= {"runner_url": values.get(REMOTE_URL), "runner_token": values.get(REMOTE_TOKEN)}
    try:
        return CameraOptions.parse(raw, runner_required=mode == "remote")
    except OptionsError as err:
        shown = "; ".join(f"{_title(p.field)}: {p.detail}" for p in err.problems)
        raise ConfigError(shown) from None


def parse(values: Mapping[str, str | None]) -> CameraSettings:
    """Validate stored (or about to be stored) values; raises ConfigError naming the setting."""
    camera_id = _text(values, CAMERA)
    if not camera_id:
        raise ConfigError("Camera: choose the Scrypted camera to watch")
    mode = _MODE_OF.get(_text(values, MODE) or "local", "")
    if not mode:
        shown = ", ".join(f"'{label}'" for label in MODE_CHOICES.values())
        raise ConfigError(f"Inference: {_text(values, MODE)!r} is not one of {shown}")
    homekit = _text(values, HOMEKIT).lower() or "true"
    if homekit not in ("true", "false"):
        raise ConfigError(f"{TITLES[HOMEKIT]}: {homekit!r} is not true or false")
    options = _options(values, "remote" if mode == "remote" else "local")
    return CameraSettings(
        camera_id=camera_id,
        mode="remote" if mode == "remote" else "local",
        model=options.model,
        remote_url=options.runner_url or _text(values, REMOTE_URL),
        remote_token=options.runner_token or _text(values, REMOTE_TOKEN),
        remote_model=_text(values, REMOTE_MODEL),
        interval=options.interval,
        roi=options.roi,
        confirm_frames=options.confirm_frames,
        max_age=options.max_age,
        overrides=options.labels,
        homekit=homekit == "true",
    )


def check_thresholds(metadata: ModelMetadata, settings: CameraSettings) -> None:
    """Each label's ON threshold (set here or the model's) must be at least its OFF one;
    the error names the settings as the page titles them."""
    overrides = settings.overrides_for(metadata)
    for spec in metadata.labels:
        override = overrides.get(spec.name)
        on = override.on_threshold if override and override.on_threshold is not None else None
        off = override.off_threshold if override and override.off_threshold is not None else None
        on_value = spec.on_threshold if on is None else on
        off_value = spec.off_threshold if off is None else off
        if off_value > on_value:
            on_title = threshold_title(f"{ON_PREFIX}{spec.name}")
            off_title = threshold_title(f"{OFF_PREFIX}{spec.name}")
            on_from = "" if on is not None else " (model default)"
            off_from = "" if off is not None else " (model default)"
            raise ConfigError(
                f"{on_title} {on_value:g}{on_from} is below {off_title} {off_value:g}"
                f"{off_from}: the ON threshold must be at least the OFF threshold"
            )


def check_key(key: str) -> None:
    if key not in PLAIN_KEYS and not is_threshold_key(key):
        raise ConfigError(f"unknown setting {key!r}")


def to_storage(value: Any) -> str | None:
    """How a value from the Scrypted UI is stored (storage holds strings); None clears it."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise ConfigError(f"unsupported value {value!r}: expected text or a number")


# --- models -------------------------------------------------------------------------------------


def find_models(directories: Sequence[Path]) -> list[str]:
    """`demo` and the model files (`.pte`, `.gcam`) placed in the plugin's folders (names,
    first folder wins): the core's one lookup."""
    return core_options.find_models(directories)


def model_path(model: str, directories: Sequence[Path]) -> Path:
    """Where the model file is (the core's one lookup), the error titled as on the page."""
    try:
        return core_options.model_path(model, directories)
    except ModelNotFoundError as err:
        raise ModelNotFoundError(f"{TITLES[MODEL]}: {err}") from None


# --- the settings page --------------------------------------------------------------------------


def _shown(values: Mapping[str, str | None], key: str, default: float) -> float | str:
    """A number setting's value for the page (a stored value is valid; the page never fails)."""
    text = _text(values, key)
    try:
        number = float(text) if text else float(default)
    except ValueError:
        return text
    return int(number) if number.is_integer() else number


def describe(
    values: Mapping[str, str | None],
    metadata: ModelMetadata | None,
    models: Sequence[str],
    status: str,
) -> list[dict[str, Any]]:
    """The camera device's settings page (Scrypted `Setting` dicts) for the stored values."""
    mode = _MODE_OF.get(_text(values, MODE) or "local", "local")
    return [
        {"key": STATUS, "title": "Status", "readonly": True, "value": status},
        *_source_settings(values, mode),
        *(_runner_settings(values) if mode == "remote" else [_model_setting(values, models)]),
        *_poll_settings(values),
        *_threshold_settings(values, metadata),
    ]


def _source_settings(values: Mapping[str, str | None], mode: str) -> list[dict[str, Any]]:
    return [
        {
            "key": CAMERA,
            "title": TITLES[CAMERA],
            "description": "The camera whose snapshots are classified.",
            "type": "device",
            "deviceFilter": CAMERA_FILTER,
            "value": _text(values, CAMERA) or None,
        },
        {
            "key": MODE,
            "title": TITLES[MODE],
            "description": "Run the model on this Scrypted server, or ask a GarageCam runner.",
            "choices": list(MODE_CHOICES.values()),
            "value": MODE_CHOICES[mode],
        },
    ]


def _runner_settings(values: Mapping[str, str | None]) -> list[dict[str, Any]]:
    return [
        {
            "key": REMOTE_URL,
            "title": TITLES[REMOTE_URL],
            "placeholder": "http://192.168.1.20:8080",
            "value": _text(values, REMOTE_URL),
        },
        {
            "key": REMOTE_TOKEN,
            "title": TITLES[REMOTE_TOKEN],
            "type": "password",
            "description": "The runner's http.token (leave empty if it has none).",
            "value": _text(values, REMOTE_TOKEN),
        },
        {
            "key": REMOTE_MODEL,
            "title": TITLES[REMOTE_MODEL],
            "description": "Model name on the runner; empty if it serves only one.",
            "value": _text(values, REMOTE_MODEL),
        },
    ]


def _model_setting(values: Mapping[str, str | None], models: Sequence[str]) -> dict[str, Any]:
    return {
        "key": MODEL,
        "title": TITLES[MODEL],
        "description": "'demo' (shipped), a model (.gcam or .pte) placed in the "
        "plugin's files folder, or an absolute path.",
        "choices": list(models),
        "combobox": True,
        "value": _text(values, MODEL) or DEMO_MODEL,
    }


def _poll_settings(values: Mapping[str, str | None]) -> list[dict[str, Any]]:
    return [
        {
            "key": INTERVAL,
            "title": TITLES[INTERVAL],
            "type": "number",
            "range": [SUGGESTED_MIN_INTERVAL, MAX_INTERVAL],
            "value": _shown(values, INTERVAL, DEFAULT_INTERVAL),
        },
        {
            "key": ROI,
            "title": TITLES[ROI],
            "description": "Crop before classifying: x,y,w,h as fractions of the frame "
            "(e.g. 0.1,0.2,0.5,0.6); empty for the whole frame.",
            "placeholder": "x,y,w,h",
            "value": _text(values, ROI),
        },
        {
            "key": CONFIRM_FRAMES,
            "title": TITLES[CONFIRM_FRAMES],
            "description": "Frames in a row that must agree before a state changes.",
            "type": "integer",
            "range": [1, MAX_CONFIRM_FRAMES],
            "value": _shown(values, CONFIRM_FRAMES, DEFAULT_CONFIRM_FRAMES),
        },
        {
            "key": MAX_AGE,
            "title": TITLES[MAX_AGE],
            "description": "Without a good frame for this long the sensors go offline; "
            "empty: 3 intervals, at least 60 s.",
            "type": "number",
            "value": _text(values, MAX_AGE),
        },
        {
            "key": HOMEKIT,
            "title": TITLES[HOMEKIT],
            "description": "When Scrypted's HomeKit plugin is installed, enable it on each new "
            "sensor of this device (HomeKit reloads once). Off: enable HomeKit on them "
            "yourself.",
            "type": "boolean",
            "value": _text(values, HOMEKIT).lower() != "false",
        },
    ]


def _threshold_settings(
    values: Mapping[str, str | None], metadata: ModelMetadata | None
) -> list[dict[str, Any]]:
    page = []
    for spec in metadata.labels if metadata else ():
        for prefix, default in ((ON_PREFIX, spec.on_threshold), (OFF_PREFIX, spec.off_threshold)):
            key = f"{prefix}{spec.name}"
            page.append(
                {
                    "key": key,
                    "group": "Thresholds",
                    "title": threshold_title(key),
                    "type": "number",
                    "range": [0, 1],
                    "placeholder": f"{default:g} (model default)",
                    "value": _text(values, key),
                }
            )
    return page
