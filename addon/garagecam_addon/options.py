"""`/data/options.json` as typed options.

The Supervisor has already checked the values against `config.yaml`'s schema; this only
checks the shape the add-on reads (so a hand-written file fails in one line, not with a
traceback), and leaves every value's meaning to the runner's own validation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from .errors import AddonError

LogLevel = Literal["info", "debug"]

_CAMERA_TEXT: Final = ("id", "name", "snapshot_url", "onvif_host", "username", "password", "model")
_CAMERA_NUMBER: Final = ("onvif_port", "interval")


@dataclass(frozen=True)
class CameraOption:
    id: str
    name: str | None = None
    snapshot_url: str | None = None
    onvif_host: str | None = None
    onvif_port: int | float | None = None
    username: str | None = None
    password: str | None = None
    model: str | None = None
    interval: int | float | None = None
    roi: str | None = None


@dataclass(frozen=True)
class AddonOptions:
    cameras: tuple[CameraOption, ...] = ()
    capture: bool = False
    studio_camera: str | None = None
    studio_model: str | None = None
    discovery_prefix: str | None = None
    base_topic: str | None = None
    log_level: LogLevel = "info"


def load_options(path: Path) -> AddonOptions:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AddonError(f"{path} is missing (the Supervisor writes it)") from None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise AddonError(f"{path} is not a JSON file: {type(err).__name__}") from None
    return parse_options(raw)


def parse_options(raw: Any) -> AddonOptions:
    if not isinstance(raw, dict):
        raise AddonError("options: expected a mapping of option names to values")
    unknown = sorted(set(raw) - set(AddonOptions.__dataclass_fields__))
    if unknown:
        raise AddonError(f"options: unknown option {unknown[0]!r}")
    cameras = raw.get("cameras") or []
    if not isinstance(cameras, list):
        raise AddonError("options.cameras: expected a list of cameras")
    log_level = raw.get("log_level", "info")
    if log_level not in ("info", "debug"):
        raise AddonError("options.log_level: expected info or debug")
    capture = raw.get("capture", False)
    if not isinstance(capture, bool):
        raise AddonError("options.capture: expected true or false")
    return AddonOptions(
        cameras=tuple(_camera(item, index) for index, item in enumerate(cameras)),
        capture=capture,
        studio_camera=_optional_text(raw, "studio_camera", "options"),
        studio_model=_optional_text(raw, "studio_model", "options"),
        discovery_prefix=_optional_text(raw, "discovery_prefix", "options"),
        base_topic=_optional_text(raw, "base_topic", "options"),
        log_level=log_level,
    )


def _camera(raw: Any, index: int) -> CameraOption:
    where = f"options.cameras[{index}]"
    if not isinstance(raw, dict):
        raise AddonError(f"{where}: expected a camera (id, snapshot_url, ...)")
    unknown = sorted(set(raw) - set(CameraOption.__dataclass_fields__))
    if unknown:
        raise AddonError(f"{where}: unknown option {unknown[0]!r}")
    if not isinstance(raw.get("id"), str):
        raise AddonError(f"{where}.id: required, 1-64 letters, digits, '_' or '-'")
    values: dict[str, Any] = {key: _optional_text(raw, key, where) for key in _CAMERA_TEXT}
    values["roi"] = _optional_text(raw, "roi", where)
    for key in _CAMERA_NUMBER:
        value = raw.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise AddonError(f"{where}.{key}: expected a number")
        values[key] = value
    return CameraOption(**values)


def _optional_text(raw: dict[str, Any], key: str, where: str) -> str | None:
    value = raw.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise AddonError(f"{where}.{key}: expected text")
    return value
