"""The runner's YAML config from the add-on's options, the Supervisor's broker and /share.

Secrets (the API token, the broker's and cameras' passwords) are not written into the file:
it names environment variables (`${GARAGECAM_HTTP_TOKEN}`) that the runner reads, set only
in the environment the runner is started with.
"""

from __future__ import annotations

import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from garagecam_core import demo_model_path

from .errors import AddonError
from .options import AddonOptions, CameraOption
from .supervisor import MqttService

_LOGGER = logging.getLogger("garagecam.addon")

#: the Supervisor's address on its internal network, where ingress requests come from
#: (supervisor/docker/network.py: the network's .2; the runner key is helper "web"'s)
INGRESS_GATEWAY: Final = "172.30.32.2"
HTTP_PORT: Final = 8080  # = config.yaml's ingress_port
MODEL_SUFFIXES: Final = (".pte", ".gcam")
_NAME_RE: Final = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")

TOKEN_ENV: Final = "GARAGECAM_HTTP_TOKEN"  # noqa: S105 (a variable name)
MQTT_PASSWORD_ENV: Final = "GARAGECAM_MQTT_PASSWORD"  # noqa: S105 (a variable name)


@dataclass(frozen=True)
class Paths:
    """Where the add-on keeps its state (/data) and shares files with Home Assistant."""

    data: Path = Path("/data")
    share: Path = Path("/share/garagecam")

    @property
    def options(self) -> Path:
        return self.data / "options.json"

    @property
    def token(self) -> Path:
        return self.data / "token"

    @property
    def config(self) -> Path:
        return self.data / "garagecam.yaml"

    @property
    def models(self) -> Path:
        return self.share / "models"

    @property
    def datasets(self) -> Path:
        return self.share / "datasets"


@dataclass(frozen=True)
class Listen:
    """The runner's HTTP server: every interface of the add-on's container, one port for
    Home Assistant's Remote mode and for ingress."""

    host: str = "0.0.0.0"  # noqa: S104 (the container's network; the API needs the token)
    port: int = HTTP_PORT
    ingress_gateway: str | None = INGRESS_GATEWAY


#: the model the add-on serves Home Assistant and the studio replaces when it has no camera
#: of its own (option `studio_model`); made from the bundled demo model at the first start
DEFAULT_STUDIO_MODEL: Final = "garage"


@dataclass(frozen=True)
class StudioTarget:
    """What the studio labels and replaces; told to Home Assistant (discovery), whose add-on
    entries keep their frames in `dataset` and use `model` by default."""

    model: str
    dataset: Path


@dataclass(frozen=True)
class RunnerSetup:
    config: dict[str, Any]
    environment: dict[str, str]  # the secrets the config names
    studio: StudioTarget | None = None


def find_models(folder: Path) -> dict[str, Path]:
    """`<name>.pte` / `<name>.gcam` files in the share's models folder, by name. The studio's
    backups (`<name>.previous.pte`) and other files are not models to serve."""
    models: dict[str, Path] = {}
    try:
        files = sorted(path for path in folder.iterdir() if path.suffix in MODEL_SUFFIXES)
    except FileNotFoundError:
        return models
    except OSError as err:
        raise AddonError(f"cannot list {folder}: {err.strerror or err}") from None
    for path in files:
        if path.stem.endswith(".previous"):
            continue
        if not _NAME_RE.match(path.stem):
            _LOGGER.warning("Skipping %s: name it with letters, digits, '_' or '-'", path.name)
            continue
        if path.stem in models:
            raise AddonError(
                f"{folder}: {models[path.stem].name} and {path.name} have the same name: "
                "remove or rename one"
            )
        models[path.stem] = path
    return models


def ensure_model_file(folder: Path, name: str) -> Path | None:
    """`<folder>/<name>.gcam|.pte`, made from the bundled demo model when there is none, so
    the studio's "Use this model" has a file to replace (the bundled one never is). Returns
    the file it made, or None."""
    if not _NAME_RE.match(name):
        raise AddonError("options.studio_model: expected 1-64 letters, digits, '_' or '-'")
    if name == "demo" or any((folder / f"{name}{suffix}").exists() for suffix in MODEL_SUFFIXES):
        return None
    demo = demo_model_path()
    target = folder / f"{name}{demo.suffix}"
    temp = folder / f".{name}{demo.suffix}.tmp"
    try:
        shutil.copyfile(demo, temp)
        temp.replace(target)  # never a half-copied model under the name the runner loads
    except OSError as err:
        temp.unlink(missing_ok=True)
        raise AddonError(f"cannot create {target}: {err.strerror or err}") from None
    _LOGGER.info("Made %s from the bundled demo model (the studio replaces it)", target)
    return target


