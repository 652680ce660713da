"""The studio of a runner with no camera of its own (`studio.model` + `studio.dataset`: the
add-on serving Home Assistant), and remote clients following a replaced model.

Real parts: the runner with its HTTP server, the demo model (copied to a file) and the tiny
test model (other outputs, other thresholds), `RemoteEngine` over HTTP, real files.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from garagecam_core import demo_model_path
from garagecam_core.deploy import previous_path
from garagecam_core.engine.local import LocalEngine
from garagecam_core.engine.remote import RemoteEngine
from garagecam_core.errors import ConfigError, RemoteEngineError
from garagecam_core.metadata import ModelMetadata
from garagecam_core.runner.config import parse_config
from garagecam_core.runner.http import start_site
from garagecam_core.scenes import generate_scene
from tests.core.runner.support import local_engine, running_runner
from tests.core.runner.test_runner_studio import finished_run, same_file, url

TOKEN = "studio-model-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
API = "/v1/studio/api"


def no_camera_config(tmp_path: Path, **studio: Any) -> Any:
    """What the add-on writes when it only serves Home Assistant: models, the API, the
    studio on the folder where Home Assistant keeps the frames."""
    (tmp_path / "models").mkdir(exist_ok=True)
    shutil.copyfile(demo_model_path(), tmp_path / "models" / "garage.pte")
    dataset = tmp_path / "datasets" / "garage"
    dataset.mkdir(parents=True, exist_ok=True)
    (dataset / "a.jpg").write_bytes(generate_scene(5, 2, sizes=((320, 180),)).jpeg)
    return parse_config(
        {
            "models": {"garage": {"path": "models/garage.pte"}},
            "http": {"host": "127.0.0.1", "port": 0, "token": TOKEN},
            "studio": {"enabled": True, "model": "garage", "dataset": "datasets/garage", **studio},
        },
        base_dir=tmp_path,
    )


def test_studio_model_names_a_served_model_and_its_dataset(tmp_path: Path) -> None:
    config = no_camera_config(tmp_path)
    assert config.cameras == ()
    assert config.studio is not None
    assert (config.studio.model, config.studio.camera) == ("garage", None)
    assert config.studio.dataset == tmp_path / "datasets" / "garage"


def test_the_camera_form_names_the_cameras_model(tmp_path: Path) -> None:
    camera = {"id": "gate", "file": "f", "model": "garage"}
    config = parse_config(
        {
            "models": {"garage": {"path": "g.pte"}},
            "capture": {"enabled": True},
            "studio": {"enabled": True},
            "cameras": [camera],
        },
        base_dir=tmp_path,
    )
    assert config.studio is not None
    assert (config.studio.model, config.studio.camera) == ("garage", "gate")
    assert config.studio.dataset == tmp_path / "captures" / "gate"


def test_studio_model_demo_keeps_the_demo_served(tmp_path: Path) -> None:
    config = parse_config(
        {
            "models": {"garage": {"path": "g.pte"}},
            "studio": {"enabled": True, "model": "demo", "dataset": "d"},
        },
        base_dir=tmp_path,
    )
    assert config.studio is not None and config.studio.model == "demo"
    assert set(config.models) == {"garage", "demo"}


@pytest.mark.parametrize(
    ("studio", "message"),
    [
        ({"model": "gate", "dataset": "d"},
         "studio.model: unknown model 'gate'; define it under 'models'"),
        ({"model": "garage"}, "studio.dataset: required with studio.model"),
        ({"model": "garage", "camera": "x", "dataset": "d"},
         "studio: give studio.camera or studio.model, not both"),
        ({"model": "no spaces", "dataset": "d"}, "studio.model: expected a model name"),
        ({}, "studio.camera: name the camera whose model the studio replaces, or studio.model"),
    ],
)  # fmt: skip
def test_studio_model_errors_name_the_field_in_one_line(
    tmp_path: Path, studio: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            {"models": {"garage": {"path": "g.pte"}}, "studio": {"enabled": True, **studio}},
            base_dir=tmp_path,
        )
    assert message in str(caught.value) and "\n" not in str(caught.value)


async def test_without_a_camera_the_studio_replaces_the_named_model_for_api_clients(
    tmp_path: Path, tiny_model_path: Path
) -> None:
    """No camera: "Use this model" replaces `studio.model`; a `RemoteEngine` (Home
    Assistant's Remote mode) gets the new model's answer and, with that same frame, its
    metadata (thresholds), from one request to /v1/models."""
    config = no_camera_config(tmp_path)
    target = tmp_path / "models" / "garage.pte"
    image = generate_scene(5, 2, sizes=((320, 180),)).jpeg
    with LocalEngine(tiny_model_path) as tiny:
        after = tiny.classify(image).probabilities
    requests: list[str] = []

    async def count(_: Any, __: Any, params: aiohttp.TraceRequestStartParams) -> None:
        requests.append(params.url.path)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(count)
    async with (
        running_runner(config, engine_factory=local_engine) as runner,
        aiohttp.ClientSession(base_url=url(runner), headers=AUTH) as http,
        aiohttp.ClientSession(trace_configs=[trace]) as home_assistant,
    ):
        remote = await RemoteEngine.connect(home_assistant, url(runner), TOKEN, "garage")
        demo_meta = remote.metadata
        await remote.classify(image)
        assert remote.metadata is demo_meta  # same model: nothing read again
        async with http.get(f"{API}/state") as response:
            assert response.status == 200
            state = await response.json()
        assert state["model"]["name"] == "garagecam-demo" and state["frames"] == 1

        finished_run(runner, tiny_model_path)
        async with http.post(f"{API}/deploy", json={"run": "r1"}) as response:
            assert response.status == 200, await response.text()
        assert same_file(target, tiny_model_path)
        assert same_file(previous_path(target), demo_model_path())
        assert runner.engines["garage"].metadata.name == "tiny"

        requests.clear()
        result = await remote.classify(image)
        assert result.probabilities == pytest.approx(after, abs=1e-4)
        new = remote.metadata
        assert new.name == "tiny" and new != demo_meta
        assert new.label("door_open").on_threshold == 0.6
        assert demo_meta.label("door_open").on_threshold != 0.6  # the check can fail
        assert requests == ["/v1/classify", "/v1/models"]
        requests.clear()
        await remote.classify(image)
        assert requests == ["/v1/classify"]  # read once per replacement


async def test_the_classify_answer_carries_the_digest_of_the_model_that_answered(
    tmp_path: Path,
) -> None:
    config = no_camera_config(tmp_path)
    image = generate_scene(5, 0, sizes=((320, 180),)).jpeg
    async with (
        running_runner(config, engine_factory=local_engine) as runner,
        aiohttp.ClientSession(base_url=url(runner), headers=AUTH) as http,
    ):
        async with http.post("/v1/classify", data=image) as response:
            answer = await response.json()
        async with http.get("/v1/models") as response:
            listed = ModelMetadata.from_dict((await response.json())["garage"])
        assert answer["model_digest"] == runner.engines["garage"].metadata.digest()
    assert answer["model_digest"] == listed.digest()  # the client's own computation agrees


async def test_a_model_gone_from_the_runner_is_a_clear_error(tiny_model_path: Path) -> None:
    """The digest changed and the runner no longer lists the model: one line, no guess.
    (A stand-in server: a real runner never drops a model while it runs.)"""
    with LocalEngine(tiny_model_path) as tiny:
        meta = tiny.metadata
        answer = tiny.classify(generate_scene(5, 0, sizes=((320, 180),)).jpeg).to_dict()
    served = {"garage": meta.to_dict()}

    async def models(_: web.Request) -> web.Response:
        return web.json_response(served)

    async def classify(_: web.Request) -> web.Response:
        served.clear()
        return web.json_response({**answer, "model": "garage", "model_digest": "replaced"})

    app = web.Application()
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/classify", classify)
    site, port = await start_site(app, "127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as session:
            remote = await RemoteEngine.connect(session, f"http://127.0.0.1:{port}", None, "garage")
            with pytest.raises(RemoteEngineError, match="no longer serves model 'garage'"):
                await remote.classify(b"image")
    finally:
        await site.cleanup()
