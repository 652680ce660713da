"""The studio served by a runner behind Home Assistant's ingress (`http.ingress_gateway`):
requests from the gateway with `X-Ingress-Path` open the studio's pages and API without the
token; every other request keeps the token; "Use this model" reaches a Remote-mode client
(`RemoteEngine`, what Home Assistant uses) at its next frame.

Real parts: the runner with its HTTP server, a file camera, the demo and tiny test models
(their outputs differ), `RemoteEngine` over HTTP. The gateway is 127.0.0.1 here; a client
bound to 127.0.0.2 is another address.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from garagecam_core import demo_model_path
from garagecam_core.engine.local import LocalEngine
from garagecam_core.engine.remote import RemoteEngine
from garagecam_core.errors import ConfigError
from garagecam_core.runner.app import Runner
from garagecam_core.runner.config import parse_config
from garagecam_core.scenes import generate_scene
from tests.core.runner.ingress_proxy import IngressProxy
from tests.core.runner.support import local_engine, running_runner
from tests.core.runner.test_runner_studio import finished_run

TOKEN = "ingress-runner-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
API = "/v1/studio/api"
PREFIX = "/api/hassio_ingress/Zq0_-tokenFromTheSupervisor"
INGRESS = {"X-Ingress-Path": PREFIX, "X-Hass-Source": "core.ingress",
           "Host": "homeassistant.local:8123"}  # fmt: skip


def config_for(tmp_path: Path, token: str | None, gateway: str | None = "127.0.0.1") -> Any:
    (tmp_path / "models").mkdir()
    shutil.copyfile(demo_model_path(), tmp_path / "models" / "garage.pte")
    (tmp_path / "frames").mkdir()
    for index in (0, 2):
        scene = generate_scene(5, index, sizes=((320, 180),))
        (tmp_path / "frames" / f"{index}.jpg").write_bytes(scene.jpeg)
    http: dict[str, Any] = {"port": 0, "ingress_gateway": gateway}
    if token:
        http["token"] = token
    return parse_config(
        {
            "models": {"garage": {"path": "models/garage.pte"}},
            "http": http,
            "capture": {"enabled": True},
            "studio": {"enabled": True},
            "cameras": [{"id": "garage", "model": "garage", "file": "frames", "interval": 0.05}],
        },
        base_dir=tmp_path,
    )


@contextlib.asynccontextmanager
async def client(source: str) -> AsyncIterator[aiohttp.ClientSession]:
    """Requests that leave from `source` (the peer address the runner sees)."""
    connector = aiohttp.TCPConnector(local_addr=(source, 0), force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        yield session


def url(runner: Runner) -> str:
    assert runner.http is not None
    return f"http://127.0.0.1:{runner.http.port}"


async def status(session: aiohttp.ClientSession, method: str, address: str, **kw: Any) -> int:
    async with session.request(method, address, **kw) as response:
        return response.status


def test_the_key_takes_an_address_and_says_so_in_one_line() -> None:
    config = parse_config({"http": {"ingress_gateway": "172.30.32.2"}})
    assert config.http is not None and str(config.http.ingress_gateway) == "172.30.32.2"
    assert parse_config({"http": {}}).http.ingress_gateway is None  # type: ignore[union-attr]
    for value in ("supervisor", 5, ""):
        with pytest.raises(ConfigError, match=r"http\.ingress_gateway: expected an IP address"):
            parse_config({"http": {"ingress_gateway": value}})


async def test_ingress_from_the_gateway_opens_the_studio_not_the_api(tmp_path: Path) -> None:
    async with (
        running_runner(config_for(tmp_path, TOKEN), engine_factory=local_engine) as runner,
        client("127.0.0.1") as gateway,
    ):
        base = url(runner)
        async with gateway.get(f"{base}{API}/state", headers=INGRESS) as response:
            assert response.status == 200  # no token: Home Assistant authenticated the user
            assert (await response.json())["model"]["name"] == "garagecam-demo"
            assert "frame-ancestors 'self'" in response.headers["Content-Security-Policy"]
        async with gateway.get(f"{base}/studio/", headers=INGRESS) as response:
            assert response.status == 200
        async with gateway.post(f"{base}{API}/refresh", json={}, headers=INGRESS) as response:
            assert response.status == 200  # a POST too
        # the runner's own API keeps the token, through ingress too
        image = (tmp_path / "frames" / "2.jpg").read_bytes()
        assert (
            await status(gateway, "POST", f"{base}/v1/classify", data=image, headers=INGRESS) == 401
        )
        for path in ("/v1/models", "/v1/cameras", "/metrics"):
            assert await status(gateway, "GET", f"{base}{path}", headers=INGRESS) == 401, path
        # the gateway without the header: the usual rules
        assert await status(gateway, "GET", f"{base}{API}/state") == 401
        async with gateway.get(f"{base}/studio/") as response:
            assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


async def test_a_forged_ingress_header_from_another_address_gets_the_usual_rules(
    tmp_path: Path,
) -> None:
    async with (
        running_runner(config_for(tmp_path, TOKEN), engine_factory=local_engine) as runner,
        client("127.0.0.2") as other,
    ):
        base = url(runner)
        async with other.get(f"{base}{API}/state", headers=INGRESS) as response:
            assert response.status == 401
            assert (await response.json())["error"] == "unauthorized"
        labels = {"labels": {}}
        assert (
            await status(other, "POST", f"{base}{API}/labels", json=labels, headers=INGRESS) == 401
        )
        async with other.get(f"{base}{API}/state", headers={**INGRESS, **AUTH}) as response:
            assert response.status == 200  # the token still works from anywhere
            assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


async def test_without_the_key_the_header_opens_nothing(tmp_path: Path) -> None:
    config = config_for(tmp_path, TOKEN, gateway=None)
    async with (
        running_runner(config, engine_factory=local_engine) as runner,
        client("127.0.0.1") as gateway,
    ):
        assert await status(gateway, "GET", f"{url(runner)}{API}/state", headers=INGRESS) == 401


async def test_without_a_token_ingress_passes_the_loopback_rules_others_do_not(
    tmp_path: Path,
) -> None:
    """Without a token the studio answers this machine by a loopback name only; ingress
    requests carry Home Assistant's Host (the browser's) and come from the gateway."""
    async with (
        running_runner(config_for(tmp_path, None), engine_factory=local_engine) as runner,
        client("127.0.0.1") as gateway,
    ):
        base = url(runner)
        assert await status(gateway, "GET", f"{base}{API}/state", headers=INGRESS) == 200
        foreign = {"Host": INGRESS["Host"]}
        assert await status(gateway, "GET", f"{base}{API}/state", headers=foreign) == 421


async def test_through_the_ingress_proxy_the_panel_leads_to_the_studio(tmp_path: Path) -> None:
    """The proxy does to a request what Home Assistant and the Supervisor do; `<prefix>/`
    (the panel's URL) redirects relatively to `<prefix>/studio/`."""
    async with running_runner(config_for(tmp_path, TOKEN), engine_factory=local_engine) as runner:
        assert runner.http is not None
        proxy = IngressProxy(runner.http.port)
        await proxy.start()
        try:
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
                async with browser.get(f"{proxy.url}/") as response:  # the session cookie
                    assert response.status == 200
                async with browser.get(f"{proxy.url}{proxy.prefix}/") as response:
                    assert response.status == 200
                    assert str(response.url) == f"{proxy.url}{proxy.prefix}/studio/"
                state = f"{proxy.url}{proxy.prefix}/v1/studio/api/state"
                async with browser.get(state) as response:
                    assert response.status == 200
                classify = f"{proxy.url}{proxy.prefix}/v1/classify"
                async with browser.post(classify, data=b"jpeg") as response:
                    assert response.status == 401
            async with aiohttp.ClientSession() as stranger:  # no ingress session: the proxy says no
                async with stranger.get(state) as response:
                    assert response.status == 401
        finally:
            await proxy.stop()
    assert ("GET", "/", 302) in proxy.seen and ("GET", "/studio/", 200) in proxy.seen


async def test_use_this_model_reaches_a_remote_client_at_its_next_frame(
    tmp_path: Path, tiny_model_path: Path
) -> None:
    """Home Assistant's entries classify through the add-on's runner with `RemoteEngine`;
    "Use this model" in the studio (through ingress, no token) swaps the model the runner
    serves, and the entry's next frame is the new model's answer."""
    image = generate_scene(5, 2, sizes=((320, 180),)).jpeg
    with LocalEngine(demo_model_path()) as demo, LocalEngine(tiny_model_path) as tiny:
        before, after = demo.classify(image).probabilities, tiny.classify(image).probabilities
    assert max(abs(before[k] - after[k]) for k in before) > 0.1  # the two can be told apart
    async with (
        running_runner(config_for(tmp_path, TOKEN)) as runner,  # the worker engine, as shipped
        client("127.0.0.1") as gateway,
        aiohttp.ClientSession() as home_assistant,
    ):
        remote = await RemoteEngine.connect(home_assistant, url(runner), TOKEN, "garage")
        assert (await remote.classify(image)).probabilities == pytest.approx(before, abs=1e-4)
        finished_run(runner, tiny_model_path)
        deploy = f"{url(runner)}{API}/deploy"
        async with gateway.post(deploy, json={"run": "r1"}, headers=INGRESS) as response:
            assert response.status == 200, await response.text()
        assert (await remote.classify(image)).probabilities == pytest.approx(after, abs=1e-4)
        models = await remote.list_models()
        assert models["garage"].name == "tiny"  # what a reconnecting entry would read
