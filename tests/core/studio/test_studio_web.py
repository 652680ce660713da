"""The standalone studio on the library's web rules: no runner module behind it, relative URLs
(so a proxy's prefix works), the loopback rule shared with the CLI, the token unchanged."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from garagecam_core.runner.http import start_site
from garagecam_core.studio.app import STATIC, create_app
from garagecam_core.studio.state import Studio
from tests.core.studio.test_studio_api import make_folder

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "studio-web-token"


@pytest.fixture
async def studio(tmp_path: Path, tiny_model_path: Path) -> AsyncIterator[Studio]:
    make_folder(tmp_path, count=3)
    studio = Studio(tmp_path, tiny_model_path)
    await studio.start()
    yield studio
    await studio.close()


async def serve(studio: Studio, token: str | None, host: str) -> tuple[web.AppRunner, str]:
    runner, port = await start_site(create_app(studio, token), host, 0)
    return runner, f"http://{host}:{port}"


def test_the_studio_imports_no_runner_module() -> None:
    """The studio used to import `runner.http` (and build a runner `ApiContext` with
    `RunnerMetrics`) for the token check, while the runner imported the studio: a circle."""
    script = (
        "import sys, garagecam_core.studio.app, garagecam_core.cli.studio; "
        "print(sorted(m for m in sys.modules if m.startswith('garagecam_core.runner')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True
    )
    # cli.studio is the command, above both: it starts the server with the runner's helper,
    # imported when it runs, not when it loads
    assert done.stdout.strip() == "[]"


def test_the_page_asks_only_relative_urls() -> None:
    """Under Home Assistant's ingress the page lives at `<prefix>/studio/`: an absolute
    `/studio/...` or `/v1/...` would miss the prefix."""
    html = (STATIC / "index.html").read_text()
    urls = re.findall(r'(?:href|src)="([^"]*)"', html)
    assert urls and all(not url.startswith("/") and "//" not in url for url in urls), urls
    script = (STATIC / "studio.js").read_text()
    assert 'const API = "../v1/studio/api";' in script
    assert not re.search(r"""["'`]/(v1|studio)/""", script)


async def test_the_root_redirects_relatively(studio: Studio) -> None:
    runner, url = await serve(studio, None, "127.0.0.1")
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{url}/", allow_redirects=False) as response:
                assert response.status == 302 and response.headers["Location"] == "studio/"
            async with http.get(f"{url}/") as response:  # followed: the page
                assert response.status == 200 and str(response.url) == f"{url}/studio/"
    finally:
        await runner.cleanup()


async def test_a_studio_on_another_loopback_address_serves_its_own_name(studio: Studio) -> None:
    """`garagecam studio --host 127.0.0.2` needs no token (the CLI counts it as loopback),
    but the studio's Host rule knew three names and answered every request 421."""
    runner, url = await serve(studio, None, "127.0.0.2")
    try:
        connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
        async with aiohttp.ClientSession(connector=connector) as http:
            async with http.get(f"{url}/v1/studio/api/state") as response:
                assert response.status == 200, await response.text()
            async with http.get(f"{url}/studio/", headers={"Host": "evil.example"}) as response:
                assert response.status == 421  # a DNS name stays refused
    finally:
        await runner.cleanup()


async def test_with_a_token_the_api_and_metrics_need_it_and_pages_are_not_framed(
    studio: Studio,
) -> None:
    runner, url = await serve(studio, TOKEN, "127.0.0.1")
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{url}/v1/studio/api/state") as response:
                assert response.status == 401
                assert (await response.json())["error"] == "unauthorized"
            async with http.get(f"{url}/metrics") as response:
                assert response.status == 401  # as with the runner's rule, before and now
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with http.get(f"{url}/v1/studio/api/state", headers=headers) as response:
                assert response.status == 200
            # an ingress header means nothing to the standalone studio
            forged = {"X-Ingress-Path": "/api/hassio_ingress/abc"}
            async with http.get(f"{url}/v1/studio/api/state", headers=forged) as response:
                assert response.status == 401
            async with http.get(f"{url}/studio/") as response:
                assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    finally:
        await runner.cleanup()
