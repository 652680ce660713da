"""GarageCam: camera snapshots classified by an ExecuTorch model, as binary sensors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import (
    ConfigEntryAuthFailed,
    ConfigEntryError,
    ConfigEntryNotReady,
    HomeAssistantError,
)
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.typing import ConfigType

from garagecam_core.errors import (
    ConfigError,
    GarageCamError,
    ModelError,
    ModelNotFoundError,
    RemoteAuthError,
    RuntimeMissingError,
)

from .addon import async_refresh_from_addon
from .camera_options import camera_options
from .capture import EntryCapture
from .capture import issue_id as capture_issue_id
from .const import (
    CONF_CAPTURE_ENABLED,
    CONF_MAX_AGE,
    CONF_MODEL,
    CONF_MQTT_ENABLED,
    CONF_MQTT_PREFIX,
    CONF_ROI,
    CONF_SCAN_INTERVAL,
    DEFAULT_MQTT_PREFIX,
    DEFAULT_SCAN_INTERVAL,
    DOMAIN,
    LOGGER,
    OLD_DEFAULT_MAX_AGE,
    OLD_DEFAULT_MQTT_PREFIX,
)
from .coordinator import (
    GarageCamCoordinator,
    build_debouncer,
    unfamiliar_issue_id,
)
from .inference import async_create_engine, models_dir
from .runtime_data import GarageCamConfigEntry, GarageCamRuntimeData
from .services import async_setup_services

PLATFORMS = [Platform.BINARY_SENSOR, Platform.BUTTON, Platform.IMAGE, Platform.SENSOR]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    async_setup_services(hass)
    return True


async def async_migrate_entry(hass: HomeAssistant, entry: GarageCamConfigEntry) -> bool:
    """1.1 -> 1.2: the old default MQTT prefix `garagecam` collided with the runner's topics.
    1.2 -> 1.3: the max age follows the scan interval unless the user set one."""
    if entry.version > 1:
        return False  # written by a newer GarageCam: do not guess
    if entry.minor_version < 2:
        options = dict(entry.options)
        if options.get(CONF_MQTT_PREFIX) == OLD_DEFAULT_MQTT_PREFIX:
            options[CONF_MQTT_PREFIX] = DEFAULT_MQTT_PREFIX
            LOGGER.warning(
                "%s: MQTT discovery prefix moved from %s to %s (the old one is the GarageCam "
                "runner's base topic); point Homebridge or Scrypted at %s",
                entry.title,
                OLD_DEFAULT_MQTT_PREFIX,
                DEFAULT_MQTT_PREFIX,
                DEFAULT_MQTT_PREFIX,
            )
        hass.config_entries.async_update_entry(entry, options=options, minor_version=2)
    if entry.minor_version < 3:
        hass.config_entries.async_update_entry(
            entry, options=_without_old_max_age(entry.options), minor_version=3
        )
    return True


def _without_old_max_age(options: Mapping[str, Any]) -> dict[str, Any]:
    """Before 1.3 every save of the options form stored the fixed default of 60 s, which ends
    between two polls of an entry polling every 5 minutes: drop it, and any max age below
    the scan interval, so the core's rule (three scan intervals, at least 60 s) applies."""
    kept = dict(options)
    interval = kept.get(CONF_SCAN_INTERVAL, DEFAULT_SCAN_INTERVAL)
    max_age = kept.get(CONF_MAX_AGE)
    if max_age is not None and (max_age == OLD_DEFAULT_MAX_AGE or max_age < interval):
        del kept[CONF_MAX_AGE]
    return kept


