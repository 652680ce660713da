"""Snapshot sources: where a camera's frames come from (HTTP URL, ONVIF, files).

Every failure is a `SourceError` with a short `reason` (timeout, refused, http_401, http_5xx,
not_image, too_big, empty, ...) used for metrics and the camera's lost/back logging.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from pathlib import Path
from typing import Protocol

import aiohttp
from aiohttp import ClientHandlerType, ClientMiddlewareType, ClientRequest, ClientResponse
from yarl import URL

from .errors import ImageError, SourceError
from .preprocess import read_image_file
from .redact import SECRETS, redact_url, url_secrets

_LOGGER = logging.getLogger("garagecam.runner.sources")

# The largest snapshot we accept by default: a 4K JPEG is ~2-5 MB, a PNG larger.
DEFAULT_MAX_BYTES = 20_000_000
_IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})
_CHUNK = 64 * 1024


class SnapshotSource(Protocol):
    """Fetches the camera's current frame as encoded image bytes."""

    @property
    def description(self) -> str:
        """Where frames come from, safe to log (credentials redacted)."""
        ...

    async def fetch(self) -> bytes: ...

    async def close(self) -> None: ...


def looks_like_image(data: bytes) -> bool:
    """JPEG or PNG magic bytes: cameras often send wrong Content-Type headers, bytes don't lie."""
    return data.startswith(b"\xff\xd8\xff") or data.startswith(b"\x89PNG\r\n\x1a\n")


# --- HTTP digest authentication ----------------------------------------------------------------


