"""Secrets and hostile YAML in the runner's config (issue 21, items 5 and 7): query values
not known harmless are masked wherever a URL is shown, no config error echoes a value, and a
YAML alias bomb, a recursive alias or deep nesting ends in one line after bounded work."""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import pytest

from garagecam_core.errors import ConfigError, SourceError
from garagecam_core.redact import REDACTED, SecretFilter, redact_url, url_secrets
from garagecam_core.runner.config import load_config
from garagecam_core.sources import HttpSnapshotSource
from tests.core.runner.support import CameraServer

SECRET = "Hunter2-s3cret"


@pytest.mark.parametrize("key", ["pw", "loginpas", "p", "pass", "passwd", "code", "Login-Pw"])
def test_unknown_query_values_are_masked(key: str) -> None:
    url = f"http://cam.local/cgi-bin/api.cgi?cmd=Snap&channel=0&user=admin&{key}={SECRET}"
    redacted = redact_url(url)
    assert SECRET not in redacted
    assert f"{key}={REDACTED}" in redacted
    assert "cmd=Snap&channel=0&user=admin" in redacted  # known harmless: kept
    assert SECRET in url_secrets(url)


def test_a_bare_query_value_is_masked() -> None:
    assert SECRET not in redact_url(f"http://cam/snap.jpg?{SECRET}")
    assert redact_url("http://cam/snap.jpg?snapshot") == "http://cam/snap.jpg?snapshot"


def test_url_secrets_mask_any_log_line(caplog: pytest.LogCaptureFixture) -> None:
    secrets = SecretFilter()
    for secret in url_secrets(f"http://cam/snap?loginuse=admin&loginpas={SECRET}"):
        secrets.add(secret)
    caplog.handler.addFilter(secrets)
    try:
        logging.getLogger("test").warning("GET failed: loginpas=%s", SECRET)
    finally:
        caplog.handler.removeFilter(secrets)
    assert SECRET not in caplog.text


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "garagecam.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text",
    [
        f"mqtt:\n  host: broker\n  password: *{SECRET}\n",
        f"cameras:\n- id: a\n  file: x.jpg\n  interval: {SECRET}\n",
        f"cameras:\n- id: a\n  file: x.jpg\n  max_age: {SECRET}\n",
        f"mqtt:\n  host: broker\n  port: {SECRET}\n",
        f"cameras:\n- id: a\n  file: x.jpg\n  roi: {SECRET}\n",
        f"cameras:\n- id: a\n  file: x.jpg\n  roi: [{SECRET}, 0, 1, 1]\n",
    ],
)
def test_config_errors_never_echo_a_value(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_config(tmp_path, text))
    message = str(caught.value)
    assert SECRET not in message
    assert "\n" not in message


def _alias_bomb() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    previous = "a"
    for name in "bcdefghij":
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]")
        previous = name
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param(_alias_bomb(), "alias bomb", id="alias bomb"),
        pytest.param("cameras: &x [*x]\n", "recursive", id="recursive list"),
        pytest.param("mqtt: &x {host: *x}\n", "recursive", id="recursive mapping"),
        pytest.param("cameras: " + "[" * 5000 + "]" * 5000 + "\n", "nested", id="5000 deep"),
        pytest.param("".join(" " * i + "k:\n" for i in range(200)), "nested", id="200 deep"),
    ],
)
def test_hostile_yaml_is_one_line_after_bounded_work(
    tmp_path: Path, text: str, problem: str
) -> None:
    assert len(text) < 40_000  # each a small file
    with pytest.raises(ConfigError, match=problem) as caught:
        load_config(_config(tmp_path, text))
    assert "\n" not in str(caught.value)


def test_ordinary_anchors_still_work(tmp_path: Path) -> None:
    (tmp_path / "x.jpg").write_bytes(b"\xff\xd8\xff")
    text = (
        "cameras:\n- {id: a, file: x.jpg, interval: &every 7}\n"
        "- {id: b, file: x.jpg, interval: *every}\n"
    )
    config = load_config(_config(tmp_path, text))
    assert [camera.interval for camera in config.cameras] == [7, 7]


async def test_camera_errors_and_last_error_mask_query_passwords(
    camera_server: CameraServer,
) -> None:
    camera_server.mode = "http_500"
    async with aiohttp.ClientSession() as session:
        for key in ("pw", "loginpas"):
            url = f"{camera_server.url}?cmd=Snap&user=admin&{key}={SECRET}"
            source = HttpSnapshotSource(session, url, timeout=5)
            with pytest.raises(SourceError) as caught:
                await source.fetch()
            message = str(caught.value)  # what logs and /v1/cameras `last_error` show
            assert SECRET not in message
            assert f"{key}={REDACTED}" in message
