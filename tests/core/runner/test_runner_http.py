"""The runner's HTTP API and the `RemoteEngine` client that Home Assistant's remote mode uses."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from PIL import Image

from garagecam_core.engine.local import LocalEngine
from garagecam_core.engine.remote import RemoteEngine
from garagecam_core.errors import ConfigError, RemoteAuthError, RemoteEngineError
from garagecam_core.roi import Roi
from garagecam_core.runner.app import Runner
from garagecam_core.runner.config import parse_config
from tests.core.runner.support import (
    ALWAYS,
    CameraServer,
    eventually,
    free_port,
    jpeg,
    local_engine,
    running_runner,
)

TOKEN = "s3cret-token-1"


@pytest.fixture
async def runner(
    tiny_model_path: Path, camera_server: CameraServer, tmp_path: Path
) -> AsyncIterator[Runner]:
    config = parse_config(
        {
            "models": {
                "tiny": {"path": str(tiny_model_path)},
                "tiny2": {"path": str(tiny_model_path)},
            },
            "http": {"host": "127.0.0.1", "port": 0, "token": TOKEN, "max_body_bytes": 200_000},
            "cameras": [
                {
                    "id": "garage",
                    "name": "Garage",
                    "model": "tiny",
                    "snapshot": {"url": camera_server.url},
                    "interval": 0.2,
                    "roi": "0.25,0.25,0.5,0.5",
                    "confirm_frames": 1,
                    "labels": ALWAYS,
                }
            ],
            "debug_snapshots": {"directory": str(tmp_path / "debug"), "max_files": 2},
        }
    )
    async with running_runner(config, engine_factory=local_engine) as runner:
        yield runner


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def base_url(runner: Runner) -> str:
    assert runner.http is not None
    return f"http://127.0.0.1:{runner.http.port}"


AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def test_classify_and_models(runner: Runner, session: aiohttp.ClientSession) -> None:
    url = base_url(runner)
    image = jpeg((200, 100, 50), size=(160, 120))
    async with session.post(f"{url}/v1/classify?model=tiny", data=image, headers=AUTH) as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["model"] == "tiny"
    assert set(body["probabilities"]) == {"door_open", "car_present"}
    assert all(0.0 <= p <= 1.0 for p in body["probabilities"].values())
    assert body["image_size"] == [160, 120]
    assert body["timings"]["total_ms"] > 0
    # Same answer as running the model locally.
    local = LocalEngine(runner.config.models["tiny"].path).classify(image)
    for label, probability in local.probabilities.items():
        assert body["probabilities"][label] == pytest.approx(probability, abs=1e-5)

    async with session.get(f"{url}/v1/models", headers=AUTH) as resp:
        models = await resp.json()
    assert set(models) == {"tiny", "tiny2"}
    assert models["tiny"]["labels"][0]["name"] == "door_open"


@pytest.mark.parametrize(
    ("path", "headers", "body", "status", "error"),
    [
        ("/v1/classify?model=tiny", {}, b"x", 401, "unauthorized"),
        ("/v1/classify?model=tiny", {"Authorization": "Bearer nope"}, b"x", 403, "forbidden"),
        ("/v1/classify?model=tiny", {"Authorization": "Basic abc"}, b"x", 401, "unauthorized"),
        ("/v1/classify", AUTH, b"x", 400, "model_required"),
        ("/v1/classify?model=zzz", AUTH, b"x", 404, "unknown_model"),
        ("/v1/classify?model=tiny", AUTH, b"", 400, "empty_body"),
        ("/v1/classify?model=tiny", AUTH, b"<html>", 400, "bad_image"),
        ("/v1/classify?model=tiny&roi=0.9,0,0.5,1", AUTH, b"x", 400, "bad_roi"),
        ("/v1/classify?model=tiny", AUTH, b"\xff\xd8\xff" + b"\0" * 300_000, 413, "too_large"),
    ],
    ids=lambda value: value if isinstance(value, str) and len(value) < 40 else "",
)
async def test_classify_errors_are_clear_4xx(  # noqa: PLR0917 - parametrized
    runner: Runner,
    session: aiohttp.ClientSession,
    path: str,
    headers: dict[str, str],
    body: bytes,
    status: int,
    error: str,
) -> None:
    async with session.post(f"{base_url(runner)}{path}", data=body, headers=headers) as resp:
        assert resp.status == status
        answer = await resp.json()
    assert answer["error"] == error
    assert answer["message"]
    assert TOKEN not in answer["message"]


async def test_non_utf8_authorization_header_is_a_clear_401(runner: Runner) -> None:
    # aiohttp's client will not send such bytes: write the request by hand.
    assert runner.http is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", runner.http.port)
    writer.write(
        b"GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\xe9t\r\n"
        b"Connection: close\r\n\r\n"
    )
    await writer.drain()
    answer = await reader.read()
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 401"), answer
    assert json.loads(body) == {
        "error": "unauthorized",
        "message": "the Authorization header is not valid UTF-8 text",
    }


async def test_malformed_request_is_one_log_line_without_the_header(
    runner: Runner, caplog: pytest.LogCaptureFixture
) -> None:
    # A control character in a header: aiohttp answers 400 and used to log an ERROR traceback
    # quoting the whole header line, the token with it.
    assert runner.http is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", runner.http.port)
    writer.write(
        f"GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\x07\r\n"
        "Connection: close\r\n\r\n".encode()
    )
    await writer.drain()
    answer = await reader.read()
    writer.close()
    assert answer.split(b"\r\n")[0].endswith(b" 400 Bad Request")
    records = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert [r.levelname for r in records] == ["INFO"]
    assert records[0].getMessage() == "Bad HTTP request refused (400): Invalid header value char"
    assert TOKEN not in caplog.text and "Traceback" not in caplog.text


async def test_cameras_debug_jpg_metrics_health(
    runner: Runner, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    url = base_url(runner)
    camera = runner.cameras["garage"]
    assert await eventually(lambda: camera.last_frame is not None and camera.available)
    async with session.get(f"{url}/v1/cameras", headers=AUTH) as resp:
        cameras = await resp.json()
    garage = cameras["garage"]
    assert garage["available"] is True
    assert set(garage["states"]) == {"door_open", "car_present"}
    assert set(garage["states"].values()) <= {"on", "off"}  # confirm_frames=1: known at once
    assert garage["last_frame_time"].endswith("+00:00")
    assert garage["model"] == "tiny"

    async with session.get(f"{url}/v1/cameras/garage/debug.jpg", headers=AUTH) as resp:
        assert resp.status == 200
        assert resp.content_type == "image/jpeg"
        debug = Image.open(io.BytesIO(await resp.read()))
        assert debug.format == "JPEG"
    async with session.get(f"{url}/v1/cameras/nope/debug.jpg", headers=AUTH) as resp:
        assert resp.status == 404
    async with session.get(f"{url}/v1/cameras", headers={}) as resp:
        assert resp.status == 401

    # First frame moved every label out of UNKNOWN: one debug snapshot was written.
    debug_dir = tmp_path / "debug"
    assert await eventually(lambda: len(list(debug_dir.glob("garagecam-debug_garage_*.jpg"))) >= 1)

    async with session.get(f"{url}/metrics") as resp:  # the states it shows need the token
        assert resp.status == 401
    async with session.get(f"{url}/metrics", headers=AUTH) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await resp.text()
    assert 'garagecam_frames_total{camera="garage"}' in text
    assert 'garagecam_inference_seconds_bucket{model="tiny",le="+Inf"}' in text
    assert 'garagecam_end_to_end_seconds_count{camera="garage"}' in text
    assert 'garagecam_probability{camera="garage",label="door_open"}' in text
    assert 'garagecam_state{camera="garage",label="car_present"}' in text
    assert 'garagecam_model_info{model="tiny",metadata_name="tiny"' in text
    assert 'garagecam_camera_available{camera="garage"} 1' in text

    async with session.get(f"{url}/healthz") as resp:
        assert resp.status == 200
        assert await resp.json() == {"status": "ok"}


async def test_healthz_503_while_mqtt_is_down(tiny_model_path: Path) -> None:
    config = parse_config(
        {
            "models": {"tiny": {"path": str(tiny_model_path)}},
            "mqtt": {"host": "127.0.0.1", "port": free_port()},  # nothing listens there
            "http": {"port": 0},
        }
    )
    runner = Runner(config, engine_factory=local_engine)
    await runner.start()
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{base_url(runner)}/healthz") as resp,
        ):
            assert resp.status == 503
            body = await resp.json()
        assert body["status"] == "unhealthy"
        assert "MQTT broker 127.0.0.1" in body["reasons"][0]
    finally:
        await runner.stop()


async def test_remote_engine_against_runner(runner: Runner, session: aiohttp.ClientSession) -> None:
    url = base_url(runner)
    engine = await RemoteEngine.connect(session, url, token=TOKEN, model="tiny2")
    assert engine.metadata.label_names == ("door_open", "car_present")
    image = jpeg((20, 40, 200), size=(200, 100))
    remote = await engine.classify(image, Roi(0.0, 0.0, 0.5, 1.0))
    local = LocalEngine(runner.config.models["tiny2"].path).classify(image, Roi(0.0, 0.0, 0.5, 1.0))
    for label, probability in local.probabilities.items():
        assert remote.probabilities[label] == pytest.approx(probability, abs=1e-5)
    assert remote.image_size == (200, 100)

    with pytest.raises(RemoteEngineError, match=r"HTTP 400: .+"):
        await engine.classify(b"not an image")
    with pytest.raises(RemoteEngineError, match="serves 2 models"):
        await RemoteEngine.connect(session, url, token=TOKEN)
    with pytest.raises(RemoteEngineError, match="has no model 'x'"):
        await RemoteEngine.connect(session, url, token=TOKEN, model="x")
    with pytest.raises(RemoteAuthError, match="rejected the token"):
        await RemoteEngine.connect(session, url, token="wrong", model="tiny")
    with pytest.raises(RemoteAuthError):
        await RemoteEngine.connect(session, url, model="tiny")
    with pytest.raises(RemoteEngineError, match="cannot reach the runner"):
        await RemoteEngine.connect(session, f"http://127.0.0.1:{free_port()}", model="tiny")


async def test_remote_engine_refuses_url_credentials_in_one_line(
    runner: Runner, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """The runner checks a token, never a URL password (and aiohttp cannot send both): a
    config error naming the problem, without the password or the token, and nothing sent."""
    port = base_url(runner).rsplit(":", 1)[1]
    url = f"http://admin:pa55word@127.0.0.1:{port}"
    requests = runner.metrics.classify_requests.value("200")
    for make in (
        lambda: RemoteEngine(session, url, TOKEN, "tiny"),
        lambda: RemoteEngine.connect(session, url, token=TOKEN, model="tiny"),
        # credentials alone: Scrypted refused them, Home Assistant and this engine sent them
        # (to a runner that ignores them); one rule now, the options' check_runner_url
        lambda: RemoteEngine.connect(session, url, model="tiny"),
    ):
        with pytest.raises(ConfigError) as err:
            result = make()
            if asyncio.iscoroutine(result):
                await result
        assert isinstance(err.value, RemoteEngineError)  # what callers already handle
        message = str(err.value)
        assert "leave the user name and password out" in message and "\n" not in message
        assert "pa55word" not in message and TOKEN not in message
    assert runner.metrics.classify_requests.value("200") == requests


@pytest.mark.parametrize(("host", "level"), [("127.0.0.1", "INFO"), ("0.0.0.0", "WARNING")])
async def test_running_without_a_token_is_said_at_start(
    host: str, level: str, caplog: pytest.LogCaptureFixture
) -> None:
    from garagecam_core.runner.http import ApiContext, HttpServer
    from garagecam_core.runner.metrics import RunnerMetrics

    context = ApiContext(engines={}, cameras={}, metrics=RunnerMetrics(), health=list)
    server = HttpServer(context, host, 0)
    caplog.set_level(logging.INFO, "garagecam.runner.http")
    await server.start()
    await server.stop()
    records = [r for r in caplog.records if "without authentication" in r.getMessage()]
    assert [r.levelname for r in records] == [level]
