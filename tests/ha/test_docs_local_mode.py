"""What docs/home-assistant.md says Local mode needs is what the integration checks."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from homeassistant.core import HomeAssistant

from custom_components.garagecam.inference import _RUNTIME_PROBE, async_runtime_available

DOCS = Path(__file__).resolve().parents[2] / "docs" / "home-assistant.md"


def _mode_row() -> str:
    """The set-up table's row of the step that offers Local mode."""
    rows = [
        line for line in DOCS.read_text(encoding="utf-8").splitlines() if "Inference mode" in line
    ]
    assert len(rows) == 1, rows
    return rows[0]


def test_docs_quote_the_runtime_check_of_the_mode_step() -> None:
    spans = re.findall(r"`([^`]+)`", _mode_row())
    assert _RUNTIME_PROBE in spans, spans


def test_docs_do_not_ask_for_torch_in_home_assistant() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert "import torch" not in text and "executorch.runtime, torch" not in text
    assert '"garagecam-core[runtime]==0.1.0"' in text  # what brings the binding


async def test_local_mode_is_offered_where_torch_is_missing(hass: HomeAssistant) -> None:
    """The Home Assistant test venvs have the garagecam-runtime binding and no torch."""
    assert importlib.util.find_spec("torch") is None
    assert importlib.util.find_spec("garagecam_runtime") is not None
    assert await async_runtime_available(hass)
