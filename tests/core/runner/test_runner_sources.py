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
from garagecam_core.sources import FileSource, HttpSnapshotSource, OnvifSource
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


_PARAM = re.compile(r'(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def digest_params(header: str) -> dict[str, str]:
    """The parameters of an `Authorization: Digest ...` header, as a camera reads them."""
    return {m[1]: m[2] if m[2] is not None else m[3] for m in _PARAM.finditer(header)}


class DigestCamera:
    """Checks RFC 7616 digest responses the way cameras do: `algorithm` (MD5, SHA-256,
    MD5-sess...), with qop=auth or without qop (RFC 2069). `rotate()` replaces the nonce: the
    next response with the old one is answered `stale=true`, as cameras expire nonces."""

    realm, opaque = "IP Camera", "5ccc069c403ebaf9"

    def __init__(self, user: str, password: str, algorithm: str = "MD5", qop: bool = True) -> None:
        self.user, self.password = user, password
        self.algorithm, self.qop = algorithm, qop
        self.frame = jpeg((10, 200, 10))
        self.nonce, self.old_nonces = "dcd98b7102dd2f0e8b11d0f600bfb0c093", set[str]()
        self.authorized = 0
        self.headers: list[str] = []  # every Authorization header received

    def rotate(self) -> None:
        self.old_nonces.add(self.nonce)
        self.nonce = hashlib.sha256(self.nonce.encode()).hexdigest()[:32]

    def challenge(self, stale: bool = False) -> web.Response:
        header = (
            f'Digest realm="{self.realm}", nonce="{self.nonce}", opaque="{self.opaque}", '
            f"algorithm={self.algorithm}" + (', qop="auth"' if self.qop else "")
        )
        if stale:
            header += ", stale=true"
        return web.Response(status=401, headers={"WWW-Authenticate": header})

    def _hash(self, text: str) -> str:
        base = self.algorithm.upper().removesuffix("-SESS")
        return hashlib.new("md5" if base == "MD5" else "sha256", text.encode()).hexdigest()

    def expected(self, params: dict[str, str], path_qs: str) -> str:
        nonce = params["nonce"]
        ha1 = self._hash(f"{self.user}:{self.realm}:{self.password}")
        if self.algorithm.upper().endswith("-SESS"):
            ha1 = self._hash(f"{ha1}:{nonce}:{params['cnonce']}")
        ha2 = self._hash(f"GET:{path_qs}")
        if not self.qop:
            return self._hash(f"{ha1}:{nonce}:{ha2}")
        return self._hash(f"{ha1}:{nonce}:{params['nc']}:{params['cnonce']}:auth:{ha2}")

    async def handle(self, request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        self.headers.append(header)
        if not header.startswith("Digest "):
            return self.challenge()
        params = digest_params(header)
        if params.get("response") != self.expected(params, request.path_qs):
            return self.challenge()
        if params.get("nonce") in self.old_nonces:
            return self.challenge(stale=True)  # right password, expired nonce
        if params.get("opaque") != self.opaque or params.get("uri") != request.path_qs:
            return self.challenge()
        self.authorized += 1
        return web.Response(body=self.frame, content_type="image/jpeg")


async def serve_digest(camera: DigestCamera) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_get("/cgi-bin/snapshot.cgi", camera.handle)
    runner, port = await start_app(app)
    return runner, f"http://127.0.0.1:{port}/cgi-bin/snapshot.cgi?channel=1"


def digest_source(session: aiohttp.ClientSession, url: str, password: str) -> HttpSnapshotSource:
    return HttpSnapshotSource(session, url, username="admin", password=password, auth="digest")


async def test_digest_auth(session: aiohttp.ClientSession) -> None:
    camera = DigestCamera("admin", "dig-pass")
    runner, url = await serve_digest(camera)
    try:
        source = digest_source(session, url, "dig-pass")
        assert await source.fetch() == camera.frame
        assert await source.fetch() == camera.frame  # reuses the challenge (nc=2)
        assert camera.authorized == 2
        assert digest_params(camera.headers[-1])["nc"] == "00000002"
        wrong = digest_source(session, url, "nope")
        with pytest.raises(SourceError, match="rejected the credentials") as info:
            await wrong.fetch()
        assert info.value.reason == "http_401"
        assert "nope" not in str(info.value)
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("algorithm", "qop"),
    [("SHA-256", True), ("MD5-sess", True), ("SHA-256-sess", True), ("MD5", False)],
)
async def test_digest_algorithms_and_rfc2069(
    session: aiohttp.ClientSession, algorithm: str, qop: bool
) -> None:
    camera = DigestCamera("admin", "dig-pass", algorithm=algorithm, qop=qop)
    runner, url = await serve_digest(camera)
    try:
        assert await digest_source(session, url, "dig-pass").fetch() == camera.frame
        sent = digest_params(camera.headers[-1])
        assert sent["algorithm"] == algorithm
        assert ("qop" in sent) is qop
    finally:
        await runner.cleanup()


async def test_digest_stale_nonce_is_answered_in_the_same_fetch(
    session: aiohttp.ClientSession,
) -> None:
    """The old hand-written client failed one poll each time the camera changed its nonce
    (it gave up on the 401 after its preemptive try); aiohttp's middleware answers the new
    challenge at once."""
    camera = DigestCamera("admin", "dig-pass")
    runner, url = await serve_digest(camera)
    try:
        source = digest_source(session, url, "dig-pass")
        assert await source.fetch() == camera.frame
        camera.rotate()
        assert await source.fetch() == camera.frame
        assert camera.authorized == 2
        assert digest_params(camera.headers[-1])["nonce"] == camera.nonce
    finally:
        await runner.cleanup()


async def test_digest_follows_a_redirect_on_the_same_camera(
    session: aiohttp.ClientSession,
) -> None:
    camera = DigestCamera("admin", "dig-pass")
    app = web.Application()
    app.router.add_get("/cgi-bin/snapshot.cgi", camera.handle)

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/cgi-bin/snapshot.cgi?channel=1")

    app.router.add_get("/snapshot.jpg", moved)
    runner, port = await start_app(app)
    try:
        source = digest_source(session, f"http://127.0.0.1:{port}/snapshot.jpg", "dig-pass")
        assert await source.fetch() == camera.frame
        # the response names the URI it was computed for: the redirect's target
        assert digest_params(camera.headers[-1])["uri"] == "/cgi-bin/snapshot.cgi?channel=1"
    finally:
        await runner.cleanup()


async def test_digest_never_answers_another_host(session: aiohttp.ClientSession) -> None:
    """A camera redirecting to another origin (here another port): that origin's digest
    challenge gets no response computed from the password (aiohttp 3.12's middleware alone
    would answer it)."""
    elsewhere = DigestCamera("admin", "dig-pass")
    other_runner, other_url = await serve_digest(elsewhere)
    app = web.Application()

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound(other_url)

    app.router.add_get("/snapshot.jpg", moved)
    runner, port = await start_app(app)
    try:
        source = digest_source(session, f"http://127.0.0.1:{port}/snapshot.jpg", "dig-pass")
        with pytest.raises(SourceError) as info:
            await source.fetch()
        assert info.value.reason == "http_401"
        assert elsewhere.headers and not any(elsewhere.headers)  # never an Authorization
    finally:
        await runner.cleanup()
        await other_runner.cleanup()


async def test_digest_challenge_it_cannot_answer(session: aiohttp.ClientSession) -> None:
    camera = DigestCamera("admin", "dig-pass", algorithm="SHA-512-256")
    runner, url = await serve_digest(camera)
    try:
        with pytest.raises(SourceError, match="cannot answer its digest challenge") as info:
            await digest_source(session, url, "dig-pass").fetch()
        assert info.value.reason == "auth_unsupported"
        assert "SHA-512-256" in str(info.value)
        assert "dig-pass" not in str(info.value)
    finally:
        await runner.cleanup()


async def test_digest_username_with_a_colon_is_one_clear_error(
    session: aiohttp.ClientSession,
) -> None:
    source = HttpSnapshotSource(
        session, "http://192.0.2.1/snap", username="ad:min", password="pw-9", auth="digest"
    )
    with pytest.raises(SourceError, match=r"digest authentication: .*not allowed in username"):
        await source.fetch()
    with pytest.raises(SourceError) as info:
        await source.fetch()
    assert info.value.reason == "auth_unsupported"
    assert "pw-9" not in str(info.value)


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
