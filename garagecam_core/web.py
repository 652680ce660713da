"""HTTP rules shared by the runner's API and the studio (aiohttp middlewares and checks).

- **Bearer token**: `token_middleware` asks `Authorization: Bearer <token>` on the API paths
  (`needs_token`), compared in constant time.
- **Loopback**: `is_loopback` for bind addresses and client addresses; `loopback_refusal` for
  pages served without a token: the Host must be a loopback name (no DNS rebinding) and the
  client a loopback address (the Host header is the client's to write).
- **Encoding**: `encoding_middleware` refuses compressed request bodies unread.
- **Home Assistant ingress**: behind the Supervisor, the add-on's web pages are proxied by the
  Supervisor, from its own address on the add-on network (172.30.32.2), with `X-Ingress-Path:
  /api/hassio_ingress/<token>` set by Home Assistant, which authenticated the user.
  `accept_ingress(app, gateway)` lets an app's rules see such a request (`ingress_path`);
  the apps decide what it may skip (the runner: the token, for the studio's paths only).
  The same header from any other address is ignored.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused: HTTP status, a short code, a sentence for the user."""

    status: int
    code: str
    message: str

    def response(self) -> web.Response:
        """The API's error body (`{"error": code, "message": sentence}`)."""
        return web.json_response({"error": self.code, "message": self.message}, status=self.status)


# --- bearer token ---------------------------------------------------------------------------


def needs_token(path: str, open_metrics: bool = False) -> bool:
    """Paths behind the token: the API (`/v1/`) and `/metrics` (unless left open)."""
    return path.startswith("/v1/") or (path == "/metrics" and not open_metrics)


def bearer_refusal(header: str, token: str) -> Refusal | None:
    """None when the `Authorization` header carries `token`; else why not (401 or 403)."""
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        return Refusal(401, "unauthorized", "missing 'Authorization: Bearer <token>' header")
    try:
        # aiohttp keeps undecodable header bytes as surrogates; they cannot be a token.
        given_bytes = given.strip().encode("utf-8")
    except UnicodeEncodeError:
        return Refusal(401, "unauthorized", "the Authorization header is not valid UTF-8 text")
    if not hmac.compare_digest(given_bytes, token.encode()):
        return Refusal(403, "forbidden", "the bearer token is not valid")
    return None


def no_path(path: str) -> bool:
    """The `ingress_open` of an app that opens nothing to ingress."""
    return False


def token_middleware(
    token: str | None,
    protected: Callable[[str], bool] = needs_token,
    ingress_open: Callable[[str], bool] = no_path,
) -> Middleware:
    """Middleware: `protected` paths need the bearer token (when there is one), except the
    `ingress_open` paths for ingress requests (`ingress_path`)."""

    @web.middleware
    async def check_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        opened = ingress_path(request) is not None and ingress_open(path)
        if token is not None and protected(path) and not opened:
            refusal = bearer_refusal(request.headers.get("Authorization", ""), token)
            if refusal is not None:
                return refusal.response()
        return await handler(request)

    return check_token


# --- loopback -------------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    """Whether a bind address, client address or Host name stays on this machine."""
    if host == "localhost":
        return True
    address = _address(host)
    return address is not None and address.is_loopback


def host_name(host: str) -> str:
    """`Host` header without its port (`[::1]:8080` -> `[::1]`), lower case."""
    host = host.lower()
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    return host.partition(":")[0]


def is_loopback_name(name: str) -> bool:
    """Whether a Host name (`host_name`) is `localhost` or a loopback address: a name DNS
    cannot point elsewhere later (DNS rebinding), so a page served to it stays here."""
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    elif ":" in name:
        return False  # an IPv6 address in a Host header comes in brackets
    return is_loopback(name)


def loopback_refusal(request: web.Request, what: str = "the studio") -> Refusal | None:
    """None for a request from this machine by a loopback name; else why not (421 or 403)."""
    name = host_name(request.host or "")
    if not is_loopback_name(name):
        return Refusal(421, "misdirected", f"unexpected Host {name!r}; open {what} by 127.0.0.1")
    if not is_loopback(request.remote or ""):
        return Refusal(403, "forbidden", f"without a token {what} answers only this machine")
    return None


def _address(text: str) -> IPAddress | None:
    """The address, IPv4-mapped IPv6 (`::ffff:127.0.0.1`, a dual-stack socket's peer) as the
    IPv4 address it is; None for anything else."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped if mapped is not None else address


# --- request bodies -------------------------------------------------------------------------


@web.middleware
async def encoding_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse compressed bodies unread: the server never inflates them (the runner's
    `SERVER_OPTIONS`), and a handler must not mistake gzip bytes for an image or their size
    for the image's."""
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        response = Refusal(
            415,
            "unsupported_encoding",
            "compressed request bodies (Content-Encoding) are not accepted: "
            "send the image bytes as they are",
        ).response()
        response.force_close()  # the body stays unread: the connection cannot be reused
        return response
    return await handler(request)


# --- Home Assistant ingress -----------------------------------------------------------------

#: set by Home Assistant's ingress view (homeassistant/components/hassio/ingress.py,
#: `_init_header`) and passed on by the Supervisor (supervisor/api/ingress.py, `_init_header`)
INGRESS_PATH_HEADER: Final = "X-Ingress-Path"
#: the Supervisor's address on its add-on network (supervisor/const.py
#: DOCKER_IPV4_NETWORK_MASK 172.30.32.0/23, supervisor/docker/network.py `supervisor`: [2])
SUPERVISOR_GATEWAY: Final = "172.30.32.2"
#: `/api/hassio_ingress/<token>`, the token from `secrets.token_urlsafe`
_INGRESS_PATH_RE: Final = re.compile(r"/api/hassio_ingress/[A-Za-z0-9_-]{1,128}")


def gateway_address(value: str) -> IPAddress:
    """The ingress gateway's address; ValueError (one line) for anything but an IP address."""
    address = _address(value.strip())
    if address is None:
        raise ValueError(
            f"expected an IP address, got {value!r} (the Supervisor's is {SUPERVISOR_GATEWAY})"
        )
    return address


@dataclass(frozen=True)
class IngressRule:
    """Requests from `gateway` carrying one valid `X-Ingress-Path` are ingress requests."""

    gateway: IPAddress

    def path(self, request: web.Request) -> str | None:
        if _address(request.remote or "") != self.gateway:
            return None  # the header from anywhere else is anyone's to write
        values = request.headers.getall(INGRESS_PATH_HEADER, [])
        if len(values) == 1 and _INGRESS_PATH_RE.fullmatch(values[0]):
            return values[0]
        return None


INGRESS: Final = web.AppKey("garagecam_ingress", IngressRule)


def accept_ingress(app: web.Application, gateway: IPAddress) -> None:
    """Let `app`'s rules see ingress requests from `gateway` (`ingress_path`). It refuses
    nothing: a request that is not one keeps the usual rules."""
    app[INGRESS] = IngressRule(gateway)


def ingress_path(request: web.Request) -> str | None:
    """The ingress prefix of an ingress request to an app that accepts them; else None."""
    rule = request.app.get(INGRESS)
    return rule.path(request) if rule is not None else None
