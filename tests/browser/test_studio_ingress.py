"""The studio in Home Assistant's sidebar: a running runner with `http.ingress_gateway`, seen
through a proxy that adds the ingress headers the way Home Assistant and the Supervisor do
(tests/core/runner/ingress_proxy.py), in Debian's chromium driven by Playwright.

The proxy's page frames `<prefix>/` as Home Assistant's frontend frames an add-on panel (same
origin); the studio must load, label and deploy in that frame under the prefix, with no
token (the gateway is 127.0.0.1 here), and a Remote-mode client (`RemoteEngine`, what Home
Assistant's entries use) must get the new model at its next frame. A second proxy connects
from 127.0.0.2: its requests carry the same headers and get no bypass.

Screenshot for docs/studio.md: docs/images/studio-ingress.png when GARAGECAM_SCREENSHOTS=1.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from PIL import Image

from garagecam_core import demo_model_path
from garagecam_core.engine.local import LocalEngine
from garagecam_core.engine.remote import RemoteEngine
from garagecam_core.scenes import generate_scene
from tests.browser.test_studio_page import DOCS, SCREENSHOTS, labels_file, playwright, wait
from tests.core.runner.ingress_proxy import IngressProxy

TOKEN = "ingress-browser-token"
IMAGE = generate_scene(5, 2, sizes=((320, 180),)).jpeg  # what Home Assistant's entry sends

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def addon(tmp_path_factory: pytest.TempPathFactory, tiny_model_path: Path) -> Iterator[Any]:
    """The runner as the add-on runs it (token, studio, ingress gateway), the two proxies
    and a Remote-mode client, on one event loop in a thread (Playwright's API is sync)."""
    from garagecam_core.runner.config import parse_config
    from garagecam_core.studio.training import TrainingJob, TrainSettings
    from tests.core.runner.support import local_engine, running_runner

    root = tmp_path_factory.mktemp("addon")
    (root / "models").mkdir()
    shutil.copyfile(demo_model_path(), root / "models" / "garage.pte")
    (root / "frames").mkdir()
    for index in (0, 2, 4):
        scene = generate_scene(5, index, sizes=((320, 180),))
        (root / "frames" / f"{index}.jpg").write_bytes(scene.jpeg)
    config = parse_config(
        {
            "models": {"garage": {"path": "models/garage.pte"}},
            "http": {"port": 0, "token": TOKEN, "ingress_gateway": "127.0.0.1"},
            "capture": {"enabled": True},
            "studio": {"enabled": True},
            "cameras": [{"id": "garage", "model": "garage", "file": "frames", "interval": 0.1,
                         "confirm_frames": 1}],
        },
        base_dir=root,
    )  # fmt: skip
    started = threading.Event()
    held: dict[str, Any] = {}

    async def main() -> None:
        async with (
            running_runner(config, engine_factory=local_engine) as runner,
            aiohttp.ClientSession() as session,
        ):

            def finished_run() -> None:
                """A done training run whose model is the tiny test model (training itself
                is driven by test_studio_page.py; here what "Use this model" does matters)."""
                directory = runner.studio.store.studio_dir / "runs" / "r1"
                directory.mkdir(parents=True)
                shutil.copyfile(tiny_model_path, directory / "model.pte")
                Image.new("RGB", (300, 120), "white").save(directory / "model.png")  # a curve
                job = TrainingJob("r1", directory, TrainSettings(), 2, status="done")
                runner.studio.jobs["r1"] = job

            gateway, other = (
                IngressProxy(runner.http.port),
                IngressProxy(runner.http.port, "127.0.0.2"),
            )
            await gateway.start()
            await other.start()
            url = f"http://127.0.0.1:{runner.http.port}"
            held.update(
                runner=runner, gateway=gateway, other=other, loop=asyncio.get_running_loop(),
                finished_run=finished_run,
                stop=asyncio.Event(),
                remote=await RemoteEngine.connect(session, url, TOKEN, "garage"),
            )  # fmt: skip
            started.set()
            try:
                await held["stop"].wait()
            finally:
                await gateway.stop()
                await other.stop()

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    assert started.wait(60), "the runner did not start"
    runner = held["runner"]
    assert wait(lambda: runner.metrics.captured.value("garage", "state_change") >= 1)
    yield held
    held["loop"].call_soon_threadsafe(held["stop"].set)
    thread.join(30)
    assert not thread.is_alive()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from tests.browser.test_studio_page import CHROMIUM, CHROMIUM_ARGS

    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def remote_classify(addon: dict[str, Any]) -> dict[str, float]:
    """One frame of the Home Assistant entry: `RemoteEngine.classify` on the runner's loop."""
    future = asyncio.run_coroutine_threadsafe(addon["remote"].classify(IMAGE), addon["loop"])
    return dict(future.result(60).probabilities)


def probabilities_of(model: Path) -> dict[str, float]:
    with LocalEngine(model) as engine:
        return dict(engine.classify(IMAGE).probabilities)


def test_the_studio_works_in_the_sidebar_frame_under_the_ingress_prefix(
    addon: dict[str, Any], browser: Any, tiny_model_path: Path
) -> None:
    runner, proxy = addon["runner"], addon["gateway"]
    assert remote_classify(addon) == pytest.approx(probabilities_of(demo_model_path()), abs=1e-4)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    asked: list[str] = []
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.on("request", lambda request: asked.append(request.url))
        page.goto(f"{proxy.url}/")
        frame = page.frame_locator("#panel")
        frame.locator("#app:not([hidden])").wait_for()  # no token asked: ingress
        playwright.expect(frame.locator("#token-form")).to_be_hidden()
        frame.locator("#rescan").click()
        frame.locator(".card").first.wait_for()
        captures = runner.studio.store.root
        captured = {f"images/{p.name}" for p in (captures / "images").iterdir()}
        shown = set(frame.locator(".card").evaluate_all("cs => cs.map(c => c.dataset.path)"))
        assert shown == captured and shown

        frame.locator("#grid").focus()
        path = frame.locator(".card.focus").get_attribute("data-path")
        page.keyboard.press("1")  # neither label
        frame.locator(f'.card[data-path="{path}"] .flag.ok').wait_for()
        assert labels_file(captures)[path]["labels"] == {"door_open": 0, "car_present": 0}
        playwright.expect(frame.locator("#summary")).not_to_contain_text("computing")
        playwright.expect(frame.locator("#train-plan")).not_to_be_empty()
        if DOCS:
            page.screenshot(path=str(SCREENSHOTS / "studio-ingress.png"))

        # the runner's API keeps its token, also from the frame, also through the gateway
        panel = next(f for f in page.frames if f.url.startswith(f"{proxy.url}{proxy.prefix}/"))
        status = panel.evaluate("async () => (await fetch('../v1/models')).status")
        assert status == 401

        addon["loop"].call_soon_threadsafe(addon["finished_run"])
        assert wait(lambda: "r1" in runner.studio.jobs)
        page.reload()  # the panel: Home Assistant's page with the studio in its frame
        frame.locator("#result:not([hidden])").wait_for()
        frame.locator("#deploy").click()
        playwright.expect(frame.locator("#deploy-status")).to_contain_text("now using")
        assert runner.engines["garage"].metadata.name == "tiny"
        # Home Assistant's entry: its next frame is the new model's answer
        assert remote_classify(addon) == pytest.approx(probabilities_of(tiny_model_path), abs=1e-4)
        playwright.expect(frame.locator("#summary")).to_contain_text("model tiny")
    finally:
        context.close()
    # every request of the page went to the panel page or under the ingress prefix...
    paths = [urlsplit(u).path for u in asked if u.startswith(proxy.url)]
    assert all(p == "/" or p.startswith(f"{proxy.prefix}/") for p in paths), paths
    assert f"{proxy.prefix}/v1/studio/api/state" in paths
    # ...and the runner found each of them (nothing missing: no 404)
    assert not [seen for seen in proxy.seen if seen[2] == 404], proxy.seen


def test_the_same_headers_from_another_address_open_nothing(
    addon: dict[str, Any], browser: Any
) -> None:
    proxy = addon["other"]  # connects to the runner from 127.0.0.2
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{proxy.url}/")  # the session cookie
        page.goto(f"{proxy.url}{proxy.prefix}/studio/")
        page.locator("#token-form:not([hidden])").wait_for()  # the token, as anywhere else
        playwright.expect(page.locator("#app")).to_be_hidden()
    finally:
        context.close()
    assert ("GET", "/v1/studio/api/state", 401) in proxy.seen
    assert not [seen for seen in proxy.seen if seen[1].startswith("/v1/") and seen[2] == 200]
