"""`garagecam run --check`: everything that can fail at start-up and needs no network.

Each check returns what it verified (for the OK lines) or raises `ConfigError` with the key
path; `check_config` runs them all and reports every problem, not only the first.
"""

from __future__ import annotations

import errno
import functools
import os
import socket
import ssl
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError, GarageCamError
from ..metadata import ModelMetadata
from .config import FileSourceConfig, RunnerConfig, TlsConfig

#: loads a model file fully (program, metadata, signature); replaceable in tests
ModelLoader = Callable[[Path], ModelMetadata]


def load_model_metadata(path: Path) -> ModelMetadata:
    from ..bundle import load_program

    return load_program(path).metadata


@dataclass
class CheckReport:
    passed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def run(self, check: Callable[[], str]) -> None:
        try:
            self.passed.append(check())
        except GarageCamError as err:
            self.problems.append(str(err))


def check_config(config: RunnerConfig, load: ModelLoader = load_model_metadata) -> CheckReport:
    report = CheckReport()
    loaded: dict[str, ModelMetadata] = {}

    for name, model in config.models.items():

        def check_model(name: str = name, path: Path = model.path) -> str:
            try:
                metadata = load(path)
            except GarageCamError as err:
                raise ConfigError(f"models.{name}: {err}") from None
            loaded[name] = metadata
            return (
                f"model {name}: {path} loads ({metadata.name}, {', '.join(metadata.label_names)})"
            )

        report.run(check_model)

    for index, camera in enumerate(config.cameras):
        where = f"cameras[{index}]"

        def check_labels(camera_index: int = index, where: str = where) -> str:
            from .app import label_policies

            camera = config.cameras[camera_index]
            metadata = loaded.get(camera.model)
            if metadata is None:
                return f"{where}: labels not checked (model {camera.model} did not load)"
            label_policies(camera, metadata, where)
            return f"{where}.labels: every override names a label of model {camera.model}"

        report.run(check_labels)
        if isinstance(camera.source, FileSourceConfig):
            path = camera.source.path
            report.run(functools.partial(_check_file_source, path, where))

    if config.http is not None and config.http.port != 0:
        http = config.http
        report.run(lambda: _check_port_free(http.host, http.port))
    if config.debug_snapshots is not None:
        directory = config.debug_snapshots.directory
        report.run(lambda: _check_writable(directory, "debug_snapshots.directory"))
    capture = config.capture
    if capture is not None and any(camera.capture for camera in config.cameras):
        report.run(lambda: _check_writable(capture.directory, "capture.directory"))
    if config.studio is not None:
        dataset = config.studio.dataset
        studio_camera = config.studio.camera
        captured = (
            capture is not None
            and studio_camera is not None
            and dataset == capture.folder(studio_camera)
        )
        report.run(lambda: _check_dataset(dataset, created=captured))
    if config.mqtt is not None and config.mqtt.tls is not None:
        tls = config.mqtt.tls
        report.run(lambda: _check_tls(tls))
    return report


def _check_file_source(path: Path, where: str) -> str:
    if not path.exists():
        raise ConfigError(f"{where}.file: {path} does not exist")
    if not (path.is_dir() or stat.S_ISREG(path.stat().st_mode)):  # /dev/zero, a FIFO...
        raise ConfigError(f"{where}.file: {path} is neither an image file nor a folder")
    if not os.access(path, os.R_OK):
        raise ConfigError(f"{where}.file: {path} is not readable")
    return f"{where}.file: {path} is readable"


def _check_tls(tls: TlsConfig) -> str:
    """Load the certificate files as the MQTT client will: a file that exists but is not a
    certificate (not PEM, a key where the CA should be) fails here, not at the first connect."""
    try:
        context = ssl.create_default_context(cafile=str(tls.ca_certs) if tls.ca_certs else None)
        if tls.certfile is not None:
            keyfile = str(tls.keyfile) if tls.keyfile else None
            context.load_cert_chain(str(tls.certfile), keyfile)
    except (ssl.SSLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", None) or getattr(err, "strerror", None) or "unreadable"
        raise ConfigError(
            f"mqtt.tls: the certificate files cannot be loaded ({reason}): "
            "give PEM files (ca_certs: the CA certificate; certfile/keyfile: the client's)"
        ) from None
    return "mqtt.tls: certificate files load"


def _check_port_free(host: str, port: int) -> str:
    """Bind (and release) host:port, as the runner will."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as err:
        raise ConfigError(f"http.host: cannot resolve {host!r}: {err.strerror}") from None
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp does
        try:
            sock.bind(address)
            sock.listen(1)
        except OSError as err:
            problem = "is already in use" if err.errno == errno.EADDRINUSE else err.strerror
            raise ConfigError(f"http.port: {host}:{port} {problem}") from None
    return f"http: {host}:{port} is free"


def _check_dataset(dataset: Path, created: bool) -> str:
    """The studio writes labels and its cache there; a capture folder is created by the
    runner, any other folder must exist (a typo must not label an empty new folder)."""
    if not created and not dataset.is_dir():
        problem = "is not a folder" if dataset.exists() else "does not exist"
        raise ConfigError(f"studio.dataset: {dataset} {problem}")
    return _check_writable(dataset, "studio.dataset")


def _check_writable(directory: Path, where: str) -> str:
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent  # the runner creates what is missing
    if not existing.is_dir():
        raise ConfigError(f"{where}: {existing} is not a directory")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        raise ConfigError(f"{where}: cannot write in {existing}: {err.strerror}") from None
    return f"{where}: {directory} is writable"
