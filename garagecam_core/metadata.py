"""The metadata a GarageCam `.pte` carries about itself.

It is stored inside the program as an ExecuTorch constant method (`garagecam_metadata`)
returning a JSON string, so labels and preprocessing can never drift from the weights.
This module is pure Python: it validates and (de)serialises, it never imports torch.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, cast

from .errors import MetadataError

FORMAT_VERSION = 1
METADATA_METHOD = "garagecam_metadata"

ChannelOrder = Literal["RGB", "BGR"]
ResizeMode = Literal["stretch", "letterbox"]
Activation = Literal["sigmoid", "softmax"]
InputLayout = Literal["NCHW", "NHWC"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_LABEL_RE = re.compile(r"^[a-z0-9][a-z0-9_]{0,63}$")
# Home Assistant binary_sensor device classes, plus None (plain on/off).
BINARY_SENSOR_DEVICE_CLASSES = frozenset(
    {
        "battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door",
        "garage_door", "gas", "heat", "light", "lock", "moisture", "motion", "moving",
        "occupancy", "opening", "plug", "power", "presence", "problem", "running", "safety",
        "smoke", "sound", "tamper", "update", "vibration", "window",
    }
)  # fmt: skip


@dataclass(frozen=True)
class LabelSpec:
    """One output of the model: its name, Home Assistant device class and thresholds."""

    name: str
    device_class: str | None = None
    on_threshold: float = 0.6
    off_threshold: float = 0.4

    def __post_init__(self) -> None:
        if not _LABEL_RE.match(self.name):
            raise MetadataError(
                f"label {self.name!r} is not a valid name: use lower-case letters, digits and "
                "underscores, starting with a letter or digit (max 64 characters)"
            )
        if self.device_class is not None and self.device_class not in BINARY_SENSOR_DEVICE_CLASSES:
            raise MetadataError(
                f"label {self.name!r}: unknown Home Assistant device class "
                f"{self.device_class!r}; expected one of {sorted(BINARY_SENSOR_DEVICE_CLASSES)}"
            )
        check_thresholds(self.name, self.on_threshold, self.off_threshold)


def check_thresholds(label: str, on_threshold: float, off_threshold: float) -> None:
    """Raise MetadataError unless 0 <= off <= on <= 1 (hysteresis needs off <= on)."""
    for what, value in (("on_threshold", on_threshold), ("off_threshold", off_threshold)):
        if not _is_number(value) or math.isnan(value) or not 0.0 <= value <= 1.0:
            raise MetadataError(f"label {label!r}: {what} must be between 0 and 1, got {value!r}")
    if off_threshold > on_threshold:
        raise MetadataError(
            f"label {label!r}: off_threshold ({off_threshold}) must not be above "
            f"on_threshold ({on_threshold})"
        )


#: largest |(x - mean) / std| allowed for a pixel value x in 0..1: real normalisations stay
#: far below (ImageNet: 2.6; mean 0, std 1/255: 255); beyond it a std like 1e-30 would turn
#: every frame into inf/NaN
MAX_NORMALISED = 1e4
#: largest std or |mean| allowed (pixels are 0..1: a std of 1e13 makes every frame alike)
MAX_STD = 100.0


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_normalisation(mean: Any, std: Any) -> None:
    """Raise MetadataError unless mean/std are three finite numbers giving finite inputs."""
    for what, triple in (("mean", mean), ("std", std)):
        if len(triple) != 3 or not all(_is_number(v) for v in triple):
            raise MetadataError(f"{what} must be three numbers, got {triple!r}")
        if not all(math.isfinite(v) for v in triple):
            raise MetadataError(f"{what} values must be finite numbers, got {list(triple)!r}")
    if any(v <= 0 for v in std):
        raise MetadataError(f"std values must be positive, got {list(std)!r}")
    if any(v > MAX_STD for v in std) or any(abs(v) > MAX_STD for v in mean):
        raise MetadataError(
            f"mean {list(mean)!r} and std {list(std)!r} are for pixel values from 0 to 1: "
            f"values above {MAX_STD:g} would flatten every frame to the same input"
        )
    worst = max(max(abs(m), abs(1 - m)) / s for m, s in zip(mean, std, strict=True))
    if not worst <= MAX_NORMALISED:
        raise MetadataError(
            f"mean {list(mean)!r} and std {list(std)!r} would scale pixels to {worst:.3g}, "
            f"more than {MAX_NORMALISED:g}: a std this small (or a mean this large) is a mistake"
        )


@dataclass(frozen=True)
class ModelMetadata:
    """Everything needed to feed the model and interpret its outputs."""

    name: str
    input_height: int
    input_width: int
    labels: tuple[LabelSpec, ...]
    version: str = "1"
    channel_order: ChannelOrder = "RGB"
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    resize_mode: ResizeMode = "stretch"
    activation: Activation = "sigmoid"
    #: memory layout in which the program reads its (1, 3, H, W) input: "NHWC" for programs
    #: exported channels_last (XNNPACK computes in NHWC, so no transpose at the input)
    input_layout: InputLayout = "NCHW"
    format_version: int = FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)
    #: stretch each frame's contrast before normalising (`preprocess.to_tensor`): night frames
    #: are often nearly black, and a pretrained trunk sees little in them otherwise
    autocontrast: bool = False

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise MetadataError("model name must be a non-empty string")
        for what, size in (("input_height", self.input_height), ("input_width", self.input_width)):
            if not isinstance(size, int) or isinstance(size, bool) or not 8 <= size <= 4096:
                raise MetadataError(f"{what} must be an integer from 8 to 4096, got {size!r}")
        if not self.labels:
            raise MetadataError("a model needs at least one label")
        names = [label.name for label in self.labels]
        if len(set(names)) != len(names):
            raise MetadataError(f"label names must be unique, got {names}")
        if self.channel_order not in ("RGB", "BGR"):
            raise MetadataError(f"channel_order must be RGB or BGR, got {self.channel_order!r}")
        if self.resize_mode not in ("stretch", "letterbox"):
            raise MetadataError(
                f"resize_mode must be stretch or letterbox, got {self.resize_mode!r}"
            )
        if self.activation not in ("sigmoid", "softmax"):
            raise MetadataError(f"activation must be sigmoid or softmax, got {self.activation!r}")
        if self.input_layout not in ("NCHW", "NHWC"):
            raise MetadataError(f"input_layout must be NCHW or NHWC, got {self.input_layout!r}")
        if not isinstance(self.autocontrast, bool):
            raise MetadataError(f"autocontrast must be true or false, got {self.autocontrast!r}")
        if self.activation == "softmax" and len(self.labels) < 2:
            raise MetadataError("a softmax model needs at least two labels (classes)")
        check_normalisation(self.mean, self.std)
        if self.format_version != FORMAT_VERSION:
            raise MetadataError(
                f"metadata format version {self.format_version} is not supported by this "
                f"GarageCam (it reads version {FORMAT_VERSION}); upgrade garagecam-core"
            )

    @property
    def label_names(self) -> tuple[str, ...]:
        return tuple(label.name for label in self.labels)

    def label(self, name: str) -> LabelSpec:
        for spec in self.labels:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def named(self, values: Iterable[float]) -> dict[str, float]:
        """A model's outputs (one per label, in label order) by label name."""
        return {name: float(v) for name, v in zip(self.label_names, values, strict=True)}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["mean"] = list(self.mean)
        data["std"] = list(self.std)
        data["labels"] = [asdict(label) for label in self.labels]
        if not self.autocontrast:  # absent when off: older GarageCam versions read the JSON
            del data["autocontrast"]
        return data

    def to_json(self) -> str:
        try:
            return json.dumps(self.to_dict(), sort_keys=True, allow_nan=False)
        except ValueError as err:  # only `extra` can still hold NaN: JSON has no NaN
            raise MetadataError(f"metadata cannot be stored as JSON: {err}") from err

    def digest(self) -> str:
        """What identifies this metadata (labels, thresholds, version, preprocessing...): the
        runner's classify answers carry it, so a remote client sees when the model it was
        told about (`/v1/models`) has been replaced and reads the new one."""
        text = json.dumps(self.to_dict(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    @classmethod
    def from_dict(cls, data: Any) -> ModelMetadata:
        """Build and validate metadata from decoded JSON; raises MetadataError."""
        if not isinstance(data, dict):
            raise MetadataError(f"metadata must be a JSON object, got {type(data).__name__}")
        known = {
            "name", "version", "input_height", "input_width", "labels", "channel_order", "mean",
            "std", "resize_mode", "activation", "input_layout", "format_version", "extra",
            "autocontrast",
        }  # fmt: skip
        unknown = sorted(set(data) - known)
        if unknown:
            raise MetadataError(f"unknown metadata keys: {unknown}")
        missing = sorted({"name", "input_height", "input_width", "labels"} - set(data))
        if missing:
            raise MetadataError(f"metadata is missing required keys: {missing}")
        raw_labels = data["labels"]
        if not isinstance(raw_labels, list):
            raise MetadataError("metadata 'labels' must be a list")
        labels = []
        for index, raw in enumerate(raw_labels):
            if not isinstance(raw, dict) or "name" not in raw:
                raise MetadataError(f"metadata labels[{index}] must be an object with a 'name'")
            extra_keys = sorted(
                set(raw) - {"name", "device_class", "on_threshold", "off_threshold"}
            )
            if extra_keys:
                raise MetadataError(f"metadata labels[{index}] has unknown keys: {extra_keys}")
            labels.append(LabelSpec(**raw))
        kwargs = dict(data)
        kwargs["labels"] = tuple(labels)
        for key in ("mean", "std"):
            if key in kwargs:
                value = kwargs[key]
                if not isinstance(value, list | tuple):
                    raise MetadataError(f"metadata {key!r} must be a list of three numbers")
                kwargs[key] = tuple(value)
        if "extra" in kwargs and not isinstance(kwargs["extra"], dict):
            raise MetadataError("metadata 'extra' must be an object")
        try:
            return cls(**kwargs)
        except TypeError as err:  # wrong value types that slipped past the checks above
            raise MetadataError(f"malformed metadata: {err}") from err

    @classmethod
    def from_json(cls, text: str | bytes) -> ModelMetadata:
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as err:
            raise MetadataError(f"metadata is not valid JSON: {err}") from err
        return cls.from_dict(data)


def parse_label_specs(text: str) -> tuple[LabelSpec, ...]:
    """Parse the CLI form `door_open:garage_door,car_present:occupancy[:on:off]`."""
    specs = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        parts = item.split(":")
        if len(parts) not in (1, 2, 4):
            raise MetadataError(
                f"cannot read label {item!r}: use name, name:device_class or "
                "name:device_class:on_threshold:off_threshold"
            )
        device_class = parts[1] or None if len(parts) > 1 else None
        if len(parts) == 4:
            try:
                on, off = float(parts[2]), float(parts[3])
            except ValueError as err:
                raise MetadataError(f"label {item!r}: thresholds must be numbers") from err
            specs.append(LabelSpec(parts[0], device_class, on, off))
        else:
            specs.append(LabelSpec(parts[0], device_class))
    if not specs:
        raise MetadataError("no labels given")
    return tuple(specs)


def as_channel_order(value: str) -> ChannelOrder:
    if value not in ("RGB", "BGR"):
        raise MetadataError(f"channel order must be RGB or BGR, got {value!r}")
    return cast(ChannelOrder, value)
