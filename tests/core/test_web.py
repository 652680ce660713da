"""The library's HTTP rules (`garagecam_core.web`) on a real aiohttp server over real sockets:
the bearer token, the loopback rules, the encoding refusal and ingress requests.

The server listens on 127.0.0.1; a client bound to 127.0.0.2 (another loopback address,
routable on Linux without set-up) is "another address", so the peer checks run for real.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from garagecam_core import web as rules

TOKEN = "web-test-token"
PREFIX = "/api/hassio_ingress/aB3_x-Yz09"
GATEWAY = ipaddress.ip_address("127.0.0.1")


async def echo(request: web.Request) -> web.Response:
    """What the rules let through, and the request's ingress prefix (`ingress_path`)."""
    return web.json_response({"path": request.path, "ingress": rules.ingress_path(request)})


def studio_or_api(path: str) -> bool:
    return path.startswith("/v1/studio/")


def build(middlewares: list[Any], gateway: Any = None) -> web.Application:
    app = web.Application(middlewares=middlewares)
    if gateway is not None:
        rules.accept_ingress(app, gateway)
    for path in ("/v1/classify", "/v1/studio/api/state", "/metrics", "/healthz", "/page"):
        app.router.add_route("*", path, echo)
    return app


@contextlib.asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app, auto_decompress=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def client(source: str = "127.0.0.1") -> AsyncIterator[aiohttp.ClientSession]:
    """A client whose connections leave from `source` (the peer address the server sees)."""
    connector = aiohttp.TCPConnector(local_addr=(source, 0), force_close=True)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:
        yield session


async def status_of(session: aiohttp.ClientSession, url: str, **kwargs: Any) -> tuple[int, Any]:
    async with session.get(url, **kwargs) as response:
        return response.status, await response.json()


# --- bearer token ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "status", "code"),
    [
        ("", 401, "unauthorized"),
        ("Bearer", 401, "unauthorized"),
        ("Bearer ", 401, "unauthorized"),
        ("Basic d2ViOnRva2Vu", 401, "unauthorized"),
        (f"Token {TOKEN}", 401, "unauthorized"),
        ("Bearer wrong", 403, "forbidden"),
        (f"Bearer {TOKEN}x", 403, "forbidden"),
        (f"Bearer {TOKEN[:-1]}", 403, "forbidden"),
        ("Bearer \udcff\udcfe", 401, "unauthorized"),  # undecodable bytes, as aiohttp keeps them
    ],
)
def test_bearer_refusals_say_why(header: str, status: int, code: str) -> None:
    refusal = rules.bearer_refusal(header, TOKEN)
    assert refusal is not None and (refusal.status, refusal.code) == (status, code)
    assert TOKEN not in refusal.message


@pytest.mark.parametrize("header", [f"Bearer {TOKEN}", f"bearer {TOKEN}", f"BEARER  {TOKEN} "])
def test_the_right_token_passes_whatever_the_scheme_case(header: str) -> None:
    assert rules.bearer_refusal(header, TOKEN) is None


@pytest.mark.parametrize(
    ("path", "open_metrics", "protected"),
    [
        ("/v1/classify", False, True),
        ("/v1/studio/api/state", False, True),
        ("/metrics", False, True),
        ("/metrics", True, False),
        ("/healthz", False, False),
        ("/studio/", False, False),
        ("/v1", False, False),
    ],
)
def test_paths_behind_the_token(path: str, open_metrics: bool, protected: bool) -> None:
    assert rules.needs_token(path, open_metrics) is protected


async def test_the_token_middleware_guards_the_api_paths_only() -> None:
    app = build([rules.token_middleware(TOKEN)])
    async with serving(app) as url, client() as session:
        assert (await status_of(session, f"{url}/v1/classify"))[0] == 401
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert (await status_of(session, f"{url}/v1/classify", headers=auth))[0] == 200
        status, body = await status_of(session, f"{url}/metrics", headers={"Authorization": "x"})
        assert (status, body["error"]) == (401, "unauthorized")
        assert (await status_of(session, f"{url}/healthz"))[0] == 200