def build(
    options: AddonOptions,
    *,
    mqtt: MqttService | None,
    token: str,
    models: dict[str, Path],
    paths: Paths,
    listen: Listen,
) -> RunnerSetup:
    environment = {TOKEN_ENV: token}
    http: dict[str, Any] = {"host": listen.host, "port": listen.port, "token": f"${{{TOKEN_ENV}}}"}
    if listen.ingress_gateway:
        http["ingress_gateway"] = listen.ingress_gateway
    # demo is served even when /share has models: Home Assistant entries may ask for it
    served = {"demo": demo_model_path(), **models}
    config: dict[str, Any] = {
        "http": http,
        "models": {name: {"path": str(path)} for name, path in served.items()},
        "cameras": [
            _camera(camera, index, environment) for index, camera in enumerate(options.cameras)
        ],
    }
    if mqtt is not None:
        config["mqtt"] = _mqtt(mqtt, options, environment)
    elif options.cameras:
        _LOGGER.warning(
            "No MQTT broker from the Supervisor (install the Mosquitto broker add-on): the "
            "cameras' states are only in the HTTP API"
        )
    if options.capture:
        config["capture"] = {"enabled": True, "directory": str(paths.datasets)}
    config["studio"], studio = _studio(options, paths)
    return RunnerSetup(config, environment, studio)


def studio_model(options: AddonOptions) -> str | None:
    """The model the studio replaces by name (None: the studio is for a camera's model)."""
    return None if options.cameras else options.studio_model or DEFAULT_STUDIO_MODEL


def _studio(options: AddonOptions, paths: Paths) -> tuple[dict[str, Any], StudioTarget]:
    """With cameras of its own: the studio camera's captures and model. Without: the
    studio's model (by name) and its folder, where Home Assistant keeps the frames of the
    add-on's entries."""
    model = studio_model(options)
    if model is not None:
        dataset = paths.datasets / model
        return {"enabled": True, "model": model, "dataset": str(dataset)}, StudioTarget(
            model, dataset
        )
    camera_id = options.studio_camera or options.cameras[0].id
    camera = next((c for c in options.cameras if c.id == camera_id), None)
    dataset = paths.datasets / camera_id
    target = StudioTarget((camera.model if camera else None) or "demo", dataset)
    return {"enabled": True, "camera": camera_id, "dataset": str(dataset)}, target


def _camera(camera: CameraOption, index: int, environment: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": camera.id}
    for key in ("name", "model", "interval", "roi"):
        value = getattr(camera, key)
        if value is not None:
            out[key] = value
    credentials: dict[str, Any] = {}
    if camera.username is not None:
        credentials["username"] = camera.username
    if camera.password is not None:
        variable = f"GARAGECAM_CAMERA_{index}_PASSWORD"
        environment[variable] = camera.password
        credentials["password"] = f"${{{variable}}}"
    # both or neither: the runner says "give only one of snapshot, onvif, file" or "a camera
    # needs a source", naming the camera
    if camera.snapshot_url is not None:
        out["snapshot"] = {"url": camera.snapshot_url, **credentials}
    if camera.onvif_host is not None:
        onvif: dict[str, Any] = {"host": camera.onvif_host, **credentials}
        if camera.onvif_port is not None:
            onvif["port"] = camera.onvif_port
        out["onvif"] = onvif
    return out


def _mqtt(mqtt: MqttService, options: AddonOptions, environment: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"host": mqtt.host, "port": mqtt.port}
    if mqtt.username is not None:
        out["username"] = mqtt.username
    if mqtt.password is not None:
        environment[MQTT_PASSWORD_ENV] = mqtt.password
        out["password"] = f"${{{MQTT_PASSWORD_ENV}}}"
    if mqtt.ssl:
        out["tls"] = True
    if options.discovery_prefix is not None:
        out["discovery_prefix"] = options.discovery_prefix
    if options.base_topic is not None:
        out["base_topic"] = options.base_topic
    return out