async def async_setup_entry(hass: HomeAssistant, entry: GarageCamConfigEntry) -> bool:
    await async_refresh_from_addon(hass, entry)  # an add-on's entry: its current port and token
    try:
        keys = (CONF_SCAN_INTERVAL, CONF_ROI, CONF_MAX_AGE)
        roi = camera_options({k: entry.options[k] for k in keys if k in entry.options}).roi
        engine = await async_create_engine(hass, entry.data)
    except ModelNotFoundError as err:
        # Often temporary (a share not mounted yet, a copy in progress): retry with backoff,
        # and tell the user in Repairs what to put where.
        _create_model_issue(hass, entry)
        raise _setup_error(ConfigEntryNotReady, "model_missing", entry, err) from err
    except RemoteAuthError as err:  # starts the reauth flow
        raise _setup_error(ConfigEntryAuthFailed, "auth_failed", entry, err) from err
    except (ModelError, RuntimeMissingError, ConfigError) as err:
        # Retrying cannot help: the user has to reconfigure.
        raise _setup_error(ConfigEntryError, "cannot_start", entry, err) from err
    except GarageCamError as err:
        raise _setup_error(ConfigEntryNotReady, "not_ready", entry, err) from err
    ir.async_delete_issue(hass, DOMAIN, _model_issue_id(entry))
    try:
        debouncer = build_debouncer(engine, dict(entry.options), entry.title)
        coordinator = GarageCamCoordinator(hass, entry, engine, debouncer, roi)
        entry.runtime_data = GarageCamRuntimeData(coordinator=coordinator, engine=engine)
        await coordinator.async_config_entry_first_refresh()
        await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
        if entry.options.get(CONF_MQTT_ENABLED):
            from .mqtt_bridge import MqttBridge

            bridge = MqttBridge(hass, entry, coordinator)
            if await bridge.async_start():
                entry.runtime_data.bridge = bridge
        elif "mqtt" in hass.config.components:
            from .mqtt_bridge import async_clear_published

            await async_clear_published(hass, entry.entry_id)
        if entry.options.get(CONF_CAPTURE_ENABLED):
            entry.runtime_data.capture = EntryCapture(hass, entry, coordinator)
            entry.runtime_data.capture.async_start()
        else:
            ir.async_delete_issue(hass, DOMAIN, capture_issue_id(entry))
    except BaseException:
        await engine.close()
        raise
    # No update listener: the options flow (OptionsFlowWithReload), reauth and reconfigure
    # (async_update_reload_and_abort) reload the entry themselves.
    return True


def _setup_error[E: HomeAssistantError](
    kind: type[E], key: str, entry: GarageCamConfigEntry, err: Exception
) -> E:
    """A translated set-up exception; the core's own message is a placeholder."""
    return kind(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders={"title": entry.title, "error": str(err)},
    )


def _model_issue_id(entry: GarageCamConfigEntry) -> str:
    return f"model_missing_{entry.entry_id}"


def _create_model_issue(hass: HomeAssistant, entry: GarageCamConfigEntry) -> None:
    ir.async_create_issue(
        hass,
        DOMAIN,
        _model_issue_id(entry),
        is_fixable=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key="model_missing",
        translation_placeholders={
            "title": entry.title,
            "model": entry.data[CONF_MODEL],
            "directory": str(models_dir(hass)),
        },
    )


async def async_unload_entry(hass: HomeAssistant, entry: GarageCamConfigEntry) -> bool:
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        runtime = entry.runtime_data
        if runtime.capture is not None:
            await runtime.capture.async_stop()
        if runtime.bridge is not None:
            await runtime.bridge.async_stop()
        await runtime.engine.close()
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: GarageCamConfigEntry) -> None:
    """Remove the entry's Repairs issues and its retained MQTT topics (bridges forget the
    accessories)."""
    ir.async_delete_issue(hass, DOMAIN, _model_issue_id(entry))
    ir.async_delete_issue(hass, DOMAIN, capture_issue_id(entry))
    ir.async_delete_issue(hass, DOMAIN, unfamiliar_issue_id(entry))
    if "mqtt" in hass.config.components:
        from .mqtt_bridge import async_clear_published

        await async_clear_published(hass, entry.entry_id)
