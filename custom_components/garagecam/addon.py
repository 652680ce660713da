"""The GarageCam add-on, found through the Supervisor (Home Assistant OS and Supervised).

The contract with the add-on: its `config.yaml` lists `discovery: [garagecam]`, and at each
start (and whenever its token changes) it POSTs the Supervisor's `/discovery` with
`{"service": "garagecam", "config": {"port": <its runner's port inside the add-on network>,
"token": <its runner's http.token>}}`. The Supervisor keeps one message per add-on and service
and tells Home Assistant, whose `hassio` integration opens our flow with source `hassio`
(`async_step_hassio`), also for a custom integration: the Supervisor has checked no
per-service schema since 2024.03, only that the add-on lists the service.

The message may also name the add-on studio's `model` and `dataset` folder (under `/share`,
which Home Assistant OS mounts at the same path in Home Assistant's container): entries made
through the add-on use that model by default, and an entry of that model keeps its frames
(capture, `save_snapshot`) in that folder, the one the studio in the sidebar labels.

The address is not taken from the message: it is the add-on's hostname on the Supervisor's
internal network, from the Supervisor's add-on info, so an add-on can only point Home Assistant
at itself. Home Assistant reads the message through the Supervisor API (an admin-only
endpoint), never from the add-on's options, which other add-ons with the manager role can read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, Final

from aiohasupervisor import SupervisorError
from aiohasupervisor.models import AddonState
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.hassio import is_hassio

from .const import (
    CONF_ADDON,
    CONF_DATASET,
    CONF_MODE,
    CONF_MODEL,
    CONF_TOKEN,
    CONF_URL,
    DOMAIN,
    LOGGER,
    MODE_REMOTE,
)

if TYPE_CHECKING:
    from aiohasupervisor import SupervisorClient

#: the entry states in which a new address or token is worth a reload now
_RELOAD_STATES: Final = frozenset(
    {ConfigEntryState.LOADED, ConfigEntryState.SETUP_RETRY, ConfigEntryState.SETUP_ERROR}
)


#: the only folder an add-on may name for Home Assistant's frames: the share both see
SHARED_FOLDER = PurePosixPath("/share")
_MODEL_NAME: Final = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


class AddonUnavailable(HomeAssistantError):
    """The add-on is not installed, not started, or its discovery message is unusable."""


@dataclass(frozen=True)
class AddonServer:
    """Where a running GarageCam add-on serves its runner's API, and with which token."""

    slug: str
    name: str
    url: str
    token: str = field(repr=False)
    model: str | None = None  # the studio's model: the default for new entries
    dataset: str | None = None  # the studio's folder: where entries of that model keep frames

    @property
    def entry_data(self) -> dict[str, str]:
        """What a Remote-mode entry that follows this add-on holds of it."""
        return {CONF_MODE: MODE_REMOTE, CONF_URL: self.url, CONF_TOKEN: self.token}

    def dataset_for(self, model: str | None) -> dict[str, str]:
        """The dataset folder an entry of `model` keeps its frames in, if the add-on's studio
        labels that model's frames."""
        if model is None or model != self.model or self.dataset is None:
            return {}
        return {CONF_DATASET: self.dataset}


def addon_unique_id(slug: str) -> str:
    """The discovery flow's unique id: "Ignore" on the card ignores this add-on only."""
    return f"addon_{slug}"


def _port_and_token(config: Mapping[str, Any]) -> tuple[int, str]:
    port, token = config.get("port"), config.get("token")
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise AddonUnavailable("its discovery message has no valid 'port' (1-65535)")
    if not isinstance(token, str) or not token.strip():
        raise AddonUnavailable("its discovery message has no 'token'")
    return port, token


def _studio(config: Mapping[str, Any], slug: str) -> tuple[str | None, str | None]:
    """The studio's model and folder from the message; what does not fit is left out (the
    add-on still serves Home Assistant): a folder must be under /share, never elsewhere."""
    model, dataset = config.get("model"), config.get("dataset")
    if not isinstance(model, str) or not _MODEL_NAME.match(model):
        model = None
    if dataset is not None and not _shared_folder(dataset):
        LOGGER.warning(
            "GarageCam add-on %s names a dataset folder outside %s; frames stay in %s",
            slug,
            SHARED_FOLDER,
            "Home Assistant's config folder",
        )
        dataset = None
    return model, dataset


