"""A stand-in Home Assistant Supervisor: the HTTP endpoints of add-on discovery, on 127.0.0.1.

It follows home-assistant/supervisor (snapshot 090ef31, 2026-08-21), where each rule is:
- the envelope `{"result": "ok", "data": ...}` / `{"result": "error", "message": ...}` with the
  status of the error (supervisor/api/utils.py: api_process, api_return_ok, api_return_error);
- the token in `Authorization: Bearer` (api/utils.py extract_supervisor_token); an unknown token
  is 401; reading discovery messages is for Home Assistant only, else 401 (api/discovery.py
  @require_home_assistant, api/utils.py); an add-on may POST/DELETE /discovery
  (middleware/security.py, api_bypass `/discovery.*`);
- GET /discovery lists only the messages of started add-ons, with the `addon` key on the v1 API
  (api/discovery.py _list_messages, list_discovery_v1);
- POST /discovery accepts any service the add-on lists in its config's `discovery`, else 403
  (api/discovery.py set_discovery; no per-service schema since supervisor#4937); one message per
  add-on and service: a new config updates it and keeps its uuid (discovery/__init__.py send),
  then the Supervisor tells Home Assistant: POST `api/hassio_push/discovery/{uuid}` with
  `{"service", "uuid", "addon"}` and no config (discovery/__init__.py _push_discovery);
- GET /addons/{slug}/info: the installed add-on's info (api/apps.py info_data + v1 `advanced`);
  the hostname is the slug with `_` -> `-` (apps/model.py hostname); unknown slug: 404.

What the add-on side does (its token, its POST) is driven by the test through `AddonSide`.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web


@dataclass
class StandinAddon:
    """An installed add-on as the Supervisor knows it."""

    slug: str  # `<repository hash>_garagecam` for a custom repository, `local_garagecam`
    name: str
    token: str  # the SUPERVISOR_TOKEN the Supervisor gave the add-on
    discovery: list[str] = field(default_factory=list)
    state: str = "started"
    options: dict[str, Any] = field(default_factory=dict)
    hostname: str = ""  # on the Supervisor's network: the slug with "_" -> "-"

    def __post_init__(self) -> None:
        self.hostname = self.hostname or self.slug.replace("_", "-")

    def info(self) -> dict[str, Any]:
        """/addons/{slug}/info for Home Assistant (options exposed: api/apps.py)."""
        return {
            "name": self.name,
            "slug": self.slug,
            "hostname": self.hostname,
            "dns": [f"{self.hostname}.local.hass.io"],
            "description": "GarageCam inference server and studio",
            "long_description": None,
            "stage": "stable",
            "repository": self.slug.split("_", 1)[0],
            "version_latest": "0.1.0",
            "protected": True,
            "rating": 6,
            "boot_config": "auto",
            "boot": "auto",
            "options": dict(self.options),
            "schema": [],
            "arch": ["aarch64", "amd64"],
            "machine": [],
            "homeassistant": None,
            "url": None,
            "detached": False,
            "available": True,
            "build": False,
            "network": None,
            "network_description": None,
            "host_network": False,
            "host_pid": False,
            "host_ipc": False,
            "host_uts": False,
            "host_dbus": False,
            "privileged": [],
            "full_access": False,
            "apparmor": "default",
            "icon": True,
            "logo": True,
            "changelog": True,
            "documentation": True,
            "stdin": False,
            "hassio_api": True,
            "hassio_role": "default",
            "auth_api": False,
            "homeassistant_api": False,
            "gpio": False,
            "usb": False,
            "uart": False,
            "kernel_modules": False,
            "devicetree": False,
            "udev": False,
            "docker_api": False,
            "video": False,
            "audio": False,
            "startup": "application",
            "services": ["mqtt:want"],
            "discovery": list(self.discovery),
            "translations": {},
            "ingress": True,
            "signed": False,
            "state": self.state,
            "webui": None,
            "ingress_entry": f"/api/hassio_ingress/{self.slug}",
            "ingress_url": f"/api/hassio_ingress/{self.slug}/",
            "ingress_port": 8099,
            "ingress_panel": True,
            "audio_input": None,
            "audio_output": None,
            "auto_update": False,
            "ip_address": "172.30.33.4",
            "version": "0.1.0",
            "update_available": False,
            "watchdog": False,
            "devices": [],
            "system_managed": False,
            "system_managed_config_entry": None,
            "advanced": False,  # v1 only (deprecated 2026.03)
        }


@dataclass
class Message:
    addon: str
    service: str
    config: dict[str, Any]
    uuid: str = field(default_factory=lambda: uuid.uuid4().hex)


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class StandinSupervisor:
    """`await start()`, then Home Assistant's SupervisorClient talks to `host` (ip:port)."""

    def __init__(self, home_assistant_token: str) -> None:
        self.home_assistant_token = home_assistant_token
        self.addons: dict[str, StandinAddon] = {}
        self.messages: dict[str, Message] = {}
        #: (method, path, caller: "homeassistant" or an add-on slug), in order
        self.requests: list[tuple[str, str, str]] = []
        #: Home Assistant's base URL and the Supervisor user's token, for the discovery push
        self.push_to: tuple[str, str] | None = None
        self.push_status: list[int] = []
        self._pushes: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> StandinSupervisor:
        app = web.Application()
        app.add_routes(
            [
                web.get("/discovery", self._list_discovery),
                web.get("/discovery/{uuid}", self._get_discovery),
                web.post("/discovery", self._set_discovery),
                web.delete("/discovery/{uuid}", self._del_discovery),
                web.get("/addons/{slug}/info", self._addon_info),
            ]
        )
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.Server)
        self.port = server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        await self.pushes_done()
        if self._runner is not None:
            await self._runner.cleanup()

    async def pushes_done(self) -> None:
        """The Supervisor pushes in the background (sys_create_task); wait for them."""
        while self._pushes:
            await asyncio.gather(*self._pushes)

    def install(self, addon: StandinAddon) -> StandinAddon:
        self.addons[addon.slug] = addon
        return addon

    # --- the API ----------------------------------------------------------------------------

    @staticmethod
    def _ok(data: dict[str, Any]) -> web.Response:
        return web.json_response({"result": "ok", "data": data})

    @staticmethod
    def _error(err: ApiError) -> web.Response:
        return web.json_response({"result": "error", "message": str(err)}, status=err.status)

    def _caller(self, request: web.Request) -> str:
        token = request.headers.get("Authorization", "").split(" ")[-1]
        if token and token == self.home_assistant_token:
            caller = "homeassistant"
        else:
            caller = next((a.slug for a in self.addons.values() if a.token == token), "")
        self.requests.append((request.method, request.path, caller or "?"))
        if not caller:
            raise web.HTTPUnauthorized(text="Invalid token for access")
        return caller

    def _home_assistant_only(self, request: web.Request) -> None:
        if self._caller(request) != "homeassistant":  # api/utils.py require_home_assistant
            raise web.HTTPUnauthorized

    @staticmethod
    def _v1(message: Message) -> dict[str, Any]:
        return {
            "addon": message.addon,
            "service": message.service,
            "uuid": message.uuid,
            "config": message.config,
        }

    async def _list_discovery(self, request: web.Request) -> web.Response:
        self._home_assistant_only(request)
        started = [
            self._v1(m)
            for m in self.messages.values()
            if m.addon in self.addons and self.addons[m.addon].state == "started"
        ]
        services: dict[str, list[str]] = {}
        for addon in self.addons.values():
            for name in addon.discovery:
                services.setdefault(name, []).append(addon.slug)
        return self._ok({"discovery": started, "services": services})

    async def _get_discovery(self, request: web.Request) -> web.Response:
        try:
            self._home_assistant_only(request)
            message = self.messages.get(request.match_info["uuid"])
            if message is None:
                raise ApiError(404, "Discovery message not found")
        except ApiError as err:
            return self._error(err)
        return self._ok(self._v1(message))

    async def _set_discovery(self, request: web.Request) -> web.Response:
        caller = self._caller(request)
        body = await request.json()
        try:
            addon = self.addons.get(caller)
            if addon is None:
                raise ApiError(400, "Self is not an App")
            if not isinstance(body.get("service"), str) or not isinstance(body.get("config"), dict):
                raise ApiError(400, "does not match the discovery schema")
            if body["service"] not in addon.discovery:
                raise ApiError(
                    403, "Apps must list services they provide via discovery in their config!"
                )
        except ApiError as err:
            return self._error(err)
        message = next(
            (
                m
                for m in self.messages.values()
                if (m.addon, m.service) == (caller, body["service"])
            ),
            None,
        )
        if message is not None and message.config == body["config"]:
            return self._ok({"uuid": message.uuid})  # a duplicate: no push
        if message is None:
            message = Message(caller, body["service"], body["config"])
            self.messages[message.uuid] = message
        message.config = body["config"]
        self._push(message, "post")
        return self._ok({"uuid": message.uuid})

    async def _del_discovery(self, request: web.Request) -> web.Response:
        caller = self._caller(request)
        message = self.messages.get(request.match_info["uuid"])
        try:
            if message is None:
                raise ApiError(404, "Discovery message not found")
            if message.addon != caller:
                raise ApiError(403, "Can't remove discovery message")
        except ApiError as err:
            return self._error(err)
        del self.messages[message.uuid]
        self._push(message, "delete")
        return self._ok({})

    async def _addon_info(self, request: web.Request) -> web.Response:
        caller = self._caller(request)
        slug = request.match_info["slug"]
        addon = self.addons.get(caller) if slug == "self" else self.addons.get(slug)
        if addon is None:
            return self._error(ApiError(404, f"App {slug} does not exist"))
        return self._ok(addon.info())

    # --- the push to Home Assistant ---------------------------------------------------------

    def _push(self, message: Message, method: str) -> None:
        if self.push_to is None:
            return  # Home Assistant not running: it reads the list when it starts
        task = asyncio.get_running_loop().create_task(self._send_push(message, method))
        self._pushes.add(task)
        task.add_done_callback(self._pushes.discard)

    async def _send_push(self, message: Message, method: str) -> None:
        assert self.push_to is not None
        base, token = self.push_to
        payload = {"service": message.service, "uuid": message.uuid, "addon": message.addon}
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                method,
                f"{base.rstrip('/')}/api/hassio_push/discovery/{message.uuid}",
                json=payload,
                headers={"Authorization": f"Bearer {token}"},
            ) as response,
        ):
            self.push_status.append(response.status)


class AddonSide:
    """What the GarageCam add-on does with the Supervisor API, over HTTP, with its token."""

    def __init__(self, supervisor: StandinSupervisor, addon: StandinAddon) -> None:
        self.supervisor = supervisor
        self.addon = addon

    async def announce(self, config: dict[str, Any], service: str = "garagecam") -> str:
        """POST /discovery {"service": "garagecam", "config": ...}: the message's uuid."""
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"http://{self.supervisor.host}/discovery",
                json={"service": service, "config": config},
                headers={"Authorization": f"Bearer {self.addon.token}"},
            ) as response,
        ):
            body = await response.json()
            assert response.status == 200, body
            return str(body["data"]["uuid"])