async def test_without_a_token_nothing_is_asked() -> None:
    async with serving(build([rules.token_middleware(None)])) as url, client() as session:
        assert (await status_of(session, f"{url}/v1/classify"))[0] == 200


# --- loopback -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "loopback"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("::ffff:127.0.0.1", True),
     ("localhost", True), ("192.0.2.2", False), ("::ffff:192.0.2.2", False), ("", False),
     ("garage.lan", False), ("0.0.0.0", False), ("localhost.", False)],
)  # fmt: skip
def test_loopback_addresses_include_ipv4_mapped_ones(address: str, loopback: bool) -> None:
    assert rules.is_loopback(address) is loopback


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1:8080", True), ("localhost:8080", True), ("LOCALHOST", True),
     ("[::1]:8080", True), ("[::ffff:127.0.0.1]:80", True),
     ("127.0.0.2:8080", True),  # the CLI lets the studio listen there without a token
     ("garage.attacker.example", False), ("127.0.0.1.nip.io", False), ("192.0.2.2", False),
     ("[::ffff:192.0.2.2]", False), ("", False), ("::1", False)],
)  # fmt: skip
def test_loopback_host_names(host: str, loopback: bool) -> None:
    assert rules.is_loopback_name(rules.host_name(host)) is loopback


async def test_loopback_refusal_checks_the_host_name_then_the_peer() -> None:
    async def page(request: web.Request) -> web.Response:
        refusal = rules.loopback_refusal(request)
        if refusal is None:
            return web.json_response({"ok": True})
        return web.json_response({"error": refusal.message}, status=refusal.status)

    app = web.Application()
    app.router.add_get("/page", page)
    async with serving(app) as url:
        async with client() as here:
            assert (await status_of(here, f"{url}/page"))[0] == 200
            status, body = await status_of(here, f"{url}/page", headers={"Host": "evil.example"})
            assert status == 421 and "evil.example" in body["error"]
        async with client("127.0.0.2") as other:  # a loopback peer: this machine
            assert (await status_of(other, f"{url}/page"))[0] == 200


async def test_a_studio_bound_to_another_loopback_address_answers_its_own_name() -> None:
    """`garagecam studio --host 127.0.0.2` runs without a token (the CLI's rule, `is_loopback`)
    but the studio's Host rule knew three names only and refused every page with 421: the
    copies disagreed; one rule now."""

    async def page(request: web.Request) -> web.Response:
        refusal = rules.loopback_refusal(request)
        return web.json_response({}, status=refusal.status if refusal else 200)

    app = web.Application()
    app.router.add_get("/page", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.2", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with (
            client("127.0.0.2") as session,
            session.get(f"http://127.0.0.2:{port}/page") as r,
        ):
            assert r.status == 200
    finally:
        await runner.cleanup()


# --- encoding -------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", " GZIP "])
async def test_compressed_bodies_are_refused_unread(encoding: str) -> None:
    async with serving(build([rules.encoding_middleware])) as url, client() as session:
        headers = {"Content-Encoding": encoding}
        async with session.post(f"{url}/v1/classify", data=b"x" * 10, headers=headers) as r:
            assert r.status == 415 and (await r.json())["error"] == "unsupported_encoding"
            assert r.headers.get("Connection", "").lower() == "close"


@pytest.mark.parametrize("encoding", ["", "identity"])
async def test_plain_bodies_pass(encoding: str) -> None:
    async with serving(build([rules.encoding_middleware])) as url, client() as session:
        headers = {"Content-Encoding": encoding} if encoding else {}
        async with session.post(f"{url}/v1/classify", data=b"x", headers=headers) as r:
            assert r.status == 200


# --- ingress --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("172.30.32.2", "172.30.32.2"), (" 172.30.32.2 ", "172.30.32.2"),
     ("::ffff:172.30.32.2", "172.30.32.2"), ("fd0c:ac1e:2100::2", "fd0c:ac1e:2100::2")],
)  # fmt: skip
def test_gateway_addresses(value: str, expected: str) -> None:
    assert str(rules.gateway_address(value)) == expected


