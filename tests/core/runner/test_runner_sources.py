"""Snapshot sources against local aiohttp servers: auth, limits, failures, ONVIF, files."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from garagecam_core.errors import SourceError
from garagecam_core.onvif import password_digest
from garagecam_core.runner.http import start_site
from garagecam_core.sources import (
    FileSource,
    HttpSnapshotSource,
    OnvifSource,
    parse_challenge,
)
from tests.core.runner.support import CameraServer, free_port, jpeg


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def start_app(app: web.Application) -> tuple[web.AppRunner, int]:
    return await start_site(app, "127.0.0.1", 0)


async def test_http_source_ok_and_failures(
    session: aiohttp.ClientSession, camera_server: CameraServer
) -> None:
    source = HttpSnapshotSource(session, camera_server.url, timeout=0.5, max_bytes=100_000)
    assert await source.fetch() == camera_server.frame

    expectations = {"http_500": "http_5xx", "not_image": "not_image", "slow": "timeout"}
    for mode, reason in expectations.items():
        camera_server.mode = mode
        with pytest.raises(SourceError) as info:
            await source.fetch()
        assert info.value.reason == reason, mode

    camera_server.mode = "ok"
    camera_server.frame = jpeg(size=(800, 600)) + b"\0" * 200_000
    with pytest.raises(SourceError, match="more than 100000 bytes") as info:
        await source.fetch()
    assert info.value.reason == "too_big"

    closed = HttpSnapshotSource(session, f"http://127.0.0.1:{free_port()}/image.jpg")
    with pytest.raises(SourceError, match="cannot connect") as info:
        await closed.fetch()
    assert info.value.reason == "refused"


async def test_basic_auth_and_redacted_description(
    session: aiohttp.ClientSession, camera_server: CameraServer
) -> None:
    camera_server.mode = "auth"
    anonymous = HttpSnapshotSource(session, camera_server.url)
    with pytest.raises(SourceError) as info:
        await anonymous.fetch()
    assert info.value.reason == "http_401"
    good = HttpSnapshotSource(session, camera_server.url, username="admin", password="s3cr3t")
    assert await good.fetch() == camera_server.frame

    with_credentials = HttpSnapshotSource(session, "http://admin:s3cr3t@192.0.2.1/snap?pwd=s3cr3t")
    assert "s3cr3t" not in with_credentials.description
    assert with_credentials.description.startswith("http://admin:**REDACTED**@192.0.2.1/")


async def test_401_after_credentials_in_the_url_says_they_were_rejected(
    session: aiohttp.ClientSession, camera_server: CameraServer
) -> None:
    camera_server.mode = "auth"
    url = camera_server.url.replace("http://", "http://admin:wrong-pass@")
    source = HttpSnapshotSource(session, url)
    with pytest.raises(SourceError, match="rejected the credentials") as info:
        await source.fetch()
    assert info.value.reason == "http_401"
    assert "wrong-pass" not in str(info.value)
    good = HttpSnapshotSource(session, camera_server.url.replace("http://", "http://admin:s3cr3t@"))
    assert await good.fetch() == camera_server.frame


async def test_tls_failure_has_its_own_reason(
    session: aiohttp.ClientSession, camera_server: CameraServer
) -> None:
    # TLS spoken to a plain-HTTP camera: the handshake fails; the port is not refusing.
    source = HttpSnapshotSource(session, camera_server.url.replace("http://", "https://"))
    with pytest.raises(SourceError, match=r"TLS with https://127\.0\.0\.1") as info:
        await source.fetch()
    assert info.value.reason == "tls"


def test_basic_auth_header_encoding() -> None:
    from garagecam_core.sources import basic_auth_header

    assert basic_auth_header("admin", "s3cr3t") == "Basic YWRtaW46czNjcjN0"
    # Latin-1 as aiohttp did; what Latin-1 cannot hold goes out as UTF-8
    assert base64.b64decode(basic_auth_header("admin", "café")[6:]) == b"admin:caf\xe9"
    assert base64.b64decode(basic_auth_header("admin", "密码")[6:]) == "admin:密码".encode()


class DigestCamera:
    """Checks RFC 7616 digest responses (MD5, qop=auth) the way cameras do."""

    realm, nonce, opaque = "IP Camera", "dcd98b7102dd2f0e8b11d0f600bfb0c093", "5ccc069c403ebaf9"

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password
        self.frame = jpeg((10, 200, 10))
        self.authorized = 0

    def challenge(self) -> web.Response:
        header = (
            f'Digest realm="{self.realm}", qop="auth", nonce="{self.nonce}", '
            f'opaque="{self.opaque}", algorithm=MD5'
        )
        return web.Response(status=401, headers={"WWW-Authenticate": header})

    async def handle(self, request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Digest "):
            return self.challenge()
        params = parse_challenge(header)

        def md5(text: str) -> str:
            return hashlib.md5(text.encode()).hexdigest()

        ha1 = md5(f"{self.user}:{self.realm}:{self.password}")
        ha2 = md5(f"GET:{request.path_qs}")
        expected = md5(f"{ha1}:{self.nonce}:{params['nc']}:{params['cnonce']}:auth:{ha2}")
        if params.get("response") != expected or params.get("opaque") != self.opaque:
            return self.challenge()
        self.authorized += 1
        return web.Response(body=self.frame, content_type="image/jpeg")


async def test_digest_auth(session: aiohttp.ClientSession) -> None:
    camera = DigestCamera("admin", "dig-pass")
    app = web.Application()
    app.router.add_get("/cgi-bin/snapshot.cgi", camera.handle)
    runner, port = await start_app(app)
    try:
        url = f"http://127.0.0.1:{port}/cgi-bin/snapshot.cgi?channel=1"
        source = HttpSnapshotSource(
            session, url, username="admin", password="dig-pass", auth="digest"
        )
        assert await source.fetch() == camera.frame
        assert await source.fetch() == camera.frame  # reuses the challenge (nc=2)
        assert camera.authorized == 2
        wrong = HttpSnapshotSource(session, url, username="admin", password="nope", auth="digest")
        with pytest.raises(SourceError, match="rejected the credentials") as info:
            await wrong.fetch()
        assert info.value.reason == "http_401"
    finally:
        await runner.cleanup()


class OnvifCamera:
    """Answers GetCapabilities, GetProfiles and GetSnapshotUri; checks the UsernameToken."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password
        self.port = 0
        self.calls: list[str] = []
        self.frame = jpeg((200, 10, 10))

    def _authorized(self, body: str) -> bool:
        user = re.search(r"<Username>(.*?)</Username>", body)
        digest = re.search(r"<Password [^>]*>(.*?)</Password>", body)
        nonce = re.search(r"<Nonce [^>]*>(.*?)</Nonce>", body)
        created = re.search(r"<Created [^>]*>(.*?)</Created>", body)
        if not (user and digest and nonce and created) or user.group(1) != self.user:
            return False
        expected = password_digest(
            base64.b64decode(nonce.group(1)), created.group(1), self.password
        )
        return digest.group(1) == expected

    async def soap(self, request: web.Request) -> web.Response:
        body = await request.text()
        if not self._authorized(body):
            fault = (
                '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><s:Fault>'
                "<s:Reason><s:Text>Sender not Authorized</s:Text></s:Reason>"
                "</s:Fault></s:Body></s:Envelope>"
            )
            return web.Response(status=400, text=fault, content_type="application/soap+xml")
        name = re.search(r"<s:Body><(\w+)", body)
        assert name is not None
        self.calls.append(name.group(1))
        answers = {
            "GetCapabilities": (
                "<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Media>"
                f"<tt:XAddr>http://127.0.0.1:{self.port}/onvif/media</tt:XAddr>"
                "</tt:Media></tds:Capabilities></tds:GetCapabilitiesResponse>"
            ),
            "GetProfiles": (
                '<trt:GetProfilesResponse><trt:Profiles token="main"/>'
                '<trt:Profiles token="sub"/></trt:GetProfilesResponse>'
            ),
            "GetSnapshotUri": (
                "<trt:GetSnapshotUriResponse><trt:MediaUri>"
                f"<tt:Uri>http://127.0.0.1:{self.port}/snap.jpg?user=admin&amp;pwd=pw</tt:Uri>"
                "</trt:MediaUri></trt:GetSnapshotUriResponse>"
            ),
        }
        return web.Response(
            text=(
                '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
                'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" '
                'xmlns:trt="http://www.onvif.org/ver10/media/wsdl" '
                'xmlns:tt="http://www.onvif.org/ver10/schema">'
                f"<s:Body>{answers[name.group(1)]}</s:Body></s:Envelope>"
            ),
            content_type="application/soap+xml",
        )

    async def snapshot(self, request: web.Request) -> web.Response:
        if request.query.get("pwd") != "pw":
            return web.Response(status=401)
        return web.Response(body=self.frame, content_type="image/jpeg")


