"""Config, options and reconfigure flows.

Set-up: camera -> inference mode (local only when the ExecuTorch runtime imports) ->
[runner URL and token] -> model, scan interval, region of interest -> confirm (shows the
model's labels and the first classification). Nothing is created before a real snapshot was
classified with the chosen model. Reauth: the runner rejected the token -> a new token,
checked by a real request, then the entry reloads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import voluptuous as vol
from homeassistant.components import camera
from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    SOURCE_USER,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.selector import (
    BooleanSelector,
    EntitySelector,
    EntitySelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.service_info.hassio import HassioServiceInfo

from garagecam_core.capture import CaptureRules
from garagecam_core.engine import AsyncEngine, Classification
from garagecam_core.errors import (
    ConfigError,
    GarageCamError,
    ModelError,
    RemoteAuthError,
    RemoteConfigError,
    RemoteEngineError,
    RuntimeMissingError,
)
from garagecam_core.options import MAX_CONFIRM_FRAMES, MAX_INTERVAL, MAX_MAX_AGE, OptionsError
from garagecam_core.redact import redact_url

from .addon import (
    AddonServer,
    AddonUnavailable,
    addon_unique_id,
    async_addon_server,
    async_find_addon,
    async_follow_addon,
)
from .camera_options import camera_options, form_errors
from .const import (
    CAMERA_TIMEOUT,
    CONF_ADDON,
    CONF_CAMERA,
    CONF_CAPTURE_ENABLED,
    CONF_CAPTURE_MAX_FRAMES,
    CONF_CONFIRM_FRAMES,
    CONF_DATASET,
    CONF_LABELS,
    CONF_MAX_AGE,
    CONF_MODE,
    CONF_MODEL,
    CONF_MQTT_ENABLED,
    CONF_MQTT_PREFIX,
    CONF_OFF_THRESHOLD,
    CONF_ON_THRESHOLD,
    CONF_ROI,
    CONF_SCAN_INTERVAL,
    CONF_TOKEN,
    CONF_URL,
    CONF_USE_ADDON,
    DEFAULT_CONFIRM_FRAMES,
    DEFAULT_MQTT_PREFIX,
    DEFAULT_SCAN_INTERVAL,
    DOMAIN,
    LOGGER,
    MODE_LOCAL,
    MODE_REMOTE,
)
from .inference import (
    async_create_engine,
    async_list_remote_models,
    async_runtime_available,
    list_local_models,
)
from .runtime_data import GarageCamConfigEntry


class CameraUnavailable(HomeAssistantError):
    """The camera returned no image."""


def entry_unique_id(camera_entity_id: str, model: str) -> str:
    return f"{camera_entity_id}_{model}"


async def _async_snapshot(hass: HomeAssistant, camera_entity_id: str) -> bytes:
    try:
        image = await camera.async_get_image(hass, camera_entity_id, timeout=CAMERA_TIMEOUT)
    except HomeAssistantError as err:
        raise CameraUnavailable(str(err)) from err
    return image.content


# Most specific first: RemoteAuthError and RemoteConfigError are RemoteEngineErrors.
_ERROR_KEYS: tuple[tuple[type[Exception], str], ...] = (
    (CameraUnavailable, "camera_unavailable"),
    (RuntimeMissingError, "runtime_missing"),
    (RemoteConfigError, "url_credentials"),
    (RemoteAuthError, "invalid_auth"),
    (RemoteEngineError, "cannot_connect"),
    (ModelError, "cannot_load_model"),
    (ConfigError, "invalid_roi"),
)


def _error_key(err: Exception) -> str:
    """The translated error for a failed validation."""
    for kind, key in _ERROR_KEYS:
        if isinstance(err, kind):
            return key
    LOGGER.exception("Unexpected error while validating GarageCam", exc_info=err)
    return "unknown"


def _labels_text(engine: AsyncEngine, result: Classification) -> str:
    return "\n".join(
        f"- {spec.name} ({spec.device_class or 'on/off'}): "
        f"{result.probabilities[spec.name] * 100:.0f}%"
        for spec in engine.metadata.labels
    )


class GarageCamConfigFlow(ConfigFlow, domain=DOMAIN):
    """Camera -> mode -> [remote] -> model -> confirm; also reconfigure."""

    VERSION = 1
    MINOR_VERSION = 3  # 1.2: the old default MQTT prefix `garagecam` is migrated; 1.3: max age

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self._options: dict[str, Any] = {}
        self._remote_models: dict[str, Any] = {}
        self._labels = ""
        self._addon: AddonServer | None = None  # the GarageCam add-on found under the Supervisor
        self._addon_looked = False

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: GarageCamConfigEntry) -> GarageCamOptionsFlow:
        return GarageCamOptionsFlow()

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        if user_input is None and (offer := await self._async_offer_addon()) is not None:
            return offer
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                await _async_snapshot(self.hass, user_input[CONF_CAMERA])
            except CameraUnavailable:
                errors[CONF_CAMERA] = "camera_unavailable"
            else:
                self._data[CONF_CAMERA] = user_input[CONF_CAMERA]
                if CONF_ADDON in self._data:  # the add-on's runner: mode and address are known
                    return await self.async_step_model()
                return await self.async_step_mode()
        return self.async_show_form(
            step_id="user",
            data_schema=vol.Schema(
                {vol.Required(CONF_CAMERA): EntitySelector(EntitySelectorConfig(domain="camera"))}
            ),
            errors=errors,
        )

    async def _async_offer_addon(self) -> ConfigFlowResult | None:
        """Once per flow, before the camera: the running GarageCam add-on, if there is one."""
        if self._addon_looked:
            return None
        self._addon_looked = True
        if self.source == SOURCE_USER:
            self._addon = await async_find_addon(self.hass)
        return await self.async_step_addon() if self._addon is not None else None

    async def async_step_hassio(self, discovery_info: HassioServiceInfo) -> ConfigFlowResult:
        """The add-on announced itself (at its start, or with a new port or token)."""
        try:
            server = await async_addon_server(self.hass, discovery_info.slug, discovery_info.config)
        except AddonUnavailable as err:
            LOGGER.warning("GarageCam add-on %s not usable: %s", discovery_info.slug, err)
            return self.async_abort(reason="addon_unavailable")
        if async_follow_addon(self.hass, server):  # its entries follow it; nothing to ask
            return self.async_abort(reason="addon_in_use")
        await self.async_set_unique_id(addon_unique_id(server.slug))
        self._abort_if_unique_id_configured()  # the user chose "Ignore" for this add-on
        self.context["title_placeholders"] = {"name": server.name}
        self._addon, self._addon_looked = server, True
        return await self.async_step_addon()

    async def async_step_addon(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """The "GarageCam add-on found: use it?" step. Yes: Remote mode against it, no typing."""
        server = self._addon
        assert server is not None
        errors: dict[str, str] = {}
        if user_input is not None:
            if not user_input[CONF_USE_ADDON]:
                self._addon = None
                return await self.async_step_user()
            # its port and token now: a card can be older than the add-on's last restart
            server = self._addon = await async_find_addon(self.hass, server.slug) or server
            try:  # a real request: the add-on answers, with this token
                self._remote_models = await async_list_remote_models(
                    self.hass, server.url, server.token
                )
            except GarageCamError as err:
                errors["base"] = _error_key(err)
            else:
                self._data.update({**server.entry_data, CONF_ADDON: server.slug})
                return await self.async_step_user()
        return self.async_show_form(
            step_id="addon",
            data_schema=vol.Schema({vol.Required(CONF_USE_ADDON, default=True): BooleanSelector()}),
            description_placeholders={"name": server.name, "url": server.url},
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Switch model or mode; the camera and the entities stay."""
        entry = self._get_reconfigure_entry()
        self._data = {CONF_CAMERA: entry.data[CONF_CAMERA]}
        self._options = dict(entry.options)
        return await self.async_step_mode()

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The runner rejected the token (at set-up or while polling)."""
        entry = self._get_reauth_entry()
        if CONF_ADDON in entry.data:  # the add-on's token may have changed since: no typing
            server = await async_find_addon(self.hass, entry.data[CONF_ADDON])
            if server is not None and server.token != entry.data.get(CONF_TOKEN):
                return self.async_update_reload_and_abort(entry, data_updates=server.entry_data)
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        entry = self._get_reauth_entry()
        url, model = entry.data[CONF_URL], entry.data[CONF_MODEL]
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                token = camera_options({CONF_TOKEN: user_input.get(CONF_TOKEN)}).runner_token
                models = await async_list_remote_models(self.hass, url, token)
            except OptionsError as err:
                errors.update(form_errors(err))
            except GarageCamError as err:
                errors["base"] = _error_key(err)
            else:
                if model not in models:
                    errors["base"] = "model_gone"
                else:
                    return self.async_update_reload_and_abort(
                        entry, data_updates={CONF_TOKEN: token or ""}
                    )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema(
                {
                    vol.Optional(CONF_TOKEN): TextSelector(
                        TextSelectorConfig(type=TextSelectorType.PASSWORD)
                    )
                }
            ),
            description_placeholders={"url": redact_url(url), "model": model},
            errors=errors,
        )

    async def async_step_mode(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        local_ok = await async_runtime_available(self.hass)
        if user_input is not None:  # the selector only offers local when it works
            self._data[CONF_MODE] = user_input[CONF_MODE]
            if user_input[CONF_MODE] == MODE_REMOTE:
                return await self.async_step_remote()
            return await self.async_step_model()
        modes = [MODE_LOCAL, MODE_REMOTE] if local_ok else [MODE_REMOTE]
        return self.async_show_form(
            step_id="mode",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_MODE, default=modes[0]): SelectSelector(
                        SelectSelectorConfig(
                            options=modes, translation_key=CONF_MODE, mode=SelectSelectorMode.LIST
                        )
                    )
                }
            ),
            description_placeholders={
                "runtime": "available" if local_ok else "not installed (remote only)"
            },
        )

    async def async_step_remote(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        errors: dict[str, str] = {}
        if user_input is not None:
            given = {CONF_URL: user_input[CONF_URL], CONF_TOKEN: user_input.get(CONF_TOKEN)}
            try:
                options = camera_options(given, remote=True)
                url, token = options.runner_url or "", options.runner_token
                self._remote_models = await async_list_remote_models(self.hass, url, token)
            except OptionsError as err:
                errors.update(form_errors(err))
            except GarageCamError as err:
                errors["base"] = _error_key(err)
            else:
                self._data[CONF_URL] = url
                self._data[CONF_TOKEN] = token or ""
                return await self.async_step_model()
        previous = user_input or self._current_data()
        return self.async_show_form(
            step_id="remote",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_URL, default=previous.get(CONF_URL, "")): TextSelector(
                        TextSelectorConfig(type=TextSelectorType.URL)
                    ),
                    vol.Optional(CONF_TOKEN): TextSelector(
                        TextSelectorConfig(type=TextSelectorType.PASSWORD)
                    ),
                }
            ),
            errors=errors,
        )

    async def async_step_model(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        errors: dict[str, str] = {}
        if self._data[CONF_MODE] == MODE_REMOTE:
            models = sorted(self._remote_models)
        else:
            models = await self.hass.async_add_executor_job(list_local_models, self.hass)
        if user_input is not None:
            result = await self._async_validate_model(user_input, errors)
            if result is not None:
                return result
        defaults = {**self._options, **self._current_data(), **(user_input or {})}
        return self.async_show_form(
            step_id="model",
            data_schema=vol.Schema(
                {
                    vol.Required(
                        CONF_MODEL, default=defaults.get(CONF_MODEL, self._first_model(models))
                    ): SelectSelector(
                        SelectSelectorConfig(options=models, mode=SelectSelectorMode.DROPDOWN)
                    ),
                    vol.Required(
                        CONF_SCAN_INTERVAL,
                        default=defaults.get(CONF_SCAN_INTERVAL, DEFAULT_SCAN_INTERVAL),
                    ): _seconds(1, int(MAX_INTERVAL)),
                    vol.Optional(
                        CONF_ROI, description={"suggested_value": defaults.get(CONF_ROI)}
                    ): TextSelector(),
                }
            ),
            description_placeholders={"models": self._models_text(models)},
            errors=errors,
        )

    def _first_model(self, models: list[str]) -> str:
        """The model offered first: the add-on studio's (the one "Use this model" replaces),
        else the first one."""
        if CONF_ADDON in self._data and self._addon is not None and self._addon.model in models:
            return self._addon.model
        return models[0] if models else ""

    def _models_text(self, models: list[str]) -> str:
        if self._data[CONF_MODE] == MODE_REMOTE:
            return "\n".join(
                f"- {name}: {', '.join(meta.label_names)}"
                for name, meta in sorted(self._remote_models.items())
            )
        return "\n".join(f"- {name}" for name in models)

    async def _async_validate_model(
        self, user_input: dict[str, Any], errors: dict[str, str]
    ) -> ConfigFlowResult | None:
        model = user_input[CONF_MODEL]
        unique_id = entry_unique_id(self._data[CONF_CAMERA], model)
        if self.source == SOURCE_RECONFIGURE:
            entry = self._get_reconfigure_entry()
            if unique_id != entry.unique_id:
                await self.async_set_unique_id(unique_id)
                self._abort_if_unique_id_configured()
        else:
            await self.async_set_unique_id(unique_id)
            self._abort_if_unique_id_configured()
        try:
            options = camera_options(
                {key: user_input.get(key) for key in (CONF_SCAN_INTERVAL, CONF_ROI)}
            )
        except OptionsError as err:
            errors.update(form_errors(err))
            return None
        data = {k: v for k, v in self._data.items() if k != CONF_DATASET} | {CONF_MODEL: model}
        if CONF_ADDON in data and self._addon is not None:  # that model's frames: the studio's
            data |= self._addon.dataset_for(model)
        try:
            engine = await async_create_engine(self.hass, data)
        except Exception as err:
            errors["base"] = _error_key(err)
            return None
        try:
            image = await _async_snapshot(self.hass, data[CONF_CAMERA])
            first = await engine.classify(image, options.roi)
        except Exception as err:
            errors["base"] = _error_key(err)
            return None
        finally:
            await engine.close()
        self._data = data
        self._options[CONF_SCAN_INTERVAL] = int(user_input[CONF_SCAN_INTERVAL])
        self._options[CONF_ROI] = (user_input.get(CONF_ROI) or "").strip()
        if self._options.get(CONF_MAX_AGE, options.interval) < options.interval:
            # a max age kept from before would now end between two polls: the default rule
            del self._options[CONF_MAX_AGE]
        if set(self._options.get(CONF_LABELS, {})) - set(engine.metadata.label_names):
            self._options[CONF_LABELS] = {}  # thresholds of another model's labels
        self._labels = _labels_text(engine, first)
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        camera_id = self._data[CONF_CAMERA]
        if user_input is None:
            return self.async_show_form(
                step_id="confirm",
                description_placeholders={
                    "camera": camera_id,
                    "model": self._data[CONF_MODEL],
                    "labels": self._labels,
                },
            )
        if self.source == SOURCE_RECONFIGURE:
            entry = self._get_reconfigure_entry()
            new_unique_id = entry_unique_id(camera_id, self._data[CONF_MODEL])
            migrate_unique_ids(self.hass, entry, new_unique_id)
            return self.async_update_reload_and_abort(
                entry,
                unique_id=new_unique_id,
                title=entry_title(self.hass, camera_id, self._data[CONF_MODEL]),
                data=self._data,
                options=self._options,
            )
        return self.async_create_entry(
            title=entry_title(self.hass, camera_id, self._data[CONF_MODEL]),
            data=self._data,
            options=self._options,
        )

    def _current_data(self) -> dict[str, Any]:
        if self.source == SOURCE_RECONFIGURE:
            return dict(self._get_reconfigure_entry().data)
        return {}


def entry_title(hass: HomeAssistant, camera_id: str, model: str) -> str:
    state = hass.states.get(camera_id)
    name = state.name if state is not None else camera_id
    return f"{name} ({model})"


def migrate_unique_ids(hass: HomeAssistant, entry: GarageCamConfigEntry, new: str) -> None:
    """Entities keep their ids and history when the model (and so the unique id) changes."""
    old = entry.unique_id
    if old is None or old == new:
        return
    registry = er.async_get(hass)
    for entity in er.async_entries_for_config_entry(registry, entry.entry_id):
        if entity.unique_id.startswith(f"{old}_"):
            suffix = entity.unique_id[len(old) :]
            if registry.async_get_entity_id(entity.domain, DOMAIN, f"{new}{suffix}") is None:
                registry.async_update_entity(entity.entity_id, new_unique_id=f"{new}{suffix}")


def _seconds(low: int, high: int) -> NumberSelector:
    return NumberSelector(
        NumberSelectorConfig(
            min=low, max=high, step=1, unit_of_measurement="s", mode=NumberSelectorMode.BOX
        )
    )


def _fraction() -> NumberSelector:
    return NumberSelector(
        NumberSelectorConfig(min=0, max=1, step=0.01, mode=NumberSelectorMode.BOX)
    )


class GarageCamOptionsFlow(OptionsFlowWithReload):
    """General options, then one step per label; the entry reloads when they are saved."""

    def __init__(self) -> None:
        self._options: dict[str, Any] = {}
        self._pending: list[str] = []

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        errors: dict[str, str] = {}
        current = {**self.config_entry.options, **(user_input or {})}
        if user_input is not None:
            keys = (CONF_SCAN_INTERVAL, CONF_MAX_AGE, CONF_ROI, CONF_MQTT_PREFIX)
            try:
                options = camera_options({key: user_input.get(key) for key in keys})
            except OptionsError as err:
                errors = form_errors(err)
            else:
                self._options = self._general_options(user_input, options.discovery_prefix)
                entry: GarageCamConfigEntry = self.config_entry
                if entry.state is ConfigEntryState.LOADED:
                    self._pending = [
                        spec.name for spec in entry.runtime_data.engine.metadata.labels
                    ]
                return await self.async_step_label()
        return self.async_show_form(
            step_id="init", data_schema=_general_schema(current), errors=errors
        )

    def _general_options(self, user_input: dict[str, Any], prefix: str) -> dict[str, Any]:
        """The entry's options with the general step's values (validated) in."""
        options = {
            key: value for key, value in self.config_entry.options.items() if key != CONF_MAX_AGE
        }
        if user_input.get(CONF_MAX_AGE) is not None:  # unset: the default rule applies
            options[CONF_MAX_AGE] = int(user_input[CONF_MAX_AGE])
        return options | {
            CONF_SCAN_INTERVAL: int(user_input[CONF_SCAN_INTERVAL]),
            CONF_ROI: (user_input.get(CONF_ROI) or "").strip(),
            CONF_MQTT_ENABLED: user_input[CONF_MQTT_ENABLED],
            CONF_MQTT_PREFIX: prefix,
            CONF_CAPTURE_ENABLED: user_input[CONF_CAPTURE_ENABLED],
            CONF_CAPTURE_MAX_FRAMES: int(user_input[CONF_CAPTURE_MAX_FRAMES]),
            CONF_LABELS: dict(self.config_entry.options.get(CONF_LABELS, {})),
        }

    async def async_step_label(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        if not self._pending:
            return self.async_create_entry(data=self._options)
        label = self._pending[0]
        errors: dict[str, str] = {}
        spec = self.config_entry.runtime_data.engine.metadata.label(label)
        saved = self._options[CONF_LABELS].get(label, {})
        current = {
            CONF_ON_THRESHOLD: saved.get(CONF_ON_THRESHOLD, spec.on_threshold),
            CONF_OFF_THRESHOLD: saved.get(CONF_OFF_THRESHOLD, spec.off_threshold),
            CONF_CONFIRM_FRAMES: saved.get(CONF_CONFIRM_FRAMES, DEFAULT_CONFIRM_FRAMES),
            **(user_input or {}),
        }
        if user_input is not None:
            try:
                camera_options({CONF_LABELS: {label: user_input}})
            except OptionsError as err:
                errors = form_errors(err)
            else:
                self._options[CONF_LABELS][label] = {
                    CONF_ON_THRESHOLD: float(user_input[CONF_ON_THRESHOLD]),
                    CONF_OFF_THRESHOLD: float(user_input[CONF_OFF_THRESHOLD]),
                    CONF_CONFIRM_FRAMES: int(user_input[CONF_CONFIRM_FRAMES]),
                }
                self._pending.pop(0)
                return await self.async_step_label()
        return self.async_show_form(
            step_id="label",
            data_schema=vol.Schema(
                {
                    vol.Required(
                        CONF_ON_THRESHOLD, default=current[CONF_ON_THRESHOLD]
                    ): _fraction(),
                    vol.Required(
                        CONF_OFF_THRESHOLD, default=current[CONF_OFF_THRESHOLD]
                    ): _fraction(),
                    vol.Required(
                        CONF_CONFIRM_FRAMES, default=current[CONF_CONFIRM_FRAMES]
                    ): NumberSelector(
                        NumberSelectorConfig(
                            min=1, max=MAX_CONFIRM_FRAMES, step=1, mode=NumberSelectorMode.BOX
                        )
                    ),
                }
            ),
            description_placeholders={
                "label": label,
                "device_class": spec.device_class or "on/off",
                "model_on": f"{spec.on_threshold:g}",
                "model_off": f"{spec.off_threshold:g}",
            },
            errors=errors,
        )


def _general_schema(current: Mapping[str, Any]) -> vol.Schema:
    """The options flow's first step, filled in with `current`."""
    return vol.Schema(
        {
            vol.Required(
                CONF_SCAN_INTERVAL,
                default=current.get(CONF_SCAN_INTERVAL, DEFAULT_SCAN_INTERVAL),
            ): _seconds(1, int(MAX_INTERVAL)),
            # empty: three scan intervals, at least 60 s (the core's one default rule)
            vol.Optional(
                CONF_MAX_AGE, description={"suggested_value": current.get(CONF_MAX_AGE)}
            ): _seconds(1, int(MAX_MAX_AGE)),
            vol.Optional(
                CONF_ROI, description={"suggested_value": current.get(CONF_ROI)}
            ): TextSelector(),
            vol.Required(
                CONF_MQTT_ENABLED, default=current.get(CONF_MQTT_ENABLED, False)
            ): BooleanSelector(),
            vol.Required(
                CONF_MQTT_PREFIX,
                default=current.get(CONF_MQTT_PREFIX, DEFAULT_MQTT_PREFIX),
            ): TextSelector(),
            # opt-in: frames of the user's home are stored on disk only when asked
            vol.Required(
                CONF_CAPTURE_ENABLED, default=current.get(CONF_CAPTURE_ENABLED, False)
            ): BooleanSelector(),
            vol.Required(
                CONF_CAPTURE_MAX_FRAMES,
                default=current.get(CONF_CAPTURE_MAX_FRAMES, CaptureRules.max_frames),
            ): NumberSelector(
                NumberSelectorConfig(min=10, max=100_000, step=1, mode=NumberSelectorMode.BOX)
            ),
        }
    )
