"""The runner's YAML config: the issue's example as written, key-path errors, env secrets."""

from __future__ import annotations

import argparse
import logging
import re
from pathlib import Path

import pytest

from garagecam_core import demo_model_path
from garagecam_core.cli.run import run as run_command
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
    # Parsing returned them and registered nothing; the runner's start-up registers them
    # with the process-wide filter the CLI installs on its handlers.
    assert {"broker-pass-42", "tok-abcdef"} <= config.secrets
    assert "broker-pass-42" in SECRETS.mask("broker-pass-42")
    SECRETS.add_all(config.secrets)
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


# --- hardening: types, numbers, tokens, YAML errors, encodings, TLS files ----------------------


def _camera(**fields: object) -> dict[str, object]:
    return {"cameras": [{"id": "a", "file": "x", **fields}]}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**_camera(), "http": {"port": True}}, r"http.port: expected an integer, got true/false"),
        ({**_camera(), "mqtt": {"host": "b", "port": True}}, r"mqtt.port: expected an integer"),
        (_camera(interval=float("inf")), r"cameras\[0\].interval: expected a finite number"),
        (_camera(interval=float("nan")), r"cameras\[0\].interval: expected a finite number"),
        (_camera(interval=True), r"cameras\[0\].interval: expected a number, got true/false"),
        (_camera(max_age=float("-inf")), r"cameras\[0\].max_age: expected a finite number"),
        (_camera(confirm_frames=True), r"cameras\[0\].confirm_frames: expected an integer"),
        (
            _camera(labels={"door_open": {"on_threshold": float("nan")}}),
            r"cameras\[0\].labels.door_open.on_threshold: expected a finite number",
        ),
        ({**_camera(), "http": {"token": ""}}, r"http.token: is empty"),
        ({**_camera(), "http": {"token": "   "}}, r"http.token: is empty"),
        ({**_camera(), "http": {"token": None}}, r"http.token: is empty"),
        ({**_camera(), "http": {"token": " abc "}}, r"http.token: has leading or trailing"),
    ],
)
def test_values_python_would_accept_by_accident_are_refused(data: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(data)


def test_numbers_from_environment_variables_still_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GC_PORT", "8443")
    monkeypatch.setenv("GC_INTERVAL", "2.5")
    config = parse_config({**_camera(interval="${GC_INTERVAL}"), "http": {"port": "${GC_PORT}"}})
    assert config.http is not None and config.http.port == 8443
    assert config.cameras[0].interval == 2.5


def test_empty_token_from_the_environment_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GC_EMPTY", "")
    with pytest.raises(ConfigError, match=r"http\.token: is empty .*remove the key"):
        parse_config({**_camera(), "http": {"token": "${GC_EMPTY}"}})
    # No key at all is the deliberate way to run without authentication.
    config = parse_config({**_camera(), "http": {"port": 0}})
    assert config.http is not None and config.http.token is None


def test_duplicate_keys_are_refused_with_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("mqtt:\n  host: a\n  port: 1883\n  port: 8883\ncameras: []\n")
    with pytest.raises(ConfigError, match=r"line 4, column 3: the key 'port' is given twice"):
        load_config(path)


def test_yaml_syntax_error_never_quotes_the_source_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        'mqtt:\n  host: b\n  password: "hunter2-very-secret\n  port: 1883\ncameras: [}\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "hunter2" not in message
    assert "\n" not in message
    assert re.search(r"not valid YAML at line \d+, column \d+: ", message)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


@pytest.mark.parametrize(
    ("encoding", "ok"),
    [("utf-8-sig", True), ("utf-16", True), ("utf-32", True), ("latin-1", False)],
)
def test_config_encodings(tmp_path: Path, encoding: str, ok: bool) -> None:
    path = tmp_path / "enc.yaml"
    path.write_bytes("cameras:\n  - id: a\n    name: Garage é\n    file: x\n".encode(encoding))
    if ok:
        assert load_config(path).cameras[0].name == "Garage é"
    else:
        with pytest.raises(ConfigError, match=r"is not UTF-8 text \(byte 0xE9 at line 3"):
            load_config(path)


def test_binary_config_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "model.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        load_config(path)


def test_missing_tls_files_are_config_errors(tmp_path: Path) -> None:
    data = {**_camera(), "mqtt": {"host": "b", "tls": {"ca_certs": "ca.pem"}}}
    with pytest.raises(ConfigError, match=r"mqtt.tls.ca_certs: .*ca.pem does not exist"):
        parse_config(data, base_dir=tmp_path)
    (tmp_path / "ca.pem").write_text("x")
    config = parse_config(data, base_dir=tmp_path)
    assert config.mqtt is not None and config.mqtt.tls is not None
    assert config.mqtt.tls.ca_certs == tmp_path / "ca.pem"


def test_url_secrets_are_registered_with_the_log_filter(tmp_path: Path) -> None:
    path = tmp_path / "garagecam.yaml"
    path.write_text(
        "cameras:\n- id: a\n  snapshot: {url: 'http://cam/snap?access_token=zz-t0k3n-99'}\n"
    )
    assert "zz-t0k3n-99" in load_config(path).secrets
    assert "zz-t0k3n-99" in SECRETS.mask("zz-t0k3n-99")  # loading alone registers nothing
    # `garagecam run` registers them at start-up (here its --check, which stops there)
    assert run_command(argparse.Namespace(config=path, check=True)) in (0, 1)
    assert SECRETS.mask("GET http://cam/snap?access_token=zz-t0k3n-99") == (
        f"GET http://cam/snap?access_token={REDACTED}"
    )


def test_tls_file_gone_at_run_time_is_one_config_error(tmp_path: Path) -> None:
    from garagecam_core.runner.mqtt import make_client

    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    config = parse_config(
        {**_camera(), "mqtt": {"host": "b", "tls": {"ca_certs": "ca.pem"}}}, base_dir=tmp_path
    )
    ca.unlink()  # removed between `run --check` (or loading) and the start
    assert config.mqtt is not None
    with pytest.raises(ConfigError, match=r"^mqtt\.tls: cannot load the TLS files: "):
        make_client(config.mqtt)