@pytest.mark.parametrize("value", ["", "supervisor", "172.30.32.0/23", "172.30.32.256"])
def test_a_gateway_that_is_not_an_address_is_refused_in_one_line(value: str) -> None:
    with pytest.raises(ValueError, match="expected an IP address") as caught:
        rules.gateway_address(value)
    assert "\n" not in str(caught.value)


def ingress_app() -> web.Application:
    return build([rules.token_middleware(TOKEN, ingress_open=studio_or_api)], GATEWAY)


async def test_the_gateway_with_the_ingress_path_opens_the_studio_paths_only() -> None:
    async with serving(ingress_app()) as url, client("127.0.0.1") as gateway:
        ingress = {"X-Ingress-Path": PREFIX, "X-Hass-Source": "core.ingress"}
        status, body = await status_of(gateway, f"{url}/v1/studio/api/state", headers=ingress)
        assert (status, body["ingress"]) == (200, PREFIX)
        # what ingress does not open keeps the token, from the gateway too
        assert (await status_of(gateway, f"{url}/v1/classify", headers=ingress))[0] == 401
        assert (await status_of(gateway, f"{url}/metrics", headers=ingress))[0] == 401
        # the gateway's own requests without the header: the usual rules
        assert (await status_of(gateway, f"{url}/v1/studio/api/state"))[0] == 401


async def test_a_forged_ingress_path_from_another_address_opens_nothing() -> None:
    async with serving(ingress_app()) as url, client("127.0.0.2") as other:
        forged = {"X-Ingress-Path": PREFIX, "X-Hass-Source": "core.ingress",
                  "X-Forwarded-For": "127.0.0.1"}  # fmt: skip
        status, body = await status_of(other, f"{url}/v1/studio/api/state", headers=forged)
        assert (status, body["error"]) == (401, "unauthorized")
        auth = {**forged, "Authorization": f"Bearer {TOKEN}"}
        status, body = await status_of(other, f"{url}/v1/studio/api/state", headers=auth)
        assert (status, body["ingress"]) == (200, None)  # the token, not the header, let it in


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Ingress-Path": ""},
        {"X-Ingress-Path": "/api/hassio_ingress/"},
        {"X-Ingress-Path": "/api/hassio_ingress/abc/../../x"},
        {"X-Ingress-Path": "/api/hassio_ingress/abc<script>"},
        {"X-Ingress-Path": '/api/hassio_ingress/abc"'},
        {"X-Ingress-Path": "https://evil.example/api/hassio_ingress/abc"},
        {"X-Ingress-Path": "/api/hassio_ingress/abc/"},
        {"X-Ingress-Path": "/api/hassio_ingress/" + "a" * 129},
        {"X-Ingress-Path": "/other/abc"},
    ],
)
async def test_a_malformed_ingress_path_from_the_gateway_is_not_ingress(
    headers: dict[str, str],
) -> None:
    async with serving(ingress_app()) as url, client("127.0.0.1") as gateway:
        assert (await status_of(gateway, f"{url}/v1/studio/api/state", headers=headers))[0] == 401


async def test_two_ingress_paths_are_not_ingress() -> None:
    async with serving(ingress_app()) as url, client("127.0.0.1") as gateway:
        headers = [("X-Ingress-Path", PREFIX), ("X-Ingress-Path", "/api/hassio_ingress/other")]
        async with gateway.get(f"{url}/v1/studio/api/state", headers=headers) as response:
            assert response.status == 401


async def test_an_app_that_accepts_no_ingress_ignores_the_header() -> None:
    app = build([rules.token_middleware(TOKEN, ingress_open=studio_or_api)])
    async with serving(app) as url, client("127.0.0.1") as gateway:
        headers = {"X-Ingress-Path": PREFIX}
        assert (await status_of(gateway, f"{url}/v1/studio/api/state", headers=headers))[0] == 401