async def test_onvif_finds_and_polls_snapshot_uri(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    camera = OnvifCamera("onvif-user", "onvif-pass")
    app = web.Application()
    app.router.add_post("/onvif/device_service", camera.soap)
    app.router.add_post("/onvif/media", camera.soap)
    app.router.add_get("/snap.jpg", camera.snapshot)
    runner, camera.port = await start_app(app)
    try:
        caplog.set_level(logging.INFO, logger="garagecam.runner")
        source = OnvifSource(
            session, "127.0.0.1", camera.port, username="onvif-user", password="onvif-pass"
        )
        assert await source.fetch() == camera.frame
        assert await source.fetch() == camera.frame
        assert camera.calls == ["GetCapabilities", "GetProfiles", "GetSnapshotUri"]
        assert "ONVIF snapshot URI: http://127.0.0.1:" in caplog.text
        assert "pwd=pw" not in caplog.text and "pwd=**REDACTED**" in caplog.text

        wrong = OnvifSource(session, "127.0.0.1", camera.port, username="onvif-user", password="x")
        with pytest.raises(SourceError, match="Sender not Authorized") as info:
            await wrong.fetch()
        assert info.value.reason == "http_401"

        unknown_profile = OnvifSource(
            session,
            "127.0.0.1",
            camera.port,
            username="onvif-user",
            password="onvif-pass",
            profile="third",
        )
        with pytest.raises(
            SourceError, match="profile 'third' not found; the camera has main, sub"
        ):
            await unknown_profile.fetch()
    finally:
        await runner.cleanup()


async def test_file_and_directory_sources(tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    first, second = jpeg((1, 1, 1)), jpeg((250, 250, 250))
    (frames / "b.jpg").write_bytes(second)
    (frames / "a.jpg").write_bytes(first)
    (frames / "notes.txt").write_text("ignored")
    source = FileSource(frames)
    assert [await source.fetch() for _ in range(3)] == [first, second, first]

    (tmp_path / "bad.jpg").write_text("not an image")
    with pytest.raises(SourceError) as info:
        await FileSource(tmp_path / "bad.jpg").fetch()
    assert info.value.reason == "not_image"
    with pytest.raises(SourceError) as info:
        await FileSource(tmp_path / "missing.jpg").fetch()
    assert info.value.reason == "missing"


async def test_onvif_tls_failure_has_its_own_reason(
    session: aiohttp.ClientSession, camera_server: CameraServer
) -> None:
    # A camera whose media service URL is https but that does not speak TLS there.
    from garagecam_core.onvif import OnvifClient

    client = OnvifClient(session, "127.0.0.1", camera_server.port)
    url = camera_server.url.replace("http://", "https://") + "?token=0123456789abcdef"
    with pytest.raises(SourceError, match="ONVIF GetSnapshotUri: TLS with") as info:
        await client._call(url, "<x/>", "GetSnapshotUri")
    assert info.value.reason == "tls"
    assert "0123456789abcdef" not in str(info.value)


async def test_failures_never_show_url_secrets(
    session: aiohttp.ClientSession, camera_server: CameraServer
) -> None:
    base = camera_server.url.removesuffix("/image.jpg")
    urls = [
        f"{base}/endpoint/@scrypted/webhook/public/42/9f2c41d07be3a5c8",  # 404
        f"{base}/image.jpg?access_token=tok-7Hq2&apikey=key-9Zr4",  # 401 below
        f"http://127.0.0.1:{free_port()}/snap?token=tok-7Hq2",  # refused
    ]
    camera_server.mode = "auth"
    for url in urls:
        with pytest.raises(SourceError) as info:
            await HttpSnapshotSource(session, url).fetch()
        for secret in ("9f2c41d07be3a5c8", "tok-7Hq2", "key-9Zr4"):
            assert secret not in str(info.value)
