"""ONVIF: find a camera's snapshot URI (GetCapabilities -> GetProfiles -> GetSnapshotUri).

Three small SOAP 1.2 requests built by hand, authenticated with a WS-Security UsernameToken
(password digest = Base64(SHA1(nonce + created + password))), so no ONVIF library is needed.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import os
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

import aiohttp

from .errors import SourceError
from .redact import redact_url

_LOGGER = logging.getLogger("garagecam.runner.onvif")

_SOAP_NS = "http://www.w3.org/2003/05/soap-envelope"
_WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
_WSU_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
# A URI naming the digest scheme, not a password.
_DIGEST_TYPE = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
    "#PasswordDigest"
)
_BASE64 = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)
DEVICE_NS = "http://www.onvif.org/ver10/device/wsdl"
MEDIA_NS = "http://www.onvif.org/ver10/media/wsdl"


def password_digest(nonce: bytes, created: str, password: str) -> str:
    return base64.b64encode(
        hashlib.sha1(nonce + created.encode() + password.encode(), usedforsecurity=False).digest()
    ).decode()


def security_header(username: str, password: str) -> str:
    nonce = os.urandom(16)
    created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return (
        f'<Security s:mustUnderstand="1" xmlns="{_WSSE_NS}"><UsernameToken>'
        f"<Username>{escape(username)}</Username>"
        f'<Password Type="{_DIGEST_TYPE}">{password_digest(nonce, created, password)}'
        "</Password>"
        f'<Nonce EncodingType="{_BASE64}">{base64.b64encode(nonce).decode()}</Nonce>'
        f'<Created xmlns="{_WSU_NS}">{created}</Created>'
        "</UsernameToken></Security>"
    )


def envelope(body: str, username: str | None, password: str | None) -> str:
    header = security_header(username, password or "") if username else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{_SOAP_NS}">'
        f"<s:Header>{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    )


def _parse(text: bytes, what: str) -> ET.Element:
    # The camera is configured by the user and the documents are tiny; expat (>= 2.4.1 in
    # every supported Python) refuses entity-expansion bombs, and ElementTree never fetches
    # external entities.
    try:
        return ET.fromstring(text)  # noqa: S314
    except ET.ParseError as err:
        raise SourceError(f"ONVIF {what}: the camera sent invalid XML ({err})", "onvif") from err


def _find_text(root: ET.Element, local_name: str) -> str | None:
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == local_name and element.text:
            return element.text.strip()
    return None


class OnvifClient:
    """Just enough ONVIF to locate the snapshot URI."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        host: str,
        port: int = 80,
        *,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._session = session
        self._device_url = f"http://{host}:{port}/onvif/device_service"
        self._username = username
        self._password = password
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def _call(self, url: str, body: str, what: str) -> ET.Element:
        data = envelope(body, self._username, self._password)
        headers = {"Content-Type": "application/soap+xml; charset=utf-8"}
        try:
            async with self._session.post(
                url, data=data.encode(), headers=headers, timeout=self._timeout
            ) as response:
                text = await response.read()
                status = response.status
        except TimeoutError as err:
            raise SourceError(f"ONVIF {what}: {redact_url(url)} timed out", "timeout") from err
        except aiohttp.ClientSSLError as err:  # a TLS problem, not a refused connection
            raise SourceError(
                f"ONVIF {what}: TLS with {redact_url(url)} failed ({type(err).__name__})", "tls"
            ) from err
        except aiohttp.ClientError as err:  # its text may hold the URL: the type only
            raise SourceError(
                f"ONVIF {what}: cannot reach {redact_url(url)} ({type(err).__name__})", "refused"
            ) from err
        root = _parse(text, what) if text else None
        if status != 200:
            fault = _find_text(root, "Text") if root is not None else None
            reason = "http_401" if status in (400, 401) and _is_auth_fault(fault) else "onvif"
            raise SourceError(
                f"ONVIF {what} failed: HTTP {status}{f' ({fault})' if fault else ''}", reason
            )
        if root is None:
            raise SourceError(f"ONVIF {what}: empty answer from {redact_url(url)}", "onvif")
        return root

    async def media_url(self) -> str:
        body = f'<GetCapabilities xmlns="{DEVICE_NS}"><Category>Media</Category></GetCapabilities>'
        root = await self._call(self._device_url, body, "GetCapabilities")
        for element in root.iter():
            if element.tag.rsplit("}", 1)[-1] == "Media":
                address = _find_text(element, "XAddr")
                if address:
                    return address
        return self._device_url  # many cameras serve the media service there too

    async def profile_token(self, media_url: str, wanted: str | None = None) -> str:
        root = await self._call(media_url, f'<GetProfiles xmlns="{MEDIA_NS}"/>', "GetProfiles")
        tokens = [
            element.attrib["token"]
            for element in root.iter()
            if element.tag.rsplit("}", 1)[-1] == "Profiles" and "token" in element.attrib
        ]
        if not tokens:
            raise SourceError("ONVIF GetProfiles: the camera has no media profile", "onvif")
        if wanted is None:
            return tokens[0]
        if wanted not in tokens:
            raise SourceError(
                f"ONVIF profile {wanted!r} not found; the camera has {', '.join(tokens)}", "onvif"
            )
        return wanted

    async def snapshot_uri(self, profile: str | None = None) -> str:
        media_url = await self.media_url()
        token = await self.profile_token(media_url, profile)
        body = (
            f'<GetSnapshotUri xmlns="{MEDIA_NS}"><ProfileToken>{escape(token)}</ProfileToken>'
            "</GetSnapshotUri>"
        )
        root = await self._call(media_url, body, "GetSnapshotUri")
        uri = _find_text(root, "Uri")
        if not uri:
            raise SourceError("ONVIF GetSnapshotUri: the answer has no Uri", "onvif")
        _LOGGER.info("ONVIF snapshot URI: %s", redact_url(uri))
        return uri


def _is_auth_fault(fault: str | None) -> bool:
    return fault is not None and any(
        word in fault.lower() for word in ("auth", "password", "sender not authorized")
    )
