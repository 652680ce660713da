"""Diagnostics: model metadata, options, recent timings and states, secrets redacted."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant

from garagecam_core.homebridge import mqttthing_accessories
from garagecam_core.redact import REDACTED, redact, redact_url

from .const import CONF_TOKEN, CONF_URL
from .runtime_data import GarageCamConfigEntry


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: GarageCamConfigEntry
) -> dict[str, Any]:
    runtime = entry.runtime_data
    coordinator = runtime.coordinator
    data = coordinator.data
    # `redact` masks secret keys (token, password, ...) and credentials inside any URL.
    diagnostics: dict[str, Any] = {
        "entry": redact(
            {"title": entry.title, "data": dict(entry.data), "options": dict(entry.options)},
            keys={CONF_TOKEN, "password", "secret", "api_key"},
        ),
        "model": runtime.engine.metadata.to_dict(),
        "states": {label: str(state) for label, state in coordinator.debouncer.states.items()},
        "probabilities": coordinator.debouncer.probabilities,
        # how unlike the model's training frames the last frame was (above 1: unfamiliar);
        # None for models that cannot tell (plain .pte bundles)
        "novelty": data.classification.novelty if data and data.classification else None,
        "unfamiliar": coordinator.unfamiliar,
        "available": data.available if data else None,
        "last_success": data.last_success.isoformat() if data and data.last_success else None,
        "last_error": _scrub(data.error, entry) if data and data.error else None,
        "recent_timings": list(coordinator.recent_timings),
        "mqtt_bridge": runtime.bridge.topics.discovery_prefix if runtime.bridge else None,
        "capture": runtime.capture.diagnostics() if runtime.capture else {"enabled": False},
    }
    if runtime.bridge is not None:
        # Paste-ready homebridge-mqttthing accessories for this entry's topics. Credentials
        # stay placeholders: the MQTT entry's username/password never leave Home Assistant.
        diagnostics["homebridge_mqttthing"] = {
            "accessories": mqttthing_accessories(
                [runtime.bridge.info], runtime.bridge.topics, _broker_url(hass)
            )
        }
    return diagnostics


def _broker_url(hass: HomeAssistant) -> str:
    """`mqtt://host:port` of Home Assistant's MQTT entry (host and port only)."""
    for mqtt_entry in hass.config_entries.async_entries("mqtt"):
        if host := mqtt_entry.data.get("broker"):
            return f"mqtt://{host}:{mqtt_entry.data.get('port', 1883)}"
    return "mqtt://<MQTT_BROKER>:1883"


def _scrub(text: str, entry: GarageCamConfigEntry) -> str:
    """An error message with the entry's token and URL credentials masked."""
    if url := entry.data.get(CONF_URL):
        text = text.replace(url, redact_url(url))
    if token := entry.data.get(CONF_TOKEN):
        text = text.replace(token, REDACTED)
    return text
