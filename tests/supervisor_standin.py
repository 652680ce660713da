"""A stand-in for the Home Assistant Supervisor's HTTP API, the part an add-on calls.

It follows the Supervisor's documented behaviour (home-assistant/supervisor, read at
090ef31, 2026-08-21) for what the GarageCam add-on sends, and records every request:

- auth: `Authorization: Bearer <token>` or `X-Supervisor-Token` (supervisor/api/utils.py
  `extract_supervisor_token`); none -> 401, an unknown token -> 403
  (supervisor/api/middleware/security.py `token_validation`);
- answers `{"result": "ok", "data": ...}` / `{"result": "error", "message": ...}` with 400
  (supervisor/api/utils.py `api_return_ok`, `api_return_error`);
- `GET /services/mqtt`: the broker a provider registered, with the legacy `addon` key;
  "Service not enabled" while none did; 403 for an add-on without `services: mqtt`
  (supervisor/api/services.py `get_service_v1`, `_check_access`);
- `POST /discovery`: `{"service": str, "config": dict}` only (else 400), the service must be
  in the add-on's `discovery` list (else 403); the same add-on and service again updates the
  message and keeps its uuid (supervisor/api/discovery.py `set_discovery`,
  supervisor/discovery/__init__.py `send`);
- `GET /addons/self/info`: the calling add-on's info, `hostname` = its slug with `_` -> `-`
  (supervisor/api/apps.py `info_data`, supervisor/apps/model.py `hostname`).

Home-Assistant-facing endpoints (listing discovery, other add-ons' info) are not here.
Listens on 127.0.0.1 only, on a free port, in a thread of its own; stops with the context.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class AddonRecord:
    """The add-on as the Supervisor knows it (config.yaml plus its installed state)."""

    slug: str  # as installed: `<repository hash>_<config slug>`
    version: str
    discovery: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)  # e.g. ["mqtt:want"]
    ingress_port: int = 8099
    ip_address: str = "172.30.33.5"


def installed_slug(repository_url: str, slug: str) -> str:
    """The slug of an add-on installed from a custom repository
    (supervisor/store/utils.py `get_hash_from_repository`: sha1 of the lower-cased URL)."""
    return f"{hashlib.sha1(repository_url.lower().encode()).hexdigest()[:8]}_{slug}"


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    status: int


@dataclass
class SupervisorStandIn:
    token: str
    addon: AddonRecord
    mqtt: dict[str, Any] | None = None  # as a provider posted it (host, port, username, ...)
    mqtt_provider: str = "core_mosquitto"
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    discovery_messages: dict[str, dict[str, Any]] = field(default_factory=dict)  # uuid -> msg

    # --- what the add-on calls -------------------------------------------------------------

    def _authorized(self, request: web.Request) -> None:
        header = (
            request.headers.get("X-Supervisor-Token")
            or request.headers.get("Authorization", "").split(" ")[-1]
        )
        if not header:
            raise web.HTTPUnauthorized
        if header != self.token:
            raise web.HTTPForbidden

    async def _services_mqtt(self, request: web.Request) -> web.Response:
        if not any(s.split(":")[0] == "mqtt" for s in self.addon.services):
            return _error("No access to mqtt service!", status=403)
        if self.mqtt is None:
            return _error("Service not enabled")
        return _ok({**self.mqtt, "addon": self.mqtt_provider})

    async def _discovery(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return _error("Invalid json")
        if (
            not isinstance(body, dict)
            or set(body) != {"service", "config"}
            or not isinstance(body["service"], str)
            or not isinstance(body["config"], dict)
        ):
            return _error("Invalid discovery message")
        if body["service"] not in self.addon.discovery:
            return _error(
                "Apps must list services they provide via discovery in their config!", 403
            )
        for message_id, message in self.discovery_messages.items():
            if message["app"] == self.addon.slug and message["service"] == body["service"]:
                message["config"] = body["config"]
                return _ok({"uuid": message_id})
        message_id = uuid.uuid4().hex
        self.discovery_messages[message_id] = {
            "app": self.addon.slug,
            "service": body["service"],
            "uuid": message_id,
            "config": body["config"],
        }
        return _ok({"uuid": message_id})

    async def _self_info(self, request: web.Request) -> web.Response:
        addon = self.addon
        return _ok(
            {
                "name": "GarageCam",
                "slug": addon.slug,
                "hostname": addon.slug.replace("_", "-"),
                "version": addon.version,
                "state": "started",
                "ingress": True,
                "ingress_port": addon.ingress_port,
                "ip_address": addon.ip_address,
                "discovery": addon.discovery,
                "services": addon.services,
            }
        )

    # --- server ---------------------------------------------------------------------------

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body: Any = None
        if request.can_read_body:
            text = await request.text()
            try:
                body = json.loads(text)
            except ValueError:
                body = text
        try:
            self._authorized(request)
            response: web.StreamResponse = await handler(request)
        except web.HTTPException as err:  # the Supervisor raises these (plain text bodies)
            response = web.Response(status=err.status, text=err.text)
        self.requests.append(Recorded(request.method, request.path, body, response.status))
        return response

    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._record])
        app.router.add_get("/services/mqtt", self._services_mqtt)
        app.router.add_post("/discovery", self._discovery)
        app.router.add_get("/addons/self/info", self._self_info)
        return app

    def calls(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path == path]


def _ok(data: dict[str, Any]) -> web.Response:
    return web.json_response({"result": "ok", "data": data})


def _error(message: str, status: int = 400) -> web.Response:
    return web.json_response({"result": "error", "message": message}, status=status)


@contextmanager
def running(standin: SupervisorStandIn) -> Iterator[SupervisorStandIn]:
    """Serve `standin` on 127.0.0.1 (a free port) in a thread until the block ends."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    runner = web.AppRunner(standin._app(), access_log=None)

    async def start() -> None:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        standin.url = f"http://127.0.0.1:{port}"
        started.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    started.wait(10)
    try:
        yield standin
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
