"""Home Assistant harness fixtures: a camera with a device, scripted or real engines."""

from __future__ import annotations

import logging
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from homeassistant.components.camera import Image
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry

# Import ours before the harness's own `custom_components` package shadows it (DESIGN.md).
import custom_components.garagecam
import garagecam_core
from custom_components.garagecam.const import (
    CONF_CAMERA,
    CONF_MODE,
    CONF_MODEL,
    CONF_ROI,
    CONF_SCAN_INTERVAL,
    DOMAIN,
    MODE_LOCAL,
)
from garagecam_core.engine import Classification, Timings
from garagecam_core.errors import EngineClosedError, GarageCamError
from garagecam_core.metadata import LabelSpec, ModelMetadata
from garagecam_core.roi import Roi
from tests.images import make_jpeg

CAMERA = "camera.garage"
METADATA = ModelMetadata(
    name="tiny",
    input_height=64,
    input_width=64,
    labels=(LabelSpec("door_open", "garage_door"), LabelSpec("car_present", "occupancy")),
)
JPEG = make_jpeg(320, 240)


class ScriptedEngine:
    """An AsyncEngine whose probabilities the test sets (debounce, restore, failures)."""

    def __init__(self, metadata: ModelMetadata = METADATA) -> None:
        self._metadata = metadata
        self.probabilities = {"door_open": 0.9, "car_present": 0.1}
        #: what a head model says of the frame's familiarity (None: a plain .pte bundle)
        self.novelty: float | None = None
        self.error: GarageCamError | None = None
        self.calls: list[tuple[bytes, Roi | None]] = []
        self.closed = False

    @property
    def metadata(self) -> ModelMetadata:
        return self._metadata

    async def classify(self, image: bytes, roi: Roi | None = None) -> Classification:
        if self.closed:
            raise EngineClosedError("engine closed")
        if self.error is not None:
            raise self.error
        self.calls.append((image, roi))
        return Classification(
            dict(self.probabilities), Timings(1.0, 2.0, 3.0, 6.5), (320, 240), self.novelty
        )

    async def close(self) -> None:
        self.closed = True


@dataclass
class FakeCamera:
    """What `camera.async_get_image` returns: real JPEG bytes, or an error."""

    content: bytes = JPEG
    fail: bool = False
    calls: int = 0
    engines: list[ScriptedEngine] = field(default_factory=list)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components.garagecam."""


_OURS = (
    str(Path(custom_components.garagecam.__file__).parent),
    str(Path(garagecam_core.__file__).parent),
)


@pytest.fixture(autouse=True)
def no_deprecation_reports(hass: HomeAssistant, caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail on any usage Home Assistant reports as deprecated or breaking in the future:
    its log reports ("... is deprecated", "will stop working in 2026.12"), Python
    deprecation warnings raised from our code (Home Assistant's deprecated constants and
    helpers warn at the caller), and deprecation issues in the repairs registry."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DeprecationWarning)
        warnings.simplefilter("always", PendingDeprecationWarning)
        yield
    bad = [
        record.getMessage()
        for phase in ("setup", "call")
        for record in caplog.get_records(phase)
        if record.levelno >= logging.WARNING
        and ("will stop working" in record.getMessage() or "deprecated" in record.getMessage())
    ]
    bad += [
        f"{w.filename}:{w.lineno}: {w.message}"
        for w in caught
        if issubclass(w.category, DeprecationWarning | PendingDeprecationWarning)
        and w.filename.startswith(_OURS)
    ]
    bad += [
        f"repair issue {domain}.{issue_id}"
        for (domain, issue_id) in ir.async_get(hass).issues
        if "deprecat" in issue_id or (domain == DOMAIN and issue_id.startswith("deprecat"))
    ]
    assert not bad, bad


@pytest.fixture(autouse=True)
def config_dir(hass: HomeAssistant, tmp_path: Path) -> Path:
    """A private config directory (the harness's default one is shared, in site-packages)."""
    hass.config.config_dir = str(tmp_path)
    return tmp_path


@pytest.fixture
def fake_camera() -> Iterator[FakeCamera]:
    camera = FakeCamera()

    # same signature as camera.async_get_image
    async def get_image(
        hass: HomeAssistant,
        entity_id: str,
        timeout: int = 10,  # noqa: ASYNC109
        **_: Any,
    ) -> Image:
        camera.calls += 1
        if camera.fail or entity_id != CAMERA:
            raise HomeAssistantError(f"Unable to get image from {entity_id}")
        return Image("image/jpeg", camera.content)

    with patch("homeassistant.components.camera.async_get_image", side_effect=get_image):
        yield camera


@pytest.fixture
async def camera_device(hass: HomeAssistant) -> dr.DeviceEntry:
    """camera.garage registered by another integration, on its own device."""
    other = MockConfigEntry(domain="test_cameras")
    other.add_to_hass(hass)
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=other.entry_id,
        identifiers={("test_cameras", "garage-cam-1")},
        name="Garage camera",
        manufacturer="Acme",
    )
    er.async_get(hass).async_get_or_create(
        "camera", "test_cameras", "garage-cam-1", suggested_object_id="garage", device_id=device.id
    )
    hass.states.async_set(CAMERA, "idle", {"friendly_name": "Garage camera"})
    return device


@pytest.fixture
def scripted_engine() -> Iterator[ScriptedEngine]:
    """Every engine the integration creates is this scripted one (no worker process)."""
    engine = ScriptedEngine()

    async def create(hass: HomeAssistant, data: Any) -> ScriptedEngine:
        engine.closed = False
        return engine

    with (
        patch("custom_components.garagecam.async_create_engine", side_effect=create),
        patch("custom_components.garagecam.config_flow.async_create_engine", side_effect=create),
    ):
        yield engine


@pytest.fixture
def runtime_available() -> Iterator[None]:
    with patch(
        "custom_components.garagecam.config_flow.async_runtime_available", return_value=True
    ):
        yield


def make_entry(data: dict[str, Any] | None = None, **options: Any) -> MockConfigEntry:
    """A local-mode entry for the demo model; `data` overrides entry data (mode, model...)."""
    merged = {CONF_CAMERA: CAMERA, CONF_MODE: MODE_LOCAL, CONF_MODEL: "demo", **(data or {})}
    return MockConfigEntry(
        domain=DOMAIN,
        title=f"Garage camera ({merged[CONF_MODEL]})",
        unique_id=f"{CAMERA}_{merged[CONF_MODEL]}",
        data=merged,
        options={CONF_SCAN_INTERVAL: 10, CONF_ROI: "", **options},
    )


async def set_up_entry(
    hass: HomeAssistant, data: dict[str, Any] | None = None, **options: Any
) -> MockConfigEntry:
    """`make_entry`, added and set up successfully, with Home Assistant idle again."""
    entry = make_entry(data, **options)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    return entry


@pytest.fixture
async def setup_entry(
    hass: HomeAssistant,
    fake_camera: FakeCamera,
    camera_device: dr.DeviceEntry,
    scripted_engine: ScriptedEngine,
) -> AsyncIterator[MockConfigEntry]:
    yield await set_up_entry(hass)
