"""The runner's YAML config: the issue's example as written, key-path errors, env secrets."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from garagecam_core import demo_model_path
from garagecam_core.errors import ConfigError
from garagecam_core.redact import REDACTED, SECRETS
from garagecam_core.roi import Roi
from garagecam_core.runner.config import (
    FileSourceConfig,
    HttpSourceConfig,
    OnvifSourceConfig,
    load_config,
    parse_config,
)

ISSUE_EXAMPLE = """\
mqtt:
  host: 127.0.0.1
  port: 1883
http:
  host: 127.0.0.1
  port: 8080
  token: change-me
cameras:
  - id: garage
    name: Garage
    snapshot:
      url: http://192.0.2.10/image.jpg
    interval: 10
"""


def test_issue_example_works_as_written(tmp_path: Path) -> None:
    path = tmp_path / "garagecam.yaml"
    path.write_text(ISSUE_EXAMPLE)
    config = load_config(path)
    assert config.mqtt is not None
    assert (config.mqtt.host, config.mqtt.port) == ("127.0.0.1", 1883)
    assert config.mqtt.discovery_prefix == "homeassistant"
    assert config.http is not None
    assert (config.http.host, config.http.port, config.http.token) == (
        "127.0.0.1",
        8080,
        "change-me",
    )
    (camera,) = config.cameras
    assert (camera.id, camera.name, camera.interval, camera.model) == (
        "garage",
        "Garage",
        10,
        "demo",
    )
    assert camera.source == HttpSourceConfig(url="http://192.0.2.10/image.jpg")
    assert config.models["demo"].path == demo_model_path()
    assert config.models["demo"].engine == "worker"


def test_full_config_with_several_cameras_and_models(tmp_path: Path) -> None:
    (tmp_path / "frames").mkdir()
    config = parse_config(
        {
            "engine": "local",
            "models": {"shed": {"path": "models/shed.pte", "engine": "worker", "threads": 2}},
            "cameras": [
                {
                    "id": "garage",
                    "snapshot": {
                        "url": "http://cam/snap",
                        "username": "admin",
                        "password": "pw-123",
                        "auth": "digest",
                        "timeout": 3,
                        "max_bytes": 1000,
                    },
                    "roi": "0.1,0.2,0.5,0.5",
                    "labels": {"door_open": {"on_threshold": 0.8, "confirm_frames": 3}},
                },
                {"id": "shed", "model": "shed", "file": "frames", "interval": 2, "max_age": 7},
                {
                    "id": "gate",
                    "onvif": {"host": "192.0.2.5", "username": "u", "password": "p-onvif"},
                    "roi": [0, 0, 1, 0.5],
                },
            ],
            "debug_snapshots": {"directory": "debug", "max_files": 5},
        },
        base_dir=tmp_path,
    )
    garage, shed, gate = config.cameras
    assert garage.name == "garage"  # defaults to the id
    assert garage.roi == Roi(0.1, 0.2, 0.5, 0.5)
    assert garage.labels["door_open"].on_threshold == 0.8
    assert garage.labels["door_open"].off_threshold is None
    assert garage.effective_max_age == 60.0  # max(60, 3 x interval)
    assert shed.source == FileSourceConfig(tmp_path / "frames")
    assert shed.effective_max_age == 7
    assert isinstance(gate.source, OnvifSourceConfig)
    assert gate.roi == Roi(0, 0, 1, 0.5)
    assert config.models["demo"].engine == "local"  # top-level default engine
    assert config.models["shed"].path == tmp_path / "models" / "shed.pte"
    assert config.models["shed"].engine == "worker"
    assert config.debug_snapshots is not None
    assert config.debug_snapshots.directory == tmp_path / "debug"
    assert config.mqtt is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"cameras": [{"id": "a", "file": "x", "colour": 1}]}, "cameras[0].colour: unknown key"),
        ({"cameras": [{"id": "a", "file": "x"}], "mqtt": {"port": 1}}, "mqtt.host: required"),
        (
            {"cameras": [{"id": "a", "snapshot": {"url": "ftp://x"}}]},
            "cameras[0].snapshot.url: expected an http(s) URL",
        ),
        ({"cameras": [{"id": "a b", "file": "x"}]}, "cameras[0].id: expected 1-64 letters"),
        ({"cameras": [{"id": "a", "file": "x", "interval": -1}]}, "cameras[0].interval"),
        (
            {"cameras": [{"id": "a", "file": "x", "snapshot": {"url": "http://x"}}]},
            "cameras[0]: give only one of snapshot, onvif, file",
        ),
        ({"cameras": [{"id": "a"}]}, "cameras[0]: a camera needs a source"),
        ({"cameras": [{"id": "a", "file": "x", "model": "nope"}]}, "cameras[0].model: unknown"),
        (
            {"cameras": [{"id": "a", "file": "x"}, {"id": "a", "file": "y"}]},
            "cameras[1].id: camera id 'a' is used twice",
        ),
        ({"cameras": [{"id": "a", "file": "x", "roi": "0.5,0.5,0.6,0.1"}]}, "cameras[0].roi"),
        (
            {"cameras": [{"id": "a", "file": "x", "labels": {"door": {"on_threshold": 2}}}]},
            "cameras[0].labels.door.on_threshold",
        ),
        ({"cameras": [], "http": None}, "nothing to do"),
        ([1, 2], "YAML mapping"),
    ],
)
def test_errors_name_the_key_path(data: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    assert message in str(info.value)


def test_secrets_from_environment_and_masked_in_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("GC_MQTT_PASSWORD", "broker-pass-42")
    monkeypatch.setenv("GC_TOKEN", "tok-abcdef")
    config = parse_config(
        {
            "mqtt": {"host": "b", "username": "u", "password": "${GC_MQTT_PASSWORD}"},
            "http": {"token": "${GC_TOKEN}"},
            "cameras": [{"id": "a", "file": "x"}],
        }
    )
    assert config.mqtt is not None and config.mqtt.password == "broker-pass-42"
    assert config.http is not None and config.http.token == "tok-abcdef"

    # Loading registered them with the process-wide filter the CLI installs on its handlers.
    logger = logging.getLogger("garagecam.runner.test")
    caplog.handler.addFilter(SECRETS)
    try:
        logger.warning("connect failed with %s / %s", "broker-pass-42", "tok-abcdef")
    finally:
        caplog.handler.removeFilter(SECRETS)
    assert "broker-pass-42" not in caplog.text and "tok-abcdef" not in caplog.text
    assert caplog.text.count(REDACTED) == 2


def test_missing_environment_variable_is_named() -> None:
    with pytest.raises(ConfigError, match=r"mqtt.password: environment variable GC_NOPE_X"):
        parse_config(
            {
                "mqtt": {"host": "b", "password": "${GC_NOPE_X}"},
                "cameras": [{"id": "a", "file": "x"}],
            }
        )


def test_http_only_server_for_remote_mode(tmp_path: Path) -> None:
    """No cameras: the runner only serves /v1/classify for Home Assistant's remote mode."""
    config = parse_config({"models": {"garage": {"path": "m.pte"}}}, base_dir=tmp_path)
    assert config.cameras == ()
    assert list(config.models) == ["garage"]  # the unused demo model is not loaded
    assert config.http is not None and config.http.port == 8080


def test_unreadable_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("cameras: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
