"""The few Supervisor API calls the add-on makes, as the Supervisor documents them.

`http://supervisor` with `Authorization: Bearer $SUPERVISOR_TOKEN`; every answer is
`{"result": "ok", "data": {...}}` or `{"result": "error", "message": "..."}`
(supervisor/api/utils.py `api_return_ok` / `api_return_error`). An add-on may call
`/addons/self/*`, `/services*` and `/discovery*` without `hassio_api`
(supervisor/api/middleware/security.py, `api_bypass`).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Final

from .errors import AddonError

DEFAULT_URL: Final = "http://supervisor"
_TIMEOUT: Final = 10.0
#: what `GET /services/mqtt` answers while no add-on provides the service
#: (supervisor/api/services.py `get_service_v1`)
_NOT_ENABLED: Final = "Service not enabled"


@dataclass(frozen=True)
class MqttService:
    """The broker from `GET /services/mqtt` (supervisor/services/modules/mqtt.py)."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    ssl: bool = False


@dataclass(frozen=True)
class SelfInfo:
    """What the add-on needs from `GET /addons/self/info`."""

    hostname: str
    version: str


class SupervisorApiError(AddonError):
    """The Supervisor refused or failed a call (its message, never the token)."""


class Supervisor:
    def __init__(self, token: str, url: str = DEFAULT_URL) -> None:
        self._token = token
        self._url = url.rstrip("/")

    def mqtt(self) -> MqttService | None:
        """The broker the Supervisor knows (the Mosquitto add-on), or None when there is none."""
        try:
            data = self._call("GET", "/services/mqtt")
        except SupervisorApiError as err:
            if err.args and _NOT_ENABLED in str(err.args[0]):
                return None
            raise
        try:
            return MqttService(
                host=_text(data, "host"),
                port=_port(data.get("port")),
                username=_optional_text(data, "username"),
                password=_optional_text(data, "password"),
                ssl=bool(data.get("ssl", False)),
            )
        except (TypeError, ValueError) as err:
            raise SupervisorApiError(f"GET /services/mqtt: unexpected answer ({err})") from None

    def self_info(self) -> SelfInfo:
        data = self._call("GET", "/addons/self/info")
        try:
            return SelfInfo(hostname=_text(data, "hostname"), version=str(data.get("version")))
        except (TypeError, ValueError) as err:
            raise SupervisorApiError(f"GET /addons/self/info: unexpected answer ({err})") from None

    def discovery(self, service: str, config: dict[str, Any]) -> str:
        """Send (or update) this add-on's discovery message; returns its uuid."""
        data = self._call("POST", "/discovery", {"service": service, "config": config})
        return str(data.get("uuid", ""))

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 (our own http://supervisor URL)
            self._url + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Authorization": f"Bearer {self._token}",
                "Content-Type": "application/json",
            },
        )
        where = f"{method} {path}"
        try:
            with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:  # noqa: S310
                raw = response.read()
        except urllib.error.HTTPError as err:
            raw = err.read()
            message = _message(raw) or f"HTTP {err.code}"
            raise SupervisorApiError(f"{where}: {message}") from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", None) or getattr(err, "strerror", None) or err
            raise SupervisorApiError(f"{where}: Supervisor not reachable ({reason})") from None
        answer = _json(raw)
        if answer is None or answer.get("result") != "ok":
            message = (answer or {}).get("message") or "not a Supervisor answer"
            raise SupervisorApiError(f"{where}: {message}")
        data = answer.get("data", {})
        if not isinstance(data, dict):
            raise SupervisorApiError(f"{where}: not a Supervisor answer")
        return data


def _json(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _message(raw: bytes) -> str | None:
    answer = _json(raw)
    message = answer.get("message") if answer else None
    return message if isinstance(message, str) else None


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} missing")
    return value


def _optional_text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} is not text")
    return value


def _port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("port missing")
    port = int(value)
    if not 1 <= port <= 65535:
        raise ValueError("port out of range")
    return port