def digest_auth(url: str, username: str, password: str) -> ClientMiddlewareType:
    """aiohttp's digest authentication (RFC 7616: MD5, SHA-256, SHA-512 and their -sess
    variants, qop auth and auth-int; a stale nonce is answered with the new one at once),
    scoped to the camera's own origin: a redirect to another host never gets a response
    computed from the password (aiohttp pins the origin itself only from 3.14 on).

    Raises ValueError for credentials digest cannot carry (a ':' in the username)."""
    middleware = aiohttp.DigestAuthMiddleware(username, password)
    origin = URL(url).origin()

    async def same_origin(request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        if request.url.origin() != origin:
            return await handler(request)
        return await middleware(request, handler)

    return same_origin


# --- HTTP snapshot -----------------------------------------------------------------------------


def basic_auth_header(username: str, password: str) -> str:
    """`Authorization: Basic ...` built here: aiohttp 3.12+ deprecates `BasicAuth`/`auth=`,
    Home Assistant 2025.4 ships 3.11, which lacks their replacement. Latin-1 like aiohttp's
    default (what cameras expect), UTF-8 for characters Latin-1 cannot hold (RFC 7617)."""
    credentials = f"{username}:{password}"
    try:
        raw = credentials.encode("latin-1")
    except UnicodeEncodeError:
        raw = credentials.encode("utf-8")
    return "Basic " + base64.b64encode(raw).decode("ascii")


class HttpSnapshotSource:
    """GET a snapshot URL (Thingino `/image.jpg`, Scrypted, any camera)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        auth: str = "basic",
        timeout: float = 10.0,
        max_bytes: int = 20_000_000,
        verify_ssl: bool = True,
    ) -> None:
        self._session = session
        self._url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_bytes = max_bytes
        self._ssl = True if verify_ssl else False  # noqa: SIM210 - aiohttp wants a bool here
        self._basic: str | None = None
        self._digest: tuple[ClientMiddlewareType, ...] | None = None
        self._auth_problem: str | None = None
        self._url_credentials = URL(url).user is not None
        if username is not None:
            if auth == "digest":
                try:
                    self._digest = (digest_auth(url, username, password or ""),)
                except ValueError as err:  # told at every fetch, like any camera failure
                    self._auth_problem = f"digest authentication: {err}"
            else:
                self._basic = basic_auth_header(username, password or "")

    @property
    def description(self) -> str:
        return redact_url(self._url)

    async def fetch(self) -> bytes:
        try:
            return await self._fetch()
        except SourceError:
            raise
        except TimeoutError as err:
            raise SourceError(f"timed out fetching {self.description}", "timeout") from err
        except aiohttp.ClientSSLError as err:  # before its base class: not a refused connection
            detail = getattr(err.os_error, "verify_message", None) or err.os_error.strerror
            raise SourceError(
                f"TLS with {self.description} failed ({detail or type(err.os_error).__name__}); "
                "a camera with a self-signed certificate needs verify_ssl: false",
                "tls",
            ) from err
        except aiohttp.ClientConnectorError as err:
            raise SourceError(
                f"cannot connect to {self.description}: {err.os_error.strerror or err}", "refused"
            ) from err
        except aiohttp.ClientError as err:
            if self._digest is not None and type(err) is aiohttp.ClientError:
                # what the digest middleware raises: a challenge it cannot answer (an
                # algorithm or qop it lacks, no nonce); the text names only the challenge
                raise SourceError(
                    f"{self.description}: cannot answer its digest challenge ({err})",
                    "auth_unsupported",
                ) from err
            raise SourceError(
                f"fetching {self.description} failed: {type(err).__name__}", "connection"
            ) from err

    async def _fetch(self) -> bytes:
        if self._auth_problem is not None:
            raise SourceError(f"{self.description}: {self._auth_problem}", "auth_unsupported")
        headers = {"Authorization": self._basic} if self._basic is not None else {}
        async with self._session.get(
            self._url,
            headers=headers,
            timeout=self._timeout,
            ssl=self._ssl,
            # None: the session's own middlewares, as for any other request
            middlewares=self._digest,
        ) as response:
            return await self._read(response)

    async def _read(self, response: aiohttp.ClientResponse) -> bytes:
        if response.status == 401:
            # aiohttp sends user:password from the URL itself as Basic credentials
            given = self._basic is not None or self._digest is not None or self._url_credentials
            problem = "rejected the credentials" if given else "needs a username and password"
            raise SourceError(f"{self.description} {problem} (HTTP 401)", "http_401")
        if response.status != 200:
            reason = "http_5xx" if response.status >= 500 else f"http_{response.status}"
            status = f"HTTP {response.status} {response.reason or ''}".rstrip()
            raise SourceError(f"{self.description} answered {status}", reason)
        if response.content_length is not None and response.content_length > self._max_bytes:
            raise self._too_big()
        data = bytearray()
        async for chunk in response.content.iter_chunked(_CHUNK):
            data += chunk
            if len(data) > self._max_bytes:
                raise self._too_big()
        return check_image(bytes(data), self.description)

    def _too_big(self) -> SourceError:
        return SourceError(
            f"{self.description} sent more than {self._max_bytes} bytes (snapshot max_bytes)",
            "too_big",
        )

    async def close(self) -> None:
        """The session belongs to the caller."""


def check_image(data: bytes, where: str) -> bytes:
    if not data:
        raise SourceError(f"{where} sent an empty response", "empty")
    if not looks_like_image(data):
        raise SourceError(f"{where} did not send a JPEG or PNG image", "not_image")
    return data


# --- files ---------------------------------------------------------------------------------------


class FileSource:
    """Replays recorded frames: one image file, or every image in a directory in name order."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._index = 0

    @property
    def description(self) -> str:
        return str(self._path)

    def _next_file(self) -> Path:
        if self._path.is_dir():
            files = sorted(p for p in self._path.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
            if not files:
                raise SourceError(f"no .jpg/.png images in {self._path}", "empty")
            path = files[self._index % len(files)]
            self._index += 1
            return path
        return self._path

    async def fetch(self) -> bytes:
        def read() -> bytes:
            path = self._next_file()
            try:
                data = read_image_file(path)
            except FileNotFoundError as err:
                raise SourceError(f"{path} does not exist", "missing") from err
            except OSError as err:
                raise SourceError(f"cannot read {path}: {err.strerror}", "io") from err
            except ImageError as err:  # a device, a FIFO, a huge file
                raise SourceError(str(err), "not_image") from err
            return check_image(data, str(path))

        return await asyncio.to_thread(read)

    async def close(self) -> None:
        """Nothing to release."""


# --- ONVIF ---------------------------------------------------------------------------------------


class OnvifSource:
    """Asks the camera for its snapshot URI once (ONVIF), then polls it over HTTP."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        host: str,
        port: int = 80,
        *,
        username: str | None = None,
        password: str | None = None,
        profile: str | None = None,
        auth: str = "digest",
        timeout: float = 10.0,
        max_bytes: int = 20_000_000,
    ) -> None:
        from .onvif import OnvifClient

        self._client = OnvifClient(
            session, host, port, username=username, password=password, timeout=timeout
        )
        self._session = session
        self._host, self._port = host, port
        self._profile = profile
        self._http_args = {
            "username": username,
            "password": password,
            "auth": auth,
            "timeout": timeout,
            "max_bytes": max_bytes,
        }
        self._http: HttpSnapshotSource | None = None

    @property
    def description(self) -> str:
        where = f"onvif://{self._host}:{self._port}"
        return f"{where} ({self._http.description})" if self._http else where

    async def fetch(self) -> bytes:
        if self._http is None:
            uri = await self._client.snapshot_uri(self._profile)
            for secret in url_secrets(uri):  # the camera may put a token in it
                SECRETS.add(secret)
            self._http = HttpSnapshotSource(self._session, uri, **self._http_args)  # type: ignore[arg-type]
        try:
            return await self._http.fetch()
        except SourceError as err:
            if err.reason in ("http_404", "refused"):
                self._http = None  # the URI may have changed (camera reboot, new IP): ask again
            raise

    async def close(self) -> None:
        """The session belongs to the caller."""
