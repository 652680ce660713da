"""GarageCam: camera snapshots classified by an ExecuTorch model, as binary sensors."""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import (
    ConfigEntryAuthFailed,
    ConfigEntryError,
    ConfigEntryNotReady,
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

from .const import CONF_MODEL, CONF_MQTT_ENABLED, CONF_ROI, DOMAIN
from .coordinator import (
    GarageCamConfigEntry,
    GarageCamCoordinator,
    GarageCamRuntimeData,
    build_debouncer,
    parse_roi,
)
from .inference import async_create_engine, models_dir
from .services import async_setup_services

PLATFORMS = [Platform.BINARY_SENSOR, Platform.IMAGE, Platform.SENSOR]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: GarageCamConfigEntry) -> bool:
    try:
        roi = parse_roi(entry.options.get(CONF_ROI))
        engine = await async_create_engine(hass, entry.data)
    except ModelNotFoundError as err:
        # Often temporary (a share not mounted yet, a copy in progress): retry with backoff,
        # and tell the user in Repairs what to put where.
        _create_model_issue(hass, entry)
        raise ConfigEntryNotReady(str(err)) from err
    except RemoteAuthError as err:
        raise ConfigEntryAuthFailed(str(err)) from err  # starts the reauth flow
    except (ModelError, RuntimeMissingError, ConfigError) as err:
        # Retrying cannot help: the user has to reconfigure.
        raise ConfigEntryError(str(err)) from err
    except GarageCamError as err:
        raise ConfigEntryNotReady(str(err)) from err
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
    except BaseException:
        await engine.close()
        raise
    entry.async_on_unload(entry.add_update_listener(_async_options_updated))
    return True


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


async def _async_options_updated(hass: HomeAssistant, entry: GarageCamConfigEntry) -> None:
    """Options apply at once: a reload rebuilds the debouncer, interval, ROI and MQTT."""
    hass.config_entries.async_schedule_reload(entry.entry_id)


async def async_unload_entry(hass: HomeAssistant, entry: GarageCamConfigEntry) -> bool:
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        runtime = entry.runtime_data
        if runtime.bridge is not None:
            await runtime.bridge.async_stop()
        await runtime.engine.close()
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: GarageCamConfigEntry) -> None:
    """Remove the retained MQTT discovery configs so bridges forget the accessories."""
    ir.async_delete_issue(hass, DOMAIN, _model_issue_id(entry))
    if "mqtt" in hass.config.components:
        from .mqtt_bridge import async_clear_published

        await async_clear_published(hass, entry.entry_id)