def _shared_folder(value: Any) -> bool:
    if not isinstance(value, str) or "\0" in value:
        return False
    path = PurePosixPath(value)
    return path.is_absolute() and ".." not in path.parts and path.is_relative_to(SHARED_FOLDER)


def _supervisor(hass: HomeAssistant) -> SupervisorClient:
    # Imported here: the hassio package pulls in the frontend and more, and is loaded only
    # under the Supervisor (callers check is_hassio first).
    from homeassistant.components.hassio import get_supervisor_client

    return get_supervisor_client(hass)


async def async_addon_server(
    hass: HomeAssistant, slug: str, config: Mapping[str, Any]
) -> AddonServer:
    """The add-on's server from its discovery config and the Supervisor's add-on info."""
    port, token = _port_and_token(config)
    try:
        info = await _supervisor(hass).addons.addon_info(slug)
    except SupervisorError as err:
        raise AddonUnavailable(f"the Supervisor has no add-on {slug}: {err}") from err
    if info.state != AddonState.STARTED:
        raise AddonUnavailable(f"add-on {slug} is {info.state}, not started")
    model, dataset = _studio(config, slug)
    return AddonServer(slug, info.name, f"http://{info.hostname}:{port}", token, model, dataset)


async def async_find_addon(hass: HomeAssistant, slug: str | None = None) -> AddonServer | None:
    """The running GarageCam add-on (that one if `slug` is given), or None.

    Only under the Supervisor; its discovery list holds messages of started add-ons only.
    """
    if not is_hassio(hass):
        return None
    try:
        messages = await _supervisor(hass).discovery.list()
    except SupervisorError as err:
        LOGGER.warning("Cannot read the Supervisor's discovery messages: %s", err)
        return None
    for message in messages:
        if message.service != DOMAIN or slug not in (None, message.addon):
            continue
        try:
            return await async_addon_server(hass, message.addon, message.config)
        except AddonUnavailable as err:
            LOGGER.warning("GarageCam add-on %s not usable: %s", message.addon, err)
    return None


def _followers(hass: HomeAssistant, slug: str) -> list[ConfigEntry]:
    return [
        entry
        for entry in hass.config_entries.async_entries(DOMAIN, include_ignore=False)
        if entry.data.get(CONF_ADDON) == slug
    ]


@callback
def _async_apply(hass: HomeAssistant, entry: ConfigEntry, server: AddonServer) -> bool:
    """The entry takes the add-on's current address and token (and the studio's folder, for
    an entry of the studio's model); True if anything changed."""
    wanted = server.entry_data | server.dataset_for(entry.data.get(CONF_MODEL))
    if all(entry.data.get(key) == value for key, value in wanted.items()):
        return False
    # The URL is no secret (an internal hostname); the token never reaches the log.
    LOGGER.info("%s follows the GarageCam add-on %s at %s", entry.title, server.slug, server.url)
    hass.config_entries.async_update_entry(entry, data={**entry.data, **wanted})
    return True


@callback
def async_follow_addon(hass: HomeAssistant, server: AddonServer) -> bool:
    """Entries that use this add-on take its new address or token and reload.

    True if any entry uses the add-on (the discovery then has nothing to ask).
    """
    followers = _followers(hass, server.slug)
    for entry in followers:
        if _async_apply(hass, entry, server) and entry.state in _RELOAD_STATES:
            hass.config_entries.async_schedule_reload(entry.entry_id)
    return bool(followers)


async def async_refresh_from_addon(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """At set-up: an entry that uses the add-on re-reads its address and token first.

    The add-on may have a new token or port since the last start of Home Assistant. If the
    add-on cannot be read now, the entry keeps what it has (set-up then says why it fails).
    """
    slug = entry.data.get(CONF_ADDON)
    if not slug:
        return
    server = await async_find_addon(hass, slug)
    if server is None:
        LOGGER.warning(
            "%s: the GarageCam add-on %s is not running or not found; using its last address",
            entry.title,
            slug,
        )
        return
    _async_apply(hass, entry, server)
