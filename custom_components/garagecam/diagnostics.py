"""Diagnostics: model metadata, options, recent timings and states, secrets redacted."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant

from garagecam_core.redact import REDACTED, redact, redact_url

from .const import CONF_TOKEN, CONF_URL
from .coordinator import GarageCamConfigEntry


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: GarageCamConfigEntry
) -> dict[str, Any]:
    runtime = entry.runtime_data
    coordinator = runtime.coordinator
    data = coordinator.data
    # `redact` masks secret keys (token, password, ...) and credentials inside any URL.
    return {
        "entry": redact(
            {"title": entry.title, "data": dict(entry.data), "options": dict(entry.options)},
            keys={CONF_TOKEN, "password", "secret", "api_key"},
        ),
        "model": runtime.engine.metadata.to_dict(),
        "states": {label: str(state) for label, state in coordinator.debouncer.states.items()},
        "probabilities": coordinator.debouncer.probabilities,
        "available": data.available if data else None,
        "last_success": data.last_success.isoformat() if data and data.last_success else None,
        "last_error": _scrub(data.error, entry) if data and data.error else None,
        "recent_timings": list(coordinator.recent_timings),
        "mqtt_bridge": runtime.bridge.topics.discovery_prefix if runtime.bridge else None,
    }


def _scrub(text: str, entry: GarageCamConfigEntry) -> str:
    """An error message with the entry's token and URL credentials masked."""
    if url := entry.data.get(CONF_URL):
        text = text.replace(url, redact_url(url))
    if token := entry.data.get(CONF_TOKEN):
        text = text.replace(token, REDACTED)
    return text
