"""A stand-in for Home Assistant's ingress in front of an add-on, for tests.

On Home Assistant OS a request for an add-on's panel takes two hops, both proxies written
with aiohttp: Home Assistant's view `/api/hassio_ingress/{token}/{path}` (homeassistant/
components/hassio/ingress.py; read in 2026.10.4) forwards it to the Supervisor, whose handler
(supervisor/api/ingress.py) checks the `ingress_session` cookie and forwards it to
`http://<add-on address>:<ingress_port>/<path>` from the Supervisor's own address
(172.30.32.2). This proxy does what the two do to an HTTP request, in one hop:

- refuses a request without the session cookie (401) or with an unknown token (503);
- copies the request headers except Content-Length, Content-Encoding, Transfer-Encoding,
  Accept-Encoding and the Sec-WebSocket ones (Home Assistant's `INIT_HEADERS_FILTER`) and
  except X-Supervisor-Token, X-Hassio-Key, X-Remote-User-* (the Supervisor's `_init_header`);
  the Host header goes through as the browser sent it;
- sets `X-Hass-Source: core.ingress`, `X-Ingress-Path: /api/hassio_ingress/<token>` (over any
  the client sent), `X-Forwarded-For` (appended), `X-Forwarded-Host`, `X-Forwarded-Proto`;
- sends the query as it came, the body read whole (POST without `ingress_stream`), no
  redirects followed, no Content-Type added;
- answers with the add-on's status and headers except Transfer-Encoding, Content-Length,
  Content-Type, Content-Encoding, and the content type without its parameters.

The connection to the add-on leaves from `source` (the gateway address the add-on trusts, or
another one to test a refusal). `GET /` serves a page framing the panel as Home Assistant's
frontend does (an iframe of the same origin), after setting the session cookie. WebSockets are
not proxied (the studio uses none).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Final

import aiohttp
from aiohttp import hdrs, web
from multidict import CIMultiDict
from yarl import URL

COOKIE: Final = "ingress_session"
DROPPED_REQUEST_HEADERS: Final = frozenset(
    h.lower()
    for h in (
        hdrs.CONTENT_LENGTH, hdrs.CONTENT_ENCODING, hdrs.TRANSFER_ENCODING,
        hdrs.ACCEPT_ENCODING, hdrs.SEC_WEBSOCKET_EXTENSIONS, hdrs.SEC_WEBSOCKET_PROTOCOL,
        hdrs.SEC_WEBSOCKET_VERSION, hdrs.SEC_WEBSOCKET_KEY, "X-Supervisor-Token",
        "X-Hassio-Key", "X-Remote-User-Id", "X-Remote-User-Name", "X-Remote-User-Display-Name",
    )
)  # fmt: skip
DROPPED_RESPONSE_HEADERS: Final = frozenset(
    h.lower()
    for h in (hdrs.TRANSFER_ENCODING, hdrs.CONTENT_LENGTH, hdrs.CONTENT_TYPE, hdrs.CONTENT_ENCODING)
)
PANEL = """<!doctype html>
<html><head><meta charset="utf-8"><title>ingress stand-in</title>
<style>body{{margin:0;font:13px sans-serif}}p{{margin:0;padding:6px 10px;background:#eee}}
iframe{{display:block;border:0;width:100%;height:calc(100vh - 28px)}}</style></head>
<body><p>Test proxy standing in for Home Assistant's ingress: {prefix}/</p>
<iframe id="panel" title="GarageCam" src="{prefix}/"></iframe></body></html>
"""


@dataclass
class IngressProxy:
    """Ingress for one add-on at 127.0.0.1:`upstream_port`; `start()` serves it on
    127.0.0.1 (a free port); `seen` records (method, path, status) of what it forwarded."""

    upstream_port: int
    source: str = "127.0.0.1"
    token: str = field(default_factory=secrets.token_urlsafe)
    session_id: str = field(default_factory=lambda: secrets.token_hex(64))
    seen: list[tuple[str, str, int]] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None
    _client: aiohttp.ClientSession | None = None

    @property
    def prefix(self) -> str:
        return f"/api/hassio_ingress/{self.token}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(local_addr=(self.source, 0))
        self._client = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        app = web.Application()
        app.router.add_get("/", self._panel)
        app.router.add_route("*", "/api/hassio_ingress/{token}/{path:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._client is not None:
            await self._client.close()

    async def _panel(self, request: web.Request) -> web.Response:
        response = web.Response(text=PANEL.format(prefix=self.prefix), content_type="text/html")
        response.set_cookie(COOKIE, self.session_id, path="/api/hassio_ingress/", samesite="Strict")
        return response

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        if not secrets.compare_digest(request.cookies.get(COOKIE, ""), self.session_id):
            raise web.HTTPUnauthorized  # the Supervisor's session check
        if request.match_info["token"] != self.token:
            raise web.HTTPServiceUnavailable  # no add-on with that ingress token
        path = request.match_info["path"]
        url = URL.build(scheme="http", host="127.0.0.1", port=self.upstream_port, path="/" + path)
        assert self._client is not None
        async with self._client.request(
            request.method,
            url,
            headers=self._headers(request),
            params=request.query,
            allow_redirects=False,
            data=await request.read() if request.method != "GET" else None,
            skip_auto_headers={hdrs.CONTENT_TYPE},
        ) as result:
            body = await result.read()
            self.seen.append((request.method, "/" + path, result.status))
            headers = CIMultiDict(
                (k, v)
                for k, v in result.headers.items()
                if k.lower() not in DROPPED_RESPONSE_HEADERS
            )
            content_type = result.headers.get(hdrs.CONTENT_TYPE, "application/octet-stream")
            if request.method == "HEAD" or result.status in (204, 304):
                return web.Response(headers=headers, status=result.status)
            return web.Response(
                headers=headers,
                status=result.status,
                content_type=content_type.partition(";")[0].strip(),
                body=body,
            )

    def _headers(self, request: web.Request) -> CIMultiDict[str]:
        headers = CIMultiDict(
            (k, v) for k, v in request.headers.items() if k.lower() not in DROPPED_REQUEST_HEADERS
        )
        headers["X-Hass-Source"] = "core.ingress"
        headers["X-Ingress-Path"] = self.prefix
        peer = str(ip_address(request.remote or "127.0.0.1"))
        before = request.headers.get(hdrs.X_FORWARDED_FOR)
        headers[hdrs.X_FORWARDED_FOR] = f"{before}, {peer}" if before else peer
        headers[hdrs.X_FORWARDED_HOST] = request.headers.get(hdrs.X_FORWARDED_HOST, request.host)
        headers[hdrs.X_FORWARDED_PROTO] = request.headers.get(
            hdrs.X_FORWARDED_PROTO, request.scheme
        )
        return headers
