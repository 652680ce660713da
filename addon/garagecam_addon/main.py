"""Start: options, broker, token, discovery, runner config, then exec the runner."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import yaml

from garagecam_core import __version__
from garagecam_core.errors import GarageCamError

from . import runner_config
from .announce import Announcement, detach
from .errors import AddonError
from .options import load_options
from .supervisor import DEFAULT_URL, Supervisor, SupervisorApiError
from .token import ensure_token

_LOGGER = logging.getLogger("garagecam.addon")
LOG_FORMAT = "%(asctime)s [%(levelname)s] %(name)s: %(message)s"  # the runner's format


@dataclass(frozen=True)
class Environment:
    """What the Supervisor gives the add-on, and the overrides tests/addon/ use to run it
    outside a container (a stand-in Supervisor, a loopback port, no ingress gateway key)."""

    supervisor_token: str
    supervisor_url: str
    paths: runner_config.Paths
    listen: runner_config.Listen

    @classmethod
    def read(cls, env: Mapping[str, str]) -> Environment:
        token = env.get("SUPERVISOR_TOKEN", "")
        if not token:
            raise AddonError("SUPERVISOR_TOKEN is not set: start GarageCam as a Supervisor add-on")
        defaults = runner_config.Listen()
        port = env.get("GARAGECAM_ADDON_HTTP_PORT", str(defaults.port))
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            raise AddonError("GARAGECAM_ADDON_HTTP_PORT: expected a port number")
        return cls(
            supervisor_token=token,
            supervisor_url=env.get("GARAGECAM_SUPERVISOR_URL", DEFAULT_URL),
            paths=runner_config.Paths(
                data=Path(env.get("GARAGECAM_ADDON_DATA", "/data")),
                share=Path(env.get("GARAGECAM_ADDON_SHARE", "/share/garagecam")),
            ),
            listen=runner_config.Listen(
                host=env.get("GARAGECAM_ADDON_HTTP_HOST", defaults.host),
                port=int(port),
                ingress_gateway=env.get(
                    "GARAGECAM_ADDON_INGRESS_GATEWAY", runner_config.INGRESS_GATEWAY
                )
                or None,
            ),
        )


@dataclass(frozen=True)
class Start:
    """The runner's command line, the secrets it reads from its environment, and what to tell
    Home Assistant once it listens (None: the Supervisor did not say who the add-on is)."""

    argv: list[str]
    secrets: dict[str, str]
    announcement: Announcement | None


def prepare(env: Environment) -> Start:
    """Everything before the runner starts."""
    paths = env.paths
    options = load_options(paths.options)
    supervisor = Supervisor(env.supervisor_token, env.supervisor_url)
    mqtt = supervisor.mqtt()
    if mqtt is not None:
        _LOGGER.info("MQTT broker from the Supervisor: %s:%d", mqtt.host, mqtt.port)
    token = ensure_token(paths.token)
    for folder in (paths.models, paths.datasets):
        _make_folder(folder)
    if (name := runner_config.studio_model(options)) is not None:
        runner_config.ensure_model_file(paths.models, name)
    models = runner_config.find_models(paths.models)
    setup = runner_config.build(
        options, mqtt=mqtt, token=token, models=models, paths=paths, listen=env.listen
    )
    if setup.studio is not None:  # the runner serves the studio only on an existing folder
        _make_folder(setup.studio.dataset)
    _write_config(paths.config, setup.config)
    argv = [sys.executable, "-m", "garagecam_core"]
    if options.log_level == "debug":
        argv.append("-v")
    argv += ["run", "--config", str(paths.config)]
    announcement = _announcement(supervisor, env.listen.port, token, setup.studio)
    return Start(argv, setup.environment, announcement)


def _announcement(
    supervisor: Supervisor, port: int, token: str, studio: runner_config.StudioTarget | None
) -> Announcement | None:
    try:
        info = supervisor.self_info()
    except SupervisorApiError as err:
        _LOGGER.warning("Home Assistant will not be told about this add-on: %s", err)
        return None
    if studio is None:
        return Announcement(info.hostname, port, token)
    return Announcement(info.hostname, port, token, studio.model, str(studio.dataset))


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise AddonError(f"cannot create {folder}: {err.strerror or err}") from None


def _write_config(path: Path, config: dict[str, Any]) -> None:
    text = "# written by the GarageCam add-on at every start from its options\n"
    text += yaml.safe_dump(config, sort_keys=False)
    try:
        path.write_text(text, encoding="utf-8")
        path.chmod(0o600)
    except OSError as err:
        raise AddonError(f"cannot write {path}: {err.strerror or err}") from None


def _runner_environment(base: Mapping[str, str], secrets: Mapping[str, str]) -> dict[str, str]:
    """The runner gets its secrets and not the Supervisor's token: it never calls the API."""
    environment = {k: v for k, v in base.items() if k not in ("SUPERVISOR_TOKEN", "HASSIO_TOKEN")}
    environment.update(secrets)
    return environment


def main() -> int:
    """Exit status 1 with one line on stderr for anything wrong; else never returns."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=sys.stderr)
    try:
        env = Environment.read(os.environ)
        start = prepare(env)
    except GarageCamError as err:
        print(f"garagecam add-on: error: {err}", file=sys.stderr, flush=True)
        return 1
    _LOGGER.info("Starting the runner (GarageCam %s)", __version__)
    sys.stderr.flush()
    if start.announcement is not None:
        detach(Supervisor(env.supervisor_token, env.supervisor_url), start.announcement)
    return _exec_runner(start.argv, _runner_environment(os.environ, start.secrets))


def _exec_runner(argv: list[str], environment: dict[str, str]) -> NoReturn:
    """The runner replaces this process: the Supervisor's signals and exit status are its."""
    os.execve(argv[0], argv, environment)  # noqa: S606 (our own argv, no shell)
