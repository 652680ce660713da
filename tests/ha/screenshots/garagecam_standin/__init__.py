"""A real Home Assistant under the stand-in Supervisor, for screenshots of the real frontend.

Only for scripts/ha_screenshots.sh: it does for a running `hass` what the `supervisor` fixture
of tests/ha/test_addon_flow.py does in the test harness (Home Assistant's hassio client and
discovery view against tests/ha/supervisor_standin.py), then the GarageCam add-on announces
itself, and a user for the browser is written to `browser_tokens.json` in the config dir.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from homeassistant.auth.const import GROUP_ID_ADMIN
from homeassistant.components.hassio.const import DATA_COMPONENT
from homeassistant.components.hassio.discovery import async_setup_discovery_view
from homeassistant.components.hassio.handler import HassIO
from homeassistant.const import EVENT_HOMEASSISTANT_STARTED
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from tests.ha.supervisor_standin import AddonSide, StandinAddon, StandinSupervisor

HA_TOKEN = "stand-in-home-assistant-token"  # what the Supervisor would give Home Assistant


async def async_setup(hass: HomeAssistant, config: dict[str, Any]) -> bool:
    standin = await StandinSupervisor(HA_TOKEN).start()
    os.environ["SUPERVISOR_TOKEN"] = HA_TOKEN
    hassio = HassIO(hass.loop, async_get_clientsession(hass), standin.host)
    hass.data[DATA_COMPONENT] = hassio
    hass.config.components.add("hassio")
    async_setup_discovery_view(hass, hassio)  # 2025.8: (hass, hassio); 2026.x: (hass)
    addon = standin.install(
        StandinAddon("5c53de3b_garagecam", "GarageCam", "add-on-token", discovery=["garagecam"])
    )

    async def started(_: Event) -> None:
        base = f"http://127.0.0.1:{hass.http.server_port}"
        supervisor = await hass.auth.async_create_system_user(
            "Supervisor", group_ids=[GROUP_ID_ADMIN]
        )
        refresh = await hass.auth.async_create_refresh_token(supervisor)
        standin.push_to = (base, hass.auth.async_create_access_token(refresh))
        admin = await hass.auth.async_create_user("Admin", group_ids=[GROUP_ID_ADMIN])
        browser = await hass.auth.async_create_refresh_token(admin, client_id=f"{base}/")
        tokens = {
            "base": base,
            "client_id": f"{base}/",
            "access_token": hass.auth.async_create_access_token(browser),
            "refresh_token": browser.token,
        }
        path = Path(hass.config.config_dir) / "browser_tokens.json"
        await hass.async_add_executor_job(path.write_text, json.dumps(tokens))
        await AddonSide(standin, addon).announce({"port": 8099, "token": "runner-token"})

    hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STARTED, started)
    return True
