"""The standalone runner's MQTT discovery payloads (garagecam_core.discovery) against Home
Assistant's own MQTT discovery schemas: here, in the Home Assistant harnesses (newest and
oldest), where Home Assistant is installed."""

from __future__ import annotations

import importlib
import json

import pytest
from homeassistant.components.mqtt.discovery import _replace_all_abbreviations
from homeassistant.components.mqtt.schemas import MQTT_ORIGIN_INFO_SCHEMA
from homeassistant.helpers import frame

from garagecam_core import __version__
from tests.core.runner.test_runner_discovery import configs


@pytest.mark.parametrize("component", ["binary_sensor", "sensor"])
def test_payloads_pass_home_assistant_discovery_schema(
    component: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Expand abbreviations and validate with Home Assistant's own code."""
    module = importlib.import_module(f"homeassistant.components.mqtt.{component}")

    # cv.template reports "validated outside the event loop" through the frame helper, which
    # needs a running Home Assistant; the validation itself does not.
    monkeypatch.setattr(frame, "report_usage", lambda *args, **kwargs: None)
    checked = 0
    for topic, payload in configs().items():
        if f"/{component}/" not in topic:
            continue
        expanded = json.loads(json.dumps(payload))
        _replace_all_abbreviations(expanded)
        # An abbreviation replaces its full key: both forms must carry the same value.
        shared = (set(expanded) & set(payload)) - {"device"}
        assert {k: expanded[k] for k in shared} == {k: payload[k] for k in shared}, topic
        assert expanded["device"]["identifiers"] == payload["device"]["identifiers"]
        validated = module.DISCOVERY_SCHEMA(expanded)
        # The schema silently drops unknown keys: every key must survive.
        assert set(expanded) <= {str(key) for key in validated}, topic
        assert expanded["device"] == {
            "identifiers": ["garagecam_garage"], "name": "Garage", "manufacturer": "GarageCam",
            "model": "demo v2", "sw_version": __version__,
        }  # fmt: skip
        MQTT_ORIGIN_INFO_SCHEMA(payload["origin"])
        checked += 1
    assert checked >= 2
