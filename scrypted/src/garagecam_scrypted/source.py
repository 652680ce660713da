"""Snapshots from a Scrypted camera, as a core `SnapshotSource` for the runner's poll loop."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import scrypted_sdk
from scrypted_sdk import ScryptedInterface

from garagecam_core.errors import SourceError
from garagecam_core.redact import redact_url
from garagecam_core.sources import DEFAULT_MAX_BYTES, check_image

DEFAULT_TIMEOUT = 20.0
_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")


def scrub_urls(text: str) -> str:
    """Camera plugins put stream URLs, credentials included, into their errors."""
    return _URL.sub(lambda match: redact_url(match.group(0)), text)


def error_text(err: BaseException) -> str:
    """An error's message. Errors thrown across Scrypted's RPC (`rpc.RPCResultError`) keep it
    in `.message`; their `str()` is the raw `(caught, message)` argument tuple."""
    message = getattr(err, "message", None)
    return message if isinstance(message, str) and message else str(err)


class ScryptedSnapshotSource:
    """`takePicture({"reason": "event"})` then `convertMediaObjectToBuffer(mo, "image/jpeg")`.

    Every failure becomes a `SourceError` with a short reason, so the core's camera loop
    counts it, backs off and logs the loss and the recovery once each.
    """

    def __init__(
        self, device_id: str, timeout: float | None = None, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        self.device_id = device_id
        self._timeout = DEFAULT_TIMEOUT if timeout is None else timeout
        self._max_bytes = max_bytes

    @property
    def description(self) -> str:
        return f"Scrypted camera {self.device_id}"

    def _device(self) -> Any:
        device = scrypted_sdk.systemManager.getDeviceById(self.device_id)
        if device is None:
            raise SourceError(
                f"{self.description} no longer exists; choose another camera in the settings",
                "missing",
            )
        interfaces = device.interfaces or []
        if ScryptedInterface.Camera.value not in interfaces:
            raise SourceError(
                f"{self.description} ({device.name}) cannot take pictures (no Camera interface)",
                "not_camera",
            )
        return device

    async def fetch(self) -> bytes:
        device = self._device()
        where = f"{self.description} ({device.name})"
        try:
            async with asyncio.timeout(self._timeout):
                picture = await device.takePicture({"reason": "event"})
                data = await scrypted_sdk.mediaManager.convertMediaObjectToBuffer(
                    picture, "image/jpeg"
                )
        except TimeoutError:
            raise SourceError(
                f"{where} sent no snapshot within {self._timeout:g} s", "timeout"
            ) from None
        except SourceError:
            raise
        except Exception as err:  # whatever the camera's plugin raised, across the RPC
            message = scrub_urls(error_text(err)) or type(err).__name__
            raise SourceError(f"{where}: snapshot failed: {message}", "camera") from err
        if not isinstance(data, bytes | bytearray | memoryview):
            raise SourceError(f"{where} sent {type(data).__name__}, not image bytes", "not_image")
        if len(data) > self._max_bytes:
            raise SourceError(
                f"{where} sent {len(data):,} bytes, more than {self._max_bytes:,}", "too_big"
            )
        return check_image(bytes(data), where)

    async def close(self) -> None:
        """The camera belongs to Scrypted; nothing to release."""
