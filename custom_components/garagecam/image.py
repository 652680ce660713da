"""Image entity: the last analysed frame with the region of interest and probabilities."""

from __future__ import annotations

from datetime import datetime

from homeassistant.components.image import ImageEntity, ImageEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import GarageCamConfigEntry
from .entity import GarageCamEntity

PARALLEL_UPDATES = 0

FRAME_DESCRIPTION = ImageEntityDescription(
    key="frame", translation_key="frame", entity_category=EntityCategory.DIAGNOSTIC
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: GarageCamConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    async_add_entities([GarageCamFrameImage(entry)])


class GarageCamFrameImage(GarageCamEntity, ImageEntity):
    """Rendered lazily (in the executor) when someone looks, cached per frame."""

    _attr_content_type = "image/jpeg"

    def __init__(self, entry: GarageCamConfigEntry) -> None:
        GarageCamEntity.__init__(self, entry, FRAME_DESCRIPTION.key)
        ImageEntity.__init__(self, entry.runtime_data.coordinator.hass)
        self.entity_description = FRAME_DESCRIPTION
        self._rendered: tuple[datetime, bytes] | None = None
        self._update_last_updated()

    @callback
    def _update_last_updated(self) -> None:
        data = self.coordinator.data
        self._attr_image_last_updated = data.last_success if data else None

    @callback
    def _handle_coordinator_update(self) -> None:
        self._update_last_updated()
        super()._handle_coordinator_update()

    async def async_image(self) -> bytes | None:
        data = self.coordinator.data
        if data is None or data.image is None or data.last_success is None:
            return None
        if self._rendered is not None and self._rendered[0] == data.last_success:
            return self._rendered[1]
        from garagecam_core.debug_frame import render_debug_frame

        assert data.classification is not None
        states = {label: str(state) for label, state in data.states.items()}
        frame = await self.hass.async_add_executor_job(
            lambda: render_debug_frame(
                data.image or b"",
                roi=self.coordinator.roi,
                probabilities=data.classification.probabilities if data.classification else {},
                states=states,
                title=self.coordinator.camera_entity_id,
            )
        )
        self._rendered = (data.last_success, frame)
        return frame
